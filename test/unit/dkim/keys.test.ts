// Key generation, the DNS form of public keys (RFC 6376 §3.6.1, RFC 8463 §4.2) and name rules.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { createPublicKey } from 'node:crypto';
import {
  defaultSelector,
  dnsRecord,
  generateKey,
  keyType,
  loadPrivateKey,
  normaliseDomain,
  normaliseSelector,
  parseAlgorithm,
  splitTxt,
} from '../../../src/dkim/keys.ts';

describe('generateKey', () => {
  test('rsa-sha256: 2048-bit PKCS#8 key, p= is the DER SubjectPublicKeyInfo', () => {
    const k = generateKey('rsa-sha256');
    assert.match(k.privateKey, /^-----BEGIN PRIVATE KEY-----/);
    const priv = loadPrivateKey(k.privateKey, 'rsa-sha256');
    assert.ok(priv);
    assert.equal(priv.asymmetricKeyDetails?.modulusLength, 2048);
    const pub = createPublicKey({ key: Buffer.from(k.publicKey, 'base64'), format: 'der', type: 'spki' });
    assert.equal(pub.asymmetricKeyType, 'rsa');
  });

  test('ed25519-sha256: p= is the bare 32-octet key (RFC 8463 §4.2)', () => {
    const k = generateKey('ed25519-sha256');
    assert.equal(Buffer.from(k.publicKey, 'base64').length, 32);
    assert.ok(loadPrivateKey(k.privateKey, 'ed25519-sha256'));
  });

  test('a key stored under the wrong algorithm, or not a key, does not load', () => {
    const k = generateKey('ed25519-sha256');
    assert.equal(loadPrivateKey(k.privateKey, 'rsa-sha256'), null);
    assert.equal(loadPrivateKey('not a pem', 'rsa-sha256'), null);
  });
});

describe('DNS record', () => {
  test('an RSA record is split into character-strings of at most 255 octets', () => {
    const k = generateKey('rsa-sha256');
    const r = dnsRecord('example.com', 'tern202611', 'rsa-sha256', k.publicKey);
    assert.equal(r.name, 'tern202611._domainkey.example.com');
    assert.equal(r.value, `v=DKIM1; k=rsa; p=${k.publicKey}`);
    assert.ok(r.strings.length >= 2);
    assert.ok(r.strings.every((s) => s.length <= 255));
    assert.equal(r.strings.join(''), r.value);
    assert.equal(r.zoneLine, `tern202611._domainkey.example.com. IN TXT ( ${r.strings.map((s) => `"${s}"`).join(' ')} )`);
  });

  test('an Ed25519 record fits one string', () => {
    const k = generateKey('ed25519-sha256');
    const r = dnsRecord('example.com', 's1', 'ed25519-sha256', k.publicKey);
    assert.equal(r.value, `v=DKIM1; k=ed25519; p=${k.publicKey}`);
    assert.deepEqual(r.strings, [r.value]);
  });

  test('splitTxt', () => {
    assert.deepEqual(splitTxt(''), ['']);
    assert.deepEqual(splitTxt('abcde', 2), ['ab', 'cd', 'e']);
  });
});

describe('names and algorithms', () => {
  test('parseAlgorithm and keyType', () => {
    assert.equal(parseAlgorithm('RSA'), 'rsa-sha256');
    assert.equal(parseAlgorithm('ed25519'), 'ed25519-sha256');
    assert.equal(parseAlgorithm('ed25519-sha256'), 'ed25519-sha256');
    assert.equal(parseAlgorithm('rsa-sha1'), null); // RFC 8301 §3.1: rsa-sha1 MUST NOT be used for signing
    assert.equal(keyType('rsa-sha256'), 'rsa');
    assert.equal(keyType('ed25519-sha256'), 'ed25519');
  });

  test('normaliseDomain: lower-case A-labels, trailing dot dropped', () => {
    assert.equal(normaliseDomain('Example.COM.'), 'example.com');
    assert.equal(normaliseDomain('bücher.example'), 'xn--bcher-kva.example');
    assert.equal(normaliseDomain(''), null);
    assert.equal(normaliseDomain('not a domain'), null);
  });

  test('normaliseSelector (RFC 6376 §3.1)', () => {
    assert.equal(normaliseSelector('Tern202611'), 'tern202611');
    assert.equal(normaliseSelector('2026.nov'), '2026.nov');
    assert.equal(normaliseSelector('-bad'), null);
    assert.equal(normaliseSelector('a_b'), null);
    assert.equal(normaliseSelector(''), null);
    assert.equal(normaliseSelector('x'.repeat(64)), null);
  });

  test('defaultSelector: tern<yyyymm>, then a letter when taken', () => {
    const now = new Date('2026-03-15T00:00:00Z');
    assert.equal(defaultSelector(now, new Set()), 'tern202603');
    assert.equal(defaultSelector(now, new Set(['tern202603'])), 'tern202603b');
    assert.equal(defaultSelector(now, new Set(['tern202603', 'tern202603b'])), 'tern202603c');
  });
});
