// The admin web console's hono app; so far only health and status, which monitoring can poll.
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';

export interface ConsoleDeps {
  status(): Promise<Record<string, unknown>>;
}

export function createApp(deps: ConsoleDeps): Hono {
  const app = new Hono();
  app.get('/healthz', (c) => c.json({ ok: true }));
  app.get('/api/status', async (c) => c.json(await deps.status()));
  app.notFound((c) => c.json({ error: 'not found' }, 404));
  app.onError((err, c) => {
    if (err instanceof HTTPException) return c.json({ error: err.message }, err.status);
    return c.json({ error: 'internal error' }, 500);
  });
  return app;
}
