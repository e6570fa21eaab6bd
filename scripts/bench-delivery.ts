// Delivery-rate benchmark: Tern (PGlite, PostgreSQL) and Postfix each relay the same load to their own smtp-sink.
//
// usage: bun scripts/bench-delivery.ts [--quick] [--json] [--mode queue|e2e] [--rounds 3] [--messages 5000]
//          [--peers tern-pglite,tern-postgres,postfix] [--concurrency 100] [--destination-concurrency 20]
//          [--sessions 10] [--bin dist/tern] [--database-url postgres://…] [--cap 120] [--cpu-prof DIR] [--keep]
//   --mode queue    (default) "queue to smtp-sink": fill each MTA's queue with delivery held, release it, and
//                   time from the first message at the sink to the last. Tern: a node with
//                   delivery.enabled=false fills a fresh database, then a node with delivery on empties it.
//                   Postfix: smtpd puts every message on hold; `postsuper -H ALL` + `postqueue -f` release them.
//   --mode e2e      smtp-source -> MTA -> smtp-sink with delivery on all along (what /work/shared/peers
//                   measures): from smtp-source's start until the sink has counted every message
//   --quick         one round of 1000 messages (a smoke run, not a figure to quote)
//   --json          print the results as JSON instead of the table
//   --concurrency, --destination-concurrency   Tern's delivery.concurrency and delivery.destination_concurrency
//   --sessions N    smtp-source's parallel persistent sessions (-d), filling (queue) or loading (e2e)
//   --bin FILE      run a compiled executable instead of `bun src/main.ts`
//   --database-url  PostgreSQL server for tern-postgres: a fresh database per round is created there, then dropped
//   --cap SECONDS   time limit of one round; a round cut short is reported from the count it reached
//   --cpu-prof DIR  run the delivering Tern under `bun --cpu-prof --cpu-prof-md`; profiles land in DIR
//   --keep          keep the work directory (.bench/delivery-*): Tern's logs, Postfix's maillog
//
// One warm-up round per peer (not counted), then interleaved rounds (the peer order rotating); each figure
// is the median of the rounds. Absolute rates drift with the machine: the Tern/Postfix ratio measured in
// one run is the figure to compare. CPU per message is over the same window: the delivering Tern process
// (and per thread: "bun" is Tern's JavaScript, "Worker" the embedded PGlite, the rest JIT and GC helpers),
// the PostgreSQL server's processes apart (other load on that server counts too), or Postfix's master and
// all its children. For tern-postgres in queue mode, pg_stat_database tells what the node asked of the
// database per message; "all cores busy" is the whole machine's CPU over the window (near 100%: CPU-bound,
// whoever's load it is). Needs root (Postfix), Debian's postfix package (smtp-source, smtp-sink) and, for
// tern-postgres, a PostgreSQL server. The parts live in scripts/bench-delivery/.
import { mkdirSync, rmSync } from 'node:fs';
import postgres from 'postgres';
import { opts, progress, QUEUE, SIZE, WARM_UP, work } from './bench-delivery/options.ts';
import { median } from './lib/bench-os.ts';
import { postfixPeer } from './bench-delivery/postfix.ts';
import { describe, round, type Mta, type Round } from './bench-delivery/round.ts';
import { ternPeer } from './bench-delivery/tern.ts';

