// The mutable state of one SMTP session as the verb handlers see it: state enum, greeting, transaction,
// and the effect/reply accumulator with its single enterState() (STYLE §2, OpenSMTPD smtp_enter_state).
import type { BdatReader, DotReader, MessageSink } from './data-reader.ts';
import { NO_PARAMS, type ParamTables } from './extensions.ts';
import type { MailParams } from './params.ts';
import { R, type Reply } from './replies.ts';
import type {
  ConnectionInfo,
  Effect,
  EnvelopeRecipient,
  LogEffectLevel,
  AuthIdentity,
  SessionDeps,
  SessionOptions,
} from './types.ts';

/** The session states. Numbers so a transition's log effect can be cached by (from, to). */
export const State = {
  Init: 0, // greeted; no EHLO/HELO yet (also right after STARTTLS, RFC 3207 §4.2)
  Ready: 1, // EHLO/HELO done, no transaction
  Mail: 2, // MAIL accepted, no recipient yet
  Rcpt: 3, // at least one recipient accepted
  Data: 4, // reading DATA octets
  Bdat: 5, // reading one BDAT chunk (accepted or being discarded)
  Enqueue: 6, // waiting for the host's enqueued() answer
  StartTls: 7, // waiting for tlsStarted() / tlsFailed()
  Closed: 8,
  Auth: 9, // waiting for the host's authAnswer() (RFC 4954 exchange in progress)
  AuthLine: 10, // a 334 was sent: the next line is a SASL response, not a command
  Policy: 11, // waiting for the host's policyAnswer()
} as const;
export type State = (typeof State)[keyof typeof State];

export const STATE_NAMES: readonly string[] = [
  'init',
  'ready',
  'mail',
  'rcpt',
  'data',
  'bdat',
  'enqueue',
  'starttls',
  'closed',
  'auth',
  'auth-line',
  'policy',
];
const STATE_COUNT = STATE_NAMES.length;

// One frozen log effect per (from, to), made on first use: a state change allocates nothing afterwards.
const transitionLogs: Array<Effect | undefined> = new Array(STATE_COUNT * STATE_COUNT);

function transitionLog(from: State, to: State): Effect {
  const key = from * STATE_COUNT + to;
  let effect = transitionLogs[key];
  if (effect === undefined) {
    effect = Object.freeze({
      kind: 'log',
      event: 'state',
      level: 'debug',
      fields: Object.freeze({ from: STATE_NAMES[from], to: STATE_NAMES[to] }),
    }) as Effect;
    transitionLogs[key] = effect;
  }
  return effect;
}

export interface Greeting {
  verb: 'EHLO' | 'HELO';
  name: string; // the argument as given
}

/** One mail transaction: from MAIL to the end of data, RSET, EHLO or a refusal that drops it. */
export interface Transaction {
  sender: string; // '' for <>
  params: MailParams;
  recipients: EnvelopeRecipient[];
  /** Addresses already accepted: a repeated RCPT gets 250 but is stored once. */
  seen: Set<string>;
  /** Which data command started (RFC 3030 §2: DATA and BDAT never mix in one transaction). */
  mode: 'none' | 'data' | 'bdat';
  queueId: string | null;
  receivedAt: Date | null;
  sink: MessageSink | null;
  /** Line-ending checks carry across the chunks of one BDAT message. */
  bdat: BdatReader | null;
  /** Octets of the assembled message (Received header included), once complete. */
  size: number;
}

/** A BDAT chunk being read: accepted (refusal null) or consumed only to be refused afterwards. */
export interface ChunkInProgress {
  reader: BdatReader;
  size: number;
  last: boolean;
  refusal: { reply: Reply; detail?: string } | null;
  /** Where a refused chunk leaves the session. */
  returnTo: State;
}

/** Result of a check* half: a value for the proceed* half, or the reply that refuses the command. */
export type Verdict<T> = { ok: true; value: T } | { ok: false; reply: Reply; detail?: string };

export function pass<T>(value: T): Verdict<T> {
  return { ok: true, value };
}

export function refuse(reply: Reply, detail?: string): Verdict<never> {
  return detail === undefined ? { ok: false, reply } : { ok: false, reply, detail };
}

export const PASS: Verdict<void> = { ok: true, value: undefined };

/** What check* halves may read: no methods, so they cannot act. */
export type SessionView = Readonly<
  Pick<Context, 'options' | 'conn' | 'state' | 'greeting' | 'tables' | 'tx' | 'identity'>
