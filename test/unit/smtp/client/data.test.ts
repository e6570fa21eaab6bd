// DATA dot-stuffing (RFC 5321 §4.5.2), BDAT chunks, and the content scans.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { bdatChunks, dotStuff, hasEightBit, headerEnd, isNonAscii } from '../../../../src/smtp/client/data.ts';
import { bytes } from './support.ts';

const text = (b: Uint8Array): string => new TextDecoder().decode(b);
const stuff = (s: string): string => text(dotStuff(bytes(s)));

/** The receiving side's reading (data-reader.ts does the same): up to CRLF.CRLF, leading dots removed. */
function unstuff(wire: string): string {
  const end = wire === '.\r\n' ? 0 : wire.indexOf('\r\n.\r\n') + 2;
  return wire.slice(0, end).replace(/^\./gm, '');
}

describe('dotStuff', () => {
  test('lines starting with "." get another, including the first line', () => {
    assert.equal(stuff('.a\r\nb\r\n..c\r\n.\r\n'), '..a\r\nb\r\n...c\r\n..\r\n.\r\n');
  });

  test('dots elsewhere are untouched', () => {
    assert.equal(stuff('a.b\r\n x.\r\n'), 'a.b\r\n x.\r\n.\r\n');
  });

  test('a missing final CRLF is added before the terminator', () => {
    assert.equal(stuff('no newline'), 'no newline\r\n.\r\n');
    assert.equal(stuff('ends with CR\r'), 'ends with CR\r\r\n.\r\n');
  });

  test('an empty message is just the terminator', () => {
    assert.equal(stuff(''), '.\r\n');
  });

  test('round-trips through the receiver and never ends early (property test)', () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const pieces = ['.', '..', 'a', ' ', '\r\n', '.\r\n', 'x.y', '\r\n.\r\n'];
    for (let i = 0; i < 500; i++) {
      let body = '';
      const n = Math.floor(rnd() * 12);
      for (let j = 0; j < n; j++) body += pieces[Math.floor(rnd() * pieces.length)];
      // Stored bodies have CRLF endings only; pieces keep that except a trailing lone CR, avoided here.
      const wire = stuff(body);
      assert.ok(wire.endsWith('\r\n.\r\n') || wire === '.\r\n', JSON.stringify(body));
      const expected = body === '' || body.endsWith('\r\n') ? body : body + '\r\n';
      assert.equal(unstuff(wire), expected, JSON.stringify(body));
    }
  });
});

describe('bdatChunks', () => {
  test('one chunk up to the size, views into the body', () => {
    const body = bytes('0123456789');
    const one = bdatChunks(body, 10);
    assert.equal(one.length, 1);
    assert.equal(one[0], body);
    const parts = bdatChunks(body, 4);
    assert.deepEqual(parts.map(text), ['0123', '4567', '89']);
    assert.equal(parts[0].buffer, body.buffer);
  });

  test('an empty body is one empty chunk', () => {
    assert.deepEqual(bdatChunks(new Uint8Array(0)).map((c) => c.length), [0]);
  });
});

describe('content scans', () => {
  test('hasEightBit over a range', () => {
    const b = bytes('abc é');
    assert.equal(hasEightBit(b), true);
    assert.equal(hasEightBit(b, 0, 4), false);
  });

  test('headerEnd finds the blank line', () => {
    assert.equal(headerEnd(bytes('A: 1\r\nB: 2\r\n\r\nbody')), 14);
    assert.equal(headerEnd(bytes('\r\nbody')), 2);
    assert.equal(headerEnd(bytes('A: 1\r\n')), 6);
  });

  test('isNonAscii', () => {
    assert.equal(isNonAscii('a@b'), false);
    assert.equal(isNonAscii('ö@b'), true);
  });
});