const peers: Mta[] = [];
const runs = new Map<string, Round[]>();
const admin = opts.peers.includes('tern-postgres') ? postgres(opts.databaseUrl, { max: 1, onnotice: () => {} }) : null;
try {
  mkdirSync(work, { recursive: true });
  for (const name of opts.peers) {
    progress(`starting ${name}`);
    if (name === 'postfix') peers.push(await postfixPeer());
    else if (name === 'tern-pglite') peers.push(await ternPeer(name, null));
    else if (name === 'tern-postgres') peers.push(await ternPeer(name, admin));
    else throw new Error(`unknown peer ${name} (tern-pglite, tern-postgres, postfix)`);
  }
  // Warm-up, not counted: Postfix's process pool, the page cache, PostgreSQL's catalog caches, Bun's JIT.
  for (const p of peers) progress(`warm-up  ${opts.mode}  ${describe(p.name, await round(p, -1, WARM_UP))}`);
  for (let i = 0; i < opts.rounds; i++) {
    for (const p of peers.map((_, k) => peers[(k + i) % peers.length]!)) {
      const r = await round(p, i, opts.messages);
      runs.set(p.name, [...(runs.get(p.name) ?? []), r]);
      progress(`round ${i + 1}/${opts.rounds}  ${opts.mode}  ${describe(p.name, r)}`);
    }
  }
} finally {
  for (const p of peers) await p.stop().catch((e) => progress(`stop ${p.name}: ${e}`));
  await admin?.end();
  if (!opts.keep) rmSync(work, { recursive: true, force: true });
  else progress(`kept ${work}`);
}

// ---- report -------------------------------------------------------------------------------------------
const summary = Object.fromEntries(
  opts.peers.map((p) => {
    const rs = runs.get(p) ?? [];
    const db = rs.map((r) => r.dbCpuMsPerMsg).filter((x): x is number => x !== null);
    const m = (f: (r: Round) => number) => median(rs.map(f));
    const dbCpuMsPerMsg = db.length ? median(db) : null;
    return [p, { rate: m((r) => r.rate), cpuMsPerMsg: m((r) => r.cpuMsPerMsg), dbCpuMsPerMsg, machineBusy: m((r) => r.machineBusy), runs: rs }];
  }),
);
const postfixRate = summary.postfix?.rate ?? 0;
const ternPeers = opts.peers.filter((p) => p.startsWith('tern') && postfixRate > 0);
const ratios = Object.fromEntries(ternPeers.map((p) => [p, summary[p]!.rate / postfixRate]));
const errors = opts.peers.flatMap((p) => summary[p]!.runs.filter((r) => r.error).map((r) => `${p}: ${r.error}`));
const tern = { concurrency: opts.concurrency, destinationConcurrency: opts.destinationConcurrency };

if (opts.json) {
  const head = { mode: opts.mode, rounds: opts.rounds, messages: opts.messages, messageSize: SIZE, sessions: opts.sessions };
  console.log(JSON.stringify({ ...head, tern, peers: summary, ratios, errors }, null, 2));
} else {
  const what = QUEUE ? 'queue to smtp-sink (first to last message at the sink)' : `end to end, smtp-source (${opts.sessions} sessions) -> MTA -> smtp-sink`;
  console.log(`\ndelivery rate, ${what}: median of ${opts.rounds}, ${opts.messages} messages of ${SIZE} bytes`);
  console.log(`Tern: delivery.concurrency ${tern.concurrency}, destination_concurrency ${tern.destinationConcurrency}; Postfix: stock limits (20 per destination)`);
  for (const p of opts.peers) {
    const s = summary[p]!;
    const ratio = ratios[p] === undefined ? '' : `  ${ratios[p]!.toFixed(2)}x Postfix`;
    const db = s.dbCpuMsPerMsg === null ? '' : ` + ${s.dbCpuMsPerMsg.toFixed(2)} ms PostgreSQL server`;
    const busy = `; all cores ${(s.machineBusy * 100).toFixed(0)}% busy`;
    console.log(`  ${p.padEnd(13)} ${s.rate.toFixed(0).padStart(6)} msgs/s${ratio.padEnd(16)}  CPU ${s.cpuMsPerMsg.toFixed(2)} ms/msg${db}${busy}`);
  }
  if (errors.length) console.log(`\n${errors.length} round(s) not clean:\n  ${errors.join('\n  ')}`);
}
if (opts.cpuProf) progress(`CPU profiles (.cpuprofile for Chrome DevTools/speedscope, .md to read) in ${opts.cpuProf}`);
process.exit(errors.length ? 1 : 0);
