// Accept-rate benchmark: Postfix's smtp-source loads Tern (PGlite), Tern (PostgreSQL) and Postfix side by side.
//
// usage: bun scripts/bench-accept.ts [--quick] [--json] [--rounds 3] [--messages 2000] [--sessions 1,10,50]
//          [--peers tern-pglite,tern-postgres,postfix] [--bin dist/tern] [--database-url postgres://…]
//          [--cap 60] [--cpu-prof DIR] [--keep]
//   --quick         one round of 300 messages per cell (a smoke run, not a figure to quote)
//   --json          print the results as JSON instead of the table
//   --bin FILE      run a compiled executable instead of `bun src/main.ts`
//   --database-url  PostgreSQL server for tern-postgres; a fresh database is created on it and dropped after
//   --cap SECONDS   time limit of one smtp-source run; a run cut short is reported from its running count
//   --cpu-prof DIR  run Tern under `bun --cpu-prof --cpu-prof-md` and leave the profiles in DIR
//   --keep          keep the work directory (.bench/accept-*) with the data, Postfix's queue and Tern's logs
//
// Every cell is 5 KB messages sent by smtp-source with S parallel sessions, either one message per
// connection or persistent sessions (-d). Rounds are interleaved (each cell runs on every peer in turn,
// the peer order rotating per round) and each cell's figure is the median of the rounds: absolute rates
// drift with the machine, the ratio Tern/Postfix measured in one run is the figure to compare.
// Server CPU per message is the Tern process (for tern-postgres plus the PostgreSQL server's processes,
// so other load on that server counts too) or Postfix's master and its children, over the cell's wall time;
// work a server defers past the end of the cell (Postfix's delivery to discard, Tern's) is partly missed.
// Needs root (Postfix), Debian's postfix package (smtp-source) and, for tern-postgres, a PostgreSQL server.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { freePort, median, portOpen, procStat, treeTicks, vmHwmKb, waitFor } from './lib/bench-os.ts';

const root = join(import.meta.dirname, '..');
const { values: o } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    messages: { type: 'string' },
    sessions: { type: 'string', default: '1,10,50' },
    peers: { type: 'string', default: 'tern-pglite,tern-postgres,postfix' },
    bin: { type: 'string' },
    'database-url': { type: 'string', default: 'postgres://postgres:postgres@127.0.0.1:5432/postgres' },
    cap: { type: 'string' },
    'cpu-prof': { type: 'string' },
    'log-level': { type: 'string', default: 'info' },
    keep: { type: 'boolean', default: false },
  },
});
const ROUNDS = Number(o.rounds ?? (o.quick ? 1 : 3));
const MESSAGES = Number(o.messages ?? (o.quick ? 300 : 2000));
const CAP_MS = Number(o.cap ?? (o.quick ? 20 : 60)) * 1000;
const SIZE = 5000;
const SESSIONS = o.sessions!.split(',').map(Number);
const PEERS = o.peers!.split(',');
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);
const work = join(root, '.bench', `accept-${new Date().toISOString().replace(/[:.]/g, '-')}`);
const progress = (s: string) => process.stderr.write(s + '\n');

interface Peer {
  name: string;
  port: number;
  /** Processes whose CPU time is the server's (summed before and after each cell). */
  cpuTicks(): number;
  /** Peak resident set (VmHWM) in KB since the last resetPeak(), or null where not measured. */
  peakKb(): number | null;
  resetPeak(): void;
  stop(): Promise<void>;
}

// ---- peers --------------------------------------------------------------------------------------------
/** @param serverPid PostgreSQL's postmaster: its CPU (backends included) is part of Tern's cost per message. */
async function startTern(name: string, databaseUrl: string, serverPid?: number): Promise<Peer> {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  const [port, sub, subs] = [await freePort(), await freePort(), await freePort()];
  const logFile = join(dir, 'tern.log');
  const out = openSync(logFile, 'a');
  const prof = o['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-md', `--cpu-prof-dir=${o['cpu-prof']}`, `--cpu-prof-name=${name}`] : [];
  const [cmd, args] = o.bin ? [resolve(o.bin), ['serve']] : [process.execPath, [...prof, join(root, 'src/main.ts'), 'serve']];
  if (o.bin && prof.length) throw new Error('--cpu-prof needs Tern from source (without --bin)');
  const child: ChildProcess = spawn(cmd, args, {
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
      TERN_RELAY_LOCAL_DOMAINS: 'example.test', // smtp-source's recipient domain
      // Accepting is what is measured: delivery (into the mailbox table) would compete for the same cores.
      TERN_DELIVERY_ENABLED: 'false',
      // 50 sessions reconnecting per message from one address would hit the per-IP default (50).
      TERN_LIMITS_MAX_CONNECTIONS_PER_IP: '1000',
      TERN_LOG_FORMAT: 'json',
      TERN_LOG_LEVEL: o['log-level'],
    },
  });
  let exited = false;
  child.on('exit', () => (exited = true));
  child.on('error', (e) => (exited = true, writeFileSync(logFile, `spawn ${cmd}: ${e.message}\n`, { flag: 'a' })));
  await waitFor(`${name} ready (log: ${logFile})`, 120_000, () => {
    if (exited) throw new Error(`${name} exited during start; log:\n${readFileSync(logFile, 'utf8').slice(-3000)}`);
    return readFileSync(logFile, 'utf8').includes('"event":"ready"');
  });
  const pid = child.pid!;
  return {
    name,
    port,
    cpuTicks: () => treeTicks(pid) + (serverPid ? treeTicks(serverPid) : 0),
    peakKb: () => vmHwmKb(pid),
    resetPeak: () => writeFileSync(`/proc/${pid}/clear_refs`, '5'), // Linux >= 4.0: resets VmHWM to VmRSS
    async stop() {
      if (exited) return;
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([done, new Promise((r) => setTimeout(r, 30_000))]);
      if (!exited) child.kill('SIGKILL');
    },
  };
}

