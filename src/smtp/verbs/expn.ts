// EXPN (RFC 5321 §4.1.1.7): mailing lists are not exposed (§7.3 lets a server refuse it), so always 502.
import { type Context, refuse, type SessionView, type Verdict } from '../context.ts';
import type { Command } from '../parser.ts';
import { R } from '../replies.ts';

type Expn = Extract<Command, { verb: 'EXPN' }>;

export function checkExpn(_view: SessionView, _cmd: Expn): Verdict<void> {
  return refuse(R.expnDisabled);
}

export function proceedExpn(_ctx: Context, _cmd: Expn): void {
  // Never reached: checkExpn always refuses.
}
