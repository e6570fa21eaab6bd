// LISTEN/NOTIFY through the Store on both drivers, and the intake's one wake-up per committed batch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createIntake, QUEUE_CHANNEL } from '../../src/queue/intake.ts';
import { openTestStore } from '../support/db.ts';
import { minimalEnvelope, textBody } from './fixtures.ts';

const T = { timeout: 60_000 };

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('listen receives notify payloads; unlisten stops them', T, async () => {
  const t = await openTestStore();
  try {
    const got: string[] = [];
    const unlisten = await t.store.listen('tern_test', (p) => got.push(p));
    await t.store.notify('tern_test', 'one');
    await t.store.notify('tern_test', 'twö {"json": true}');
    await until(() => got.length === 2);
    assert.deepEqual(got, ['one', 'twö {"json": true}']);
    await unlisten();
    await t.store.notify('tern_test', 'three');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(got.length, 2, 'nothing after unlisten');
  } finally {
    await t.cleanup();
  }
});

test('the intake notifies once per committed batch, after the rows are visible', T, async () => {
  const t = await openTestStore();
  try {
    const payloads: string[] = [];
    const visible: number[] = [];
    await t.store.listen(QUEUE_CHANNEL, (p) => {
      payloads.push(p);
      // A woken worker must find the rows: count them as the notification arrives.
      void t.store.query<{ n: number }>('select count(*)::int as n from messages', []).then((r) => visible.push(r[0].n));
    });
    const intake = createIntake(t.store);
    await Promise.all(Array.from({ length: 25 }, () => intake.enqueue(minimalEnvelope(), textBody(300))));
    await until(() => payloads.reduce((a, p) => a + Number(p), 0) === 25 && visible.length === payloads.length);
    assert.equal(payloads.length, intake.counters.batches, 'one notification per batch');
    assert.ok(payloads.length < 25, 'batched');
    assert.ok(visible.every((n) => n >= 1));
    await intake.close();
  } finally {
    await t.cleanup();
  }
});

test('a failed batch sends no notification', T, async () => {
  const t = await openTestStore();
  try {
    const payloads: string[] = [];
    await t.store.listen(QUEUE_CHANNEL, (p) => payloads.push(p));
    const intake = createIntake(t.store);
    const e = minimalEnvelope();
    await intake.enqueue(e, textBody(10));
    await assert.rejects(intake.enqueue(e, textBody(10)), /failed/); // duplicate queue id
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(payloads, ['1']);
    await intake.close();
  } finally {
    await t.cleanup();
  }
});
