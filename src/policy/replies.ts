// Every reply the anti-abuse checks give, named, with its enhanced status code (RFC 3463): one place to read them.
import { replies } from '../smtp/replies.ts';
import type { HostReply, PolicyVerdict } from '../smtp/types.ts';

const reply = (code: number, status: string, text: string): HostReply => ({ code, status, text });

/** A verdict other than accept: what a check returns when it objects. */
export type Refusal = Exclude<PolicyVerdict, { action: 'accept' }>;

export const policyReplies = {
  // RFC 5321 §3.1 / §4.2.3: 421 at connect closes the channel; X.7.0 is "other security or policy status".
  tooManyConnections: reply(421, '4.7.0', 'Too many connections from your address, try again later'),
  // 451 is among the replies RFC 5321 §4.3.2 lists for MAIL (450 is not); X.7.1 = not authorized (policy).
  tooManyMessages: reply(451, '4.7.1', 'Too many messages from your address, try again later'),
  // The wording of Postfix's reject_rbl_client, which operators and senders know how to read.
  blocked: (ip: string, zone: string): HostReply =>
    reply(554, '5.7.1', `Service unavailable; client [${ip}] blocked using ${zone}`),
  /**
   * RFC 6647 §5: "the only two reasonable choices are 421 ... and 450 otherwise"; RFC 5321 §4.2.3 defines
   * 450 as "temporarily blocked for policy reasons" and §4.3.2 allows it for RCPT, where greylisting runs.
   */
  greylisted: reply(450, '4.7.1', 'Greylisted, please try again later'),
  // The name claims to be this server (a common forgery by spamware); the client sees no echo of it.
  heloIsUs: reply(550, '5.7.1', 'Helo command rejected: that name is us'),
  // Postfix's reject_non_fqdn_helo_hostname text.
  heloNotFqdn: reply(550, '5.7.1', 'Helo command rejected: need fully-qualified hostname'),
  // A check failed inside (the greylist database down): the same 451 4.3.0 the server gives when a policy
  // hook fails at MAIL/RCPT (src/server/connection.ts), so both paths read alike in the client's logs.
  policyFailed: reply(replies.policyFailed.code, replies.policyFailed.status ?? '4.3.0', replies.policyFailed.message),
} as const;

export const reject = (r: HostReply): Refusal => ({ action: 'reject', reply: r });
export const disconnect = (r: HostReply): Refusal => ({ action: 'disconnect', reply: r });
