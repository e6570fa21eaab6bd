// Tests for DATA/BDAT readers: terminator rules, dot-unstuffing, bare CR/LF, size limit, Received counting.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BdatReader, countReceivedHeaders, DotReader, MessageSink } from '../../../src/smtp/data-reader.ts';
import { bytes, rng } from './harness.ts';

const decoder = new TextDecoder();
const NO_PREFIX = new Uint8Array(0);

interface DotResult {
  /** Index just after the terminator in the concatenated input, or -1 if data did not end. */
  end: number;
  content: string;
  bare: boolean;
  overflow: boolean;
  size: number;
}

/** Runs a DotReader over `input` split into the given chunk lengths (whole input when none given). */
function dot(input: string | Uint8Array, splits: number[] = [], limit = 1 << 20): DotResult {
  const b = typeof input === 'string' ? bytes(input) : input;
  const sink = new MessageSink(limit);
  const reader = new DotReader(sink);
  let at = 0;
  let end = -1;
  const sizes = [...splits, b.length];
  for (const n of sizes) {
    const chunk = b.slice(at, Math.min(b.length, at + n));
    if (chunk.length === 0 && at >= b.length) break;
    const r = reader.scan(chunk, 0, chunk.length);
    if (r >= 0) {
      end = at + r;
      break;
    }
    at += chunk.length;
  }
  return {
    end,
    content: decoder.decode(sink.assemble(NO_PREFIX)),
    bare: sink.bare,
    overflow: sink.overflow,
    size: sink.size,
  };
}

describe('DotReader: end of data (RFC 5321 §4.1.1.4)', () => {
  const table: Array<[string, number, string]> = [
    ['.\r\n', 3, ''], // right after the 354: the DATA line's CRLF counts
    ['.\r\nNOOP\r\n', 3, ''],
    ['a\r\n.\r\n', 6, 'a\r\n'],
    ['a\r\nb\r\n.\r\nQUIT\r\n', 9, 'a\r\nb\r\n'],
    ['\r\n.\r\n', 5, '\r\n'],
    ['a\r\n..\r\n.\r\n', 10, 'a\r\n.\r\n'],
    ['a\r\n.b\r\n.\r\n', 10, 'a\r\nb\r\n'],
    ['..\r\n.\r\n', 7, '.\r\n'],
    ['a.\r\n.\r\n', 7, 'a.\r\n'],
  ];
  for (const [input, end, content] of table) {
    test(JSON.stringify(input), () => {
      const r = dot(input);
      assert.equal(r.end, end);
      assert.equal(r.content, content);
      assert.equal(r.bare, false);
    });
  }

  test('no terminator yet', () => {
    for (const input of ['', 'a', 'a\r\n', 'a\r\n.', 'a\r\n.\r', '. \r\n', 'a\r\n.x\r\n']) {
      assert.equal(dot(input).end, -1, JSON.stringify(input));
    }
  });
});

describe('DotReader: SMTP smuggling shapes never end data (CVE-2023-51764 class)', () => {
  const shapes = ['\n.\n', '\n.\r\n', '\r\n.\n', '\r.\r\n', '\r\n.\r', '\r.\r', '\r.\n', '\n.\r'];
  for (const shape of shapes) {
    test(JSON.stringify(shape), () => {
      const smuggled = `body${shape}MAIL FROM:<x@y>\r\n`;
      const r = dot(smuggled);
      assert.equal(r.end, -1, 'must not end');
      assert.equal(r.bare, true, 'must be flagged');
      // The real terminator still ends it, and the message stays refused.
      const full = dot(`${smuggled}.\r\n`);
      assert.equal(full.end, smuggled.length + 3);
      assert.equal(full.bare, true);
      assert.equal(full.content, '', 'nothing is kept of a refused message');
    });
  }

  test('bare LF or CR at the very start', () => {
    assert.equal(dot('\n.\r\n').end, -1);
    assert.ok(dot('\n.\r\n').bare);
    assert.ok(dot('\rx\r\n.\r\n').bare);
  });

  test('a CR at the end of a chunk pairs with an LF at the start of the next', () => {
    const r = dot('ab\r\n.\r\n', [3]);
    assert.equal(r.end, 7);
    assert.equal(r.bare, false);
    assert.equal(r.content, 'ab\r\n');
  });

  test('a CR at the end of a chunk followed by anything else is bare', () => {
    const r = dot('ab\rc\r\n.\r\n', [3]);
    assert.equal(r.bare, true);
    assert.equal(r.end, 9);
  });
});

