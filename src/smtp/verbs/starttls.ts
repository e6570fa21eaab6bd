// STARTTLS (RFC 3207): 220, then the host upgrades the connection and answers tlsStarted() or tlsFailed().
import { type Context, PASS, refuse, type SessionView, State, type Verdict } from '../context.ts';
import type { Command } from '../parser.ts';
import { R } from '../replies.ts';

type StartTls = Extract<Command, { verb: 'STARTTLS' }>;

/**
 * Refusals:
 * - TLS already active (implicit TLS or a second STARTTLS): 503 5.5.1, a sequence error.
 * - No certificate (options.startTls false): 502 5.5.1. RFC 3207 §4 offers 454 "TLS not available due to
 *   temporary reason", but this is not temporary, and the keyword was never advertised; 454 would only
 *   invite pointless retries. 502 is RFC 5321 §4.2.4's "command not implemented".
 * - Inside a mail transaction: 503 5.5.1. RFC 3207 does not forbid it, but §4.2 makes the server forget
 *   the transaction once TLS starts; refusing says so plainly instead of silently dropping the client's
 *   MAIL/RCPT (Postfix does the same).
 */
export function checkStartTls(view: SessionView, _cmd: StartTls): Verdict<void> {
  if (view.conn.tls !== null) return refuse(R.tlsActive);
  if (!view.options.startTls) return refuse(R.startTlsUnavailable);
  if (view.tx !== null) return refuse(R.tlsInTransaction);
  return PASS;
}

/** The 220 goes out before the 'starttls' effect; the session then discards anything pipelined after it. */
export function proceedStartTls(ctx: Context, _cmd: StartTls): void {
  ctx.reply(R.startTlsReady);
  ctx.enterState(State.StartTls);
  ctx.emit({ kind: 'starttls' });
}
