// SIGKILL in the middle of a stream of messages: every 250 survives exactly once, nothing is half-stored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { lockDataDir } from '../../src/control/lock.ts';
import { openStore } from '../../src/store/open.ts';
import { createQueueReader } from '../../src/queue/repo.ts';
import { createTestDatabase } from '../support/db.ts';
import { runCli, spawnDaemon, tempDir, testEnv } from '../support/server.ts';
import { TestSmtpClient } from '../support/smtp-client.ts';

const SENDERS = 8;
const FILLER = ('x'.repeat(76) + '\r\n').repeat(60); // ~4.7 KB body

/** Sends messages until the connection breaks; returns marker -> queue id for every 250 it received. */
async function sendUntilBroken(port: number, who: number, acked: Map<string, string>): Promise<void> {
  let c: TestSmtpClient;
  try {
    c = await TestSmtpClient.connect(port);
    await c.reply();
    await c.command(`EHLO sender${who}.example`);
  } catch {
    return;
  }
  for (let n = 0; ; n++) {
    const marker = `crash-${who}-${n}`;
    try {
      c.write(`MAIL FROM:<s${who}@example.org>\r\nRCPT TO:<r${who}@tern.test>\r\nRCPT TO:<postmaster@tern.test>\r\nDATA\r\n`);
      for (let i = 0; i < 4; i++) {
        const r = await c.reply(5000);
        if (i < 3 ? r.code !== 250 : r.code !== 354) throw new Error(r.text);
      }
      c.write(`Subject: ${marker}\r\n\r\n${FILLER}END ${marker}\r\n.\r\n`);
      const r = await c.reply(5000);
      const m = /queued as (\S+)/.exec(r.text);
      if (r.code !== 250 || !m) throw new Error(r.text);
      acked.set(marker, m[1]);
    } catch {
      c.close();
      return;
    }
  }
}

test('SIGKILL mid-stream, restart: acknowledged messages are stored exactly once and whole', { timeout: 180_000 }, async () => {
  const dataDir = tempDir();
  const db = await createTestDatabase();
  const env = testEnv(dataDir, db.url);
  try {
    const first = await spawnDaemon(env);
    const acked = new Map<string, string>();
    const senders = Array.from({ length: SENDERS }, (_, i) => sendUntilBroken(first.ports.mx, i, acked));
    // Kill once a good number of messages is through, so the kill lands in a busy stream.
    const deadline = Date.now() + 20_000;
    while (acked.size < 300 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    first.child.kill('SIGKILL');
    await first.exited;
    await Promise.all(senders);
    assert.ok(acked.size >= 50, `enough traffic before the kill (got ${acked.size})`);

    // The restart takes over the dead daemon's lock and recovers the database.
    const second = await spawnDaemon(env);
    const listed = await runCli(['queue', 'list', '--json', '--limit', '100000'], env);
    assert.equal(listed.code, 0, listed.stderr);
    const ids = new Set((JSON.parse(listed.stdout) as Array<{ id: string }>).map((m) => m.id));
    for (const [marker, id] of acked) assert.ok(ids.has(id), `acknowledged ${marker} (${id}) survived the kill`);
    second.child.kill('SIGTERM');
    assert.equal(await second.exited, 0, 'clean exit on SIGTERM');

    // Now inspect every stored message directly: complete, unique, with recipients and its event.
    const lock = await lockDataDir(dataDir);
    const store = await openStore({ url: db.url, dataDir, poolSize: 2 });
    try {
      const reader = createQueueReader(store);
      const rows = await reader.list({ limit: 100_000 });
      const seen = new Map<string, string>();
      for (const row of rows) {
        const msg = await reader.get(row.id, { withBody: true });
        assert.ok(msg && msg.body, `message ${row.id} readable`);
        const text = Buffer.from(msg.body).toString('latin1');
        const marker = /Subject: (crash-\d+-\d+)/.exec(text)?.[1];
        assert.ok(marker, `message ${row.id} is one of ours`);
        assert.ok(text.endsWith(`END ${marker}\r\n`), `message ${row.id} body is complete`);
        assert.equal(msg.body.length, msg.size, 'stored size matches the body');
        assert.equal(msg.recipients.length, 2, `message ${row.id} has both recipients`);
        assert.ok(msg.events.some((e) => e.kind === 'received'), `message ${row.id} has its received event`);
        assert.ok(!seen.has(marker), `${marker} stored once (also as ${seen.get(marker)})`);
        seen.set(marker, row.id);
        if (acked.has(marker)) assert.equal(acked.get(marker), row.id);
      }
      // Messages committed but not yet acknowledged when the kill landed may exist (at most one per sender).
      assert.ok(seen.size - acked.size <= SENDERS, `unacknowledged extras: ${seen.size - acked.size}`);
    } finally {
      await store.close();
      await lock.release();
    }
  } finally {
    await db.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