describe('DotReader: every split gives the same result', () => {
  const inputs = [
    'Subject: x\r\n\r\n..a\r\n.\r\n',
    'a\r\n.\r\n',
    '.\r\n',
    'a\n.\n.\r\nb\r\n.\r\n',
    'x\r.\r\n\r\n.\r\n',
    '\r\n\r\n..\r\n...\r\n.\r\nrest',
  ];
  for (const input of inputs) {
    test(JSON.stringify(input), () => {
      const whole = dot(input);
      const b = bytes(input);
      for (let i = 1; i < b.length; i++) {
        for (let j = i; j < b.length; j++) {
          const r = dot(b, [i, j - i]);
          assert.deepEqual(r, whole, `split at ${i}, ${j}`);
        }
      }
    });
  }
});

describe('dot-stuffing round trip (RFC 5321 §4.5.2)', () => {
  /** What a client does: double a leading dot on every line, then append CRLF.CRLF. */
  function stuff(body: string): string {
    return body.replace(/^\./gm, '..') + '.\r\n';
  }

  test('random bodies come back unchanged, however split', () => {
    const random = rng(2023);
    const pieces = ['.', '..', 'a', ' ', 'Received: x', '\r\n', '\r\n', '\r\n.', 'é'];
    for (let round = 0; round < 500; round++) {
      let body = '';
      const n = Math.floor(random() * 20);
      for (let i = 0; i < n; i++) body += pieces[Math.floor(random() * pieces.length)];
      if (body !== '' && !body.endsWith('\r\n')) body += '\r\n';
      // Lone CR/LF cannot be part of a valid body; the generator only makes CRLF pairs.
      const wire = bytes(stuff(body));
      const splits: number[] = [];
      let left = wire.length;
      while (left > 0) {
        const k = 1 + Math.floor(random() * 8);
        splits.push(k);
        left -= k;
      }
      const r = dot(wire, splits);
      assert.equal(r.bare, false, JSON.stringify(body));
      assert.equal(r.end, wire.length, JSON.stringify(body));
      assert.equal(r.content, body, JSON.stringify(body));
    }
  });
});

describe('MessageSink', () => {
  test('keeps views and assembles with the prefix in one buffer', () => {
    const s = new MessageSink(100);
    const a = bytes('hello ');
    const b = bytes('world');
    s.append(a, 0, a.length);
    s.append(b, 0, b.length);
    assert.equal(s.held, 11);
    const out = s.assemble(bytes('P:'));
    assert.equal(decoder.decode(out), 'P:hello world');
    assert.equal(s.held, 0);
  });

  test('past the limit it stops keeping but keeps counting', () => {
    const s = new MessageSink(10);
    const chunk = bytes('0123456789');
    s.append(chunk, 0, 10);
    assert.equal(s.overflow, false);
    s.append(chunk, 0, 1);
    assert.equal(s.overflow, true);
    assert.equal(s.held, 0);
    for (let i = 0; i < 1000; i++) s.append(chunk, 0, 10);
    assert.equal(s.size, 10011);
    assert.equal(s.held, 0);
  });

  test('a size limit hit inside DATA still finds the end', () => {
    const r = dot(`${'x'.repeat(50)}\r\n.\r\nNOOP`, [7, 7, 7], 20);
    assert.equal(r.overflow, true);
    assert.equal(r.end, 55);
    assert.equal(r.size, 52);
  });

  test('markBare drops what was kept', () => {
    const s = new MessageSink(100);
    s.append(bytes('abc'), 0, 3);
    s.markBare();
    assert.equal(s.held, 0);
    s.append(bytes('def'), 0, 3);
    assert.equal(s.held, 0);
    assert.equal(s.size, 6);
  });
});

function bdat(chunks: string[], limit = 1000): { sink: MessageSink; content: string } {
  const sink = new MessageSink(limit);
  const reader = new BdatReader(sink);
  for (const c of chunks) {
    const b = bytes(c);
    reader.remaining = b.length;
    assert.equal(reader.consume(b, 0, b.length), b.length);
    assert.equal(reader.remaining, 0);
  }
  reader.finish();
  return { sink, content: decoder.decode(sink.assemble(NO_PREFIX)) };
}

