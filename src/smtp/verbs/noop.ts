// NOOP (RFC 5321 §4.1.1.9): 250 and nothing else; its argument is ignored.
import { type Context, PASS, type SessionView, type Verdict } from '../context.ts';
import type { Command } from '../parser.ts';
import { R } from '../replies.ts';

type Noop = Extract<Command, { verb: 'NOOP' }>;

export function checkNoop(_view: SessionView, _cmd: Noop): Verdict<void> {
  return PASS;
}

export function proceedNoop(ctx: Context, _cmd: Noop): void {
  ctx.reply(R.ok);
}
