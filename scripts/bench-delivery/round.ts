// One measured round of the delivery benchmark: what a peer must offer, the timing window, CPU, the result line.
import { opts, QUEUE, ticksToMs } from './options.ts';
import { machineTicks, threadTicks, treeTicks } from '../lib/bench-os.ts';
import { load, type Sink, type Window } from './sink.ts';

/** What a round needs from an MTA under test. */
export interface Mta {
  name: string;
  /** Its own smtp-sink: the count there is what it delivered. */
  sink: Sink;
  /** Tern: per-thread CPU is read. PostgreSQL: the database server's CPU is reported apart. */
  tern: boolean;
  withDb: boolean;
  /** Queue mode: `messages` accepted and held, nothing delivered yet. e2e: started with delivery on. */
  fill(round: number, messages: number): Promise<void>;
  /** Queue mode: starts delivering what fill() held; pid() is the delivering process as soon as it is spawned. */
  deliver(round: number): Promise<void>;
  /** e2e: where smtp-source connects. */
  loadPort(): number;
  /** The process whose CPU is the MTA's (Tern's delivering node, Postfix's master with its children). */
  pid(): number;
  /** CPU ticks of the database server's processes (0 without one). */
  dbTicks(): number;
  /** The round is over (queue mode: stop the node, drop its database); pg_stat_database deltas if any. */
  finish(round: number): Promise<Record<string, number> | null>;
  stop(): Promise<void>;
}

export interface Round {
  rate: number;
  messages: number;
  seconds: number;
  cpuMsPerMsg: number; // the MTA: the delivering Tern process, or Postfix's whole process tree
  dbCpuMsPerMsg: number | null; // tern-postgres: the PostgreSQL server's processes
  /** Share of all cores busy over the window, whoever used them: near 1 means the round was CPU-bound. */
  machineBusy: number;
  threadsMsPerMsg?: Record<string, number>; // Tern: per thread name
  dbActivityPerMsg?: Record<string, number>; // tern-postgres, queue mode: pg_stat_database counters
  error?: string;
}

/**
 * Queue mode: the window opens when the first message lands (so neither Tern's start-up nor Postfix's
 * release command counts) and that instant's messages are not counted. e2e: it opens as smtp-source starts.
 */
export async function round(mta: Mta, index: number, messages: number): Promise<Round> {
  await mta.fill(index, messages);
  const from = mta.sink.count;
  let cpu0 = 0;
  let db0 = 0;
  let threads0 = new Map<string, number>();
  let machine0 = machineTicks();
  const sample = () => {
    machine0 = machineTicks();
    cpu0 = treeTicks(mta.pid());
    db0 = mta.dbTicks();
    if (mta.tern) threads0 = threadTicks(mta.pid());
  };
  let t0 = 0;
  let watching: Promise<Window>;
  if (QUEUE) {
    // Tern's engine claims before the node logs "ready": watch the sink from before the spawn.
    watching = mta.sink.watch(from, from + messages, sample);
    await mta.deliver(index);
  } else {
    sample();
    t0 = performance.now();
    watching = mta.sink.watch(from, from + messages, () => {});
    await load(mta.loadPort(), messages);
  }
  const t = await watching;
  const machine = machineTicks();
  const cpu = ticksToMs(treeTicks(mta.pid()) - cpu0);
  const dbCpu = ticksToMs(mta.dbTicks() - db0);
  const threads = mta.tern ? [...threadTicks(mta.pid())].map(([k, v]) => [k, ticksToMs(v - (threads0.get(k) ?? 0))] as const) : [];
  const activity = await mta.finish(index);
  const counted = QUEUE ? t.reached - t.firstCount : t.reached - from;
  const seconds = (t.last - (QUEUE ? t.first : t0)) / 1000;
  const per = (x: number) => (counted > 0 ? x / counted : 0);
  const r: Round = {
    rate: seconds > 0 ? counted / seconds : 0,
    messages: counted,
    seconds,
    cpuMsPerMsg: per(cpu),
    dbCpuMsPerMsg: mta.withDb ? per(dbCpu) : null,
    machineBusy: (machine.busy - machine0.busy) / Math.max(1, machine.total - machine0.total),
  };
  if (mta.tern) {
    const busy = threads.filter(([, ms]) => per(ms) >= 0.01).sort((a, b) => b[1] - a[1]);
    r.threadsMsPerMsg = Object.fromEntries(busy.map(([k, ms]) => [k, per(ms)]));
  }
  if (activity) r.dbActivityPerMsg = Object.fromEntries(Object.entries(activity).map(([k, v]) => [k, v / messages]));
  if (t.reached < from + messages) r.error = `${t.reached - from} of ${messages} at the sink within ${opts.capMs / 1000}s`;
  return r;
}

/** One progress line: rate, CPU per message and, where measured, where Tern's CPU and queries went. */
export function describe(name: string, r: Round): string {
  const a = r.dbActivityPerMsg;
  const db = r.dbCpuMsPerMsg === null ? '' : ` + ${r.dbCpuMsPerMsg.toFixed(2)} ms PostgreSQL`;
  const rcpt = a ? `recipients ${a.rcpt_seq_scan!.toFixed(2)} seq scans (${a.rcpt_seq_tup_read!.toFixed(0)} rows), ${a.rcpt_idx_scan!.toFixed(1)} index scans` : '';
  const stats = a ? `; per msg ${a.xact_commit!.toFixed(1)} transactions, ${(a.tup_returned! + a.tup_fetched!).toFixed(0)} rows read, ${rcpt}` : '';
  const threads = r.threadsMsPerMsg ? `; threads ${Object.entries(r.threadsMsPerMsg).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')}` : '';
  const head = `${name.padEnd(13)} ${r.rate.toFixed(0).padStart(6)} msg/s  ${r.messages} in ${r.seconds.toFixed(2)} s`;
  return `${head}  ${r.cpuMsPerMsg.toFixed(2)} ms CPU/msg${db}; cores ${(r.machineBusy * 100).toFixed(0)}% busy${stats}${threads}${r.error ? '  ' + r.error : ''}`;
}
