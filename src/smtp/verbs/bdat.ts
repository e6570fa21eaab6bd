// BDAT (RFC 3030 §2): a chunk of exactly <size> octets follows the command line at once. The octets are
// consumed even when the command is refused, and the reply comes after them, so the stream stays in sync.
import { type Context, PASS, pass, refuse, type SessionView, State, type Verdict } from '../context.ts';
import { BdatReader } from '../data-reader.ts';
import { completeMessage, dropMessage, startMessage } from '../message.ts';
import type { Command } from '../parser.ts';
import { chunkReceived, R } from '../replies.ts';

type Bdat = Extract<Command, { verb: 'BDAT' }>;

/** Whether this chunk may join the transaction; the answer is only sent once the chunk has been read. */
export function checkBdat(view: SessionView, cmd: Bdat): Verdict<void> {
  if (cmd.badSyntax) return refuse(R.bdatSyntax);
  if (view.greeting === null) return refuse(R.needHelo);
  // CHUNKING is only negotiated by EHLO (RFC 3030 §2); a client that did not see it must not use BDAT.
  if (!view.options.extensions.chunking || view.greeting.verb !== 'EHLO') return refuse(R.chunkingUnavailable);
  const tx = view.tx;
  // Also the case after a refused chunk dropped the transaction: later chunks of it get 503 (RFC 3030 §2).
  if (tx === null) return refuse(R.needMail);
  if (tx.mode === 'data') return refuse(R.dataAfterBdat); // unreachable: DATA completes within its command
  if (tx.recipients.length === 0) return refuse(R.needRcpt);
  return PASS;
}

/** The dispatcher's check: never refuses at once; the verdict travels with the chunk. */
export function checkBdatCommand(view: SessionView, cmd: Bdat): Verdict<Verdict<void>> {
  return pass(checkBdat(view, cmd));
}

/** Starts reading the chunk: into the message when accepted, into nothing when refused. */
export function proceedBdat(ctx: Context, cmd: Bdat, verdict: Verdict<void>): void {
  const returnTo = ctx.state;
  if (!verdict.ok) {
    ctx.chunk = { reader: new BdatReader(null), size: cmd.size, last: cmd.last, refusal: verdict, returnTo };
  } else {
    const tx = ctx.tx!;
    tx.mode = 'bdat';
    if (tx.bdat === null) tx.bdat = new BdatReader(startMessage(ctx, tx));
    ctx.chunk = { reader: tx.bdat, size: cmd.size, last: cmd.last, refusal: null, returnTo };
  }
  ctx.chunk.reader.remaining = cmd.size;
  ctx.enterState(State.Bdat);
}

/** All octets of the chunk were consumed: now reply. */
export function finishChunk(ctx: Context): void {
  const chunk = ctx.chunk!;
  ctx.chunk = null;
  if (chunk.refusal !== null) {
    ctx.enterState(chunk.returnTo);
    ctx.reject(chunk.refusal.reply, 'BDAT', chunk.refusal.detail);
    return;
  }
  const tx = ctx.tx!;
  // Over the limit: say so now rather than after LAST, and drop the transaction (RFC 3030 §2 lets the
  // client stop sending chunks after a 5xx; any it pipelined meet "no transaction" and get 503).
  if (tx.sink!.overflow) return dropMessage(ctx, R.sizeExceeded, 'BDAT', `${tx.sink!.size} octets`);
  if (!chunk.last) {
    ctx.reply(chunkReceived(chunk.size));
    ctx.enterState(State.Rcpt);
    return;
  }
  chunk.reader.finish();
  completeMessage(ctx, 'BDAT');
}
