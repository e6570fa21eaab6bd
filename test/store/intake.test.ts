// Intake: every Envelope field and body byte survives the round trip; group commit groups; failures are
// isolated per message and always surface as rejected promises.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createIntake } from '../../src/queue/intake.ts';
import { createQueueReader } from '../../src/queue/repo.ts';
import { createTestDatabase, openTestStore } from '../support/db.ts';
import { openStore } from '../../src/store/open.ts';
import { migrate } from '../../src/store/migrate.ts';
import { allBytes, fullEnvelope, minimalEnvelope, queueId, textBody } from './fixtures.ts';

const T = { timeout: 60_000 }; // bun's default is 5 s; creating a PGlite database takes 1-3 s

test('every Envelope field and every byte value round-trips', T, async () => {
  const t = await openTestStore();
  try {
    const intake = createIntake(t.store);
    const full = fullEnvelope();
    const bare = minimalEnvelope();
    await intake.enqueue(full, allBytes());
    await intake.enqueue(bare, new Uint8Array(0));
    const reader = createQueueReader(t.store);

    const got = await reader.get(full.queueId, { withBody: true });
    assert.ok(got);
    assert.deepEqual(got.envelope, full);
    assert.equal(got.envelope.receivedAt.getTime(), full.receivedAt.getTime(), 'millisecond precision');
    assert.ok(got.body instanceof Uint8Array);
    assert.equal(Object.getPrototypeOf(got.body), Uint8Array.prototype, 'a plain Uint8Array on both drivers');
    assert.deepEqual(got.body, allBytes());
    assert.equal(got.size, 512);
    assert.equal(got.sender, full.sender);
    assert.deepEqual(got.recipients.map((r) => [r.address, r.state, r.attempts]), full.recipients.map((r) => [r.address, 'queued', 0]));
    assert.ok(got.recipients.every((r) => r.nextAttemptAt instanceof Date && typeof r.id === 'number'));
    assert.equal(got.events.length, 1);
    assert.equal(got.events[0].kind, 'received');
    assert.equal(got.events[0].recipientId, null);
    assert.equal(got.events[0].detail.recipients, 4);

    const plain = await reader.get(bare.queueId, { withBody: true });
    assert.ok(plain);
    assert.deepEqual(plain.envelope, bare);
    assert.equal(plain.envelope.sender, '', 'the null reverse-path');
    assert.deepEqual(plain.body, new Uint8Array(0));
    const noBody = await reader.get(bare.queueId);
    assert.equal(noBody?.body, undefined, 'body only when asked for');
    await intake.close();
  } finally {
    await t.cleanup();
  }
});

test('a large body with many recipients round-trips', T, async () => {
  const t = await openTestStore();
  try {
    const intake = createIntake(t.store);
    const env = minimalEnvelope(queueId(), 15_000); // more than fit as bind parameters
    const body = new Uint8Array(3 * 1024 * 1024).map((_, i) => (i * 31 + (i >> 8)) & 255);
    await intake.enqueue(env, body);
    const got = await createQueueReader(t.store).get(env.queueId, { withBody: true });
    assert.equal(got?.recipients.length, 15_000);
    assert.deepEqual(got?.envelope.recipients, env.recipients, 'recipient order kept');
    assert.ok(got?.body && Buffer.compare(got.body, body) === 0);
    await intake.close();
  } finally {
    await t.cleanup();
  }
});

test('concurrent enqueues share transactions (group commit)', T, async () => {
  const t = await openTestStore();
  try {
    const intake = createIntake(t.store);
    const n = 60;
    const envs = Array.from({ length: n }, () => minimalEnvelope(queueId(), 2));
    await Promise.all(envs.map((e, i) => intake.enqueue(e, textBody(5000, `m${i}`))));
    assert.equal(intake.counters.messages, n);
    assert.ok(intake.counters.transactions < n / 4, `${intake.counters.transactions} transactions for ${n} messages`);
    const counts = await createQueueReader(t.store).counts();
    assert.deepEqual(counts, { messages: n, recipients: 2 * n, events: n });
    // A lone message at low load goes straight away in its own transaction.
    const before = intake.counters.transactions;
    await intake.enqueue(minimalEnvelope(), textBody(100));
    assert.equal(intake.counters.transactions, before + 1);
    await intake.close();
  } finally {
    await t.cleanup();
  }
});

test('batches are bounded by count and bytes', T, async () => {
  const t = await openTestStore();
  try {
    const intake = createIntake(t.store, { maxBatchMessages: 5, maxBatchBytes: 20_000, maxInFlight: 1 });
    await Promise.all(Array.from({ length: 40 }, () => intake.enqueue(minimalEnvelope(), textBody(1000))));
    // First flush takes 1 (lone), then batches of at most 5: at least 1 + 39/5 transactions.
    assert.ok(intake.counters.transactions >= 9, `count bound: ${intake.counters.transactions}`);
    const before = intake.counters.transactions;
    await Promise.all(Array.from({ length: 11 }, () => intake.enqueue(minimalEnvelope(), textBody(9000))));
    // 9000-byte bodies: two fit under 20000, so at least 1 + 10/2 transactions.
    assert.ok(intake.counters.transactions - before >= 6, `byte bound: ${intake.counters.transactions - before}`);
    await intake.close();
  } finally {
    await t.cleanup();
  }
});

