// Child process for durability.test.ts: enqueues messages and reports each id only after enqueue() resolved.
// Usage: <runtime> crash-child.ts <mode: loop|count> <url or ''> <dataDir> [count]
import { createIntake } from '../../src/queue/intake.ts';
import { openStore } from '../../src/store/open.ts';
import { minimalEnvelope, queueId, textBody } from './fixtures.ts';

const [mode, url, dataDir, countArg] = process.argv.slice(2);
const store = await openStore({ url: url ?? '', dataDir: dataDir ?? '', poolSize: 4 });
const intake = createIntake(store);
process.stdout.write('READY\n');

if (mode === 'count') {
  // Sequential, so every message is its own transaction: syncs per commit are then easy to read (strace:
  // the database runs on a worker thread, so the evidence is the kernel's, not a counter of ours).
  const n = Number(countArg ?? 50);
  for (let i = 0; i < n; i++) await intake.enqueue(minimalEnvelope(queueId('S'), 2), textBody(5000, `s${i}`));
  process.stdout.write(`${JSON.stringify({ transactions: intake.counters.transactions })}\n`);
  await intake.close();
  await store.close();
} else {
  // Several writers, so the kill lands in the middle of group commits of various sizes.
  const writer = async (w: number) => {
    for (let i = 0; ; i++) {
      const env = minimalEnvelope(queueId(`W${w}`), 2);
      await intake.enqueue(env, textBody(3000 + ((i * 37) % 4000), `${w}-${i}`));
      process.stdout.write(`${env.queueId}\n`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, (_, w) => writer(w)));
}
