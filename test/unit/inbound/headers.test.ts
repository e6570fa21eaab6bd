// The header-section helpers: field listing with continuations, removal, prepending and folding.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  fieldValue,
  foldLine,
  headerFields,
  headerSectionEnd,
  prependField,
  removeFields,
} from '../../../src/inbound/headers.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

const MSG =
  'Received: from a\r\n by b; Sat, 28 Nov 2026\r\nFrom: x@y.test\r\nSubject: hi\r\n\tthere\r\n\r\nbody: not a field\r\n';

describe('headerSectionEnd', () => {
  test('points at the empty line', () => {
    const m = enc(MSG);
    assert.equal(dec(m.subarray(headerSectionEnd(m))), '\r\nbody: not a field\r\n');
  });
  test('bare LF line endings', () => {
    const m = enc('A: 1\nB: 2\n\nbody\n');
    assert.equal(dec(m.subarray(headerSectionEnd(m))), '\nbody\n');
  });
  test('no body: the whole message', () => {
    assert.equal(headerSectionEnd(enc('A: 1\r\nB: 2')), 10);
  });
});

describe('headerFields', () => {
  test('continuation lines belong to the field above; the body is never read', () => {
    const fields = headerFields(enc(MSG));
    assert.deepEqual(fields.map((f) => f.name), ['Received', 'From', 'Subject']);
    assert.equal(fields[0].raw, 'Received: from a\r\n by b; Sat, 28 Nov 2026\r\n');
    assert.equal(fieldValue(fields[2]), ' hi\tthere');
  });
  test('a line without a colon is kept as a nameless field', () => {
    const fields = headerFields(enc('junk line\r\nA: 1\r\n\r\n'));
    assert.deepEqual(fields.map((f) => f.name), ['', 'A']);
  });
  test('offsets are octet offsets even with 8-bit text', () => {
    const m = enc('Subject: caf\u00e9\r\nFrom: x@y\r\n\r\n');
    const [, from] = headerFields(m);
    assert.equal(dec(m.subarray(from.start, from.end)), 'From: x@y\r\n');
  });
});

describe('removeFields and prependField', () => {
  test('removes exactly the picked fields, continuation lines included', () => {
    const out = removeFields(enc(MSG), (f) => f.name === 'Subject' || f.name === 'Received');
    assert.equal(dec(out), 'From: x@y.test\r\n\r\nbody: not a field\r\n');
  });
  test('the same object when nothing is picked', () => {
    const m = enc(MSG);
    assert.equal(removeFields(m, () => false), m);
  });
  test('prepend puts the field above everything', () => {
    assert.equal(dec(prependField(enc('A: 1\r\n\r\nb'), 'X: y\r\n')), 'X: y\r\nA: 1\r\n\r\nb');
  });
});

describe('foldLine', () => {
  test('short lines stay whole', () => {
    assert.equal(foldLine('dkim=pass header.d=example.test'), 'dkim=pass header.d=example.test');
  });
  test('long lines fold before spaces and unfold to the original', () => {
    const line = Array.from({ length: 30 }, (_, i) => `word${i}`).join(' ');
    const folded = foldLine(line, 40);
    for (const l of folded.split('\r\n')) assert.ok(l.length <= 40, l);
    assert.equal(folded.replace(/\r\n(?=[ \t])/g, ''), line);
  });
  test('a word longer than the width is not broken', () => {
    const long = 'x'.repeat(100);
    assert.equal(foldLine(`ab ${long} b`, 40), `ab\r\n ${long}\r\n b`);
  });
});
