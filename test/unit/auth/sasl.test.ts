// SASL PLAIN (RFC 4616) and LOGIN server steps: parsing tables, challenges, state across steps, limits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  LOGIN_PASSWORD,
  LOGIN_USERNAME,
  MAX_SASL_RESPONSE_BYTES,
  parsePlain,
  saslMechanism,
  saslStep,
  type SaslState,
} from '../../../src/auth/sasl.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

test('PLAIN: the message forms of RFC 4616 §2', () => {
  const table: Array<[string, ReturnType<typeof parsePlain>]> = [
    ['\0tim\0tanstaaftanstaaf', { ok: true, authcid: 'tim', password: 'tanstaaftanstaaf' }],
    ['tim\0tim\0tanstaaftanstaaf', { ok: true, authcid: 'tim', password: 'tanstaaftanstaaf' }],
    ['TIM\0tim\0pw', { ok: true, authcid: 'tim', password: 'pw' }], // same name, canonical form
    ['Ursel\0Kurt\0xipj3plmq', { ok: false, reason: 'authzid differs from authcid (proxy authorization is not supported)', user: 'Kurt' }],
    ['tim', { ok: false, reason: 'fewer than two NUL separators', user: null }],
    ['tim\0pw', { ok: false, reason: 'fewer than two NUL separators', user: null }],
    ['\0tim\0pw\0', { ok: false, reason: 'more than two NUL separators', user: null }],
    ['\0\0pw', { ok: false, reason: 'empty authcid', user: null }],
    ['\0tim\0', { ok: false, reason: 'empty password', user: 'tim' }],
    ['', { ok: false, reason: 'fewer than two NUL separators', user: null }],
    ['\0j\u00fcrgen@example.com\0p\u00e4ss w\u00f6rd', { ok: true, authcid: 'j\u00fcrgen@example.com', password: 'p\u00e4ss w\u00f6rd' }],
  ];
  for (const [input, expected] of table) assert.deepEqual(parsePlain(enc(input)), expected, JSON.stringify(input));
});

test('PLAIN: invalid UTF-8 is refused, not replaced', () => {
  assert.deepEqual(parsePlain(new Uint8Array([0, 0x74, 0, 0xc3, 0x28])), { ok: false, reason: 'invalid UTF-8', user: null });
  assert.deepEqual(parsePlain(new Uint8Array([0, 0xc0, 0xaf, 0, 0x70])), { ok: false, reason: 'invalid UTF-8', user: null }); // overlong '/'
});

test('PLAIN: 255-octet fields are accepted (RFC 4616 §2), oversized input refused', () => {
  const f = 'a'.repeat(255);
  const ok = parsePlain(enc(`${f}\0${f}\0${f}`));
  assert.ok(ok.ok);
  assert.deepEqual(parsePlain(new Uint8Array(MAX_SASL_RESPONSE_BYTES + 1)), { ok: false, reason: 'too long', user: null });
});

test('PLAIN without an initial response: an empty challenge, then the message', () => {
  const first = saslStep('PLAIN', null, null);
  assert.equal(first.kind, 'challenge');
  assert.equal(first.kind === 'challenge' && first.data.length, 0);
  const second = saslStep('PLAIN', first.kind === 'challenge' ? first.state : null, enc('\0tim\0secret'));
  assert.deepEqual(second, { kind: 'credentials', user: 'tim', password: 'secret' });
});

test('PLAIN with an initial response gives credentials at once', () => {
  assert.deepEqual(saslStep('PLAIN', null, enc('\0tim\0secret')), { kind: 'credentials', user: 'tim', password: 'secret' });
  assert.deepEqual(saslStep('PLAIN', null, enc('garbage')), { kind: 'malformed', reason: 'fewer than two NUL separators', user: null });
});

test('LOGIN: Username: then Password: challenges, in the classic form', () => {
  assert.equal(dec(LOGIN_USERNAME), 'Username:');
  assert.equal(dec(LOGIN_PASSWORD), 'Password:');
  const s1 = saslStep('LOGIN', null, null);
  assert.ok(s1.kind === 'challenge');
  assert.equal(dec(s1.data), 'Username:');
  const s2 = saslStep('LOGIN', s1.state, enc('tim'));
  assert.ok(s2.kind === 'challenge');
  assert.equal(dec(s2.data), 'Password:');
  assert.deepEqual(s2.state, { mechanism: 'LOGIN', stage: 'password', user: 'tim' });
  assert.deepEqual(saslStep('LOGIN', s2.state, enc('secret')), { kind: 'credentials', user: 'tim', password: 'secret' });
});

test('LOGIN with the user name as initial response skips Username:', () => {
  const s = saslStep('LOGIN', null, enc('tim'));
  assert.ok(s.kind === 'challenge');
  assert.equal(dec(s.data), 'Password:');
});

test('LOGIN: empty or invalid user name and password are malformed; the name is kept for throttling', () => {
  const user: SaslState = { mechanism: 'LOGIN', stage: 'user' };
  assert.deepEqual(saslStep('LOGIN', user, enc('')), { kind: 'malformed', reason: 'bad user name', user: null });
  assert.deepEqual(saslStep('LOGIN', user, new Uint8Array([0xff])), { kind: 'malformed', reason: 'bad user name', user: null });
  assert.deepEqual(saslStep('LOGIN', user, enc('a\0b')), { kind: 'malformed', reason: 'bad user name', user: null });
  const pw: SaslState = { mechanism: 'LOGIN', stage: 'password', user: 'tim' };
  assert.deepEqual(saslStep('LOGIN', pw, enc('')), { kind: 'malformed', reason: 'bad password encoding', user: 'tim' });
  assert.deepEqual(saslStep('LOGIN', pw, new Uint8Array(MAX_SASL_RESPONSE_BYTES + 1)), { kind: 'malformed', reason: 'too long', user: 'tim' });
});

test('a state from another mechanism, or a null response, starts afresh', () => {
  const pw: SaslState = { mechanism: 'LOGIN', stage: 'password', user: 'tim' };
  // AUTH PLAIN after an abandoned LOGIN: the LOGIN state must not leak into it.
  assert.deepEqual(saslStep('PLAIN', pw, enc('\0ann\0pw')), { kind: 'credentials', user: 'ann', password: 'pw' });
  const again = saslStep('LOGIN', pw, null);
  assert.ok(again.kind === 'challenge');
  assert.equal(dec(again.data), 'Username:');
});

test('mechanism names are case-insensitive (RFC 4422 §3.1); others are unknown', () => {
  assert.equal(saslMechanism('plain'), 'PLAIN');
  assert.equal(saslMechanism('Login'), 'LOGIN');
  assert.equal(saslMechanism('SCRAM-SHA-256'), null);
  assert.equal(saslMechanism('CRAM-MD5'), null);
  assert.equal(saslMechanism(''), null);
});
