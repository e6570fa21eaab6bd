// The pipeline between DATA and the queue: who is checked, who is signed, and what a verdict does to the message.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { classify, createPipeline } from '../../../src/server/pipeline.ts';
import type { InboundResult } from '../../../src/inbound/checker.ts';
import { MessageRefused } from '../../../src/queue/refused.ts';
import type { Envelope } from '../../../src/smtp/types.ts';
import type { Logger } from '../../../src/lib/log.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();
const quiet = { debug() {}, info() {}, warn() {}, error() {}, child() { return quiet; } } as unknown as Logger;

function envelope(over: Partial<Envelope> = {}): Envelope {
  return {
    queueId: 'Q1',
    sender: 'a@example.org',
    recipients: [{ address: 'b@tern.test', notify: null, orcpt: null }],
    bodyType: null,
    smtpUtf8: false,
    declaredSize: null,
    dsnRet: null,
    dsnEnvid: null,
    helo: 'mx.example.org',
    protocol: 'ESMTP',
    clientAddress: '192.0.2.7',
    clientPort: 40000,
    listener: 'mx',
    tls: null,
    authUser: null,
    receivedAt: new Date(0),
    ...over,
  } as Envelope;
}

function harness(verdict: InboundResult | Error | null, signErr = false) {
  const stored: Array<{ envelope: Envelope; text: string }> = [];
  const calls = { checked: 0, signed: 0 };
  const pipeline = createPipeline({
    intake: { enqueue: async (e, m) => void stored.push({ envelope: e, text: dec.decode(m) }) },
    inbound: verdict
      ? {
          check: async () => {
            calls.checked++;
            if (verdict instanceof Error) throw verdict;
            return verdict;
          },
        }
      : undefined,
    signer: {
      sign: async (_e, m) => {
        calls.signed++;
        if (signErr) throw new Error('key unreadable');
        return enc.encode(`DKIM-Signature: x\r\n${dec.decode(m)}`);
      },
    },
    isTrusted: (ip) => ip.startsWith('10.'),
    log: quiet,
  });
  return { pipeline, stored, calls };
}

const body = enc.encode('Subject: hi\r\n\r\nhello\r\n');

describe('pipeline', () => {
  test('classify: strangers on the MX listener are inbound; users, trusted networks, submission and local are ours', () => {
    assert.equal(classify(envelope(), false), 'inbound');
    assert.equal(classify(envelope(), true), 'originated');
    assert.equal(classify(envelope({ authUser: 'alice' }), false), 'originated');
    assert.equal(classify(envelope({ listener: 'submission' }), false), 'originated');
    assert.equal(classify(envelope({ listener: 'local' }), false), 'originated');
  });

  test('inbound mail is checked, never signed, and stored with the checker\'s header', async () => {
    const h = harness({ action: 'accept', message: enc.encode('Authentication-Results: x\r\nSubject: hi\r\n\r\nhello\r\n') });
    await h.pipeline.enqueue(envelope(), body);
    assert.deepEqual(h.calls, { checked: 1, signed: 0 });
    assert.match(h.stored[0]!.text, /^Authentication-Results: x/);
  });

  test('a reject verdict throws MessageRefused with the reply and stores nothing', async () => {
    const reply = { code: 550, status: '5.7.1', text: 'DMARC policy of example.org says reject' };
    const h = harness({ action: 'reject', reply, message: body });
    await assert.rejects(h.pipeline.enqueue(envelope(), body), (e: unknown) => e instanceof MessageRefused && e.reply === reply);
    assert.equal(h.stored.length, 0);
  });

  test('a hold verdict stores the message held with the reason', async () => {
    const h = harness({ action: 'hold', reason: 'dmarc quarantine example.org', message: body });
    await h.pipeline.enqueue(envelope(), body);
    assert.equal(h.stored[0]!.envelope.hold, 'dmarc quarantine example.org');
  });

  test('a checker that throws costs nothing: the message is queued unchanged', async () => {
    const h = harness(new Error('resolver gone'));
    await h.pipeline.enqueue(envelope(), body);
    assert.equal(h.stored[0]!.text, dec.decode(body));
    assert.equal(h.stored[0]!.envelope.hold, undefined);
  });

  test('originated mail is signed and not checked; a signer failure stores nothing (the client gets 451 and retries)', async () => {
    const h = harness({ action: 'reject', reply: { code: 550, status: '5.7.1', text: 'no' }, message: body });
    await h.pipeline.enqueue(envelope({ authUser: 'alice', listener: 'submission' }), body);
    assert.deepEqual(h.calls, { checked: 0, signed: 1 });
    assert.match(h.stored[0]!.text, /^DKIM-Signature/);
    const bad = harness(null, true);
    await assert.rejects(bad.pipeline.enqueue(envelope({ clientAddress: '10.1.2.3' }), body), (e: unknown) => !(e instanceof MessageRefused));
    assert.equal(bad.stored.length, 0);
  });
});
