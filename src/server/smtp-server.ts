// The SMTP listeners (MX, submission, implicit-TLS submission): accept, admit, hand each socket to a connection.
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Logger } from '../lib/log.ts';
import { replies } from '../smtp/replies.ts';
import type { ListenerKind } from '../smtp/types.ts';
import { type ConnectionContext, normalizeIp, SmtpConnection } from './connection.ts';
import { ConnectionLimiter } from './limits.ts';

export interface ListenerSpec {
  kind: ListenerKind;
  host: string;
  port: number;
}

export interface SmtpServerOptions {
  listeners: ListenerSpec[];
  context: ConnectionContext;
  maxConnections: number;
  maxConnectionsPerIp: number;
  /** PEM material for the implicit-TLS listener (RFC 8314); required when one is configured. */
  tlsKeyCert: { key: string; cert: string } | null;
  log: Logger;
}

export interface BoundListener {
  kind: ListenerKind;
  address: string;
  port: number;
}

export class SmtpServer {
  readonly #servers: Array<{ kind: ListenerKind; server: net.Server }> = [];
  readonly #connections = new Set<SmtpConnection>();
  readonly #limiter: ConnectionLimiter;
  #stopping = false;

  constructor(private readonly opts: SmtpServerOptions) {
    this.#limiter = new ConnectionLimiter(opts.maxConnections, opts.maxConnectionsPerIp);
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  /** Binds every listener; rejects (having closed what it opened) if any address can't be bound. */
  async start(): Promise<BoundListener[]> {
    const bound: BoundListener[] = [];
    try {
      for (const spec of this.opts.listeners) bound.push(await this.#listen(spec));
    } catch (err) {
      await this.#closeListeners();
      throw err;
    }
    return bound;
  }

  async #listen(spec: ListenerSpec): Promise<BoundListener> {
    let server: net.Server;
    if (spec.kind === 'submissions') {
      if (!this.opts.tlsKeyCert) throw new Error('the submissions listener (implicit TLS) needs a certificate');
      const secure = tls.createServer({
        ...this.opts.tlsKeyCert,
        handshakeTimeout: this.opts.context.commandTimeout,
      });
      secure.on('secureConnection', (socket: tls.TLSSocket) => this.#accept(socket, spec.kind));
      secure.on('tlsClientError', (err: Error, socket: tls.TLSSocket) => {
        this.opts.log.debug('tls-failed', { ip: normalizeIp(socket.remoteAddress), error: err.message });
      });
      server = secure;
    } else {
      server = net.createServer((socket) => this.#accept(socket, spec.kind));
    }
    server.on('error', (err) => this.opts.log.error('listener-error', { listener: spec.kind, error: err.message }));
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(new Error(`cannot listen on ${spec.host}:${spec.port} (${spec.kind}): ${err.message}`, { cause: err }));
      server.once('error', onError);
      server.listen({ host: spec.host, port: spec.port, backlog: 1024 }, () => {
        server.off('error', onError);
        resolve();
      });
    });
    this.#servers.push({ kind: spec.kind, server });
    const addr = server.address() as net.AddressInfo;
    return { kind: spec.kind, address: addr.address, port: addr.port };
  }

  #accept(socket: net.Socket, kind: ListenerKind): void {
    const ip = normalizeIp(socket.remoteAddress);
    if (this.#stopping) {
      SmtpConnection.refuse(socket, replies.shuttingDown.text);
      return;
    }
    const admitted = this.#limiter.admit(ip);
    if (typeof admitted === 'string') {
      this.opts.log.warn('reject', { ip, listener: kind, reason: admitted });
      SmtpConnection.refuse(socket, replies.tooManyConnections.text);
      return;
    }
    const conn = new SmtpConnection(socket, kind, ip, this.opts.context, admitted);
    this.#connections.add(conn);
    void conn.done.then(() => this.#connections.delete(conn));
  }

  /**
   * Graceful stop: no new connections; idle sessions get 421 now, sessions mid-transaction finish it
   * (their 250 still means stored); after graceMs whatever is left is dropped unacknowledged.
   */
  async stop(graceMs: number): Promise<void> {
    this.#stopping = true;
    const closing = this.#closeListeners();
    for (const conn of this.#connections) conn.shutdown();
    const all = Promise.all([...this.#connections].map((c) => c.done));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<'expired'>((resolve) => (timer = setTimeout(() => resolve('expired'), graceMs)));
    if ((await Promise.race([all, expired])) === 'expired') {
      this.opts.log.warn('shutdown-grace-expired', { dropped: this.#connections.size });
      for (const conn of this.#connections) conn.destroy();
      await all;
    }
    clearTimeout(timer);
    await closing;
  }

  async #closeListeners(): Promise<void> {
    const servers = this.#servers.splice(0);
    await Promise.all(servers.map(({ server }) => new Promise<void>((resolve) => server.close(() => resolve()))));
  }
}
