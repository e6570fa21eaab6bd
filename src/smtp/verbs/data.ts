// DATA (RFC 5321 §4.1.1.4): 354, then the session reads octets with the DotReader until CRLF.CRLF.
import { type Context, PASS, refuse, type SessionView, State, type Verdict } from '../context.ts';
import { DotReader } from '../data-reader.ts';
import { completeMessage, startMessage } from '../message.ts';
import type { Command } from '../parser.ts';
import { R } from '../replies.ts';

type Data = Extract<Command, { verb: 'DATA' }>;

export function checkData(view: SessionView, _cmd: Data): Verdict<void> {
  if (view.greeting === null) return refuse(R.needHelo);
  const tx = view.tx;
  if (tx === null) return refuse(R.needMail);
  // RFC 3030 §2: "If a DATA statement is issued after a BDAT for the current transaction, a 503".
  if (tx.mode === 'bdat') return refuse(R.dataAfterBdat);
  // RFC 5321 §3.3: "If there was no MAIL, or no RCPT, command, or all such commands were rejected" -> 503.
  if (tx.recipients.length === 0) return refuse(R.needRcpt);
  return PASS;
}

export function proceedData(ctx: Context, _cmd: Data): void {
  const tx = ctx.tx!;
  tx.mode = 'data';
  ctx.dot = new DotReader(startMessage(ctx, tx));
  ctx.reply(R.dataStart);
  ctx.enterState(State.Data);
}

/** The DotReader found the end of data. */
export function finishData(ctx: Context): void {
  ctx.dot = null;
  completeMessage(ctx, 'DATA');
}
