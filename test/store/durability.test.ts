// Crash durability at the store level: an acknowledged enqueue survives SIGKILL, and nothing is half-stored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createQueueReader } from '../../src/queue/repo.ts';
import { openStore } from '../../src/store/open.ts';
import { openTestStore } from '../support/db.ts';

const CHILD = path.join(import.meta.dirname ?? '.', 'crash-child.ts');
const T = { timeout: 120_000 };

/** The same runtime that runs this test: `bun child.ts` or `deno run -A child.ts`. */
function childArgs(args: string[]): string[] {
  return 'Deno' in globalThis ? ['run', '-A', '--no-check', CHILD, ...args] : [CHILD, ...args];
}

test('SIGKILL while enqueueing: every acknowledged id is stored once, whole', T, async () => {
  const t = await openTestStore();
  try {
    await t.store.close(); // PGlite: the child needs the data directory to itself
    const child = spawn(process.execPath, childArgs(['loop', t.url, t.dataDir]), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    const deadline = Date.now() + 60_000;
    while (!out.includes('READY\n')) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`child did not start: ${err}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 1500));
    child.kill('SIGKILL');
    await exited;
    const acked = out.split('\n').filter((l) => l !== '' && l !== 'READY');
    assert.ok(acked.length >= 20, `enough acknowledged before the kill (${acked.length}); stderr: ${err}`);

    const store = await openStore({ url: t.url, dataDir: t.dataDir, poolSize: 2 });
    try {
      const reader = createQueueReader(store);
      const stored = await reader.ids();
      const counts = new Map<string, number>();
      for (const id of stored) counts.set(id, (counts.get(id) ?? 0) + 1);
      for (const id of acked) assert.equal(counts.get(id), 1, `acknowledged ${id} stored exactly once`);
      assert.deepEqual(await reader.incomplete(), [], 'no message without its recipients or received event');
      const c = await reader.counts();
      assert.equal(c.recipients, 2 * c.messages, 'every stored message has both recipients');
      assert.equal(c.events, c.messages);
      // Committed but not yet printed when the kill landed: at most the batches in flight.
      assert.ok(stored.length >= acked.length && stored.length - acked.length <= 8 * 2, `${stored.length} stored, ${acked.length} acknowledged`);
    } finally {
      await store.close();
    }
  } finally {
    await t.cleanup();
  }
});

test('embedded commits reach the disk: host fdatasync per transaction, seen by strace', T, async (ctx) => {
  const t = await openTestStore();
  try {
    if (t.store.kind !== 'pglite') return ctx.skip('PostgreSQL server durability is the server’s own configuration');
    if (spawnSync('strace', ['-V']).status !== 0) return ctx.skip('strace is not installed');
    await t.store.close();
    const trace = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tern-strace-')), 'trace');
    const n = 40;
    const r = spawnSync(
      'strace',
      ['-f', '-qq', '-y', '-e', 'trace=fsync,fdatasync', '-o', trace, process.execPath, ...childArgs(['count', '', t.dataDir, String(n)])],
      { encoding: 'utf8', timeout: 100_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { transactions: number };
    const lines = fs.readFileSync(trace, 'utf8').split('\n');
    const walSyncs = lines.filter((l) => /fdatasync\(\d+<[^>]*\/pg_wal\/[0-9A-F]{24}>\) = 0/.test(l)).length;
    fs.rmSync(path.dirname(trace), { recursive: true, force: true });
    assert.equal(report.transactions, n);
    assert.ok(walSyncs >= n, `${walSyncs} WAL fdatasync calls reached the kernel for ${n} commits`);
  } finally {
    await t.cleanup();
  }
});
