// checkData / proceedData / finishData and checkBdat / proceedBdat / finishChunk as separate halves.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Context, State } from '../../../../src/smtp/context.ts';
import { R } from '../../../../src/smtp/replies.ts';
import { checkBdat, checkBdatCommand, finishChunk, proceedBdat } from '../../../../src/smtp/verbs/bdat.ts';
import { checkData, finishData, proceedData } from '../../../../src/smtp/verbs/data.ts';
import { checkMail, proceedMail } from '../../../../src/smtp/verbs/mail.ts';
import { checkRcpt, proceedRcpt } from '../../../../src/smtp/verbs/rcpt.ts';
import { bytes } from '../harness.ts';
import { command, context, greeted, output } from './support.ts';

const DATA = command('DATA', 'DATA');

function withRecipient(o: Parameters<typeof greeted>[0] = {}, verb: 'EHLO' | 'HELO' = 'EHLO'): Context {
  const c = greeted(o, verb);
  const m = command('MAIL', 'MAIL FROM:<a@client.test>');
  const mv = checkMail(c, m);
  assert.ok(mv.ok);
  proceedMail(c, m, mv.value);
  const r = command('RCPT', 'RCPT TO:<b@tern.test>');
  const rv = checkRcpt(c, r);
  assert.ok(rv.ok);
  proceedRcpt(c, r, rv.value);
  c.take();
  return c;
}

describe('checkData', () => {
  test('sequence errors', () => {
    assert.deepEqual(checkData(context(), DATA), { ok: false, reply: R.needHelo });
    assert.deepEqual(checkData(greeted(), DATA), { ok: false, reply: R.needMail });
    const c = greeted();
    const m = command('MAIL', 'MAIL FROM:<>');
    const v = checkMail(c, m);
    assert.ok(v.ok);
    proceedMail(c, m, v.value);
    assert.deepEqual(checkData(c, DATA), { ok: false, reply: R.needRcpt });
  });
  test('not after BDAT (RFC 3030 §2)', () => {
    const c = withRecipient();
    c.tx!.mode = 'bdat';
    assert.deepEqual(checkData(c, DATA), { ok: false, reply: R.dataAfterBdat });
  });
  test('passes with a recipient', () => assert.ok(checkData(withRecipient(), DATA).ok));
});

describe('proceedData / finishData', () => {
  test('354, DATA state, queue id and clock taken once', () => {
    const c = withRecipient();
    proceedData(c, DATA);
    assert.equal(c.state, State.Data);
    assert.equal(c.tx?.queueId, 'Q0001');
    assert.deepEqual(c.tx?.receivedAt, new Date('2026-01-02T03:04:05Z'));
    assert.ok(c.dot !== null);
    assert.equal(output(c).sent, '354 End data with <CR><LF>.<CR><LF>\r\n');
  });
  test('finishData emits enqueue and waits', () => {
    const c = withRecipient();
    proceedData(c, DATA);
    const body = bytes('x\r\n.\r\n');
    assert.equal(c.dot!.scan(body, 0, body.length), body.length);
    finishData(c);
    assert.equal(c.state, State.Enqueue);
    const { effects } = output(c);
    assert.equal(effects.length, 1);
    assert.equal(effects[0].kind, 'enqueue');
  });
  test('finishData refuses bare CR/LF with 550 5.6.0 and drops the transaction', () => {
    const c = withRecipient();
    proceedData(c, DATA);
    c.take();
    const body = bytes('x\ny\r\n.\r\n');
    c.dot!.scan(body, 0, body.length);
    finishData(c);
    assert.equal(c.state, State.Ready);
    assert.equal(c.tx, null);
    assert.equal(output(c).sent, R.bareLineEnding.text);
  });
});

describe('checkBdat', () => {
  const bdat = (line: string) => command('BDAT', line);
  test('refusals, in order', () => {
    assert.deepEqual(checkBdat(withRecipient(), bdat('BDAT 1 MORE')), { ok: false, reply: R.bdatSyntax });
    assert.deepEqual(checkBdat(context(), bdat('BDAT 1')), { ok: false, reply: R.needHelo });
    assert.deepEqual(checkBdat(withRecipient({}, 'HELO'), bdat('BDAT 1')), { ok: false, reply: R.chunkingUnavailable });
    assert.deepEqual(checkBdat(withRecipient({ options: { extensions: { chunking: false } } }), bdat('BDAT 1')), {
      ok: false,
      reply: R.chunkingUnavailable,
    });
    assert.deepEqual(checkBdat(greeted(), bdat('BDAT 1')), { ok: false, reply: R.needMail });
  });
  test('the dispatcher half never refuses: the verdict travels with the chunk', () => {
    const v = checkBdatCommand(context(), bdat('BDAT 3'));
    assert.deepEqual(v, { ok: true, value: { ok: false, reply: R.needHelo } });
  });
});

describe('proceedBdat / finishChunk', () => {
  const bdat = (line: string) => command('BDAT', line);
  test('accepted chunk: consumed into the message, 250 after it', () => {
    const c = withRecipient();
    proceedBdat(c, bdat('BDAT 3'), { ok: true, value: undefined });
    assert.equal(c.state, State.Bdat);
    assert.equal(c.tx?.mode, 'bdat');
    assert.equal(c.tx?.queueId, 'Q0001');
    const b = bytes('abcNOOP');
    assert.equal(c.chunk!.reader.consume(b, 0, b.length), 3);
    finishChunk(c);
    assert.equal(c.state, State.Rcpt);
    assert.equal(output(c).sent, '250 2.0.0 3 octets received\r\n');
    // A second chunk reuses the transaction's reader and queue id.
    proceedBdat(c, bdat('BDAT 0 LAST'), { ok: true, value: undefined });
    finishChunk(c);
    assert.equal(c.state, State.Enqueue);
    assert.equal(c.tx?.queueId, 'Q0001');
  });
  test('refused chunk: consumed into nothing, then the refusal, back to where it was', () => {
    const c = greeted();
    proceedBdat(c, bdat('BDAT 4'), { ok: false, reply: R.needMail });
    assert.equal(c.state, State.Bdat);
    assert.equal(c.chunk!.reader.sink, null);
    const b = bytes('abcd');
    c.chunk!.reader.consume(b, 0, 4);
    finishChunk(c);
    assert.equal(c.state, State.Ready);
    assert.equal(output(c).sent, R.needMail.text);
    assert.equal(c.badCommands, 1);
  });
  test('over the size limit: 552 at the end of the chunk and the transaction is gone', () => {
    const c = withRecipient({ options: { maxMessageSize: 2 } });
    proceedBdat(c, bdat('BDAT 3'), { ok: true, value: undefined });
    const b = bytes('abc');
    c.chunk!.reader.consume(b, 0, 3);
    finishChunk(c);
    assert.equal(c.tx, null);
    assert.equal(c.state, State.Ready);
    assert.equal(output(c).sent, R.sizeExceeded.text);
  });
});
