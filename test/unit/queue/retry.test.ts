// The retry policy: schedule steps, jitter bounds, the last step repeating and the queue lifetime.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaults } from '../../../src/config/defaults.ts';
import {
  DEFAULT_DELAY_WARNING,
  DEFAULT_MAX_QUEUE_LIFETIME,
  DEFAULT_RETRY_SCHEDULE,
  planRetry,
  type RetryPlan,
  stepFor,
} from '../../../src/queue/retry.ts';

const M = 60_000;
const H = 60 * M;
const D = 24 * H;
const T0 = Date.UTC(2026, 0, 5, 12, 0, 0);
const at = (ms: number) => new Date(T0 + ms);
const mid = () => 0.5; // no jitter: factor 1 + 0.1 * (2 * 0.5 - 1) = 1

function plan(
  attempts: number,
  elapsed: number,
  opts: { random?: () => number; schedule?: number[]; life?: number } = {},
) {
  return planRetry({
    attempts,
    firstQueuedAt: at(0),
    now: at(elapsed),
    random: opts.random ?? mid,
    schedule: opts.schedule ?? [...DEFAULT_RETRY_SCHEDULE],
    maxLifetime: opts.life ?? DEFAULT_MAX_QUEUE_LIFETIME,
  });
}

const retryAt = (p: RetryPlan): number => {
  assert.equal(p.kind, 'retry');
  return p.kind === 'retry' ? p.at.getTime() - T0 : NaN;
};

test('defaults: 5, 10, 20, 40, 60 minutes; 5 days; a delay warning after 4 hours', () => {
  assert.deepEqual([...DEFAULT_RETRY_SCHEDULE], [5 * M, 10 * M, 20 * M, 40 * M, 60 * M]);
  assert.equal(DEFAULT_MAX_QUEUE_LIFETIME, 5 * D);
  assert.equal(DEFAULT_DELAY_WARNING, 4 * H);
  assert.ok(Object.isFrozen(DEFAULT_RETRY_SCHEDULE));
  // The configuration defaults say the same (delivery.retry_schedule and friends).
  assert.deepEqual([...defaults.delivery.retrySchedule], [...DEFAULT_RETRY_SCHEDULE]);
  assert.equal(defaults.delivery.maxQueueLifetime, DEFAULT_MAX_QUEUE_LIFETIME);
  assert.equal(defaults.delivery.delayWarning, DEFAULT_DELAY_WARNING);
  // RFC 5321 §4.5.4.1's 30-minute floor holds from the 4th retry on.
  assert.ok(DEFAULT_RETRY_SCHEDULE.slice(3).every((d) => d >= 30 * M));
});

test('without jitter the delay is the schedule step for the attempt count, the last one repeating', () => {
  // [attempts, elapsed when it failed, expected delay]
  const table: Array<[number, number, number]> = [
    [1, 0, 5 * M],
    [2, 5 * M, 10 * M],
    [3, 15 * M, 20 * M],
    [4, 35 * M, 40 * M],
    [5, 75 * M, 60 * M],
    [6, 135 * M, 60 * M],
    [50, 2 * D, 60 * M],
    [0, 0, 5 * M], // a caller's off-by-one is treated as the first failure
    [2.7, 0, 10 * M],
  ];
  for (const [attempts, elapsed, delay] of table) {
    assert.equal(retryAt(plan(attempts, elapsed)), elapsed + delay, `attempts=${attempts}`);
  }
});

test('jitter stays within ±10% and spans the whole window', () => {
  const table: Array<[number, number]> = [
    [0, 0.9],
    [0.25, 0.95],
    [0.5, 1],
    [0.75, 1.05],
    [0.999999, 1.1],
  ];
  for (const [r, factor] of table) {
    const delay = retryAt(plan(1, 0, { random: () => r }));
    assert.ok(Math.abs(delay - 5 * M * factor) <= 1, `random ${r}: ${delay}`);
  }
  // Out-of-range random() values (a broken stub) are clamped, never a negative or huge delay.
  assert.equal(retryAt(plan(1, 0, { random: () => -3 })), 4.5 * M);
  assert.equal(retryAt(plan(1, 0, { random: () => 7 })), 5.5 * M);
  let seed = 1;
  const lcg = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
  for (let i = 0; i < 1000; i++) {
    const d = retryAt(plan(5, 0, { random: lcg }));
    assert.ok(d >= 54 * M && d <= 66 * M, String(d));
  }
});

test('a retry past the lifetime moves to its end once, then the recipient expires', () => {
  const life = 5 * D;
  // 30 minutes before the end, the 60-minute step would overshoot: try once more exactly at the end.
  assert.equal(retryAt(plan(20, life - 30 * M, { life })), life);
  // A retry that lands exactly on the end is kept as is.
  assert.equal(retryAt(plan(20, life - 60 * M, { life })), life);
  // That last try fails at the end (or later, when the worker was busy): expired.
  assert.deepEqual(plan(21, life, { life }), { kind: 'expired' });
  assert.deepEqual(plan(21, life + 3 * H, { life }), { kind: 'expired' });
  // Jitter cannot push a retry past the end either.
  assert.equal(retryAt(plan(20, life - 58 * M, { life, random: () => 0.99 })), life);
});

test('short lifetimes and odd schedules', () => {
  // Lifetime shorter than the first step: one try at the end, then expired.
  assert.equal(retryAt(plan(1, 0, { life: 2 * M })), 2 * M);
  assert.deepEqual(plan(2, 2 * M, { life: 2 * M }), { kind: 'expired' });
  // Zero lifetime: the first temporary failure already ends the recipient.
  assert.deepEqual(plan(1, 0, { life: 0 }), { kind: 'expired' });
  // A one-step schedule repeats that step.
  for (const n of [1, 2, 9]) assert.equal(retryAt(plan(n, 0, { schedule: [7 * M] })), 7 * M);
  // An empty schedule falls back to the default rather than stalling delivery.
  assert.equal(retryAt(plan(3, 0, { schedule: [] })), 20 * M);
  assert.equal(stepFor([], 9), 60 * M);
  // Negative steps (never valid configuration) mean "now", not the past.
  assert.equal(retryAt(plan(1, 10 * M, { schedule: [-5 * M] })), 10 * M);
});

test('the plan is a pure function of its inputs', () => {
  const a = plan(3, 42 * M, { random: () => 0.3 });
  const b = plan(3, 42 * M, { random: () => 0.3 });
  assert.deepEqual(a, b);
});
