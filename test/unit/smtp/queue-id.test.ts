// Tests for queue ids: shape, time order, monotonicity within a millisecond.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createQueueIdGenerator, newQueueId, QUEUE_ID_LENGTH, queueIdTime } from '../../../src/smtp/queue-id.ts';

describe('queue ids', () => {
  test('18 characters of [0-9A-Z], safe for file names and headers', () => {
    for (let i = 0; i < 1000; i++) {
      const id = newQueueId();
      assert.equal(id.length, QUEUE_ID_LENGTH);
      assert.match(id, /^[0-9A-Z]{18}$/);
    }
  });

  test('the time is recoverable', () => {
    const gen = createQueueIdGenerator(() => 1767323045000, () => 0);
    assert.equal(queueIdTime(gen()), 1767323045000);
    assert.ok(Number.isNaN(queueIdTime('short')));
    assert.ok(Number.isNaN(queueIdTime('!'.repeat(18))));
  });

  test('ids sort by creation time as plain strings', () => {
    let t = 1_700_000_000_000;
    let r = 999;
    const gen = createQueueIdGenerator(() => (t += 1 + (r % 5)), () => (r = (r * 7919) % 1_000_003));
    const ids = Array.from({ length: 500 }, () => gen());
    assert.deepEqual([...ids].sort(), ids);
  });

  test('within one millisecond (or a clock step back) ids still increase and never repeat', () => {
    let now = 5000;
    const gen = createQueueIdGenerator(() => now, () => 2 ** 40 - 3);
    const a = gen();
    const b = gen();
    now = 4000; // clock stepped back
    const c = gen();
    const d = gen(); // random part overflows: time part moves on
    assert.ok(a < b && b < c && c < d, [a, b, c, d].join(' '));
    assert.equal(new Set([a, b, c, d]).size, 4);
    assert.equal(queueIdTime(d), 5001);
  });

  test('the default generator is strictly increasing', () => {
    let prev = '';
    for (let i = 0; i < 10000; i++) {
      const id = newQueueId();
      assert.ok(id > prev);
      prev = id;
    }
  });
});
