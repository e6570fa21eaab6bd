// The authenticator: SASL exchanges end to end against an in-memory user table, throttling, caching, rehash, logs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createAuthenticator, throttleKey, type AuthConn } from '../../../src/auth/authenticator.ts';
import { hashPassword } from '../../../src/auth/password.ts';
import { createUserRepo, type StoredUser, type UserRepo } from '../../../src/auth/users.ts';
import { defaults } from '../../../src/config/defaults.ts';
import type { Config } from '../../../src/config/schema.ts';
import { createLogger } from '../../../src/lib/log.ts';
import type { AuthAnswer } from '../../../src/smtp/types.ts';
import { openTestStore } from '../../support/db.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const PW = 'correct horse battery';
const M = 60_000;

/** An in-memory users table (a fake, STYLE §7) that counts lookups and can be made to fail. */
function fakeRepo(rows: StoredUser[]): UserRepo & { lookups: number; down: boolean; rows: Map<string, StoredUser> } {
  const map = new Map(rows.map((r) => [r.name, r]));
  const update = (name: string, fn: (r: StoredUser) => boolean) => {
    const r = map.get(name);
    return Promise.resolve(r ? fn(r) : false);
  };
  const self = {
    rows: map,
    lookups: 0,
    down: false,
    add: () => Promise.reject(new Error('not used')),
    setPassword: (name: string, passwordHash: string) => update(name, (r) => ((r.passwordHash = passwordHash), true)),
    replaceHash: (name: string, expected: string, next: string) =>
      update(name, (r) => r.passwordHash === expected && ((r.passwordHash = next), true)),
    setDisabled: (name: string, disabled: boolean) => update(name, (r) => ((r.disabled = disabled), true)),
    remove: (name: string) => Promise.resolve(map.delete(name)),
    list: () => Promise.resolve([...map.values()]),
    lookup(name: string) {
      self.lookups++;
      if (self.down) return Promise.reject(new Error('connection refused'));
      const r = map.get(name);
      return Promise.resolve(r ? { ...r } : null);
    },
  };
  return self;
}

function user(name: string, passwordHash: string, extra: Partial<StoredUser> = {}): StoredUser {
  return { name, passwordHash, addresses: [], domains: [], any: false, disabled: false, createdAt: new Date(0), updatedAt: new Date(0), ...extra };
}

let hashed: string | null = null;
async function setup(config: Partial<Config['auth']> = {}, rows?: StoredUser[]) {
  hashed ??= await hashPassword(PW);
  const repo = fakeRepo(rows ?? [user('ann@example.com', hashed, { addresses: ['a@example.net'], domains: ['example.org'] }), user('off', hashed, { disabled: true })]);
  let t = 1_000_000;
  const logs: Array<Record<string, unknown>> = [];
  const log = createLogger({ format: 'json', level: 'debug', write: (l) => logs.push(JSON.parse(l) as Record<string, unknown>) });
  const auth = createAuthenticator({ repo, config: { ...defaults.auth, ...config }, log, now: () => t });
  const events = (name: string) => logs.filter((l) => l.event === name);
  return { auth, repo, logs, events, advance: (ms: number) => (t += ms) };
}

let n = 0;
const conn = (ip = '192.0.2.1', tls = true): AuthConn => ({ id: `c${++n}`, ip, tls });
const plain = (u: string, p: string, z = '') => enc(`${z}\0${u}\0${p}`);

test('PLAIN with an initial response: success, identity from the row, auth-ok logged without the password', async () => {
  const { auth, logs, events } = await setup();
  const c = conn();
  const a = await auth.step(c, 'PLAIN', plain('Ann@Example.com', PW));
  assert.deepEqual(a, {
    kind: 'success',
    identity: { user: 'ann@example.com', addresses: ['ann@example.com', 'a@example.net'], domains: ['example.org'], any: false },
  });
  assert.deepEqual(events('auth-ok').map((l) => [l.ip, l.user, l.mechanism, l.conn]), [['192.0.2.1', 'ann@example.com', 'PLAIN', c.id]]);
  assert.ok(!JSON.stringify(logs).includes(PW));
});

