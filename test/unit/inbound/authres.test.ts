// Authentication-Results: reading authserv-ids, stripping forgeries of ours (RFC 8601 §5), writing ours.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { authResultsField, countForged, parseAuthservId, stripForged } from '../../../src/inbound/authres.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const ID = 'mx.tern.test';

describe('parseAuthservId', () => {
  const cases: Array<[string, { id: string; version: string | null } | null]> = [
    [' mx.tern.test; spf=pass', { id: 'mx.tern.test', version: null }],
    [' mx.tern.test 1; spf=pass', { id: 'mx.tern.test', version: '1' }],
    [' (comment) mx.tern.test (c) 2; none', { id: 'mx.tern.test', version: '2' }],
    [' "mx.tern.test"; none', { id: 'mx.tern.test', version: null }],
    ['\r\n\tmx.tern.test;\r\n\tnone', { id: 'mx.tern.test', version: null }],
    [' ; spf=pass', null],
    ['', null],
    [' (never closed', null],
    [' "unterminated', null],
  ];
  for (const [value, expected] of cases) {
    test(JSON.stringify(value), () => assert.deepEqual(parseAuthservId(value), expected));
  }
});

describe('stripForged', () => {
  const msg = [
    'Authentication-Results: MX.TERN.TEST; spf=pass smtp.mailfrom=bank.test',
    'Received: from x by y; date',
    'Authentication-Results: mx.tern.test.;\r\n\tdkim=pass header.d=bank.test',
    'authentication-results: (hi) mx.tern.test 1; dmarc=pass',
    'Authentication-Results: other.example; spf=fail',
    'Authentication-Results: mx.tern.test.evil; spf=pass',
    'Authentication-Results: other.example 2; spf=pass',
    'Authentication-Results: ; spf=pass',
    'X-Authentication-Results: mx.tern.test; spf=pass',
    'Subject: Authentication-Results: mx.tern.test; spf=pass',
    '',
    'Authentication-Results: mx.tern.test; in the body, untouched',
    '',
  ].join('\r\n');

  test('removes ours in any case, with a trailing dot or version 1, and unreadable or unknown-version ones', () => {
    const out = dec(stripForged(enc(msg), ID));
    assert.equal(
      out,
      [
        'Received: from x by y; date',
        'Authentication-Results: other.example; spf=fail',
        'Authentication-Results: mx.tern.test.evil; spf=pass',
        'X-Authentication-Results: mx.tern.test; spf=pass',
        'Subject: Authentication-Results: mx.tern.test; spf=pass',
        '',
        'Authentication-Results: mx.tern.test; in the body, untouched',
        '',
      ].join('\r\n'),
    );
    assert.equal(countForged(enc(msg), ID), 5);
  });

  test('the same bytes when nothing is forged', () => {
    const clean = enc('Authentication-Results: other.example; none\r\n\r\nbody');
    assert.equal(stripForged(clean, ID), clean);
    assert.equal(countForged(clean, ID), 0);
  });

  test('an internationalised authserv-id matches in U-label and A-label form (RFC 8601 §5)', () => {
    const m = enc(
      'Authentication-Results: xn--bcher-kva.test; none\r\nAuthentication-Results: b\u00fccher.test; none\r\n\r\n',
    );
    assert.equal(dec(stripForged(m, 'b\u00fccher.test')), '\r\n');
    assert.equal(dec(stripForged(m, 'xn--bcher-kva.test')), '\r\n');
  });
});

describe('authResultsField', () => {
  test('one resinfo per line, CRLF-terminated', () => {
    assert.equal(
      authResultsField(ID, ['spf=pass smtp.mailfrom=a.test', 'dmarc=pass header.from=a.test']),
      'Authentication-Results: mx.tern.test;\r\n\tspf=pass smtp.mailfrom=a.test;\r\n\tdmarc=pass header.from=a.test\r\n',
    );
  });
  test('"none" when nothing was checked (RFC 8601 §2.2)', () => {
    assert.equal(authResultsField(ID, []), 'Authentication-Results: mx.tern.test; none\r\n');
  });
  test('CR and LF in a result cannot start a new header field', () => {
    const field = authResultsField(ID, ['dkim=pass (evil\r\nBcc: x@y) header.d=a.test']);
    assert.doesNotMatch(field, /\r\nBcc:/);
    assert.equal(field.split('\r\n').filter((l) => l !== '' && !/^[ \t]/.test(l)).length, 1);
  });
  test('an authserv-id that is not a token is quoted', () => {
    assert.match(authResultsField('mx tern', []), /^Authentication-Results: "mx tern"; none/);
  });
  test('our own field is recognised as ours by stripForged', () => {
    const m = enc(authResultsField(ID, ['spf=pass']) + 'From: a@b\r\n\r\n');
    assert.equal(dec(stripForged(m, ID)), 'From: a@b\r\n\r\n');
  });
});
