// Brings the schema up to date at start from the migrations compiled into the program (migrations.gen.ts).
import { createHash } from 'node:crypto';
import type { MigrationMeta } from 'drizzle-orm/migrator';
import type { PgDialect, PgSession } from 'drizzle-orm/pg-core';
import { embeddedMigrations } from './migrations.gen.ts';
import type { Store } from './open.ts';

/** One drizzle-kit migration as embedded by scripts/embed-migrations.ts. */
export interface EmbeddedMigration {
  tag: string;
  when: number; // the journal's folderMillis: drizzle applies migrations newer than the last recorded one
  breakpoints: boolean;
  sql: string; // the .sql file's exact text
}

// Any constant works as long as every Tern node uses the same one; this is "tern" + "migrate" in ASCII.
export const MIGRATION_LOCK_KEY = 0x7465726e6d6967n;

/** The same objects drizzle-orm/migrator.js's readMigrationFiles builds from a folder, built from memory. */
export function migrationMetas(list: EmbeddedMigration[] = embeddedMigrations): MigrationMeta[] {
  return list.map((m) => ({
    sql: m.sql.split('--> statement-breakpoint'),
    bps: m.breakpoints,
    folderMillis: m.when,
    hash: createHash('sha256').update(m.sql).digest('hex'),
  }));
}

/**
 * Applies pending migrations in one transaction, recording them in drizzle.__drizzle_migrations exactly as
 * drizzle-kit's own migrate would (so either tool can be used on the same database). On PostgreSQL
 * several nodes may start at once: drizzle's CREATE SCHEMA/TABLE IF NOT EXISTS bookkeeping is not safe
 * under concurrency (both would try to apply the same migration), so it runs under an advisory lock.
 */
export async function migrate(store: Store): Promise<void> {
  const metas = migrationMetas();
  // What drizzle-orm/pglite/migrator.js and postgres-js/migrator.js do after reading the folder; the
  // dialect and session are internal in drizzle's types but the same on both drivers.
  const internals = store.db as unknown as { dialect: PgDialect; session: PgSession };
  await store.withLock(MIGRATION_LOCK_KEY, () =>
    internals.dialect.migrate(metas, internals.session, { migrationsFolder: '(embedded)' }),
  );
}