test('PLAIN without an initial response: an empty challenge first', async () => {
  const { auth } = await setup();
  const c = conn();
  const first = await auth.step(c, 'plain', null);
  assert.ok(first.kind === 'challenge' && first.data.length === 0);
  assert.equal((await auth.step(c, 'plain', plain('ann@example.com', PW))).kind, 'success');
});

test('LOGIN: Username:, Password:, success', async () => {
  const { auth } = await setup();
  const c = conn();
  const s1 = await auth.step(c, 'LOGIN', null);
  assert.ok(s1.kind === 'challenge' && dec(s1.data) === 'Username:');
  const s2 = await auth.step(c, 'LOGIN', enc('ann@example.com'));
  assert.ok(s2.kind === 'challenge' && dec(s2.data) === 'Password:');
  assert.equal((await auth.step(c, 'LOGIN', enc(PW))).kind, 'success');
});

test('forget() drops a half-done exchange', async () => {
  const { auth } = await setup();
  const c = conn();
  await auth.step(c, 'LOGIN', null);
  await auth.step(c, 'LOGIN', enc('ann@example.com'));
  auth.forget(c.id);
  // The state is gone: this response is a user name again, not the password.
  const a = await auth.step(c, 'LOGIN', enc(PW));
  assert.ok(a.kind === 'challenge' && dec(a.data) === 'Password:');
});

test('wrong password, unknown user, disabled user, proxy authzid and junk all fail as invalid and are logged', async () => {
  const { auth, logs, events } = await setup({ maxFailuresPerIp: 100, maxFailuresPerUser: 100 });
  const invalid: AuthAnswer = { kind: 'failure', reason: 'invalid' };
  assert.deepEqual(await auth.step(conn(), 'PLAIN', plain('ann@example.com', 'not it at all')), invalid);
  assert.deepEqual(await auth.step(conn(), 'PLAIN', plain('nobody@example.com', PW)), invalid);
  assert.deepEqual(await auth.step(conn(), 'PLAIN', plain('off', PW)), invalid);
  assert.deepEqual(await auth.step(conn(), 'PLAIN', plain('ann@example.com', PW, 'bob@example.com')), invalid);
  assert.deepEqual(await auth.step(conn(), 'PLAIN', enc('junk')), invalid);
  assert.deepEqual(await auth.step(conn(), 'PLAIN', plain('bad name', PW)), invalid);
  const reasons = events('auth-failed').map((l) => [l.user, l.reason]);
  assert.deepEqual(reasons, [
    ['ann@example.com', 'wrong password'],
    ['nobody@example.com', 'unknown user'],
    ['off', 'disabled'],
    ['ann@example.com', 'authzid differs from authcid (proxy authorization is not supported)'],
    [null, 'fewer than two NUL separators'],
    ['bad name', 'unknown user'],
  ]);
  assert.ok(!JSON.stringify(logs).includes(PW));
});

test('an unknown user costs a scrypt like a wrong password (no timing oracle for names)', async () => {
  const { auth } = await setup({ maxFailuresPerIp: 100, maxFailuresPerUser: 100 });
  const time = async (u: string) => {
    const t0 = performance.now();
    await auth.step(conn(), 'PLAIN', plain(u, 'wrong password'));
    return performance.now() - t0;
  };
  await time('ann@example.com'); // warm-up
  const known = Math.min(await time('ann@example.com'), await time('ann@example.com'));
  const unknown = Math.min(await time('nobody@example.com'), await time('nobody@example.com'));
  assert.ok(known > 15 && unknown > known / 3, `known ${known} ms, unknown ${unknown} ms`);
});

