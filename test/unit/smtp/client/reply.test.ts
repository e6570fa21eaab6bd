// Reply parsing (RFC 5321 §4.2, RFC 2034): multi-line replies, enhanced status, bounded memory, any split.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { lineText, MAX_REPLY_LINE, MAX_REPLY_LINES, makeReply, ReplyReader, replyText } from '../../../../src/smtp/client/reply.ts';
import { bytes } from './support.ts';

const feed = (text: string) => new ReplyReader().feed(bytes(text));

describe('ReplyReader', () => {
  test('single-line reply with enhanced status', () => {
    assert.deepEqual(feed('250 2.1.0 Sender ok\r\n'), [
      { kind: 'reply', reply: { code: 250, status: '2.1.0', lines: ['250 2.1.0 Sender ok'] } },
    ]);
  });

  test('multi-line reply: continuation lines kept exactly, one reply', () => {
    const [ev] = feed('250-mx.example\r\n250-PIPELINING\r\n250 SIZE 1000\r\n');
    assert.equal(ev.kind, 'reply');
    if (ev.kind !== 'reply') return;
    assert.deepEqual(ev.reply.lines, ['250-mx.example', '250-PIPELINING', '250 SIZE 1000']);
    assert.equal(ev.reply.status, null);
    assert.equal(lineText(ev.reply, 1), 'PIPELINING');
    assert.equal(replyText(ev.reply), '250-mx.example\n250-PIPELINING\n250 SIZE 1000');
  });

  test('a bare code line is a complete reply (RFC 5321 §4.2: the text is optional)', () => {
    const [ev] = feed('354\r\n');
    assert.deepEqual(ev, { kind: 'reply', reply: { code: 354, status: null, lines: ['354'] } });
  });

  test('bare LF line endings are accepted from peers', () => {
    const evs = feed('220 hi\n250 ok\n');
    assert.equal(evs.length, 2);
  });

  test('several replies in one chunk come out in order (pipelining, RFC 2920)', () => {
    const evs = feed('250 2.1.0 ok\r\n550 5.1.1 no\r\n354 go\r\n');
    assert.deepEqual(evs.map((e) => (e.kind === 'reply' ? e.reply.code : 0)), [250, 550, 354]);
  });

  test('any split of the stream gives the same replies', () => {
    const text = '250-a.example\r\n250-8BITMIME\r\n250 DSN\r\n451 4.3.0 later\r\n221 2.0.0 bye\r\n';
    const whole = feed(text);
    const data = bytes(text);
    for (let cut = 0; cut <= data.length; cut++) {
      const r = new ReplyReader();
      const got = [...r.feed(data.subarray(0, cut)), ...r.feed(data.subarray(cut))];
      assert.deepEqual(got, whole, `cut at ${cut}`);
    }
    const r = new ReplyReader();
    const oneByOne = [...data].flatMap((b) => r.feed(new Uint8Array([b])));
    assert.deepEqual(oneByOne, whole);
  });

  test('partial input yields nothing and reports it is partial', () => {
    const r = new ReplyReader();
    assert.deepEqual(r.feed(bytes('250-first\r\n250 sec')), []);
    assert.equal(r.partial, true);
    assert.equal(r.feed(bytes('ond\r\n')).length, 1);
    assert.equal(r.partial, false);
  });

  test('a changed code inside a multi-line reply is a protocol error, and the reader stays broken', () => {
    const r = new ReplyReader();
    const evs = r.feed(bytes('250-a\r\n550 b\r\n'));
    assert.equal(evs.length, 1);
    assert.equal(evs[0].kind, 'error');
    assert.deepEqual(r.feed(bytes('250 ok\r\n')), []);
  });

  test('malformed lines are errors', () => {
    for (const bad of ['hello\r\n', '25\r\n', '2500 x\r\n', '650 x\r\n', '099 x\r\n', '250x\r\n']) {
      const evs = feed(bad);
      assert.equal(evs[0]?.kind, 'error', bad);
    }
  });

  test('an over-long line is truncated to MAX_REPLY_LINE, wherever the chunks split it', () => {
    const long = '550 ' + 'x'.repeat(MAX_REPLY_LINE * 3);
    const r = new ReplyReader();
    const data = bytes(long + '\r\n250 next\r\n');
    const evs = [];
    for (let i = 0; i < data.length; i += 700) evs.push(...r.feed(data.subarray(i, i + 700)));
    assert.equal(evs.length, 2);
    assert.equal(evs[0].kind === 'reply' && evs[0].reply.lines[0].length, MAX_REPLY_LINE);
    assert.equal(evs[1].kind === 'reply' && evs[1].reply.code, 250);
  });

  test('too many continuation lines is an error (a hostile peer cannot grow memory)', () => {
    const text = '250-x\r\n'.repeat(MAX_REPLY_LINES + 1) + '250 end\r\n';
    const evs = feed(text);
    assert.equal(evs.length, 1);
    assert.equal(evs[0].kind, 'error');
  });

  test('control characters in reply text are replaced (no forged lines in logs or DSNs)', () => {
    const [ev] = feed('550 bad\rthing\x00here\r\n');
    assert.equal(ev.kind === 'reply' && ev.reply.lines[0], '550 bad?thing?here');
  });

  test('invalid UTF-8 does not throw', () => {
    const r = new ReplyReader();
    const evs = r.feed(new Uint8Array([0x35, 0x35, 0x30, 0x20, 0xff, 0xfe, 0x0d, 0x0a]));
    assert.equal(evs[0].kind, 'reply');
  });

  test('reset() drops buffered input', () => {
    const r = new ReplyReader();
    r.feed(bytes('250 inje'));
    r.reset();
    assert.equal(r.partial, false);
    assert.equal(r.feed(bytes('220 fresh\r\n')).length, 1);
  });
});

describe('enhanced status (RFC 2034, RFC 3463)', () => {
  const status = (line: string) => makeReply(Number(line.slice(0, 3)), [line]).status;

  test('taken from the first line when its class matches the code', () => {
    assert.equal(status('550 5.1.1 no such user'), '5.1.1');
    assert.equal(status('451 4.7.1 greylisted'), '4.7.1');
    assert.equal(status('250 2.0.0'), '2.0.0');
    assert.equal(status('552 5.3.4 too big'), '5.3.4');
  });

  test('leading zeros are dropped (RFC 3464 §2.3.4 status form)', () => {
    assert.equal(status('550 5.01.001 x'), '5.1.1');
  });

  test('ignored when the class disagrees with the code, or it is not a status', () => {
    assert.equal(status('550 4.1.1 x'), null);
    assert.equal(status('250 ok'), null);
    assert.equal(status('250 2.0.0.1 x'), null);
    assert.equal(status('250 2.0.0x'), null);
    assert.equal(status('354 3.0.0 go'), null);
    assert.equal(status('550 5.1.1234 x'), null);
  });
});
