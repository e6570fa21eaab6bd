// Enqueue throughput of the intake at several concurrencies, on PGlite and (given a URL) PostgreSQL.
// Usage: bun scripts/bench-store.ts [--url postgres://…] [--seconds 5] [--concurrency 1,10,50]
//          [--in-flight 1,2,4] [--size 5120] [--only pglite|postgres] [--latency-ms N] [--big-mb N] [--alter SQL]
// Without --url only PGlite is measured; with it, both. Prints messages/s, the average batch size,
// where each transaction's time went (building the statement vs waiting for the database), PGlite's
// fdatasync calls per transaction and their cost, and enqueue latency percentiles.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { createIntake } from '../src/queue/intake.ts';
import { migrate } from '../src/store/migrate.ts';
import { openStore, type Store } from '../src/store/open.ts';
import type { Envelope } from '../src/smtp/types.ts';

const { values: args } = parseArgs({
  options: {
    url: { type: 'string', default: '' },
    seconds: { type: 'string', default: '5' },
    'in-flight': { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '1,10,50' },
    size: { type: 'string', default: '5120' },
    only: { type: 'string', default: '' }, // 'pglite' or 'postgres'
    // Added to every statement's round trip, to model a database across a network or on a disk with
    // slow flushes (this machine's local PostgreSQL answers in well under a millisecond).
    'latency-ms': { type: 'string', default: '0' },
    // Extra SQL run after migrating, to measure what a schema feature costs (e.g. "alter table messages
    // alter column body set storage external" to skip TOAST compression, or "drop index …").
    'alter': { type: 'string', multiple: true, default: [] },
    // One more writer sending messages of this many MiB beside the others: shows head-of-line blocking
    // (how long small messages wait behind a big one) for --in-flight 1 vs 2.
    'big-mb': { type: 'string', default: '0' },
  },
});
const SECONDS = Number(args.seconds);
const SIZE = Number(args.size);
const BODY = new Uint8Array(SIZE).map((_, i) => 32 + (i % 90));
let counter = 0;

function envelope(): Envelope {
  counter++;
  return {
    queueId: `B${process.pid.toString(36)}${counter.toString(36).padStart(7, '0')}`.toUpperCase(),
    sender: `sender${counter % 100}@example.org`,
    recipients: [{ address: `user${counter % 1000}@tern.test`, notify: null, orcpt: null }],
    bodyType: '8BITMIME',
    smtpUtf8: false,
    declaredSize: SIZE,
    dsnRet: null,
    dsnEnvid: null,
    helo: 'client.example.org',
    protocol: 'ESMTPS',
    clientAddress: '192.0.2.10',
    clientPort: 40000 + (counter % 20000),
    listener: 'mx',
    tls: { protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' },
    authUser: null,
    receivedAt: new Date(),
  };
}

const LATENCY = Number(args['latency-ms']);
const BIG_MB = Number(args['big-mb']);

function withLatency(store: Store): Store {
  if (LATENCY <= 0) return store;
  return {
    ...store,
    async query<T>(text: string, params: unknown[]) {
      const rows = await store.query<T>(text, params);
      await new Promise((r) => setTimeout(r, LATENCY));
      return rows;
    },
  };
}

async function run(store: Store, concurrency: number, maxInFlight: number): Promise<string> {
  const intake = createIntake(withLatency(store), { maxInFlight });
  const deadline = performance.now() + SECONDS * 1000;
  const t0 = performance.now();
  let done = 0;
  let bigDone = 0;
  const latencies: number[] = [];
  async function worker() {
    while (performance.now() < deadline) {
      const s = performance.now();
      await intake.enqueue(envelope(), BODY);
      latencies.push(performance.now() - s);
      done++;
    }
  }
  async function bigWriter() {
    const big = new Uint8Array(BIG_MB * 1024 * 1024).fill(66);
    while (performance.now() < deadline) {
      await intake.enqueue(envelope(), big);
      bigDone++;
    }
  }
  await Promise.all([...Array.from({ length: concurrency }, worker), ...(BIG_MB > 0 ? [bigWriter()] : [])]);
  const secs = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * q))] ?? 0;
  await intake.close();
  const c = intake.counters;
  return [
    `${store.kind.padEnd(8)} conc=${String(concurrency).padStart(2)} inflight=${store.kind === 'pglite' ? 1 : maxInFlight}${LATENCY ? ` +${LATENCY}ms` : ''}`,
    `${Math.round(done / secs).toString().padStart(6)} msg/s`,
    `avg batch ${(c.messages / Math.max(1, c.batches)).toFixed(1).padStart(5)}`,
    `${c.transactions} tx`,
    `per tx: build ${(c.buildMs / Math.max(1, c.transactions)).toFixed(2)} ms, database ${(c.dbMs / Math.max(1, c.transactions)).toFixed(2)} ms`,
    `latency p50 ${pct(0.5).toFixed(1)} p99 ${pct(0.99).toFixed(1)} max ${pct(1).toFixed(0)} ms`,
    BIG_MB > 0 ? `+ ${bigDone} messages of ${BIG_MB} MiB` : '',
  ].join('  ');
}

async function withDatabase(kind: 'pglite' | 'postgres', fn: (store: Store) => Promise<void>): Promise<void> {
  if (kind === 'pglite') {
    // Under the repository (.bench/ is ignored), not /tmp, so the numbers reflect the disk Tern would use.
    const dir = fs.mkdtempSync(path.join(fs.existsSync('.bench') ? '.bench' : os.tmpdir(), 'store-'));
    const store = await openStore({ url: '', dataDir: dir, poolSize: 1 });
    try {
      await migrate(store);
      for (const q of args.alter) await store.query(q, []);
      await fn(store);
    } finally {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
    return;
  }
  const name = `tern_bench_${process.pid}`;
  const admin = postgres(args.url, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(args.url);
  url.pathname = `/${name}`;
  const store = await openStore({ url: url.toString(), dataDir: '', poolSize: 10 });
  try {
    await migrate(store);
    for (const q of args.alter) await store.query(q, []);
    await fn(store);
  } finally {
    await store.close();
    await admin.unsafe(`drop database ${name} with (force)`);
    await admin.end();
  }
}

// A fresh database for every configuration, so no run pays for the table and WAL growth of the one
// before it; a short warm-up first so the JIT is not measured.
const kinds: Array<'pglite' | 'postgres'> = args.url ? ['pglite', 'postgres'] : ['pglite'];
console.log(`${SECONDS} s per run, ${SIZE}-byte messages, 1 recipient each; ${os.cpus().length} cores`);
for (const kind of kinds.filter((k) => !args.only || k === args.only)) {
  for (const inFlight of kind === 'pglite' ? [1] : args['in-flight'].split(',').map(Number)) {
    for (const conc of args.concurrency.split(',').map(Number)) {
      await withDatabase(kind, async (store) => {
        const warm = createIntake(store, { maxInFlight: inFlight });
        await Promise.all(Array.from({ length: 200 }, () => warm.enqueue(envelope(), BODY)));
        await warm.close();
        console.log(await run(store, conc, inFlight));
      });
    }
  }
}
