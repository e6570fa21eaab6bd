// Helpers for the client protocol tests: replies from text, and a driver that plays a scripted peer.
import { type ClientReply, ReplyReader } from '../../../../src/smtp/client/reply.ts';
import type { Capabilities } from '../../../../src/smtp/client/capabilities.ts';
import { NO_CAPABILITIES } from '../../../../src/smtp/client/capabilities.ts';
import type { TxMessage, TxRecipient, TxResult, TxStep } from '../../../../src/smtp/client/transaction.ts';
import { Transaction } from '../../../../src/smtp/client/transaction.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const bytes = (s: string): Uint8Array => encoder.encode(s);

/** One reply from its text: lines separated by '\n', CRLF added. */
export function reply(text: string): ClientReply {
  const events = new ReplyReader().feed(bytes(text.split('\n').join('\r\n') + '\r\n'));
  if (events.length !== 1 || events[0].kind !== 'reply') throw new Error(`not one reply: ${text}`);
  return events[0].reply;
}

export const ESMTP: Capabilities = {
  ...NO_CAPABILITIES,
  esmtp: true,
  pipelining: true,
  size: 10_000_000,
  eightBitMime: true,
  smtpUtf8: true,
  chunking: false,
  dsn: true,
  enhancedStatusCodes: true,
};

export function message(body = 'Subject: t\r\n\r\nhello\r\n', over: Partial<TxMessage> = {}): TxMessage {
  return { sender: 'a@example.org', bodyType: null, smtpUtf8: false, dsnRet: null, dsnEnvid: null, body: bytes(body), ...over };
}

export function rcpts(...addresses: string[]): TxRecipient[] {
  return addresses.map((address, i) => ({ id: i + 1, address, notify: null, orcpt: null }));
}

/** Text of what a step sends (message data decoded as UTF-8). */
export function sent(step: TxStep): string {
  if (step.kind !== 'continue') return '';
  return step.send.map((p) => (typeof p === 'string' ? p : decoder.decode(p))).join('');
}

/**
 * Runs a transaction against a scripted peer: `answer(sentText)` returns the replies for what was just
 * sent (one per expected reply, in order). Returns everything sent and the result.
 */
export function play(
  tx: Transaction,
  answer: (sentText: string) => string[],
): { wire: string; result: TxResult } {
  let step = tx.start();
  let wire = '';
  const pending: string[] = [];
  while (step.kind === 'continue') {
    const out = sent(step);
    wire += out;
    if (out !== '') pending.push(...answer(out));
    const next = pending.shift();
    if (next === undefined) throw new Error(`no reply scripted after: ${JSON.stringify(out)}`);
    step = tx.reply(reply(next));
  }
  return { wire, result: step.result };
}

export function transaction(msg: TxMessage, list: TxRecipient[], caps: Capabilities, lmtp = false, chunkSize?: number) {
  return new Transaction(msg, list, caps, { lmtp, chunkSize });
}
