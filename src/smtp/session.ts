// One SMTP server session, sans-I/O: bytes in, effects out. Holds the dispatch table and the
// cross-cutting policy (error budget, HTTP, line limits, STARTTLS injection, shutdown, crashes).
import { Context, type SessionView, State, STATE_NAMES, type Verdict } from './context.ts';
import { NO_PARAMS } from './extensions.ts';
import { InputBuffer } from './input.ts';
import { type Command, decodeLine, LineReader, parseCommand, TOO_LONG, type Verb } from './parser.ts';
import { applyVerdict, askPolicy, POLICY_STAGE, policyFor } from './policy.ts';
import { greeting, hostReply, queued, R } from './replies.ts';
import { MAX_SASL_LINE } from './sasl.ts';
import type {
  AuthAnswer,
  ConnectionInfo,
  Effect,
  EnqueueOutcome,
  PolicyVerdict,
  SessionDeps,
  SessionOptions,
  SessionPhase,
  TlsInfo,
} from './types.ts';
import { answerAuth, authResponseLine, checkAuth, proceedAuth } from './verbs/auth.ts';
import { checkBdatCommand, finishChunk, proceedBdat } from './verbs/bdat.ts';
import { checkData, finishData, proceedData } from './verbs/data.ts';
import { checkEhlo, proceedEhlo } from './verbs/ehlo.ts';
import { checkExpn, proceedExpn } from './verbs/expn.ts';
import { checkHelp, proceedHelp } from './verbs/help.ts';
import { checkMail, proceedMail } from './verbs/mail.ts';
import { checkNoop, proceedNoop } from './verbs/noop.ts';
import { checkQuit, proceedQuit } from './verbs/quit.ts';
import { checkRcpt, proceedRcpt } from './verbs/rcpt.ts';
import { checkRset, proceedRset } from './verbs/rset.ts';
import { checkStartTls, proceedStartTls } from './verbs/starttls.ts';
import { checkVrfy, proceedVrfy } from './verbs/vrfy.ts';
import { errorText } from '../lib/errors.ts';

export { State } from './context.ts';

/** A verb's two halves (STYLE §2): check reads and decides, proceed acts on the decision. */
interface VerbHandler<C extends Command, T> {
  check(view: SessionView, cmd: C): Verdict<T>;
  proceed(ctx: Context, cmd: C, value: T): void;
}

type HandlerTable = { [V in Verb]: VerbHandler<Extract<Command, { verb: V }>, never> };

function handler<C extends Command, T>(
  check: (view: SessionView, cmd: C) => Verdict<T>,
  proceed: (ctx: Context, cmd: C, value: T) => void,
): VerbHandler<C, never> {
  // The table forgets each verb's plan type T; a check's value only ever goes to the same verb's proceed.
  return { check, proceed } as unknown as VerbHandler<C, never>;
}

const HANDLERS: HandlerTable = {
  EHLO: handler(checkEhlo, proceedEhlo),
  HELO: handler(checkEhlo, proceedEhlo),
  MAIL: handler(checkMail, proceedMail),
  RCPT: handler(checkRcpt, proceedRcpt),
  DATA: handler(checkData, proceedData),
  BDAT: handler(checkBdatCommand, proceedBdat),
  RSET: handler(checkRset, proceedRset),
  NOOP: handler(checkNoop, proceedNoop),
  QUIT: handler(checkQuit, proceedQuit),
  STARTTLS: handler(checkStartTls, proceedStartTls),
  VRFY: handler(checkVrfy, proceedVrfy),
  EXPN: handler(checkExpn, proceedExpn),
  HELP: handler(checkHelp, proceedHelp),
  AUTH: handler(checkAuth, proceedAuth),
};

/** States in which the session waits for an answer from its host and reads no input. */
function awaitingHost(state: State): boolean {
  return state === State.Enqueue || state === State.StartTls || state === State.Auth || state === State.Policy;
}

/**
 * The protocol engine for one connection. The host calls greet() once, then receive() with every chunk
 * read from the socket, and answers the 'enqueue', 'starttls', 'auth' and 'policy' effects with enqueued() /
 * tlsStarted() / tlsFailed() / authAnswer() / policyAnswer(). Every method returns the effects to perform,
 * in order, and never throws. Input received before greet() produced the 220 ends the session (early talker).
 *
 * Ownership: receive() keeps the given Uint8Array by reference (message data is sliced from it, not
 * copied); the caller must not modify it afterwards.
 */
