// One client connection's I/O: writes commands, reads replies through the sans-I/O ReplyReader with a
// timeout per reply, upgrades to TLS, and records every reply line in the attempt's trace.
import type * as net from 'node:net';
import * as tls from 'node:tls';
import { QUIT } from '../../smtp/client/commands.ts';
import { type ClientReply, ReplyReader } from '../../smtp/client/reply.ts';
import type { TlsInfo } from '../../smtp/types.ts';
import type { AttemptTrace } from '../types.ts';

/** What one read produced: a reply, or why none will come (the channel is then unusable). */
export type ReadResult =
  | { kind: 'reply'; reply: ClientReply }
  | { kind: 'lost' | 'timeout' | 'protocol'; detail: string };

/** Where a channel goes: a TCP address (host is the name it was found under) or a Unix socket. */
export type Endpoint = { kind: 'tcp'; host: string; ip: string; port: number } | { kind: 'unix'; path: string };

export interface TlsOutcome {
  ok: boolean;
  /** Chain valid for the trusted CAs and the certificate names `name` (RFC 6125 via checkServerIdentity). */
  verified: boolean;
  /** Why the handshake failed, or why the certificate did not verify. */
  detail: string;
}

// Replies read but not yet asked for. Pipelined groups bring a burst of them; past this many the socket
// is paused, so a peer sending replies nobody asked for cannot grow memory.
const MAX_QUEUED = 64;
const CLOSE_GRACE = 1000; // ms to let a QUIT reach the peer before the socket is destroyed
const encoder = new TextEncoder();

/** "mx.example.com [192.0.2.1]:25" or "unix:/path": RecipientResult.remote and log text. */
export function describe(e: Endpoint): string {
  if (e.kind === 'unix') return `unix:${e.path}`;
  // An address literal has no name to show: "[192.0.2.1]:25" (RFC 3464 §2.3.5 mta-name then uses the IP).
  const literal = e.host.replace(/^\[(?:ipv6:)?|\]$/gi, '').toLowerCase() === e.ip.toLowerCase();
  return literal ? `[${e.ip}]:${e.port}` : `${e.host} [${e.ip}]:${e.port}`;
}

export function newTrace(e: Endpoint): AttemptTrace {
  return e.kind === 'unix'
    ? { host: `unix:${e.path}`, ip: '', port: 0, tls: null, replies: [], error: null }
    : { host: e.host, ip: e.ip, port: e.port, tls: null, replies: [], error: null };
}

/**
 * Owns the socket (plain, then TLS after STARTTLS). One reader at a time: read() is awaited before the
 * next. After 'lost', 'timeout' or 'protocol' every later read gives the same result.
 */
