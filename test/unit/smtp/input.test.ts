// Tests for the InputBuffer chunk queue (src/smtp/input.ts).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InputBuffer } from '../../../src/smtp/input.ts';
import { bytes } from './harness.ts';

const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe('InputBuffer', () => {
  test('indexOf across chunks, relative to the unread start', () => {
    const b = new InputBuffer();
    b.push(bytes('abc'));
    b.push(bytes(''));
    b.push(bytes('de\nf'));
    assert.equal(b.size, 7);
    assert.equal(b.indexOf(0x0a, 0), 5);
    assert.equal(b.indexOf(0x0a, 5), 5);
    assert.equal(b.indexOf(0x0a, 6), -1);
    b.skip(2);
    assert.equal(b.indexOf(0x0a, 0), 3);
    assert.equal(b.indexOf(0x63, 0), 0);
  });

  test('take returns a view within one chunk and a copy across chunks', () => {
    const first = bytes('hello');
    const b = new InputBuffer();
    b.push(first);
    b.push(bytes(' world'));
    const view = b.take(2);
    assert.equal(text(view), 'he');
    assert.equal(view.buffer, first.buffer);
    const copy = b.take(6);
    assert.equal(text(copy), 'llo wo');
    assert.notEqual(copy.buffer, first.buffer);
    assert.equal(b.size, 3);
    assert.equal(text(b.front.subarray(b.frontOffset)), 'rld');
  });

  test('skip over several chunks and clear', () => {
    const b = new InputBuffer();
    for (const s of ['ab', 'cd', 'ef']) b.push(bytes(s));
    b.skip(3);
    assert.equal(b.size, 3);
    assert.equal(b.frontOffset, 1);
    assert.equal(b.clear(), 3);
    assert.equal(b.size, 0);
    assert.equal(b.front.length, 0);
    assert.equal(b.indexOf(0x61, 0), -1);
  });
});
