// The error a QueueWriter throws when the host refuses the message itself (not a storage failure), carrying the reply.
import type { HostReply } from '../smtp/types.ts';

/**
 * Thrown by a QueueWriter that decided against the message (a DMARC reject, a content policy): the SMTP host
 * answers with `reply` (e.g. 550 5.7.1) instead of the 451 4.3.0 that any other enqueue failure gets, and
 * `tern sendmail` maps it to EX_DATAERR / EX_NOPERM rather than EX_TEMPFAIL.
 */
export class MessageRefused extends Error {
  constructor(readonly reply: HostReply) {
    super(`${reply.code} ${reply.status} ${reply.text}`);
    this.name = 'MessageRefused';
  }
}
