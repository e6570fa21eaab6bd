// Tern as a peer of the delivery benchmark: `tern serve` nodes on PGlite or on a fresh PostgreSQL database.
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import postgres from 'postgres';
import { opts, QUEUE, root, work } from './options.ts';
import { freePort, procStat, treeTicks, waitFor } from '../lib/bench-os.ts';
import type { Mta } from './round.ts';
import { load, startSink } from './sink.ts';

interface Node {
  pid: number;
  port: number;
  stop(): Promise<void>;
}

/**
 * How an operator would relay everything through one smarthost. All mail goes to one destination, so
 * destination_concurrency is the number of parallel connections to it: 20 is Postfix's
 * default_destination_concurrency_limit, what the Postfix peer uses against its sink (Tern's default, 10,
 * is meant for Internet MX hosts). concurrency keeps its default (100): above it, so it never binds.
 */
function ternEnv(sinkPort: number): Record<string, string> {
  return {
    TERN_HOSTNAME: 'tern.test',
    TERN_RELAY_RELAY_DOMAINS: 'example.test', // smtp-source's recipient domain: relayed, not local
    TERN_LIMITS_MAX_CONNECTIONS_PER_IP: '1000',
    TERN_DELIVERY_SMARTHOST: `[127.0.0.1]:${sinkPort}`,
    TERN_DELIVERY_SMARTHOST_TLS: 'none', // smtp-sink offers no STARTTLS; the Postfix peer relays in plaintext too
    TERN_DELIVERY_CONCURRENCY: String(opts.concurrency),
    TERN_DELIVERY_DESTINATION_CONCURRENCY: String(opts.destinationConcurrency),
    TERN_DELIVERY_MTA_STS: 'false', // a smarthost by IP literal has no policy to look up
    TERN_LOG_FORMAT: 'json',
    TERN_LOG_LEVEL: opts.logLevel,
  };
}

/** One `tern serve` in `dir` (data dir and log); `delivery` false makes it a queue filler. */
async function startNode(dir: string, databaseUrl: string, env: Record<string, string>, delivery: boolean, profile: string | null, onSpawn: (pid: number) => void): Promise<Node> {
  mkdirSync(dir, { recursive: true });
  const [port, sub, subs] = [await freePort(), await freePort(), await freePort()];
  const logFile = join(dir, delivery ? 'deliver.log' : 'fill.log');
  const out = openSync(logFile, 'a');
  const prof = profile && opts.cpuProf ? ['--cpu-prof', '--cpu-prof-md', `--cpu-prof-dir=${opts.cpuProf}`, `--cpu-prof-name=${profile}`] : [];
  const [cmd, args] = opts.bin ? [resolve(opts.bin), ['serve']] : [process.execPath, [...prof, join(root, 'src/main.ts'), 'serve']];
  const child = spawn(cmd, args, {
    cwd: dir,
    stdio: ['ignore', out, out],
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TERN_DATA_DIR: join(dir, 'data'),
      TERN_DATABASE_URL: databaseUrl,
      TERN_LISTENERS_MX_ADDRESS: `127.0.0.1:${port}`,
      TERN_LISTENERS_SUBMISSION_ADDRESS: `127.0.0.1:${sub}`,
      TERN_LISTENERS_SUBMISSIONS_ADDRESS: `127.0.0.1:${subs}`,
      TERN_CONSOLE_ADDRESS: '',
      TERN_DELIVERY_ENABLED: String(delivery),
      ...env,
    },
  });
  let exited = false;
  child.on('exit', () => (exited = true));
  process.on('exit', () => exited || child.kill('SIGKILL'));
  onSpawn(child.pid!);
  await waitFor(`tern ready (log: ${logFile})`, 120_000, () => {
    if (exited) throw new Error(`tern exited during start; log:\n${readFileSync(logFile, 'utf8').slice(-3000)}`);
    return readFileSync(logFile, 'utf8').includes('"event":"ready"');
  });
  return {
    pid: child.pid!,
    port,
    async stop() {
      if (exited) return;
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM'); // Bun writes the CPU profile on a clean exit
      await Promise.race([done, new Promise((r) => setTimeout(r, 30_000))]);
      if (!exited) child.kill('SIGKILL');
    },
  };
}