test('a bad message in a batch fails alone; the others are stored', T, async () => {
  const t = await openTestStore();
  try {
    const intake = createIntake(t.store);
    const envs = Array.from({ length: 12 }, () => minimalEnvelope());
    envs[7] = { ...envs[7], helo: 'nul\u0000byte' }; // PostgreSQL text cannot hold NUL
    envs[9] = { ...envs[9], queueId: envs[8].queueId }; // a duplicate queue id
    const results = await Promise.allSettled(envs.map((e) => intake.enqueue(e, textBody(500))));
    const rejected = results.flatMap((r, i) => (r.status === 'rejected' ? [i] : []));
    assert.deepEqual(rejected, [7, 9]);
    for (const i of rejected) {
      const reason = (results[i] as PromiseRejectedResult).reason as Error;
      assert.ok(reason instanceof Error);
      assert.ok(reason.cause, 'the cause is kept');
      assert.match(reason.message, new RegExp(envs[i].queueId));
      assert.ok(reason.message.length < 500, 'no statement dump in the message');
    }
    assert.ok(intake.counters.failedBatches >= 1, 'the failure happened inside a batch');
    const ids = new Set(await createQueueReader(t.store).ids());
    assert.equal(ids.size, 10);
    for (const [i, e] of envs.entries()) if (i !== 7 && i !== 9) assert.ok(ids.has(e.queueId));
    assert.deepEqual(await createQueueReader(t.store).incomplete(), []);
    await assert.rejects(intake.enqueue(minimalEnvelope(queueId(), 0), textBody(10)), /no recipients/);
    await intake.close();
  } finally {
    await t.cleanup();
  }
});

test('closed store: enqueue rejects, never hangs', T, async () => {
  const t = await openTestStore();
  try {
    const intake = createIntake(t.store);
    await intake.enqueue(minimalEnvelope(), textBody(100));
    await t.store.close();
    await assert.rejects(withTimeout(intake.enqueue(minimalEnvelope(), textBody(100))), /enqueue .* failed/);
    const burst = Promise.allSettled(Array.from({ length: 5 }, () => withTimeout(intake.enqueue(minimalEnvelope(), textBody(100)))));
    for (const r of await burst) assert.equal(r.status, 'rejected');
    await intake.close();
    await assert.rejects(intake.enqueue(minimalEnvelope(), textBody(100)), /intake is closed/);
  } finally {
    await t.cleanup();
  }
});

test('database gone under a running intake (PostgreSQL): enqueue rejects, never hangs', T, async (ctx) => {
  const db = await createTestDatabase();
  if (db.url === '') return ctx.skip('PGlite has no connection to lose');
  // A short deadline: postgres-js occasionally leaves one query unsettled when its connection is
  // killed (see QUERY_TIMEOUT_MS in open.ts); the store must turn that into a rejection too.
  const store = await openStore({ url: db.url, dataDir: '', poolSize: 2, queryTimeoutMs: 3000 });
  try {
    await migrate(store);
    const intake = createIntake(store);
    await intake.enqueue(minimalEnvelope(), textBody(100));
    // DROP DATABASE ... WITH (FORCE) terminates our connections; reconnecting then fails too.
    const started = performance.now();
    const inFlight = Promise.allSettled(
      Array.from({ length: 20 }, () => withTimeout(intake.enqueue(minimalEnvelope(), textBody(5000)))),
    );
    await db.drop();
    const later = Promise.allSettled(
      Array.from({ length: 5 }, () => withTimeout(intake.enqueue(minimalEnvelope(), textBody(100)))),
    );
    const settled = [...(await inFlight), ...(await later)];
    assert.ok(settled.slice(20).every((r) => r.status === 'rejected'), 'after the drop, everything rejects');
    for (const r of settled) if (r.status === 'rejected') assert.doesNotMatch(String(r.reason), /timed out/);
    // Promptly: a sender should get its 451 in seconds, not after reconnection back-off grew to minutes.
    assert.ok(performance.now() - started < 10_000, `settled after ${Math.round(performance.now() - started)} ms`);
    await intake.close();
  } finally {
    await store.close();
    await db.drop();
  }
});

test('close() waits for flushes in flight', T, async () => {
  const t = await openTestStore();
  try {
    const intake = createIntake(t.store);
    const all = Array.from({ length: 30 }, () => intake.enqueue(minimalEnvelope(), textBody(2000)));
    await intake.close();
    assert.equal(intake.counters.messages, 30, 'everything accepted before close() committed');
    await Promise.all(all);
    assert.equal((await createQueueReader(t.store).counts()).messages, 30);
  } finally {
    await t.cleanup();
  }
});

function withTimeout<T>(p: Promise<T>, ms = 30_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

test('a held envelope (quarantine) stores its recipients as held with the reason, and they are never claimed', T, async () => {
  const t = await openTestStore();
  try {
    const intake = createIntake(t.store);
    const env = { ...minimalEnvelope(queueId('H'), 2), hold: 'DMARC quarantine (example.org)' };
    await intake.enqueue(env, textBody(100));
    const rows = await t.store.query<{ state: string; hold_reason: string | null }>(
      'select state, hold_reason from recipients where message_id = $1 order by id',
      [env.queueId],
    );
    assert.deepEqual(rows.map((r) => [r.state, r.hold_reason]), [
      ['held', 'DMARC quarantine (example.org)'],
      ['held', 'DMARC quarantine (example.org)'],
    ]);
    const { createDeliveryRepo } = await import('../../src/queue/delivery-repo.ts');
    const claimed = await createDeliveryRepo(t.store).claim(100, 'node', 60_000);
    assert.ok(!claimed.some((c) => c.messageId === env.queueId), 'held mail waits for release');
    await intake.close();
  } finally {
    await t.cleanup();
  }
});
