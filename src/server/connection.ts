// One SMTP connection: feeds socket bytes to the sans-I/O Session and performs the effects it returns.
import type * as net from 'node:net';
import * as tls from 'node:tls';
import type { QueueWriter } from '../queue/types.ts';
import type { Logger } from '../lib/log.ts';
import { Session } from '../smtp/session.ts';
import { replies } from '../smtp/replies.ts';
import type { ConnectionInfo, Effect, ListenerKind, SessionDeps, SessionOptions, TlsInfo } from '../smtp/types.ts';
import type { Admission, InflightBudget } from './limits.ts';

/** What every connection of one server shares. */
export interface ConnectionContext {
  options: SessionOptions;
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
    // STARTTLS is offered only where a certificate exists and the connection is not already encrypted.
    const options = ctx.secureContext ? ctx.options : { ...ctx.options, startTls: false };
    this.#session = new Session(conn, options, ctx.deps);
    this.#attach(socket);
    socket.setNoDelay(true);
    this.#run(this.#session.greet());
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

  #enqueue(envelope: Parameters<QueueWriter['enqueue']>[0], message: Uint8Array): void {
    this.ctx.queue.enqueue(envelope, message).then(
      () => {
        this.#messages++;
        this.#run(this.#session.enqueued({ ok: true }));
      },
      (err: unknown) => {
        const reason = err instanceof Error ? err.message : String(err);
        this.#log.error('enqueue-failed', { id: envelope.queueId, error: reason });
        this.#run(this.#session.enqueued({ ok: false, reason }));
      },
    );
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
