// The end of a transaction's data, shared by DATA and BDAT: content checks, the Received header, the
// assembled message and the 'enqueue' effect the host answers with Session.enqueued().
import { type Context, State, type Transaction } from './context.ts';
import { countReceivedHeaders, MessageSink } from './data-reader.ts';
import { protocolName, receivedHeader } from './received.ts';
import { R, type Reply } from './replies.ts';
import { addMissingHeaders } from './submission.ts';
import type { Envelope } from './types.ts';

const encoder = new TextEncoder();

/** Data is about to flow: the queue id and the receive time are fixed now, once per transaction. */
export function startMessage(ctx: Context, tx: Transaction): MessageSink {
  tx.queueId = ctx.deps.newQueueId();
  tx.receivedAt = ctx.deps.now();
  tx.sink = new MessageSink(ctx.options.maxMessageSize);
  return tx.sink;
}

/** Refuses the message after its data was read; the transaction is dropped, the session goes on. */
export function dropMessage(ctx: Context, reply: Reply, verb: string, detail?: string): void {
  ctx.reject(reply, verb, detail);
  ctx.resetTransaction();
  if (!ctx.closed) ctx.enterState(ctx.idleState());
}

/**
 * Called when the last octet of the message has arrived. Refusals in this order: bare CR/LF (550 5.6.0,
 * see data-reader.ts), size (552 5.3.4, RFC 1870), mail loop (554 5.4.6, RFC 5321 §6.3). Otherwise emits
 * 'enqueue' and waits; the 250 is only sent once the host says the message is stored (§4.2.5).
 */
export function completeMessage(ctx: Context, verb: 'DATA' | 'BDAT'): void {
  const tx = ctx.tx!;
  const sink = tx.sink!;
  if (sink.bare) return dropMessage(ctx, R.bareLineEnding, verb, `queue id ${tx.queueId}`);
  if (sink.overflow) return dropMessage(ctx, R.sizeExceeded, verb, `${sink.size} octets`);
  const envelope = buildEnvelope(ctx, tx);
  const header = encoder.encode(
    receivedHeader({
      helo: envelope.helo,
      remoteAddress: envelope.clientAddress,
      tls: envelope.tls,
      hostname: ctx.options.hostname,
      protocol: envelope.protocol,
      queueId: envelope.queueId,
      recipient: tx.recipients.length === 1 ? tx.recipients[0].address : null,
      date: envelope.receivedAt,
    }),
  );
  const message = submitted(ctx) ? withSubmissionFixes(ctx, sink.assemble(EMPTY), header, envelope) : sink.assemble(header);
  const max = ctx.options.maxReceivedHeaders;
  const hops = countReceivedHeaders(message, header.length, message.length, max);
  if (hops >= max) return dropMessage(ctx, R.tooManyHops, verb, `${hops} Received fields`);
  tx.size = message.length;
  ctx.enterState(State.Enqueue);
  ctx.emit({ kind: 'enqueue', envelope, message });
}

const EMPTY = new Uint8Array(0);

/** RFC 6409 §8: fix-ups apply to submissions: authenticated sessions and the submission listeners. */
function submitted(ctx: Context): boolean {
  if (!ctx.options.fixSubmissions) return false;
  return ctx.identity !== null || ctx.conn.listener !== 'mx';
}

/** Adds Date/Message-ID to the client's data, then prepends our Received above them (RFC 5321 §4.4). */
function withSubmissionFixes(ctx: Context, data: Uint8Array, header: Uint8Array, envelope: Envelope): Uint8Array {
  // The queue id is unique on this host (time plus 40 random bits) and the hostname scopes it, which is
  // what RFC 5322 §3.6.4 asks of a msg-id; it also ties the message to our logs.
  const fixed = addMissingHeaders(data, { now: envelope.receivedAt, hostname: ctx.options.hostname, idLeft: envelope.queueId });
  const out = new Uint8Array(header.length + fixed.length);
  out.set(header, 0);
  out.set(fixed, header.length);
  return out;
}

function buildEnvelope(ctx: Context, tx: Transaction): Envelope {
  const greeting = ctx.greeting!;
  const tls = ctx.conn.tls;
  return {
    queueId: tx.queueId!,
    sender: tx.sender,
    recipients: tx.recipients,
    bodyType: tx.params.body,
    smtpUtf8: tx.params.smtpUtf8,
    declaredSize: tx.params.size,
    dsnRet: tx.params.ret,
    dsnEnvid: tx.params.envid,
    helo: greeting.name,
    // RFC 3848: ESMTPA / ESMTPSA (and RFC 6531 §4.3 UTF8SMTPA / UTF8SMTPSA) after a successful AUTH.
    protocol: protocolName(greeting.verb === 'EHLO', tls !== null, ctx.identity !== null, tx.params.smtpUtf8),
    clientAddress: ctx.conn.remoteAddress,
    clientPort: ctx.conn.remotePort,
    listener: ctx.conn.listener,
    tls,
    authUser: ctx.identity?.user ?? null,
    receivedAt: tx.receivedAt!,
  };
}
