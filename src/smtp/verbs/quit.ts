// QUIT (RFC 5321 §4.1.1.10): 221, then close.
import { type Context, PASS, type SessionView, type Verdict } from '../context.ts';
import type { Command } from '../parser.ts';
import { R } from '../replies.ts';

type Quit = Extract<Command, { verb: 'QUIT' }>;

export function checkQuit(_view: SessionView, _cmd: Quit): Verdict<void> {
  return PASS;
}

/** An unfinished transaction is simply forgotten (§4.1.1.10: QUIT while one is open aborts it). */
export function proceedQuit(ctx: Context, _cmd: Quit): void {
  ctx.reply(R.bye);
  ctx.close();
}
