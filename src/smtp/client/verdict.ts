// How a peer's reply, or a local reason, becomes a per-recipient verdict with an RFC 3463 status.
import { type ClientReply, replyText } from './reply.ts';
import { PROTOCOL_ERROR } from './statuses.ts';

/** The client's result for one recipient; the courier adds who answered and whether DSN was relayed. */
export interface Verdict {
  outcome: 'delivered' | 'temporary' | 'permanent';
  /** RFC 3463 status: the peer's, else derived from the reply code, else the local reason's. */
  status: string;
  /** The peer's reply lines joined with '\n', or the local reason. */
  reply: string;
  /** 'smtp' for a peer's reply (a DSN Diagnostic-Code of type smtp, RFC 3464 §2.3.6), 'x-tern' for ours. */
  replyType: 'smtp' | 'x-tern';
}

/** RFC 5321 §4.2.1: 2yz done, 4yz try again later, 5yz do not repeat. */
export function outcomeOf(code: number): Verdict['outcome'] {
  if (code >= 200 && code < 300) return 'delivered';
  if (code >= 500 && code < 600) return 'permanent';
  // 4yz, and anything no command here should get (1yz, 3yz where it was not asked for): try again.
  return 'temporary';
}

/**
 * The status to record. A peer without ENHANCEDSTATUSCODES gives only the code; guessing a detail from it
 * (RCPT 550 -> 5.1.1 "bad mailbox") would put words in the peer's mouth, since 550 is also policy, relay
 * denial or a full mailbox. So only the class is derived: 2.0.0, 4.0.0 or 5.0.0 (RFC 3463 §3.1). A code
 * outside 2/4/5 is a protocol confusion: 4.5.0 ("other or undefined protocol status").
 */
export function statusOf(r: ClientReply): string {
  if (r.status !== null) return r.status;
  const cls = Math.floor(r.code / 100);
  return cls === 2 || cls === 4 || cls === 5 ? `${cls}.0.0` : PROTOCOL_ERROR;
}

/** The peer's verdict on one command, as it applies to the recipients it concerns. */
export function fromReply(r: ClientReply): Verdict {
  const outcome = outcomeOf(r.code);
  let status = statusOf(r);
  // A 1yz/3yz read as temporary must not carry a class that says otherwise.
  if (outcome === 'temporary' && status[0] !== '4') status = PROTOCOL_ERROR;
  return { outcome, status, reply: replyText(r), replyType: 'smtp' };
}

/** A verdict of our own making (no reply from the peer says it). */
export function local(outcome: 'temporary' | 'permanent', status: string, reason: string): Verdict {
  return { outcome, status, reply: reason, replyType: 'x-tern' };
}

/**
 * The peer's refusal with its class lowered to 4 (Postfix's soft_bounce for AUTH failures): a wrong
 * password is our configuration's fault, and bouncing every message until someone notices loses mail.
 */
export function softened(r: ClientReply): Verdict {
  const v = fromReply(r);
  if (v.outcome !== 'permanent') return v;
  return { ...v, outcome: 'temporary', status: `4${v.status.slice(1)}` };
}

/** RFC 2033 / RFC 5321 §3.8: 421 means the peer is closing the channel, whatever command it answers. */
export function isClosing(r: ClientReply): boolean {
  return r.code === 421;
}
