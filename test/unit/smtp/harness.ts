// A fake host for Session tests: performs effects in memory, records replies, stored messages and logs.
import { Session } from '../../../src/smtp/session.ts';
import type {
  AuthAnswer,
  ConnectionInfo,
  PolicyQuery,
  PolicyVerdict,
  Effect,
  EnqueueOutcome,
  Envelope,
  SessionDeps,
  SessionOptions,
} from '../../../src/smtp/types.ts';
import {
  type SessionOptionOverrides,
  testConnection,
  testSessionDeps,
  testSessionOptions,
} from '../../support/session-options.ts';

export interface Stored {
  envelope: Envelope;
  message: Uint8Array;
  text: string;
}

export interface DriverOptions {
  options?: SessionOptionOverrides;
  conn?: Partial<ConnectionInfo>;
  deps?: SessionDeps;
  /** Answer to every 'enqueue'; null = leave it outstanding (call answer() later). */
  enqueue?: EnqueueOutcome | null;
  /** Answer 'starttls' at once with this TLS info; null = leave it outstanding. */
  tls?: { protocol: string; cipher: string } | null;
  /** Answers each 'auth' step at once; absent or returning null = leave it outstanding. */
  auth?: (mechanism: string, response: Uint8Array | null) => AuthAnswer | null;
  /** Answers each 'policy' query at once; absent or returning null = leave it outstanding. */
  policy?: (query: PolicyQuery) => PolicyVerdict | null;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** Drives one Session like a server would, synchronously. */
export class Driver {
  readonly session: Session;
  readonly options: SessionOptions;
  /** Every effect, in order, as returned. */
  readonly effects: Effect[] = [];
  /** All reply text sent so far. */
  sent = '';
  readonly stored: Stored[] = [];
  closed = false;
  tlsRequested = false;
  enqueueRequested = false;
  /** Every 'auth' and 'policy' effect seen, in order. */
  readonly authSteps: Array<{ mechanism: string; response: Uint8Array | null; tls: boolean }> = [];
  readonly policyQueries: PolicyQuery[] = [];
  readonly #enqueue: EnqueueOutcome | null;
  readonly #tls: { protocol: string; cipher: string } | null;
  readonly #auth: DriverOptions['auth'];
  readonly #policy: DriverOptions['policy'];

  constructor(o: DriverOptions = {}) {
    this.options = testSessionOptions(o.options);
    this.session = new Session(testConnection(o.conn), this.options, o.deps ?? testSessionDeps());
    this.#enqueue = o.enqueue === undefined ? { ok: true } : o.enqueue;
    this.#tls = o.tls === undefined ? null : o.tls;
    this.#auth = o.auth;
    this.#policy = o.policy;
  }

  answerAuth(answer: AuthAnswer): string {
    return this.#apply(this.session.authAnswer(answer));
  }

  answerPolicy(verdict: PolicyVerdict): string {
    return this.#apply(this.session.policyAnswer(verdict));
  }

  /** Greets and returns the greeting text. */
  greet(): string {
    return this.#apply(this.session.greet());
  }

  /** Feeds text or bytes in one receive() call; returns the reply text produced (including by answers). */
  send(data: string | Uint8Array): string {
    return this.#apply(this.session.receive(typeof data === 'string' ? encoder.encode(data) : data));
  }

  /** Feeds the bytes split at the given positions. */
  sendSplit(data: Uint8Array, cuts: number[]): string {
    let out = '';
    let at = 0;
    for (const cut of [...cuts, data.length]) {
      out += this.#apply(this.session.receive(data.slice(at, cut)));
      at = cut;
    }
    return out;
  }

  answerEnqueue(outcome: EnqueueOutcome): string {
    this.enqueueRequested = false;
    return this.#apply(this.session.enqueued(outcome));
  }

  answerTls(info = { protocol: 'TLSv1.3', cipher: 'TEST' }): string {
    this.tlsRequested = false;
    return this.#apply(this.session.tlsStarted(info));
  }

  apply(effects: Effect[]): string {
    return this.#apply(effects);
  }

  /** Log effects with this event name. */
  logs(event: string): Array<Record<string, unknown>> {
    return this.effects.filter((e) => e.kind === 'log' && e.event === event).map((e) =>
      (e as { fields: Record<string, unknown> }).fields
    );
  }

  #apply(effects: Effect[]): string {
    let out = '';
    for (const e of effects) {
      this.effects.push(e);
      switch (e.kind) {
        case 'send':
          if (this.closed) throw new Error('send after close');
          out += e.data;
          this.sent += e.data;
          break;
        case 'enqueue':
          this.stored.push({ envelope: e.envelope, message: e.message, text: decoder.decode(e.message) });
          this.enqueueRequested = true;
          if (this.#enqueue !== null) out += this.answerEnqueue(this.#enqueue);
          break;
        case 'starttls':
          this.tlsRequested = true;
          if (this.#tls !== null) out += this.answerTls(this.#tls);
          break;
        case 'auth': {
          this.authSteps.push({ mechanism: e.mechanism, response: e.response, tls: e.tls });
          const answer = this.#auth?.(e.mechanism, e.response) ?? null;
          if (answer !== null) out += this.answerAuth(answer);
          break;
        }
        case 'policy': {
          this.policyQueries.push(e.query);
          const verdict = this.#policy?.(e.query) ?? null;
          if (verdict !== null) out += this.answerPolicy(verdict);
          break;
        }
        case 'close':
          if (this.closed) throw new Error('closed twice');
          this.closed = true;
          break;
        case 'log':
          break;
      }
    }
    return out;
  }
}

/** Reply lines of a text, without CRLF. */
export function lines(text: string): string[] {
  return text.split('\r\n').filter((l, i, all) => i < all.length - 1 || l !== '');
}

/** A Driver past the greeting and EHLO (reply text discarded). */
export function ehloDriver(o: DriverOptions = {}): Driver {
  const d = new Driver(o);
  d.greet();
  d.send('EHLO client.test\r\n');
  return d;
}

/** Deterministic PRNG (mulberry32) for property tests: failures replay with their seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function bytes(text: string): Uint8Array {
  return encoder.encode(text);
}