async function startPostfix(): Promise<Peer> {
  const port = await freePort();
  const env = { ...process.env, PEERS_DIR: work };
  const r = spawnSync(join(root, 'scripts/peers/postfix.sh'), [String(port), 'discard'], { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`postfix.sh failed: ${r.stderr}${r.stdout}`);
  const master = Number(r.stdout.trim().split('\n').pop());
  await waitFor('postfix listening', 10_000, () => portOpen(port));
  return {
    name: 'postfix',
    port,
    cpuTicks: () => treeTicks(master),
    peakKb: () => null, // many processes: one process's peak would mean little
    resetPeak: () => {},
    stop() {
      spawnSync(join(root, 'scripts/peers/postfix.sh'), [String(port), 'stop'], { env });
      return Promise.resolve();
    },
  };
}

// ---- one cell -----------------------------------------------------------------------------------------
interface Run {
  rate: number;
  messages: number;
  seconds: number;
  cpuMsPerMsg: number;
  peakKb: number | null;
  error?: string;
}
async function runCell(peer: Peer, sessions: number, persistent: boolean, messages: number): Promise<Run> {
  const args = ['-c', ...(persistent ? ['-d'] : []), '-s', String(sessions), '-m', String(messages), '-l', String(SIZE)];
  args.push('-M', 'client.test', '-f', 's@client.test', '-t', 'r@example.test', `127.0.0.1:${peer.port}`);
  peer.resetPeak();
  const cpu0 = peer.cpuTicks();
  const t0 = performance.now();
  const child = spawn('smtp-source', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  let capped = false;
  const timer = setTimeout(() => ((capped = true), child.kill('SIGTERM')), CAP_MS);
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  clearTimeout(timer);
  const seconds = (performance.now() - t0) / 1000;
  const cpuMs = ((peer.cpuTicks() - cpu0) * 1000) / CLK_TCK;
  // -c prints "\r<count>" after every completed DATA: the last one is what was accepted.
  const sent = Number(out.split(/[\r\n]+/).filter(Boolean).pop() ?? 0);
  const run: Run = { rate: sent / seconds, messages: sent, seconds, cpuMsPerMsg: sent ? cpuMs / sent : 0, peakKb: peer.peakKb() };
  if (capped) run.error = `capped at ${CAP_MS / 1000}s`;
  else if (code !== 0) run.error = `smtp-source exit ${code}: ${err.trim().split('\n').pop()}`;
  return run;
}

// ---- main ---------------------------------------------------------------------------------------------
const cells = SESSIONS.flatMap((s) => [false, true].map((persistent) => ({ sessions: s, persistent })));
const runs = new Map<string, Run[]>(); // key: peer|sessions|persistent
const key = (peer: string, c: { sessions: number; persistent: boolean }) => `${peer}|${c.sessions}|${c.persistent}`;
const peers: Peer[] = [];
let pgDb: string | null = null;
const admin = PEERS.includes('tern-postgres') ? postgres(o['database-url']!, { max: 1, onnotice: () => {} }) : null;
const startupPeak: Record<string, number | null> = {};

try {
  mkdirSync(work, { recursive: true });
  for (const name of PEERS) {
    progress(`starting ${name}`);
    if (name === 'postfix') peers.push(await startPostfix());
    else if (name === 'tern-pglite') peers.push(await startTern(name, ''));
    else if (name === 'tern-postgres') {
      pgDb = `tern_bench_${process.pid}`;
      await admin!.unsafe(`CREATE DATABASE ${pgDb}`);
      const url = new URL(o['database-url']!);
      url.pathname = `/${pgDb}`;
      // The postmaster is the parent of our backend: its process tree is the database server's CPU.
      const [{ pid }] = await admin!`SELECT pg_backend_pid() AS pid`;
      peers.push(await startTern(name, url.toString(), procStat(pid)?.ppid));
    } else throw new Error(`unknown peer ${name} (tern-pglite, tern-postgres, postfix)`);
    startupPeak[name] = peers.at(-1)!.peakKb();
  }
  // Warm-up, not counted: JIT, connection pools, Postfix's process pool, the first queue files.
  for (const p of peers) await runCell(p, 10, true, Math.min(200, MESSAGES));

  for (let round = 0; round < ROUNDS; round++) {
    for (const cell of cells) {
      const order = peers.map((_, i) => peers[(i + round) % peers.length]!);
      for (const peer of order) {
        const r = await runCell(peer, cell.sessions, cell.persistent, MESSAGES);
        runs.set(key(peer.name, cell), [...(runs.get(key(peer.name, cell)) ?? []), r]);
        const mode = cell.persistent ? 'persistent' : '1/conn';
        progress(`round ${round + 1}/${ROUNDS}  ${String(cell.sessions).padStart(2)} sessions ${mode.padEnd(10)} ${peer.name.padEnd(13)} ${r.rate.toFixed(0).padStart(6)} msg/s  ${r.cpuMsPerMsg.toFixed(2)} ms CPU/msg${r.error ? '  ' + r.error : ''}`);
      }
    }
  }
} finally {
  for (const p of peers) await p.stop();
  if (pgDb) await admin!.unsafe(`DROP DATABASE IF EXISTS ${pgDb} WITH (FORCE)`).catch((e) => progress(`drop ${pgDb}: ${e}`));
  await admin?.end();
  if (!o.keep) rmSync(work, { recursive: true, force: true });
  else progress(`kept ${work}`);
}

// ---- report -------------------------------------------------------------------------------------------
const summary = cells.map((cell) => {
  const byPeer: Record<string, { rate: number; cpuMsPerMsg: number; peakKb: number | null; runs: Run[] }> = {};
  for (const p of PEERS) {
    const rs = runs.get(key(p, cell)) ?? [];
    const peaks = rs.map((r) => r.peakKb).filter((x): x is number => x !== null);
    byPeer[p] = { rate: median(rs.map((r) => r.rate)), cpuMsPerMsg: median(rs.map((r) => r.cpuMsPerMsg)), peakKb: peaks.length ? Math.max(...peaks) : null, runs: rs };
  }
  return { ...cell, peers: byPeer };
});
const ternPeers = PEERS.filter((p) => p.startsWith('tern'));
// Two figures, because they answer different questions: the first start of the embedded database runs
// initdb (a one-time ~1 GB peak, freed afterwards), while the load peak is what a running server needs.
const peakRss = Object.fromEntries(
  ternPeers.map((p) => [p, { startup: startupPeak[p] ?? 0, load: Math.max(0, ...summary.map((c) => c.peers[p]!.peakKb ?? 0)) }]),
);
const errors = summary.flatMap((c) => PEERS.flatMap((p) => c.peers[p]!.runs.filter((r) => r.error).map((r) => `${p} ${c.sessions}/${c.persistent ? 'persistent' : '1-per-conn'}: ${r.error}`)));

if (o.json) {
  console.log(JSON.stringify({ rounds: ROUNDS, messagesPerCell: MESSAGES, messageSize: SIZE, cells: summary, peakRssKb: peakRss, errors }, null, 2));
} else {
  const cols = PEERS.flatMap((p) => (p.startsWith('tern') && PEERS.includes('postfix') ? [p, 'ratio'] : [p]));
  console.log(`\naccept rate, msgs/s: median of ${ROUNDS}, ${MESSAGES} messages of ${SIZE} bytes per cell; ratio = Tern / Postfix`);
  console.log(['sessions', 'mode      ', ...cols.map((c) => c.padStart(c === 'ratio' ? 6 : 13))].join('  '));
  for (const c of summary) {
    const cellsOut = PEERS.flatMap((p) => {
      const rate = c.peers[p]!.rate;
      const out = [rate.toFixed(0).padStart(13)];
      if (p.startsWith('tern') && PEERS.includes('postfix')) out.push((rate / c.peers.postfix!.rate).toFixed(2).padStart(5) + 'x');
      return out;
    });
    console.log([String(c.sessions).padStart(8), (c.persistent ? 'persistent' : '1/conn').padEnd(10), ...cellsOut].join('  '));
  }
  console.log('\nserver CPU per message, ms (median): ' + PEERS.map((p) => `${p} ${summary.map((c) => c.peers[p]!.cpuMsPerMsg.toFixed(2)).join('/')}`).join('; '));
  if (ternPeers.length) {
    const mb = (kb: number) => `${(kb / 1024).toFixed(0)} MB`;
    console.log('peak RSS (VmHWM) under load: ' + ternPeers.map((p) => `${p} ${mb(peakRss[p]!.load)}`).join(', '));
    console.log('peak RSS (VmHWM) during start-up: ' + ternPeers.map((p) => `${p} ${mb(peakRss[p]!.startup)}`).join(', '));
  }
  if (errors.length) console.log(`\n${errors.length} run(s) not clean:\n  ${errors.join('\n  ')}`);
}
if (o['cpu-prof']) progress(`CPU profiles (.cpuprofile for Chrome DevTools/speedscope, .md to read) in ${o['cpu-prof']}`);
process.exit(errors.length ? 1 : 0);
