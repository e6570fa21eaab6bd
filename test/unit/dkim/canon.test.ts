// Relaxed canonicalisation (RFC 6376 §3.4.2, §3.4.4) and the header/body split, checked by table and
// against mailauth's own body hash.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { dkimSign } from 'mailauth';
import { relaxedBody, relaxedHeader, splitMessage } from '../../../src/dkim/canon.ts';
import { generateKey } from '../../../src/dkim/keys.ts';

const b = (s: string) => Buffer.from(s, 'latin1');
const text = (u: Uint8Array) => Buffer.from(u).toString('latin1');

describe('relaxed header canonicalisation (RFC 6376 §3.4.2)', () => {
  const cases: Array<[string, string]> = [
    ['Subject: hello', 'subject:hello\r\n'],
    ['SUBJECT : hello', 'subject:hello\r\n'], // WSP before the colon goes
    ['Subject:   hello   world  ', 'subject:hello world\r\n'],
    ['Subject:\thello\t\tworld', 'subject:hello world\r\n'],
    ['Subject: folded\r\n  over\r\n\tlines ', 'subject:folded over lines\r\n'], // unfolded, WSP runs become one SP
    ['Subject:', 'subject:\r\n'],
    ['Subject:   ', 'subject:\r\n'],
    ['X-8bit: caf\xc3\xa9', 'x-8bit:caf\xc3\xa9\r\n'], // octets pass through (RFC 6532)
  ];
  for (const [raw, want] of cases) test(JSON.stringify(raw), () => assert.equal(relaxedHeader(raw), want));
});

describe('relaxed body canonicalisation (RFC 6376 §3.4.4)', () => {
  const cases: Array<[string, string]> = [
    ['', ''], // empty body: nothing (errata 3193; dkimpy and mailauth agree)
    ['\r\n', ''],
    ['\r\n\r\n\r\n', ''], // only empty lines
    ['abc', 'abc\r\n'], // a last line without CRLF gets one
    ['abc\r\n', 'abc\r\n'],
    ['abc\r\n\r\n\r\n', 'abc\r\n'], // trailing empty lines go
    ['abc  \r\n', 'abc\r\n'], // trailing WSP goes
    ['a \t b\r\n', 'a b\r\n'], // WSP runs become one SP
    [' \r\nabc\r\n \t \r\n', '\r\nabc\r\n'], // a WSP-only line is empty: inside kept, at the end dropped
    ['abc \t', 'abc\r\n'],
    ['  lead\r\n', ' lead\r\n'], // leading WSP is reduced, not removed
  ];
  for (const [body, want] of cases) test(JSON.stringify(body), () => assert.equal(text(relaxedBody(b(body))), want));

  test('body hashes equal mailauth\'s bh= for the same bodies', async () => {
    const key = generateKey('ed25519-sha256').privateKey;
    for (const [body] of cases) {
      const message = `From: a@example.com\r\nSubject: x\r\n\r\n${body}`;
      // mailauth reads signatureData; its typings also want the fields at the top level.
      const data = { signingDomain: 'example.com', selector: 's', privateKey: key, algorithm: 'ed25519-sha256' };
      const { signatures } = await dkimSign(message, { ...data, canonicalization: 'relaxed/relaxed', signatureData: [data] });
      const theirs = /bh=([^;]+);/.exec(signatures.replace(/\r\n\s+/g, ''))?.[1];
      const ours = createHash('sha256').update(relaxedBody(b(body))).digest('base64');
      assert.equal(ours, theirs, JSON.stringify(body));
    }
  });
});

describe('splitMessage', () => {
  test('fields with continuation lines, and the body', () => {
    const m = splitMessage(b('From: a@example.com\r\nSubject: one\r\n two\r\nTo: b@x\r\n\r\nbody\r\n'));
    assert.deepEqual(
      m.headers.map((h) => [h.key, h.raw]),
      [
        ['from', 'From: a@example.com'],
        ['subject', 'Subject: one\r\n two'],
        ['to', 'To: b@x'],
      ],
    );
    assert.equal(text(m.body), 'body\r\n');
  });

  test('no body, empty body, no header', () => {
    assert.equal(splitMessage(b('Subject: x\r\n')).body.length, 0);
    assert.equal(splitMessage(b('Subject: x\r\n\r\n')).body.length, 0);
    const none = splitMessage(b('\r\nonly body\r\n'));
    assert.equal(none.headers.length, 0);
    assert.equal(text(none.body), 'only body\r\n');
  });

  test('name case and WSP before the colon are normalised in key; a line without colon is skipped', () => {
    const m = splitMessage(b('SUBJECT : x\r\ngarbage line\r\nTo: y\r\n\r\n'));
    assert.deepEqual(m.headers.map((h) => h.key), ['subject', 'to']);
  });

  test('a subarray input is read at its offset', () => {
    const whole = b('XXXXSubject: x\r\n\r\nbody');
    const m = splitMessage(whole.subarray(4));
    assert.equal(m.headers[0].key, 'subject');
    assert.equal(text(m.body), 'body');
  });
});
