// The embedded migrations: up to date with migrations/, applied with drizzle's bookkeeping, idempotent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { sql } from 'drizzle-orm';
import { GENERATED_FILE, renderEmbeddedMigrations } from '../../scripts/embed-migrations.ts';
import { migrate, migrationMetas } from '../../src/store/migrate.ts';
import { openStore } from '../../src/store/open.ts';
import { openTestStore } from '../support/db.ts';

const T = { timeout: 60_000 }; // bun's default is 5 s; creating a PGlite database takes 1-3 s

test('migrations.gen.ts matches migrations/ (run `npm run db:generate` after changing schema.ts)', T, () => {
  assert.equal(fs.readFileSync(GENERATED_FILE, 'utf8'), renderEmbeddedMigrations());
});

test('migration metas are built like drizzle readMigrationFiles', T, () => {
  const metas = migrationMetas();
  assert.ok(metas.length >= 1);
  for (const m of metas) {
    assert.match(m.hash, /^[0-9a-f]{64}$/);
    assert.ok(m.sql.length > 1, 'split on statement breakpoints');
    assert.ok(m.folderMillis > 0);
  }
});

test('migrate creates the schema once and is idempotent', T, async () => {
  const t = await openTestStore(); // migrated once already
  try {
    await migrate(t.store);
    await migrate(t.store);
    const applied = await t.store.execute<{ n: number }>(sql`select count(*)::int as n from drizzle.__drizzle_migrations`);
    assert.equal(applied[0].n, migrationMetas().length);
    const tables = await t.store.execute<{ name: string }>(
      sql`select table_name::text as name from information_schema.tables where table_schema = 'public' order by 1`,
    );
    assert.deepEqual(tables.map((r) => r.name), ['dkim_keys', 'events', 'greylist', 'mailbox', 'messages', 'recipients', 'users']);
    const due = await t.store.execute<{ def: string }>(
      sql`select indexdef::text as def from pg_indexes where indexname = 'recipients_due_idx'`,
    );
    assert.match(due[0].def, /WHERE .*state.*queued.*deferred/);
    // The CHECK on recipient states holds.
    await t.store.execute(sql`insert into messages (id, received_at, sender, size, body, client_address, client_port, helo, protocol, listener, smtputf8)
        values ('chk', now(), '', 0, '\\x', '::1', 1, 'h', 'SMTP', 'mx', false)`);
    await t.store.execute(sql`insert into recipients (message_id, address) values ('chk', 'a@b')`);
    await assert.rejects(
      t.store.execute(sql`insert into recipients (message_id, address, state) values ('chk', 'a@b', 'lost')`),
      (err: Error) => /recipients_state_check/.test(String((err.cause as Error | undefined)?.message)),
    );
  } finally {
    await t.cleanup();
  }
});

test('a reopened store migrates without redoing anything', T, async () => {
  const t = await openTestStore();
  try {
    await t.store.close();
    const again = await openStore({ url: t.url, dataDir: t.dataDir, poolSize: 2 });
    try {
      await migrate(again);
      const applied = await again.execute<{ n: number }>(sql`select count(*)::int as n from drizzle.__drizzle_migrations`);
      assert.equal(applied[0].n, migrationMetas().length);
    } finally {
      await again.close();
    }
  } finally {
    await t.cleanup();
  }
});

test('nodes starting at once migrate one after the other (advisory lock)', T, async (ctx) => {
  const t = await openTestStore();
  try {
    if (t.store.kind !== 'postgres') return ctx.skip('only PostgreSQL has several nodes');
    await t.store.execute(sql`drop schema drizzle cascade`);
    // Every table of ours, whatever migrations have added: start from an empty public schema.
    await t.store.execute(sql`drop schema public cascade`);
    await t.store.execute(sql`create schema public`);
    const nodes = await Promise.all([1, 2, 3].map(() => openStore({ url: t.url, dataDir: t.dataDir, poolSize: 1 })));
    try {
      await Promise.all(nodes.map((n) => migrate(n)));
      const applied = await t.store.execute<{ n: number }>(sql`select count(*)::int as n from drizzle.__drizzle_migrations`);
      assert.equal(applied[0].n, migrationMetas().length);
    } finally {
      await Promise.all(nodes.map((n) => n.close()));
    }
  } finally {
    await t.cleanup();
  }
});