/**
 * Tern on PGlite (`admin` null) or on PostgreSQL, a fresh database per round. Queue mode: a node with
 * delivery off fills the queue and stops; then a node with delivery on (the one measured) empties it.
 */
export async function ternPeer(name: string, admin: postgres.Sql | null): Promise<Mta> {
  const sink = await startSink();
  const env = ternEnv(sink.port);
  // The postmaster is the parent of our session's backend: its process tree is the database server's CPU.
  const postmaster = admin ? (procStat(Number((await admin`SELECT pg_backend_pid() AS pid`)[0]!.pid))?.ppid ?? 0) : 0;
  let db = { name: '', url: '' };
  let before: Record<string, number> | null = null;
  let node: Node | null = null;
  let pid = 0;

  async function freshDatabase(round: number): Promise<void> {
    if (!admin) return;
    db = { name: `tern_bench_delivery_${process.pid}_${round < 0 ? 'warm' : round}`, url: '' };
    await admin.unsafe(`CREATE DATABASE ${db.name}`);
    const url = new URL(opts.databaseUrl);
    url.pathname = `/${db.name}`;
    db.url = url.toString();
  }
  async function dropDatabase(): Promise<void> {
    if (admin && db.name) await admin.unsafe(`DROP DATABASE IF EXISTS ${db.name} WITH (FORCE)`);
    db = { name: '', url: '' };
  }
  /** pg_stat_database once no session is left (a backend flushes its statistics as it exits). */
  async function activity(): Promise<Record<string, number>> {
    const sessions = async () => (await admin!`select count(*)::int as n from pg_stat_activity where datname = ${db.name}`)[0]!.n;
    await waitFor(`the sessions in ${db.name} to end`, 15_000, async () => (await sessions()) === 0);
    const [row] = await admin!`select xact_commit, tup_returned, tup_fetched, tup_inserted, tup_updated from pg_stat_database where datname = ${db.name}`;
    // The recipients table apart: how the scheduler's queries reach it (sequential scans grow with the table).
    const sql = postgres(db.url, { max: 1, onnotice: () => {} });
    const [rcpt] = await sql`select seq_scan as rcpt_seq_scan, seq_tup_read as rcpt_seq_tup_read, idx_scan as rcpt_idx_scan,
      idx_tup_fetch as rcpt_idx_tup_fetch from pg_stat_user_tables where relname = 'recipients'`.finally(() => sql.end());
    return Object.fromEntries(Object.entries({ ...row, ...rcpt }).map(([k, v]) => [k, Number(v ?? 0)]));
  }
  const dirOf = (round: number) => join(work, name, QUEUE ? `round-${round < 0 ? 'warm' : round}` : 'e2e');
  const profileOf = (round: number) => (opts.cpuProf ? `${name}-${opts.mode}-${round < 0 ? 'warm' : round}` : null);
  const start = (round: number, delivery: boolean) =>
    startNode(dirOf(round), db.url, env, delivery, delivery ? profileOf(round) : null, (p) => delivery && (pid = p));

  return {
    name,
    sink,
    tern: true,
    withDb: admin !== null,
    async fill(round, messages) {
      if (!QUEUE) {
        if (node) return;
        await freshDatabase(0);
        node = await start(round, true);
        return;
      }
      await freshDatabase(round);
      const filler = await start(round, false);
      await load(filler.port, messages);
      await filler.stop();
      before = admin ? await activity() : null;
    },
    async deliver(round) {
      node = await start(round, true);
    },
    loadPort: () => node!.port,
    pid: () => pid,
    dbTicks: () => (postmaster ? treeTicks(postmaster) : 0),
    async finish() {
      if (!QUEUE) return null;
      await node?.stop();
      node = null;
      if (!admin) return null;
      const after = await activity();
      await dropDatabase();
      return before ? Object.fromEntries(Object.keys(after).map((k) => [k, after[k]! - before![k]!])) : null;
    },
    async stop() {
      sink.stop();
      await node?.stop();
      await dropDatabase();
    },
  };
}