>;

/** A command that passed its check and waits for the host's policy verdict before it proceeds. */
export interface PendingPolicy {
  verb: string;
  /** Runs the command's proceed half (accept). */
  proceed: () => void;
  /** Where a rejected command leaves the session. */
  returnTo: State;
}

/**
 * Session state plus the output under construction. Replies are concatenated into one pending 'send'
 * (RFC 2920 §3: a pipelined group's replies go out together); any other effect that needs ordering
 * (enqueue, starttls, close) flushes it first.
 */
export class Context {
  readonly conn: ConnectionInfo;
  state: State = State.Init;
  greeting: Greeting | null = null;
  tables: ParamTables = NO_PARAMS;
  tx: Transaction | null = null;
  dot: DotReader | null = null;
  chunk: ChunkInProgress | null = null;
  badCommands = 0;
  /** The 220 went out; before it any input is an early talker (RFC 5321 §4.3.1). */
  greeted = false;
  /** Set by a successful AUTH (RFC 4954); never cleared: a second AUTH is refused (§4). */
  identity: AuthIdentity | null = null;
  /** The mechanism of the exchange in progress. */
  authMechanism: string | null = null;
  /** The pending 'auth' effect carries a response line (a later step), not the AUTH command's. */
  authContinued = false;
  /** A command or the greeting waiting for policyAnswer(). */
  pendingPolicy: PendingPolicy | null = null;
  /** shutdown() came while busy: close at the next command boundary once the transaction is over. */
  shutdownPending = false;
  closed = false;
  readonly #enhanced: boolean;
  #effects: Effect[] = [];
  #send = '';

  readonly options: SessionOptions;
  readonly deps: SessionDeps;

  // Plain fields, not parameter properties: the sources stay erasable TypeScript (node --test runs them too).
  constructor(conn: ConnectionInfo, options: SessionOptions, deps: SessionDeps) {
    this.conn = { ...conn }; // ours to update after STARTTLS
    this.options = options;
    this.deps = deps;
    this.#enhanced = options.extensions.enhancedStatusCodes;
  }

  reply(r: Reply): void {
    this.#send += this.#enhanced ? r.text : r.plain;
  }

  /** Pre-formatted reply text (greeting, EHLO). */
  sendText(text: string): void {
    this.#send += text;
  }

  log(event: string, fields: Record<string, unknown>, level?: LogEffectLevel): void {
    this.#effects.push(level === undefined ? { kind: 'log', event, fields } : { kind: 'log', event, fields, level });
  }

  /** An effect the host must perform after the replies so far are written. */
  emit(effect: Effect): void {
    this.#flush();
    this.#effects.push(effect);
  }

  enterState(to: State): void {
    if (to === this.state) return;
    this.#effects.push(transitionLog(this.state, to));
    this.state = to;
  }

  /**
   * Refuses a command: reply, log, and charge the error budget for 500/501/502/503/504/555. Reaching
   * maxBadCommands ends the session with 421 4.7.0 (the dispatcher's defence against scanners).
   */
  reject(reply: Reply, verb: string, detail?: string): void {
    this.reply(reply);
    const fields: Record<string, unknown> = { verb, code: reply.code, reason: reply.tag };
    if (detail !== undefined) fields.detail = detail;
    this.log('reject', fields);
    if (!reply.bad) return;
    this.badCommands++;
    if (this.badCommands >= this.options.maxBadCommands) {
      this.log('too-many-errors', { count: this.badCommands }, 'warn');
      this.reply(R.tooManyErrors);
      this.close();
    }
  }

  /** Ends the session: the close effect follows every reply already queued. */
  close(): void {
    if (this.closed) return;
    this.emit({ kind: 'close' });
    this.enterState(State.Closed);
    this.closed = true;
    this.resetTransaction();
  }

  resetTransaction(): void {
    this.tx = null;
    this.dot = null;
    this.chunk = null;
  }

  /** The state that follows a finished or dropped transaction. */
  idleState(): State {
    return this.greeting === null ? State.Init : State.Ready;
  }

  /** Everything produced since the last call, pending replies flushed into one 'send'. */
  take(): Effect[] {
    this.#flush();
    const out = this.#effects;
    this.#effects = [];
    return out;
  }

  #flush(): void {
    if (this.#send === '') return;
    this.#effects.push({ kind: 'send', data: this.#send });
    this.#send = '';
  }
}