test('per-user lockout: refused as locked without checking the password, lifted after the lockout', async () => {
  const { auth, events, advance } = await setup({ maxFailuresPerUser: 2, maxFailuresPerIp: 100, lockout: 10 * M });
  await auth.step(conn('192.0.2.1'), 'PLAIN', plain('ann@example.com', 'guess one'));
  await auth.step(conn('192.0.2.2'), 'PLAIN', plain('ann@example.com', 'guess two'));
  const locks = events('auth-locked');
  assert.deepEqual(locks.map((l) => [l.scope, l.user, l.ip]), [['user', 'ann@example.com', '192.0.2.2']]);
  // Even the right password is refused while locked, from any address.
  assert.deepEqual(await auth.step(conn('198.51.100.7'), 'PLAIN', plain('ann@example.com', PW)), { kind: 'failure', reason: 'locked' });
  assert.equal(events('auth-failed').at(-1)?.reason, 'user locked');
  // Other users are unaffected.
  assert.equal((await auth.step(conn('198.51.100.7'), 'PLAIN', plain('off', PW))).kind, 'failure');
  advance(10 * M);
  assert.equal((await auth.step(conn('198.51.100.7'), 'PLAIN', plain('ann@example.com', PW))).kind, 'success');
});

test('per-IP lockout covers every user and mechanism from that IP only', async () => {
  const { auth, events } = await setup({ maxFailuresPerIp: 3, maxFailuresPerUser: 100 });
  for (const u of ['a', 'b', 'c']) await auth.step(conn('203.0.113.5'), 'PLAIN', plain(u, 'password'));
  assert.deepEqual(events('auth-locked').map((l) => [l.scope, l.ip]), [['ip', '203.0.113.5']]);
  assert.deepEqual(await auth.step(conn('203.0.113.5'), 'LOGIN', null), { kind: 'failure', reason: 'locked' });
  assert.deepEqual(await auth.step(conn('203.0.113.5'), 'PLAIN', plain('ann@example.com', PW)), { kind: 'failure', reason: 'locked' });
  assert.equal((await auth.step(conn('203.0.113.6'), 'PLAIN', plain('ann@example.com', PW))).kind, 'success');
});

test('a successful login resets the user counter', async () => {
  const { auth, events } = await setup({ maxFailuresPerUser: 2, maxFailuresPerIp: 100 });
  await auth.step(conn(), 'PLAIN', plain('ann@example.com', 'guess one'));
  assert.equal((await auth.step(conn(), 'PLAIN', plain('ann@example.com', PW))).kind, 'success');
  await auth.step(conn(), 'PLAIN', plain('ann@example.com', 'guess two'));
  assert.deepEqual(events('auth-locked'), []);
});

test('database down: temporary failure, not counted against the client', async () => {
  const { auth, repo, events } = await setup({ maxFailuresPerIp: 1 });
  repo.down = true;
  assert.deepEqual(await auth.step(conn('192.0.2.50'), 'PLAIN', plain('ann@example.com', PW)), { kind: 'failure', reason: 'temporary' });
  assert.equal(events('auth-error').length, 1);
  repo.down = false;
  assert.equal((await auth.step(conn('192.0.2.50'), 'PLAIN', plain('ann@example.com', PW))).kind, 'success');
});

test('mechanisms not offered, and AUTH without TLS, are refused', async () => {
  const { auth } = await setup({ mechanisms: ['PLAIN'] });
  assert.deepEqual(await auth.step(conn(), 'LOGIN', null), { kind: 'failure', reason: 'invalid' });
  assert.deepEqual(await auth.step(conn(), 'CRAM-MD5', null), { kind: 'failure', reason: 'invalid' });
  assert.deepEqual(await auth.step(conn('192.0.2.1', false), 'PLAIN', plain('ann@example.com', PW)), { kind: 'failure', reason: 'invalid' });
  const clear = await setup({ iKnowPasswordsTravelInClear: true });
  assert.equal((await clear.auth.step(conn('192.0.2.1', false), 'PLAIN', plain('ann@example.com', PW))).kind, 'success');
});