describe('BdatReader', () => {
  test('consumes exactly the chunk size, no unstuffing', () => {
    const sink = new MessageSink(100);
    const reader = new BdatReader(sink);
    reader.remaining = 5;
    const b = bytes('.a\r\n.NOOP\r\n');
    assert.equal(reader.consume(b, 0, b.length), 5);
    assert.equal(reader.remaining, 0);
    assert.equal(reader.consume(b, 5, b.length), 0);
    reader.finish();
    assert.equal(decoder.decode(sink.assemble(NO_PREFIX)), '.a\r\n.');
  });

  test('clean CRLF text, also across chunk boundaries', () => {
    for (const chunks of [['a\r\nb\r\n'], ['a\r', '\nb\r\n'], ['a', '\r', '\n'], ['', 'x\r\n']]) {
      const r = bdat(chunks);
      assert.equal(r.sink.bare, false, JSON.stringify(chunks));
      assert.equal(r.content, chunks.join(''));
    }
  });

  test('bare CR or LF anywhere is flagged', () => {
    for (
      const chunks of [['a\nb'], ['\n'], ['a\r'], ['a\r', 'b'], ['a\rb\r\n'], ['a', '\n'], ['a\r\n\n'], ['a\r\r\n']]
    ) {
      assert.equal(bdat(chunks).sink.bare, true, JSON.stringify(chunks));
    }
  });

  test('a discarding reader (sink null) only counts', () => {
    const reader = new BdatReader(null);
    reader.remaining = 10;
    assert.equal(reader.consume(bytes('0123456789abc'), 0, 13), 10);
    reader.finish();
  });

  test('partial consumption across calls', () => {
    const sink = new MessageSink(100);
    const reader = new BdatReader(sink);
    reader.remaining = 6;
    const b = bytes('abc\r\n\n');
    assert.equal(reader.consume(b, 0, 2), 2);
    assert.equal(reader.consume(b, 2, 6), 4);
    assert.equal(reader.remaining, 0);
    assert.equal(sink.bare, true);
  });
});

describe('countReceivedHeaders (RFC 5321 §6.3)', () => {
  function count(text: string, max = 100): number {
    const b = bytes(text);
    return countReceivedHeaders(b, 0, b.length, max);
  }
  test('counts at line starts in the header section only', () => {
    assert.equal(count('Received: a\r\nreceived: b\r\nRECEIVED:c\r\nSubject: x\r\n\r\nReceived: body\r\n'), 3);
    assert.equal(count('Subject: x\r\n\tReceived: folded\r\nX-Received: y\r\n\r\n'), 0);
    assert.equal(count('Received : obsolete spacing\r\n\r\n'), 0);
    assert.equal(count('\r\nReceived: after empty line\r\n'), 0);
    assert.equal(count('Received: no end'), 1);
    assert.equal(count(''), 0);
    assert.equal(count('Receive'), 0);
  });
  test('stops at max', () => {
    assert.equal(count('Received: x\r\n'.repeat(50), 5), 5);
  });
  test('honours the from offset (our own Received header is skipped)', () => {
    const b = bytes('Received: ours\r\nReceived: theirs\r\n\r\n');
    assert.equal(countReceivedHeaders(b, 16, b.length, 100), 1);
  });
  test('a lookalike byte is not a colon', () => {
    assert.equal(count('Received\x1a x\r\n\r\n'), 0);
  });
});

describe('MessageSink.settle: small views of big buffers are compacted', () => {
  test('a 100-octet piece of a 64 KiB read buffer is copied', () => {
    const big = new Uint8Array(65536).fill(0x61);
    const s = new MessageSink(1 << 20);
    s.append(big, 10, 60);
    s.append(big, 70, 120);
    s.settle();
    const out = s.assemble(NO_PREFIX);
    assert.equal(out.length, 100);
    // After settle the sink no longer refers to `big`: changing it does not change the message.
    const s2 = new MessageSink(1 << 20);
    s2.append(big, 0, 100);
    s2.settle();
    big.fill(0x62);
    assert.equal(decoder.decode(s2.assemble(NO_PREFIX)), 'a'.repeat(100));
  });

  test('a chunk that is mostly message keeps its views', () => {
    const chunk = bytes(`${'x'.repeat(5000)}\r\n`);
    const s = new MessageSink(1 << 20);
    s.append(chunk, 0, chunk.length);
    s.settle();
    chunk[0] = 0x79;
    assert.equal(decoder.decode(s.assemble(NO_PREFIX)).slice(0, 2), 'yx');
  });

  test('DATA trickling in small pieces of big buffers holds about its own size', () => {
    const sink = new MessageSink(1 << 20);
    const reader = new DotReader(sink);
    const reads: Uint8Array[] = [];
    for (let i = 0; i < 200; i++) {
      const buf = new Uint8Array(65536);
      buf.set(bytes('0123456789\r\n'), 0);
      assert.equal(reader.scan(buf, 0, 12), -1);
      reads.push(buf);
    }
    assert.equal(sink.held, 2400);
    // The read buffers are no longer referenced: overwriting them changes nothing.
    for (const buf of reads) buf.fill(0x7a);
    assert.equal(decoder.decode(sink.assemble(NO_PREFIX)), '0123456789\r\n'.repeat(200));
  });
});
