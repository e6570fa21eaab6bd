// RSET (RFC 5321 §4.1.1.5): abort the transaction, keep the greeting.
import { type Context, PASS, type SessionView, type Verdict } from '../context.ts';
import type { Command } from '../parser.ts';
import { R } from '../replies.ts';

type Rset = Extract<Command, { verb: 'RSET' }>;

/** Allowed at any time, even before EHLO (§4.1.4). */
export function checkRset(_view: SessionView, _cmd: Rset): Verdict<void> {
  return PASS;
}

export function proceedRset(ctx: Context, _cmd: Rset): void {
  ctx.resetTransaction();
  ctx.reply(R.ok);
  ctx.enterState(ctx.idleState());
}
