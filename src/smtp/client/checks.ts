// Checks before MAIL FROM: can this peer take this message at all? SIZE (RFC 1870), 8BITMIME (RFC 6152)
// and SMTPUTF8 (RFC 6531). A failure here is permanent: the peer said what it cannot do.
import type { Capabilities } from './capabilities.ts';
import { hasEightBit, headerEnd, isNonAscii } from './data.ts';
import { local, type Verdict } from './verdict.ts';
import { NEEDS_8BITMIME, NEEDS_SMTPUTF8, TOO_BIG } from './statuses.ts';

export interface CheckInput {
  sender: string;
  bodyType: '7BIT' | '8BITMIME' | null;
  smtpUtf8: boolean;
  body: Uint8Array;
}

export interface CheckResult {
  /** A verdict for every recipient (the message cannot go to this peer), or null. */
  all: Verdict | null;
  /** Verdicts for single recipients that cannot go (a non-ASCII address to a peer without SMTPUTF8). */
  recipients: Map<number, Verdict>;
  /** The BODY= to declare. */
  body: '7BIT' | '8BITMIME' | null;
  /** Declare SMTPUTF8 on MAIL. */
  smtpUtf8: boolean;
}

/**
 * Decides before anything is sent.
 *
 * SIZE: a peer limit below the message's size is 5.3.4 (RFC 1870 §6 says the client should not send it).
 *
 * 8BITMIME: a message declared BODY=8BITMIME for a peer without 8BITMIME is returned with 5.6.3, as
 * RFC 6152 §3 allows, rather than converted to quoted-printable: conversion rewrites the body, which breaks
 * the sender's DKIM signatures (RFC 6376 §3.4), cannot touch 8-bit header fields or message/rfc822 parts
 * (RFC 2045 §6.4 forbids encoding them), and needs a full MIME rewriter for a case that has become rare on
 * the Internet. A message declared 8BITMIME whose octets are all 7-bit is sent as it is (without BODY=),
 * because it is 7-bit in fact; undeclared 8-bit octets are passed on unchanged, as Postfix does (the
 * sender broke RFC 6152 already, and bouncing would punish only the recipients).
 *
 * SMTPUTF8: RFC 6531 §3.2 forbids sending an internationalised address or UTF-8 header fields to a peer
 * without SMTPUTF8; such mail is returned with 5.6.7. "For addresses and messages that do not require an
 * SMTPUTF8 extension" nothing changes (same section), so a message that was merely flagged SMTPUTF8 but
 * has ASCII addresses and an ASCII header goes out without the flag (Postfix does the same), and a
 * non-ASCII recipient fails alone when the sender and header are ASCII.
 */
export function checkMessage(
  msg: CheckInput,
  recipients: ReadonlyArray<{ id: number; address: string }>,
  caps: Capabilities,
): CheckResult {
  const result: CheckResult = { all: null, recipients: new Map(), body: null, smtpUtf8: false };
  const size = msg.body.length;
  if (caps.size !== null && caps.size > 0 && size > caps.size) {
    result.all = local('permanent', TOO_BIG, `message size ${size} exceeds the peer's limit of ${caps.size} (SIZE)`);
    return result;
  }

  result.body = msg.bodyType;
  if (msg.bodyType === '8BITMIME' && !caps.eightBitMime) {
    if (hasEightBit(msg.body)) {
      result.all = local('permanent', NEEDS_8BITMIME, 'the message has 8-bit content and the peer does not offer 8BITMIME');
      return result;
    }
    result.body = null;
  }

  const utf8Recipients = recipients.filter((r) => isNonAscii(r.address));
  const utf8Envelope = isNonAscii(msg.sender) || utf8Recipients.length > 0;
  if (caps.smtpUtf8) {
    result.smtpUtf8 = msg.smtpUtf8 || utf8Envelope;
    return result;
  }
  // An 8-bit header is UTF-8 only under SMTPUTF8 (RFC 6532); without the flag it is legacy raw 8-bit.
  const utf8Header = msg.smtpUtf8 && hasEightBit(msg.body, 0, headerEnd(msg.body));
  if (isNonAscii(msg.sender) || utf8Header) {
    const what = utf8Header ? 'UTF-8 header fields' : 'a non-ASCII sender address';
    result.all = local('permanent', NEEDS_SMTPUTF8, `the message has ${what} and the peer does not offer SMTPUTF8`);
    return result;
  }
  for (const r of utf8Recipients) {
    result.recipients.set(r.id, local('permanent', NEEDS_SMTPUTF8, 'non-ASCII recipient address and the peer does not offer SMTPUTF8'));
  }
  return result;
}
