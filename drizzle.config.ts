// drizzle-kit settings: `npm run db:generate` turns src/store/schema.ts into migrations/ and embeds them.
import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: './src/store/schema.ts',
  out: './migrations',
});