test('users are cached for the TTL; invalidate() forgets one at once', async () => {
  const { auth, repo, advance } = await setup();
  const ok = async () => (await auth.step(conn(), 'PLAIN', plain('ann@example.com', PW))).kind;
  assert.equal(await ok(), 'success');
  assert.equal(await ok(), 'success');
  assert.equal(repo.lookups, 1);
  repo.rows.get('ann@example.com')!.disabled = true;
  assert.equal(await ok(), 'success'); // stale until the TTL or an invalidate
  auth.invalidate('Ann@Example.com');
  assert.equal(await ok(), 'failure');
  repo.rows.get('ann@example.com')!.disabled = false;
  advance(30_000);
  assert.equal(await ok(), 'success');
  assert.equal(repo.lookups, 3); // the first read, one after invalidate(), one after the TTL
});

test('a hash weaker than the current parameters is replaced at login', async () => {
  const weak = await hashPassword(PW, { ln: 12, r: 8, p: 1 });
  const { auth, repo, events } = await setup({}, [user('ann@example.com', weak)]);
  assert.equal((await auth.step(conn(), 'PLAIN', plain('ann@example.com', PW))).kind, 'success');
  assert.match(repo.rows.get('ann@example.com')!.passwordHash, /^\$scrypt\$ln=15,r=8,p=1\$/);
  assert.equal(events('auth-rehashed').length, 1);
  assert.equal((await auth.step(conn(), 'PLAIN', plain('ann@example.com', PW))).kind, 'success');
  assert.equal(events('auth-rehashed').length, 1);
});

test('an unusable stored hash fails the login and is logged as an error', async () => {
  const { auth, events } = await setup({}, [user('ann@example.com', 'plaintext!')]);
  assert.deepEqual(await auth.step(conn(), 'PLAIN', plain('ann@example.com', 'plaintext!')), { kind: 'failure', reason: 'invalid' });
  assert.match(String(events('auth-error')[0]?.error), /stored hash unusable/);
});

test('against the real users table (PGlite or PostgreSQL)', { timeout: 60_000 }, async () => {
  const t = await openTestStore({ poolSize: 2 });
  try {
    await createUserRepo(t.store).add({ name: 'ann@example.com', passwordHash: await hashPassword(PW), domains: ['example.org'], any: true });
    const log = createLogger({ format: 'json', level: 'error', write: () => {} });
    const auth = createAuthenticator({ store: t.store, config: defaults.auth, log });
    assert.deepEqual(await auth.step(conn(), 'PLAIN', plain('ann@example.com', PW)), {
      kind: 'success',
      identity: { user: 'ann@example.com', addresses: ['ann@example.com'], domains: ['example.org'], any: true },
    });
    assert.deepEqual(await auth.step(conn(), 'PLAIN', plain('ann@example.com', 'wrong!!!')), { kind: 'failure', reason: 'invalid' });
  } finally {
    await t.cleanup();
  }
});

test('throttle keys: IPv4 per address (v4-mapped too), IPv6 per /64', async () => {
  assert.equal(throttleKey('192.0.2.1'), '192.0.2.1');
  assert.equal(throttleKey('::ffff:192.0.2.1'), '192.0.2.1');
  assert.equal(throttleKey('2001:db8:1:2:a:b:c:d'), '2001:db8:1:2::/64');
  assert.equal(throttleKey('2001:db8:1:2::99'), '2001:db8:1:2::/64');
  assert.equal(throttleKey('not an ip'), 'not an ip');
  const { auth } = await setup({ maxFailuresPerIp: 2, maxFailuresPerUser: 100 });
  await auth.step(conn('2001:db8:1:2::1'), 'PLAIN', plain('a', 'password'));
  await auth.step(conn('2001:db8:1:2::2'), 'PLAIN', plain('b', 'password'));
  assert.deepEqual(await auth.step(conn('2001:db8:1:2::3'), 'PLAIN', plain('ann@example.com', PW)), { kind: 'failure', reason: 'locked' });
  assert.equal((await auth.step(conn('2001:db8:1:3::1'), 'PLAIN', plain('ann@example.com', PW))).kind, 'success');
});
