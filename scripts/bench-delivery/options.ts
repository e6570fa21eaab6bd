// The command-line options of scripts/bench-delivery.ts and the constants derived from them, shared by its parts.
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

export const root = join(import.meta.dirname, '..', '..');

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    mode: { type: 'string', default: 'queue' },
    rounds: { type: 'string' },
    messages: { type: 'string' },
    peers: { type: 'string', default: 'tern-pglite,tern-postgres,postfix' },
    concurrency: { type: 'string', default: '100' },
    'destination-concurrency': { type: 'string', default: '20' },
    sessions: { type: 'string', default: '10' },
    bin: { type: 'string' },
    'database-url': { type: 'string', default: 'postgres://postgres:postgres@127.0.0.1:5432/postgres' },
    cap: { type: 'string', default: '120' },
    'cpu-prof': { type: 'string' },
    'log-level': { type: 'string', default: 'info' },
    keep: { type: 'boolean', default: false },
  },
});
if (values.mode !== 'queue' && values.mode !== 'e2e') throw new Error(`--mode must be queue or e2e, got ${values.mode}`);
const positive = (name: string, s: string): number => {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${s}`);
  return n;
};

export const opts = {
  json: values.json,
  mode: values.mode as 'queue' | 'e2e',
  rounds: positive('rounds', values.rounds ?? (values.quick ? '1' : '3')),
  messages: positive('messages', values.messages ?? (values.quick ? '1000' : '5000')),
  peers: values.peers.split(','),
  concurrency: positive('concurrency', values.concurrency),
  destinationConcurrency: positive('destination-concurrency', values['destination-concurrency']),
  sessions: positive('sessions', values.sessions),
  bin: values.bin ?? null,
  databaseUrl: values['database-url'],
  capMs: positive('cap', values.cap) * 1000,
  // Absolute: each Tern runs in its own work directory, which is removed after the run.
  cpuProf: values['cpu-prof'] ? resolve(values['cpu-prof']) : null,
  logLevel: values['log-level'],
  keep: values.keep,
};
if (opts.bin && opts.cpuProf) throw new Error('--cpu-prof needs Tern from source (without --bin)');

/** Queue mode: "queue to smtp-sink" (fill with delivery held, then release); otherwise end to end. */
export const QUEUE = opts.mode === 'queue';
/** Message size in bytes (smtp-source -l), as in scripts/bench-accept.ts and /work/shared/peers. */
export const SIZE = 5000;
/** Messages of the warm-up round per peer (not counted). */
export const WARM_UP = Math.min(500, opts.messages);
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);
export const ticksToMs = (t: number): number => (t * 1000) / CLK_TCK;
/** Per run: Tern's data and logs, Postfix's config, queue and maillog; removed unless --keep. */
export const work = join(root, '.bench', `delivery-${new Date().toISOString().replace(/[:.]/g, '-')}`);
export const progress = (s: string): void => void process.stderr.write(s + '\n');
