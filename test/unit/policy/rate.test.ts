// Token-bucket rate limits: the N+1-th event in a minute is refused, refills over time, memory stays bounded.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRateLimiter } from '../../../src/policy/rate.ts';

const T0 = 1_000_000;

describe('createRateLimiter', () => {
  test('N events pass, the N+1-th inside the minute is refused', () => {
    const r = createRateLimiter(3);
    assert.deepEqual([1, 2, 3].map(() => r.take('192.0.2.1', T0)), [true, true, true]);
    assert.equal(r.take('192.0.2.1', T0 + 1000), false);
  });

  test('another client is not affected (a legitimate client passes)', () => {
    const r = createRateLimiter(2);
    r.take('192.0.2.1', T0);
    r.take('192.0.2.1', T0);
    assert.equal(r.take('192.0.2.1', T0), false);
    assert.equal(r.take('192.0.2.2', T0), true);
  });

  test('tokens come back at perMinute per 60 s; refusals are not counted', () => {
    const r = createRateLimiter(6); // one token per 10 s
    for (let i = 0; i < 6; i++) assert.equal(r.take('192.0.2.1', T0), true);
    for (let i = 0; i < 5; i++) assert.equal(r.take('192.0.2.1', T0 + 5_000), false);
    assert.equal(r.take('192.0.2.1', T0 + 10_000), true);
    assert.equal(r.take('192.0.2.1', T0 + 10_000), false);
    // A full minute idle: the whole burst again, never more.
    let ok = 0;
    for (let i = 0; i < 10; i++) if (r.take('192.0.2.1', T0 + 200_000)) ok++;
    assert.equal(ok, 6);
  });

  test('a burst across a minute boundary gets no more than the refill allows', () => {
    const r = createRateLimiter(10);
    let ok = 0;
    for (let i = 0; i < 10; i++) if (r.take('192.0.2.1', T0 + 59_000)) ok++;
    for (let i = 0; i < 10; i++) if (r.take('192.0.2.1', T0 + 61_000)) ok++;
    assert.equal(ok, 10); // fixed one-minute slots would have let 20 through
  });

  test('IPv6 addresses of one /64 share a bucket', () => {
    const r = createRateLimiter(2);
    assert.equal(r.take('2001:db8:1:2::1', T0), true);
    assert.equal(r.take('2001:db8:1:2::2', T0), true);
    assert.equal(r.take('2001:db8:1:2:ffff::3', T0), false);
    assert.equal(r.take('2001:db8:1:3::1', T0), true);
  });

  test('sweep forgets idle clients only', () => {
    const r = createRateLimiter(60); // one token per second
    r.take('192.0.2.1', T0);
    r.take('192.0.2.2', T0 + 30_000);
    assert.equal(r.size, 2);
    assert.equal(r.sweep(T0 + 2_000), 1);
    assert.equal(r.size, 1);
    assert.equal(r.sweep(T0 + 31_000), 1);
    assert.equal(r.size, 0);
  });

  test('memory is capped: the least recently seen client is forgotten', () => {
    const r = createRateLimiter(1, 3);
    r.take('192.0.2.1', T0);
    r.take('192.0.2.2', T0);
    r.take('192.0.2.3', T0);
    r.take('192.0.2.1', T0); // refused, but now the most recently seen
    r.take('192.0.2.4', T0); // evicts .2
    assert.equal(r.size, 3);
    assert.equal(r.take('192.0.2.1', T0), false); // still remembered
    assert.equal(r.take('192.0.2.3', T0), false); // still remembered
    assert.equal(r.take('192.0.2.2', T0), true); // forgotten: starts afresh
  });

  test('a non-positive limit is a programming error', () => {
    assert.throws(() => createRateLimiter(0));
  });
});