export class Channel {
  readonly endpoint: Endpoint;
  trace: AttemptTrace;
  tls: TlsInfo | null = null;
  #socket: net.Socket;
  #reader = new ReplyReader();
  #queue: ClientReply[] = [];
  #end: ReadResult | null = null;
  #error = '';
  #waiter: ((r: ReadResult) => void) | null = null;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #timeoutMs = 0;
  #closeListeners: Array<() => void> = [];
  #resolveClosed!: () => void;
  /** Settles when the socket is closed (after quit() at most CLOSE_GRACE later). */
  readonly closed: Promise<void> = new Promise((resolve) => (this.#resolveClosed = resolve));

  constructor(socket: net.Socket, endpoint: Endpoint) {
    this.#socket = socket;
    this.endpoint = endpoint;
    this.trace = newTrace(endpoint);
    this.#attach(socket);
    socket.setNoDelay?.(true);
  }

  /** Connected, nothing unread, nothing half-read: fit to start a transaction on (pool check). */
  get idle(): boolean {
    return this.#end === null && this.#queue.length === 0 && !this.#reader.partial && !this.#socket.destroyed;
  }

  get open(): boolean {
    return this.#end === null && !this.#socket.destroyed;
  }

  /** Starts a new trace for a reused connection (the next job's AttemptTrace). */
  restartTrace(): AttemptTrace {
    this.trace = { ...newTrace(this.endpoint), tls: this.tls };
    return this.trace;
  }

  /** Called once when the connection ends (the pool drops it). */
  onClose(fn: () => void): void {
    this.#closeListeners.push(fn);
  }

  write(data: string | Uint8Array): void {
    if (this.open) this.#socket.write(data);
  }

  /**
   * A pipelined group (RFC 2920 §3.1) or a BDAT line with its chunk, as one write: with Nagle off, each
   * write can become a TCP segment of its own, and a group sent piecemeal costs the peer a read per command.
   */
  writeAll(parts: ReadonlyArray<string | Uint8Array>): void {
    if (parts.length === 0) return;
    if (parts.length === 1) return this.write(parts[0]);
    if (parts.every((p) => typeof p === 'string')) return this.write(parts.join(''));
    const bytes = parts.map((p) => (typeof p === 'string' ? encoder.encode(p) : p));
    const out = new Uint8Array(bytes.reduce((n, b) => n + b.length, 0));
    let at = 0;
    for (const b of bytes) {
      out.set(b, at);
      at += b.length;
    }
    this.write(out);
  }

  /**
   * The next reply within `timeoutMs` (RFC 5321 §4.5.3.2). The timer restarts whenever written data drains:
   * while a large message is still going out, the peer is reading, and the end-of-data wait starts then.
   */
  read(timeoutMs: number): Promise<ReadResult> {
    const queued = this.#queue.shift();
    if (queued !== undefined) {
      if (this.#queue.length < MAX_QUEUED && this.#socket.isPaused()) this.#socket.resume();
      return Promise.resolve({ kind: 'reply', reply: queued });
    }
    if (this.#end !== null) return Promise.resolve(this.#end);
    return new Promise((resolve) => {
      this.#waiter = resolve;
      this.#timeoutMs = timeoutMs;
      this.#arm();
    });
  }

  /** Ends the channel now: every pending and later read gets `result`. */
  abort(result: ReadResult): void {
    this.#finish(result);
    this.#socket.destroy();
  }

  /** Polite end: QUIT (RFC 5321 §4.1.1.10) without waiting for the 221, then close. */
  quit(): void {
    if (this.open) {
      this.#socket.write(QUIT);
      this.#socket.end();
      const s = this.#socket;
      setTimeout(() => s.destroy(), CLOSE_GRACE).unref?.();
    }
    this.#finish({ kind: 'lost', detail: 'closed by us' });
  }

  /**
   * RFC 3207 upgrade after the peer's 220. Anything the peer sent after that 220 is refused, not kept:
   * plaintext injected by a man in the middle would otherwise be read as a reply from inside TLS
   * (the client side of the STARTTLS injection class, CVE-2011-1430). The certificate is always checked
   * (so logs and MTA-STS testing can say whether it would verify); `verify` decides whether that matters.
   */
  startTls(o: { context: tls.SecureContext; name: string | null; timeoutMs: number }): Promise<TlsOutcome> {
    if (!this.idle) {
      this.abort({ kind: 'protocol', detail: 'data after the STARTTLS reply' });
      return Promise.resolve({ ok: false, verified: false, detail: 'peer sent data after its STARTTLS reply' });
    }
    const plain = this.#socket;
    this.#detach(plain);
    plain.on('error', () => {});
    plain.once('close', () => this.#resolveClosed());
    return new Promise((resolve) => {
      const secure = tls.connect({
        socket: plain,
        secureContext: o.context,
        // SNI takes host names only (RFC 6066 §3); an address literal has none.
        servername: o.name !== null && !isIpText(o.name) ? o.name : undefined,
        // Checked below by hand: the runtimes disagree on the name they check when none is given (Deno
        // uses "localhost"), and opportunistic TLS must not fail on a certificate it does not check.
        rejectUnauthorized: false,
        checkServerIdentity: () => undefined,
      });
      let settled = false;
      const timer = setTimeout(() => done(false, 'TLS handshake timed out'), o.timeoutMs);
      const done = (ok: boolean, detail: string): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        secure.off('error', onError);
        secure.off('close', onClose);
        if (!ok) {
          secure.destroy();
          plain.destroy();
          this.#finish({ kind: 'lost', detail });
          resolve({ ok: false, verified: false, detail });
          return;
        }
        this.#socket = secure;
        this.#reader.reset();
        this.#attach(secure);
        this.tls = { protocol: secure.getProtocol() ?? 'TLS', cipher: secure.getCipher()?.name ?? 'unknown' };
        this.trace.tls = this.tls;
        resolve(verify(secure, o.name));
      };
      const onError = (err: Error): void => done(false, err.message);
      const onClose = (): void => done(false, 'connection closed during the TLS handshake');
      secure.once('error', onError);
      secure.once('close', onClose);
      secure.once('secureConnect', () => done(true, ''));
    });
  }

  #attach(s: net.Socket): void {
    s.on('data', this.#onData);
    s.on('drain', this.#onDrain);
    s.on('error', this.#onError);
    s.on('close', this.#onClose);
  }

  #detach(s: net.Socket): void {
    s.off('data', this.#onData);
    s.off('drain', this.#onDrain);
    s.off('error', this.#onError);
    s.off('close', this.#onClose);
  }

  readonly #onData = (chunk: Uint8Array): void => {
    for (const ev of this.#reader.feed(chunk)) {
      if (ev.kind === 'error') {
        this.abort({ kind: 'protocol', detail: ev.reason });
        return;
      }
      this.trace.replies.push(...ev.reply.lines);
      if (this.#waiter !== null) this.#deliver({ kind: 'reply', reply: ev.reply });
      else this.#queue.push(ev.reply);
    }
    if (this.#queue.length >= MAX_QUEUED) this.#socket.pause();
  };

  readonly #onDrain = (): void => {
    if (this.#waiter !== null) this.#arm();
  };

  readonly #onError = (err: Error): void => {
    this.#error = (err as { code?: string }).code ?? err.message;
  };

  readonly #onClose = (): void => {
    this.#resolveClosed();
    const why = this.#error === '' ? 'connection closed by peer' : `connection lost (${this.#error})`;
    this.#finish({ kind: 'lost', detail: why });
  };

  #arm(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.abort({ kind: 'timeout', detail: `no reply within ${this.#timeoutMs} ms` });
    }, this.#timeoutMs);
  }

  #deliver(r: ReadResult): void {
    const w = this.#waiter;
    this.#waiter = null;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    w?.(r);
  }

  #finish(r: ReadResult): void {
    if (this.#end !== null) return;
    this.#end = r;
    if (r.kind !== 'reply' && this.trace.error === null && r.detail !== 'closed by us') this.trace.error = r.detail;
    this.#deliver(r);
    for (const fn of this.#closeListeners.splice(0)) fn();
  }
}

function isIpText(name: string): boolean {
  return /^[0-9.]+$/.test(name) || name.includes(':');
}

/** Chain (the context's CAs) and name (RFC 6125 rules as node:tls implements them) of the peer's certificate. */
function verify(s: tls.TLSSocket, name: string | null): TlsOutcome {
  if (!s.authorized) {
    return { ok: true, verified: false, detail: `certificate not trusted: ${String(s.authorizationError ?? 'unknown')}` };
  }
  if (name === null) return { ok: true, verified: false, detail: 'no name to check the certificate against' };
  const err = tls.checkServerIdentity(name, s.getPeerCertificate());
  if (err !== undefined) return { ok: true, verified: false, detail: err.message };
  return { ok: true, verified: true, detail: '' };
}
