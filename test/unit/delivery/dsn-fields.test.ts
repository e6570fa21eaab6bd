// DSN field encoding: lossless folding, address types (RFC 6533 §3), status codes and Remote-MTA names.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  cleanText,
  fold,
  octets,
  originalRecipientValue,
  recipientValue,
  remoteMtaName,
  statusCode,
  utf8Addr,
} from '../../../src/delivery/dsn-fields.ts';

let seed = 7;
const rand = (n: number) => (seed = (seed * 48271) % 2147483647) % n;

test('folding: unfolding gives the text back; 78 octets where possible, 998 always', () => {
  for (let i = 0; i < 300; i++) {
    const words = Array.from({ length: 1 + rand(60) }, () => 'ab€cdefghij'.repeat(1 + rand(8)).slice(0, 1 + rand(70)));
    const line = 'Diagnostic-Code: smtp; ' + words.join(' '.repeat(1 + rand(2)));
    const lines = fold(line);
    assert.equal(lines.join(''), line, 'CRLF removal restores the text (RFC 5322 §2.2.3)');
    for (const l of lines.slice(1)) assert.match(l, /^ +\S/, 'continuations start with white space and are not blank');
    for (const l of lines) assert.ok(octets(l) <= 998);
    for (const l of lines) {
      if (octets(l) > 78) assert.ok(!l.slice(1, 78).trimStart().includes(' '), `could have folded: ${l}`);
    }
  }
  // A run longer than 998 octets without white space is cut (with an inserted space): the only lossy case.
  const run = 'é'.repeat(1200);
  const lines = fold('X: ' + run);
  assert.ok(lines.every((l) => octets(l) <= 998));
  assert.equal(lines.join('').replace(/ /g, ''), 'X:' + run);
  assert.deepEqual(fold('short'), ['short']);
  assert.deepEqual(fold(' '.repeat(100)), [' '.repeat(100)]);
});

test('text cleaning: no CR, LF or controls; ASCII outside global DSNs', () => {
  assert.equal(cleanText('a\r\nb\tc\u0000d\u007f', true), 'a??b c?d?');
  assert.equal(cleanText('Grüße 👋', false), 'Gr??e ?');
  assert.equal(cleanText('Grüße 👋', true), 'Grüße 👋');
});

test('addresses: rfc822 when ASCII, utf-8 with unitext or xtext escapes otherwise (RFC 6533 §3)', () => {
  assert.equal(recipientValue('bob@example.net', false), 'rfc822; bob@example.net');
  assert.equal(recipientValue('bob@example.net', true), 'rfc822; bob@example.net');
  assert.equal(recipientValue('jörg@example.net', true), 'utf-8; jörg@example.net');
  assert.equal(recipientValue('jörg@example.net', false), 'utf-8; j\\x{F6}rg@example.net');
  assert.equal(utf8Addr('a+b=c\\d 😀@x', false), 'a\\x{2B}b\\x{3D}c\\x{5C}d\\x{20}\\x{1F600}@x');
  assert.equal(utf8Addr('a+b😀@x', true), 'a\\x{2B}b😀@x');
  assert.equal(originalRecipientValue({ type: 'RFC822', address: 'Bob@x' }, false), 'rfc822; Bob@x');
  assert.equal(originalRecipientValue({ type: 'x400', address: 'C=GB;A=x' }, false), 'x400; C=GB;A=x');
  assert.equal(originalRecipientValue({ type: 'bad type', address: 'b@x' }, false), 'unknown; b@x');
  assert.equal(originalRecipientValue({ type: 'rfc822', address: 'ü@x' }, true), 'utf-8; ü@x');
});

test('status codes: valid ones kept, others the generic code of the event (RFC 3461 §6.3(g))', () => {
  const table: Array<[string, Parameters<typeof statusCode>[1], string]> = [
    ['5.1.1', 'failed', '5.1.1'],
    ['4.4.7', 'failed', '4.4.7'],
    ['2.0.0', 'delivered', '2.0.0'],
    ['5.01.1', 'failed', '5.0.0'], // RFC 3464 §2.3.4: no leading zeros
    ['550', 'failed', '5.0.0'],
    ['4.x', 'failed', '4.0.0'],
    ['', 'delayed', '4.0.0'],
    ['', 'relayed', '2.0.0'],
    ['5.1.1000', 'failed', '5.0.0'],
  ];
  for (const [input, event, out] of table) assert.equal(statusCode(input, event), out, `${input} ${event}`);
});

test('Remote-MTA names from "name [ip]:port"', () => {
  const table: Array<[string, string]> = [
    ['mx1.example.net [192.0.2.25]:25', 'mx1.example.net'],
    ['mx1.example.net [2001:db8::1]:25', 'mx1.example.net'],
    ['[192.0.2.25]:25', '[192.0.2.25]'],
    ['192.0.2.25 [192.0.2.25]:2525', '[192.0.2.25]'],
    ['mx.example.net', 'mx.example.net'],
  ];
  for (const [remote, name] of table) assert.equal(remoteMtaName(remote), name, remote);
});
