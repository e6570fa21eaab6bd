// EHLO and HELO (RFC 5321 §4.1.1.1), one pair of halves for both: identify the client, reset any
// transaction, announce extensions (EHLO only).
import { type Context, PASS, type SessionView, State, type Verdict } from '../context.ts';
import { NO_PARAMS, offerFor } from '../extensions.ts';
import type { Command } from '../parser.ts';
import { ehloReply, heloReply } from '../replies.ts';

type Hello = Extract<Command, { verb: 'EHLO' | 'HELO' }>;

/**
 * Always allowed, at any point (RFC 5321 §4.1.4). The argument's syntax was checked by the parser; its
 * value is never verified against DNS or the connection (§4.1.4: a mismatch MUST NOT cause a refusal).
 */
export function checkEhlo(_view: SessionView, _cmd: Hello): Verdict<void> {
  return PASS;
}

/** Forgets any transaction (§4.1.4: EHLO implies RSET), records the name, replies with the offer. */
export function proceedEhlo(ctx: Context, cmd: Hello): void {
  ctx.resetTransaction();
  ctx.greeting = { verb: cmd.verb, name: cmd.domain };
  if (cmd.verb === 'EHLO') {
    const offer = offerFor(ctx.options, ctx.conn.tls !== null, ctx.conn.listener);
    ctx.tables = offer.tables;
    ctx.sendText(ehloReply(ctx.options.hostname, offer.keywords));
  } else {
    // After HELO no service extension was negotiated: every ESMTP parameter gets 555 (RFC 5321 §4.1.1.11).
    ctx.tables = NO_PARAMS;
    ctx.sendText(heloReply(ctx.options.hostname));
  }
  ctx.enterState(State.Ready);
}