export class Session {
  readonly #ctx: Context;
  readonly #input = new InputBuffer();
  readonly #lines: LineReader;

  constructor(conn: ConnectionInfo, options: SessionOptions, deps: SessionDeps) {
    this.#ctx = new Context(conn, options, deps);
    this.#lines = new LineReader(options.maxCommandLine);
  }

  /** 'data' while inside DATA or BDAT octets (RFC 5321 §4.5.3.2 data timeouts), else 'command'. */
  get phase(): SessionPhase {
    const s = this.#ctx.state;
    return s === State.Data || s === State.Bdat ? 'data' : 'command';
  }

  /** An enqueue, STARTTLS, auth or policy answer is outstanding: the host should stop reading (backpressure). */
  get waiting(): boolean {
    return awaitingHost(this.#ctx.state);
  }

  /**
   * The outstanding 'auth' effect continues an exchange (a response to a 334) rather than starting one with
   * the AUTH command; a host keeping per-exchange state drops what a cancelled or failed exchange left.
   */
  get authContinued(): boolean {
    return this.#ctx.authContinued;
  }

  /** The user authenticated in this session, or null. */
  get authUser(): string | null {
    return this.#ctx.identity?.user ?? null;
  }

  get closed(): boolean {
    return this.#ctx.closed;
  }

  /** Octets held in memory: unread input plus message data kept so far. For limits and tests. */
  get bufferedBytes(): number {
    return this.#input.size + (this.#ctx.tx?.sink?.held ?? 0);
  }

  /**
   * The 220 greeting (RFC 5321 §4.2, §3.1). The host may call it late (a greeting delay). With a 'connect'
   * policy stage the verdict comes first: the 220 waits for policyAnswer().
   */
  greet(): Effect[] {
    const ctx = this.#ctx;
    if (ctx.closed || ctx.greeted || ctx.pendingPolicy !== null) return [];
    return this.#guard(() => {
      const send = (): void => {
        ctx.greeted = true;
        // The host logs the connection itself (it knows more: trust, TLS cipher), so the session does not repeat it.
        ctx.sendText(greeting(ctx.options.hostname));
      };
      if (ctx.options.policyStages?.has('connect')) {
        askPolicy(ctx, 'CONNECT', 'connect', null, null, null, send);
      } else {
        send();
      }
    });
  }

  /** Feeds any split of the byte stream; complete commands are processed in order (RFC 2920). */
  receive(bytes: Uint8Array): Effect[] {
    const ctx = this.#ctx;
    if (ctx.closed) return [];
    if (!ctx.greeted) {
      // RFC 5321 §4.3.1 and RFC 2920 §3.1: the client waits for the 220. Bulk senders that do not wait are
      // caught by a greeting delay or a pending connect-stage policy check.
      ctx.log('reject', { verb: '?', code: R.earlyTalker.code, reason: R.earlyTalker.tag, bytes: bytes.length }, 'warn');
      ctx.reply(R.earlyTalker);
      ctx.close();
      return ctx.take();
    }
    if (ctx.state === State.StartTls) {
      // STARTTLS command injection (CVE-2011-0411 class): plaintext after STARTTLS is never a command.
      ctx.log('discard-pipelined', { bytes: bytes.length, when: 'before-tls' }, 'warn');
      return ctx.take();
    }
    this.#input.push(bytes);
    return this.#guard(() => this.#pump());
  }

  /** The host's answer to the last 'enqueue'. Then buffered pipelined input is processed. */
  enqueued(outcome: EnqueueOutcome): Effect[] {
    const ctx = this.#ctx;
    if (ctx.closed) return []; // e.g. timed out while the queue was busy
    return this.#guard(() => {
      if (ctx.state !== State.Enqueue) {
        ctx.log('unexpected-answer', { answer: 'enqueued', state: STATE_NAMES[ctx.state] }, 'error');
        return;
      }
      const tx = ctx.tx!;
      if (outcome.ok) {
        ctx.reply(queued(tx.queueId!));
        ctx.log('transaction', {
          id: tx.queueId,
          sender: tx.sender,
          recipients: tx.recipients.length,
          size: tx.size,
          mode: tx.mode,
        });
      } else if (outcome.reply !== undefined) {
        // The host refused the message itself (e.g. DMARC p=reject: 550 5.7.1): final, not a retry hint.
        const refusal = hostReply(outcome.reply, 'message-refused');
        ctx.reply(refusal);
        ctx.log('message-refused', { id: tx.queueId, code: refusal.code, reason: outcome.reason });
      } else {
        ctx.reply(R.enqueueFailed);
        ctx.log('enqueue-failed', { id: tx.queueId, reason: outcome.reason }, 'warn');
      }
      ctx.resetTransaction();
      ctx.enterState(ctx.idleState());
      this.#pump();
    });
  }

  /** The host's answer to the last 'auth' effect (see answerAuth in verbs/auth.ts); then buffered input. */
  authAnswer(answer: AuthAnswer): Effect[] {
    const ctx = this.#ctx;
    if (ctx.closed) return [];
    return this.#guard(() => {
      if (ctx.state !== State.Auth) {
        ctx.log('unexpected-answer', { answer: 'authAnswer', state: STATE_NAMES[ctx.state] }, 'error');
        return;
      }
      answerAuth(ctx, answer);
      this.#pump();
    });
  }

  /** The host's verdict on the pending policy query; then buffered pipelined input is processed. */
  policyAnswer(verdict: PolicyVerdict): Effect[] {
    const ctx = this.#ctx;
    if (ctx.closed) return [];
    return this.#guard(() => {
      const pending = ctx.pendingPolicy;
      if (ctx.state !== State.Policy || pending === null) {
        ctx.log('unexpected-answer', { answer: 'policyAnswer', state: STATE_NAMES[ctx.state] }, 'error');
        return;
      }
      applyVerdict(ctx, pending, verdict);
      this.#pump();
    });
  }

  /**
   * TLS is up (RFC 3207 §4.2): forget everything learnt in plaintext — greeting, transaction, input — so the
   * client must EHLO again; STARTTLS is no longer offered and the Received protocol becomes ESMTPS.
   */
  tlsStarted(info: TlsInfo): Effect[] {
    const ctx = this.#ctx;
    if (ctx.closed) return [];
    return this.#guard(() => {
      if (ctx.state !== State.StartTls) {
        ctx.log('unexpected-answer', { answer: 'tlsStarted', state: STATE_NAMES[ctx.state] }, 'error');
        return;
      }
      this.#discardInput('after-tls');
      ctx.conn.tls = { protocol: info.protocol, cipher: info.cipher };
      ctx.greeting = null;
      ctx.identity = null; // RFC 3207 §4.2: discard any knowledge obtained from the client, AUTH included
      ctx.tables = NO_PARAMS;
      ctx.resetTransaction();
      ctx.log('starttls', { ok: true, protocol: info.protocol, cipher: info.cipher });
      ctx.enterState(State.Init);
    });
  }

  /** The handshake failed: nothing can be said in plaintext any more, so just close. */
  tlsFailed(): Effect[] {
    const ctx = this.#ctx;
    if (ctx.closed) return [];
    return this.#guard(() => {
      ctx.log('starttls', { ok: false });
      ctx.close();
    });
  }

  /** RFC 5321 §4.5.3.2: the host's timer ran out. */
  timedOut(): Effect[] {
    const ctx = this.#ctx;
    if (ctx.closed) return [];
    return this.#guard(() => {
      ctx.log('timeout', { state: STATE_NAMES[ctx.state], phase: this.phase });
      ctx.reply(R.timeout);
      ctx.close();
    });
  }

  /**
   * The server is stopping. Idle between commands: 421 4.3.2 and close now. Otherwise nothing yet: the
   * session closes at the first command boundary after the current transaction is over.
   */
  shutdown(): Effect[] {
    const ctx = this.#ctx;
    if (ctx.closed) return [];
    return this.#guard(() => {
      if (this.#busy()) {
        ctx.shutdownPending = true;
        return;
      }
      this.#closeForShutdown();
    });
  }

  /** Runs an entry point; a throw is a bug: log it, answer 421 4.3.0, close (STYLE §8). */
  #guard(body: () => void): Effect[] {
    const ctx = this.#ctx;
    try {
      body();
    } catch (err) {
      ctx.log(
        'error',
        { error: errorText(err), stack: (err as Error)?.stack },
        'error',
      );
      if (!ctx.closed) {
        ctx.reply(R.localError);
        ctx.close();
      }
      this.#input.clear();
    }
    return ctx.take();
  }

  /** Mid-transaction, inside data or waiting for the host: shutdown waits. */
  #busy(): boolean {
    const ctx = this.#ctx;
    return ctx.tx !== null || awaitingHost(ctx.state);
  }

  #closeForShutdown(): void {
    const ctx = this.#ctx;
    ctx.log('shutdown', {});
    ctx.reply(R.shuttingDown);
    ctx.close();
    this.#input.clear();
  }

  /** Processes buffered input until it runs out, the session waits for an answer, or it closes. */
  #pump(): void {
    const ctx = this.#ctx;
    while (!ctx.closed) {
      const state = ctx.state;
      if (awaitingHost(state)) return;
      if (state === State.AuthLine) {
        if (!this.#readAuthLine()) return;
        continue;
      }
      if (state === State.Data) {
        if (!this.#readData()) return;
        continue;
      }
      if (state === State.Bdat) {
        if (!this.#readChunk()) return;
        continue;
      }
      if (ctx.shutdownPending && !this.#busy()) return this.#closeForShutdown();
      const line = this.#lines.next(this.#input);
      if (line === null) return;
      this.#handleLine(line);
    }
    this.#input.clear();
  }

  #handleLine(line: Uint8Array | typeof TOO_LONG): void {
    const ctx = this.#ctx;
    if (line === TOO_LONG) return ctx.reject(R.lineTooLong, '?');
    const text = decodeLine(line);
    if (text === null) return ctx.reject(R.invalidCharacters, '?');
    const parsed = parseCommand(text);
    if (parsed.kind === 'error') return ctx.reject(parsed.reply, parsed.verb, parsed.detail);
    if (parsed.kind === 'fatal') {
      // HTTP on the SMTP port (cross-protocol attack) or a BDAT whose octets we cannot count.
      ctx.log(
        'reject',
        { verb: parsed.verb, code: parsed.reply.code, reason: parsed.reply.tag, detail: parsed.detail },
        'warn',
      );
      ctx.reply(parsed.reply);
      ctx.close();
      return;
    }
    this.#dispatch(parsed.command);
  }

  #dispatch(cmd: Command): void {
    const ctx = this.#ctx;
    const h = HANDLERS[cmd.verb] as VerbHandler<Command, unknown>;
    const verdict = h.check(ctx, cmd);
    if (!verdict.ok) return ctx.reject(verdict.reply, cmd.verb, verdict.detail);
    const stages = ctx.options.policyStages;
    if (stages !== undefined && stages.size > 0) {
      const stage = POLICY_STAGE[cmd.verb];
      if (stage !== undefined && stages.has(stage)) return policyFor(ctx, cmd, stage, verdict.value, () => h.proceed(ctx, cmd, verdict.value));
    }
    h.proceed(ctx, cmd, verdict.value);
    if (ctx.state === State.StartTls) this.#discardInput('pipelined-after-starttls');
  }

  /**
   * One line of the SASL exchange, read with its own bound (MAX_SASL_LINE, RFC 4954 §4); false when no
   * complete line is buffered yet.
   */
  #readAuthLine(): boolean {
    const ctx = this.#ctx;
    this.#lines.maxLine = Math.max(MAX_SASL_LINE, ctx.options.maxCommandLine);
    const line = this.#lines.next(this.#input);
    this.#lines.maxLine = ctx.options.maxCommandLine;
    if (line === null) return false;
    authResponseLine(ctx, line);
    return true;
  }

  /** STARTTLS command injection defence: nothing that arrived in plaintext after STARTTLS is obeyed. */
  #discardInput(when: string): void {
    const dropped = this.#input.clear();
    this.#lines.reset();
    if (dropped > 0) this.#ctx.log('discard-pipelined', { bytes: dropped, when }, 'warn');
  }

  /** Feeds DATA octets to the DotReader; true when the data ended (and was answered or enqueued). */
  #readData(): boolean {
    const reader = this.#ctx.dot!;
    const input = this.#input;
    while (input.size > 0) {
      const buf = input.front;
      const from = input.frontOffset;
      const end = reader.scan(buf, from, buf.length);
      if (end < 0) {
        input.skip(buf.length - from);
        continue;
      }
      input.skip(end - from);
      finishData(this.#ctx);
      return true;
    }
    return false;
  }

  /** Consumes the current BDAT chunk; true when it is complete (and was answered or enqueued). */
  #readChunk(): boolean {
    const chunk = this.#ctx.chunk!;
    const input = this.#input;
    while (chunk.reader.remaining > 0 && input.size > 0) {
      input.skip(chunk.reader.consume(input.front, input.frontOffset, input.front.length));
    }
    if (chunk.reader.remaining > 0) return false;
    finishChunk(this.#ctx);
    return true;
  }
}
