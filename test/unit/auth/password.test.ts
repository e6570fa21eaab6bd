// Password hashing: PHC round trip, verification, parameter bounds, rehash decisions, new-password rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkNewPassword,
  CURRENT_PARAMS,
  DUMMY_HASH,
  formatPhc,
  hashPassword,
  needsRehash,
  normalizePassword,
  parsePhc,
  verifyPassword,
} from '../../../src/auth/password.ts';

// Cheap parameters where the cost is not what is under test.
const FAST = { ln: 10, r: 8, p: 1 };

test('hash carries PHC form with the current parameters and a 16-byte salt', async () => {
  const h = await hashPassword('correct horse battery');
  assert.match(h, /^\$scrypt\$ln=15,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
  const p = parsePhc(h);
  assert.ok(p.ok);
  assert.deepEqual(p.value.params, CURRENT_PARAMS);
  assert.equal(p.value.salt.length, 16);
  assert.equal(p.value.hash.length, 32);
});

test('the same password hashes differently each time (random salt)', async () => {
  const [a, b] = await Promise.all([hashPassword('same password', FAST), hashPassword('same password', FAST)]);
  assert.notEqual(a, b);
});

test('verify: right password matches, wrong one does not', async () => {
  const h = await hashPassword('correct horse battery', FAST);
  assert.deepEqual(await verifyPassword('correct horse battery', h), { ok: true, match: true, rehash: true });
  const wrong = await verifyPassword('correct horse batterY', h);
  assert.ok(wrong.ok && !wrong.match);
  const empty = await verifyPassword('', h);
  assert.ok(empty.ok && !empty.match);
});

test('verify at the current parameters asks for no rehash', async () => {
  const h = await hashPassword('correct horse battery');
  assert.deepEqual(await verifyPassword('correct horse battery', h), { ok: true, match: true, rehash: false });
});

test('Unicode: NFC and non-ASCII spaces are normalised (RFC 8265 OpaqueString)', async () => {
  assert.equal(normalizePassword('caf\u0065\u0301\u00a0x'), 'caf\u00e9 x');
  const h = await hashPassword('caf\u00e9 p\u00e4ssword', FAST);
  const v = await verifyPassword('cafe\u0301 pa\u0308ssword', h);
  assert.ok(v.ok && v.match);
});

test('DUMMY_HASH parses at the current parameters and matches nothing', async () => {
  const p = parsePhc(DUMMY_HASH);
  assert.ok(p.ok);
  assert.deepEqual(p.value.params, CURRENT_PARAMS);
  const v = await verifyPassword('', DUMMY_HASH);
  assert.ok(v.ok && !v.match);
});

test('parsePhc rejects malformed and dangerous strings', () => {
  const salt = Buffer.alloc(16, 1).toString('base64').replace(/=+$/, '');
  const hash = Buffer.alloc(32, 2).toString('base64').replace(/=+$/, '');
  const ok = `$scrypt$ln=15,r=8,p=1$${salt}$${hash}`;
  assert.ok(parsePhc(ok).ok);
  const bad: Array<[string, RegExp]> = [
    ['', /not a \$scrypt\$/],
    ['plaintext-password', /not a \$scrypt\$/],
    [`$argon2id$v=19$m=65536,t=3,p=4$${salt}$${hash}`, /not a \$scrypt\$/],
    [`$scrypt$ln=15,r=8$${salt}$${hash}`, /not a \$scrypt\$/],
    [`$scrypt$ln=15,r=8,p=1$${salt}=$${hash}`, /not a \$scrypt\$/], // padding is not PHC
    [`$scrypt$ln=9,r=8,p=1$${salt}$${hash}`, /ln=9 is outside/],
    [`$scrypt$ln=21,r=8,p=1$${salt}$${hash}`, /ln=21 is outside/],
    [`$scrypt$ln=15,r=0,p=1$${salt}$${hash}`, /r=0 is outside/],
    [`$scrypt$ln=15,r=8,p=17$${salt}$${hash}`, /p=17 is outside/],
    [`$scrypt$ln=20,r=8,p=1$${salt}$${hash}`, /too much memory/], // 1 GiB
    [`$scrypt$ln=15,r=8,p=1$AAAA$${hash}`, /too short/],
    [`$scrypt$ln=15,r=8,p=1$${salt}$AAAAAAAA`, /too short/],
    [`$scrypt$ln=15,r=8,p=1$${salt.slice(0, -1)}R$${hash}`, /bad base64/], // non-zero padding bits: not canonical
  ];
  for (const [text, why] of bad) {
    const r = parsePhc(text);
    assert.ok(!r.ok, text);
    assert.match(r.error, why, text);
  }
});

test('an unusable stored hash is a value, not a wrong password', async () => {
  const r = await verifyPassword('anything', 'not a hash');
  assert.deepEqual(r, { ok: false, error: 'not a $scrypt$ PHC string' });
});

test('formatPhc round-trips parsePhc', () => {
  const p = parsePhc(DUMMY_HASH);
  assert.ok(p.ok);
  assert.equal(formatPhc(p.value), DUMMY_HASH);
});

test('needsRehash: weaker in any dimension, or a shorter hash', () => {
  const h = (ln: number, r: number, p: number, len = 32) => ({ params: { ln, r, p }, salt: Buffer.alloc(16), hash: Buffer.alloc(len) });
  const cur = { ln: 15, r: 8, p: 1 };
  assert.equal(needsRehash(h(15, 8, 1), cur), false);
  assert.equal(needsRehash(h(16, 8, 1), cur), false); // stronger stays
  assert.equal(needsRehash(h(14, 8, 1), cur), true);
  assert.equal(needsRehash(h(15, 4, 1), cur), true);
  assert.equal(needsRehash(h(15, 8, 1), { ln: 15, r: 8, p: 2 }), true);
  assert.equal(needsRehash(h(15, 8, 1, 16), cur), true);
});

test('checkNewPassword: empty, short, long, NUL/CR/LF refused; 8 characters accepted', () => {
  assert.match(checkNewPassword('') ?? '', /empty/);
  assert.match(checkNewPassword('1234567') ?? '', /shorter than 8/);
  assert.equal(checkNewPassword('12345678'), null);
  assert.equal(checkNewPassword('\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9'), null); // characters, not octets
  assert.match(checkNewPassword('\u{1F600}'.repeat(7)) ?? '', /shorter than 8/);
  assert.match(checkNewPassword('x'.repeat(1025)) ?? '', /longer than 1024/);
  assert.match(checkNewPassword('12345678\0') ?? '', /NUL/);
  assert.match(checkNewPassword('12345678\n') ?? '', /NUL, CR or LF/);
});

test('many concurrent hashes all complete (the concurrency limit queues, never drops)', async () => {
  const hs = await Promise.all(Array.from({ length: 12 }, (_, i) => hashPassword(`password-${i}`, FAST)));
  assert.equal(new Set(hs).size, 12);
  const checks = await Promise.all(hs.map((h, i) => verifyPassword(`password-${i}`, h)));
  assert.ok(checks.every((c) => c.ok && c.match));
});
