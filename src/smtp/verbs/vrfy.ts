// VRFY (RFC 5321 §4.1.1.6): never reveals whether a mailbox exists (§7.3); 252 or 502 by configuration.
import { type Context, PASS, refuse, type SessionView, type Verdict } from '../context.ts';
import type { Command } from '../parser.ts';
import { R } from '../replies.ts';

type Vrfy = Extract<Command, { verb: 'VRFY' }>;

export function checkVrfy(view: SessionView, _cmd: Vrfy): Verdict<void> {
  return view.options.vrfy === 'disabled' ? refuse(R.vrfyDisabled) : PASS;
}

/** §3.5.3: 252 "Cannot VRFY user, but will accept message and attempt delivery". */
export function proceedVrfy(ctx: Context, _cmd: Vrfy): void {
  ctx.reply(R.vrfyAmbiguous);
}
