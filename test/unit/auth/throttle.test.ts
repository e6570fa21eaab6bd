// Failed-login throttling with an injected clock: windows, lockouts, resets, scopes and the size bound.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FailureThrottle, MAX_ENTRIES } from '../../../src/auth/throttle.ts';

const M = 60_000;
function setup(limits: Partial<{ maxFailuresPerIp: number; maxFailuresPerUser: number; failureWindow: number; lockout: number }> = {}) {
  let t = 1_000_000;
  const th = new FailureThrottle({ maxFailuresPerIp: 10, maxFailuresPerUser: 3, failureWindow: 15 * M, lockout: 15 * M, ...limits }, () => t);
  return { th, advance: (ms: number) => (t += ms), now: () => t };
}

test('the max-th failure within the window locks the user for the lockout', () => {
  const { th, advance, now } = setup();
  assert.deepEqual(th.fail('192.0.2.1', 'ann'), []);
  advance(M);
  assert.deepEqual(th.fail('192.0.2.2', 'ann'), []);
  assert.equal(th.lockedUntil('user', 'ann'), null);
  advance(M);
  const locks = th.fail('192.0.2.3', 'ann');
  assert.deepEqual(locks, [{ scope: 'user', key: 'ann', until: now() + 15 * M }]);
  assert.equal(th.lockedUntil('user', 'ann'), now() + 15 * M);
  advance(15 * M - 1);
  assert.notEqual(th.lockedUntil('user', 'ann'), null);
  advance(1);
  assert.equal(th.lockedUntil('user', 'ann'), null); // the lock ends on time
});

test('failures older than the window do not count', () => {
  const { th, advance } = setup();
  th.fail('192.0.2.1', 'ann');
  th.fail('192.0.2.1', 'ann');
  advance(15 * M); // both fall out of the window exactly now
  assert.deepEqual(th.fail('192.0.2.1', 'ann'), []);
  assert.deepEqual(th.fail('192.0.2.1', 'ann'), []);
  assert.equal(th.fail('192.0.2.1', 'ann').length, 1);
});

test('per-IP limit counts failures for any user, and with no readable user', () => {
  const { th } = setup({ maxFailuresPerIp: 4, maxFailuresPerUser: 100 });
  th.fail('2001:db8::1', 'a');
  th.fail('2001:db8::1', 'b');
  th.fail('2001:db8::1', null);
  assert.deepEqual(th.fail('2001:db8::1', 'c').map((l) => l.scope), ['ip']);
  assert.notEqual(th.lockedUntil('ip', '2001:db8::1'), null);
  assert.equal(th.lockedUntil('ip', '2001:db8::2'), null);
  assert.equal(th.lockedUntil('user', 'c'), null);
});

test('one failure can lock both the IP and the user', () => {
  const { th } = setup({ maxFailuresPerIp: 2, maxFailuresPerUser: 2 });
  th.fail('192.0.2.9', 'ann');
  assert.deepEqual(th.fail('192.0.2.9', 'ann').map((l) => l.scope).sort(), ['ip', 'user']);
});

test('success resets the user, not the IP', () => {
  const { th } = setup({ maxFailuresPerIp: 3, maxFailuresPerUser: 3 });
  th.fail('192.0.2.1', 'ann');
  th.fail('192.0.2.1', 'ann');
  th.succeed('ann');
  assert.deepEqual(th.fail('198.51.100.1', 'ann'), []); // user count restarted
  assert.deepEqual(th.fail('192.0.2.1', 'bob').map((l) => l.scope), ['ip']); // the IP kept its two
});

test('after a lock ends the count starts afresh', () => {
  const { th, advance } = setup({ maxFailuresPerUser: 2 });
  th.fail('192.0.2.1', 'ann');
  assert.equal(th.fail('192.0.2.1', 'ann').length, 1);
  advance(15 * M);
  assert.deepEqual(th.fail('192.0.2.1', 'ann'), []);
});

test('a limit of 0 turns that scope off', () => {
  const { th } = setup({ maxFailuresPerIp: 0, maxFailuresPerUser: 0 });
  for (let i = 0; i < 50; i++) assert.deepEqual(th.fail('192.0.2.1', 'ann'), []);
  assert.equal(th.size('ip'), 0);
});

test('the maps stay bounded when an attacker invents names', () => {
  const { th } = setup({ maxFailuresPerIp: 0, maxFailuresPerUser: 5 });
  for (let i = 0; i < MAX_ENTRIES + 100; i++) th.fail('192.0.2.1', `user${i}`);
  assert.ok(th.size('user') <= MAX_ENTRIES);
});
