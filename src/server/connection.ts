// One SMTP connection: feeds socket bytes to the sans-I/O Session and performs the effects it returns.
import type * as net from 'node:net';
import * as tls from 'node:tls';
import type { QueueWriter } from '../queue/types.ts';
import type { Logger } from '../lib/log.ts';
import { Session } from '../smtp/session.ts';
import { replies } from '../smtp/replies.ts';
import type {
  AuthAnswer,
  ConnectionInfo,
  Effect,
  EnqueueOutcome,
  Envelope,
  ListenerKind,
  PolicyQuery,
  PolicyVerdict,
  SessionDeps,
  SessionOptions,
  TlsInfo,
} from '../smtp/types.ts';
import type { Authenticator, PolicyHook } from './hooks.ts';
import { MessageRefused } from '../queue/refused.ts';
import type { Admission, InflightBudget } from './limits.ts';
import { errorText } from '../lib/errors.ts';

export type { AuthConnection, Authenticator, PolicyHook } from './hooks.ts';

/** What every connection of one server shares. */
export interface ConnectionContext {
  options: SessionOptions;
  /** Per-listener options (AUTH, policy stages differ by listener); a listener not named uses `options`. */
  listenerOptions?: Partial<Record<ListenerKind, SessionOptions>>;
  /** Answers 'auth' effects; absent, every AUTH step fails as temporary (454). */
  authenticator?: Authenticator;
  /** Answers 'policy' effects; absent, every query is accepted. */
  policy?: PolicyHook;
  /**
   * Milliseconds to wait before the 220 on the MX listener for untrusted clients (abuse.greet_delay); a
   * client that talks first is refused by the session (early talker). 0 or absent: greet at once.
   */
  greetDelay?: number;
  deps: SessionDeps;
  queue: QueueWriter;
  log: Logger;
  commandTimeout: number;
  dataTimeout: number;
  secureContext: tls.SecureContext | null;
  budget: InflightBudget;
  isTrusted(ip: string): boolean;
}

/** Strips the IPv4-mapped prefix so '::ffff:127.0.0.1' matches 127.0.0.0/8 and reads naturally in logs. */
export function normalizeIp(ip: string | undefined): string {
  if (!ip) return '';
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

export function tlsInfoOf(socket: tls.TLSSocket): TlsInfo {
  return { protocol: socket.getProtocol() ?? 'TLS', cipher: socket.getCipher()?.name ?? 'unknown' };
}

let nextSid = 0;
const sidPrefix = Date.now().toString(36).slice(-4);

/**
 * Owns the socket for the connection's whole life (including the switch to a TLSSocket after STARTTLS).
 * Reading stops whenever the session waits for an answer or our replies are not being read, so memory per
 * connection stays bounded however the peer behaves.
 */
export class SmtpConnection {
  readonly sid = `${sidPrefix}${(nextSid++).toString(36)}`;
  readonly done: Promise<void>;
  #socket: net.Socket;
  readonly #session: Session;
  readonly #log: Logger;
  readonly #started = Date.now();
  #resolveDone!: () => void;
  #held = 0; // octets of message data counted against the shared budget
  #writeBlocked = false;
  #upgrading = false;
  #ended = false;
  #messages = 0;
  #shedding = false;
  #conn: ConnectionInfo;
  #greetTimer: ReturnType<typeof setTimeout> | null = null;

  /** remoteAddress: already read and normalised by the listener (each read is a syscall on Bun). */
  constructor(
    socket: net.Socket,
    listener: ListenerKind,
    remoteAddress: string,
    private readonly ctx: ConnectionContext,
    private readonly admission: Admission,
  ) {
    this.#socket = socket;
    this.done = new Promise((resolve) => (this.#resolveDone = resolve));
    const conn: ConnectionInfo = {
      remoteAddress,
      remotePort: socket.remotePort ?? 0,
      localAddress: normalizeIp(socket.localAddress),
      localPort: socket.localPort ?? 0,
      listener,
      tls: socket instanceof tls.TLSSocket ? tlsInfoOf(socket) : null,
      trusted: ctx.isTrusted(remoteAddress),
    };
    this.#log = ctx.log.child({ sid: this.sid });
    this.#log.info('connect', {
      ip: conn.remoteAddress,
      port: conn.remotePort,
      listener,
      trusted: conn.trusted,
      ...(conn.tls ? { tls: conn.tls.protocol, cipher: conn.tls.cipher } : {}),
    });
    this.#conn = conn;
    // STARTTLS is offered only where a certificate exists and the connection is not already encrypted.
    const base = ctx.listenerOptions?.[listener] ?? ctx.options;
    const options = ctx.secureContext ? base : { ...base, startTls: false };
    this.#session = new Session(conn, options, ctx.deps);
    this.#attach(socket);
    socket.setNoDelay(true);
    const delay = ctx.greetDelay ?? 0;
    if (delay > 0 && listener === 'mx' && !conn.trusted) {
      // Input arriving meanwhile goes to the session, which refuses it as an early talker (RFC 5321 §4.3.1).
      this.#greetTimer = setTimeout(() => {
        this.#greetTimer = null;
        if (!this.#ended && !this.#session.closed) this.#run(this.#session.greet());
      }, delay);
    } else {
      this.#run(this.#session.greet());
    }
  }

  /** Server shutdown: the session says goodbye now if idle, else after its current transaction. */
  shutdown(): void {
    if (this.#ended) return;
    this.#run(this.#session.shutdown());
  }

  /** Grace period over: drop the connection without a reply. Nothing unacknowledged is lost. */
  destroy(): void {
    this.#socket.destroy();
  }

  /** Refuse a connection before any session exists (limits); the reply is from the shared table. */
  static refuse(socket: net.Socket, text: string): void {
    socket.on('error', () => {});
    socket.end(text);
    setTimeout(() => socket.destroy(), 1000).unref?.();
  }

  #attach(socket: net.Socket): void {
    socket.on('data', this.#onData);
    socket.on('drain', this.#onDrain);
    socket.on('timeout', this.#onTimeout);
    socket.on('error', this.#onError);
    socket.on('close', this.#onClose);
    this.#armTimer();
  }

  #detach(socket: net.Socket): void {
    socket.off('data', this.#onData);
    socket.off('drain', this.#onDrain);
    socket.off('timeout', this.#onTimeout);
    socket.off('error', this.#onError);
    socket.off('close', this.#onClose);
  }

  readonly #onData = (chunk: Uint8Array): void => {
    if (this.#ended || this.#upgrading || this.#shedding) return; // after STARTTLS the plaintext stream is dead; see #upgrade
    // Message data is charged to the shared budget before the session buffers it; a chunk that merely
    // starts DATA (pipelined) is charged after, which over-admits at most one chunk.
    const inData = this.#inData();
    if (inData && !this.#charge(chunk.length)) return;
    const effects = this.#session.receive(chunk);
    if (!inData && this.#inData() && !this.#charge(chunk.length)) return;
    this.#run(effects);
  };

  readonly #onDrain = (): void => {
    this.#writeBlocked = false;
    this.#flowControl();
  };

  readonly #onTimeout = (): void => {
    if (this.#ended) return;
    this.#log.info('timeout', { phase: this.#session.phase, unread: this.#writeBlocked });
    if (this.#writeBlocked) {
      // The peer stopped reading our replies: a polite 421 would never be read and end() would wait on it forever.
      this.#socket.destroy();
      return;
    }
    this.#run(this.#session.timedOut());
  };

  readonly #onError = (err: Error): void => {
    // Peers vanish all the time (ECONNRESET, EPIPE); that's a debug detail, not an operator problem.
    this.#log.debug('socket-error', { error: err.message });
  };

  readonly #onClose = (): void => {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#greetTimer !== null) clearTimeout(this.#greetTimer);
    this.ctx.authenticator?.forget(this.sid);
    this.#releaseHeld();
    this.admission.release();
    this.#log.info('disconnect', { ms: Date.now() - this.#started, messages: this.#messages });
    this.#resolveDone();
  };

  /** Performs effects in order; stops at the first one that needs an answer (the session is then waiting). */
  #run(effects: Effect[]): void {
    let out = '';
    for (const effect of effects) {
      switch (effect.kind) {
        case 'send':
          out += effect.data;
          break;
        case 'log':
          this.#log[effect.level ?? 'info'](effect.event, effect.fields);
          break;
        case 'enqueue':
          out = this.#write(out);
          this.#enqueue(effect.envelope, effect.message);
          break;
        case 'starttls':
          out = this.#write(out);
          this.#upgrade();
          break;
        case 'auth':
          out = this.#write(out);
          this.#auth(effect.mechanism, effect.response, effect.tls);
          break;
        case 'policy':
          out = this.#write(out);
          this.#policy(effect.query);
          break;
        case 'close':
          out = this.#write(out);
          this.#ended || this.#socket.end();
          break;
        default:
          effect satisfies never;
      }
    }
    this.#write(out);
    if (this.#session.phase === 'command' && !this.#session.waiting) this.#releaseHeld();
    this.#flowControl();
  }

  #write(out: string): '' {
    if (out && !this.#socket.destroyed && this.#socket.writable) {
      if (!this.#socket.write(out)) this.#writeBlocked = true;
    }
    return '';
  }

  #enqueue(envelope: Envelope, message: Uint8Array): void {
    this.#store(envelope, message).then(
      (outcome) => {
        if (outcome.ok) this.#messages++;
        this.#run(this.#session.enqueued(outcome));
      },
      (err: unknown) => {
        const reason = errorText(err);
        this.#log.error('enqueue-failed', { id: envelope.queueId, error: reason });
        this.#run(this.#session.enqueued({ ok: false, reason }));
      },
    );
  }

  /**
   * Stores through the host's QueueWriter (src/server/pipeline.ts runs the inbound checks and DKIM signing);
   * a MessageRefused is the host refusing the message (a DMARC reject): answered with its reply, not 451.
   */
  async #store(envelope: Envelope, message: Uint8Array): Promise<EnqueueOutcome> {
    try {
      await this.ctx.queue.enqueue(envelope, message);
    } catch (err) {
      if (err instanceof MessageRefused) return { ok: false, reason: err.message, reply: err.reply };
      throw err;
    }
    return { ok: true };
  }

  /** One SASL step; a failing authenticator is a temporary failure (454 4.7.0), never a success. */
  #auth(mechanism: string, response: Uint8Array | null, tls: boolean): void {
    const auth = this.ctx.authenticator;
    // A new AUTH command: whatever an earlier exchange left (the client cancelled it with "*") is stale.
    if (auth && !this.#session.authContinued) auth.forget(this.sid);
    const answer: Promise<AuthAnswer> = auth
      ? auth.step({ id: this.sid, ip: this.#conn.remoteAddress, tls }, mechanism, response)
      : Promise.resolve({ kind: 'failure', reason: 'temporary' });
    answer.then(
      (a) => this.#answer(() => this.#session.authAnswer(a)),
      (err: unknown) => {
        this.#log.error('auth-error', { mechanism, error: errorText(err) });
        this.#answer(() => this.#session.authAnswer({ kind: 'failure', reason: 'temporary' }));
      },
    );
  }

  /**
   * One policy query. A policy that throws (a bug, or an outage it did not handle itself) must neither
   * bounce mail nor silently accept everything: at MAIL and RCPT the command gets 451 4.3.0 (the client
   * retries later, as Postfix answers a failed lookup); at connect and HELO the session goes on, since the
   * same checks run again where a temporary refusal is meaningful. Logged as an error either way.
   */
  #policy(query: PolicyQuery): void {
    const hook = this.ctx.policy;
    const verdict: Promise<PolicyVerdict> = hook ? hook.check(this.#conn, query) : Promise.resolve({ action: 'accept' });
    verdict.then(
      (v) => this.#answer(() => this.#session.policyAnswer(v)),
      (err: unknown) => {
        this.#log.error('policy-error', { stage: query.stage, error: errorText(err) });
        const failed = replies.policyFailed;
        const v: PolicyVerdict =
          query.stage === 'mail' || query.stage === 'rcpt'
            ? { action: 'reject', reply: { code: failed.code, status: failed.status!, text: failed.message } }
            : { action: 'accept' };
        this.#answer(() => this.#session.policyAnswer(v));
      },
    );
  }

  /** Delivers a hook's answer unless the connection is gone (the session ignores late answers anyway). */
  #answer(call: () => Effect[]): void {
    if (this.#ended) return;
    this.#run(call());
  }

  /**
   * RFC 3207 upgrade. The plaintext listener is removed before the handshake, so any bytes a client
   * pipelined after STARTTLS are never read as commands (STARTTLS command injection, CVE-2011-0411):
   * they either reach TLS as garbage (handshake fails, we close) or were already discarded by the session.
   */
  #upgrade(): void {
    const ctx = this.ctx.secureContext;
    if (!ctx) {
      this.#run(this.#session.tlsFailed());
      return;
    }
    const plain = this.#socket;
    this.#upgrading = true;
    this.#detach(plain);
    plain.on('error', () => {});
    // Paused so that a ClientHello arriving while the TLS layer attaches stays buffered in the stream instead
    // of flowing past with no listener: on Deno most handshakes of fast clients (smtplib) hung without this.
    plain.pause();
    const secure = new tls.TLSSocket(plain, { isServer: true, secureContext: ctx });
    this.#socket = secure;
    const fail = (err: Error): void => {
      this.#log.info('tls-failed', { error: err.message });
      this.#upgrading = false;
      this.#attach(secure);
      this.#run(this.#session.tlsFailed());
      secure.destroy();
    };
    secure.once('error', fail);
    plain.once('close', () => this.#onClose());
    secure.setTimeout(this.ctx.commandTimeout, () => fail(new Error('handshake timeout')));
    secure.once('secure', () => {
      secure.off('error', fail);
      secure.setTimeout(0);
      this.#upgrading = false;
      const info = tlsInfoOf(secure);
      this.#conn = { ...this.#conn, tls: info };
      this.#log.info('tls', { tls: info.protocol, cipher: info.cipher });
      this.#attach(secure);
      this.#run(this.#session.tlsStarted(info));
    });
  }

  /** Pause reading while the session waits or the peer is not reading our replies (pipelining flood). */
  #flowControl(): void {
    if (this.#ended || this.#upgrading) return;
    if (this.#session.waiting || this.#writeBlocked) {
      this.#socket.pause();
      this.#socket.setTimeout(this.#writeBlocked ? this.ctx.commandTimeout : 0);
    } else {
      this.#socket.resume();
      this.#armTimer();
    }
  }

  #armTimer(): void {
    this.#socket.setTimeout(this.#session.phase === 'data' ? this.ctx.dataTimeout : this.ctx.commandTimeout);
  }

  /** A method, not an inline read, so the phase is re-read after receive() changed it. */
  #inData(): boolean {
    return this.#session.phase === 'data';
  }

  #charge(n: number): boolean {
    if (!this.ctx.budget.take(n)) {
      this.#shed();
      return false;
    }
    this.#held += n;
    return true;
  }

  #releaseHeld(): void {
    if (this.#held === 0) return;
    this.ctx.budget.give(this.#held);
    this.#held = 0;
  }

  /** Over the shared memory budget: this session's data is dropped, unacknowledged, and the client told to retry. */
  #shed(): void {
    this.#shedding = true;
    this.#log.warn('shed', { reason: 'inflight-budget', used: this.ctx.budget.used });
    this.#write(replies.insufficientResourcesClosing.text);
    this.#ended || this.#socket.end();
    this.#releaseHeld();
  }
}
