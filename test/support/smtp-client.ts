// A deliberately dumb SMTP client for tests: sends exactly the bytes it is told and reads reply lines.
import * as net from 'node:net';
import * as tls from 'node:tls';

export interface Reply {
  code: number;
  lines: string[]; // full lines without CRLF, e.g. '250-PIPELINING'
  text: string; // lines joined with \n
}

export class TestSmtpClient {
  #socket: net.Socket;
  #buf = '';
  #lines: string[] = [];
  #waiters: Array<() => void> = [];
  #closed = false;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    this.#attach(socket);
  }

  /** `from` binds the client side to another loopback address (127.0.0.2 …) to act as a different peer. */
  static connect(port: number, opts: { tls?: boolean; host?: string; from?: string } = {}): Promise<TestSmtpClient> {
    const host = opts.host ?? '127.0.0.1';
    const localAddress = opts.from;
    return new Promise((resolve, reject) => {
      const socket = opts.tls
        ? tls.connect({ host, port, localAddress, rejectUnauthorized: false, servername: 'localhost' } as tls.ConnectionOptions)
        : net.connect({ host, port, localAddress });
      socket.once(opts.tls ? 'secureConnect' : 'connect', () => {
        socket.off('error', reject);
        resolve(new TestSmtpClient(socket));
      });
      socket.once('error', reject);
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  get socket(): net.Socket {
    return this.#socket;
  }

  #attach(socket: net.Socket): void {
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      this.#buf += chunk;
      let i: number;
      while ((i = this.#buf.indexOf('\n')) >= 0) {
        this.#lines.push(this.#buf.slice(0, i).replace(/\r$/, ''));
        this.#buf = this.#buf.slice(i + 1);
      }
      this.#wake();
    });
    socket.on('close', () => {
      this.#closed = true;
      this.#wake();
    });
    socket.on('error', () => {});
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  /** Next single line, or null when the server closed the connection. */
  async line(timeoutMs = 10_000): Promise<string | null> {
    const deadline = Date.now() + timeoutMs;
    while (this.#lines.length === 0) {
      if (this.#closed) return null;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for a reply line (buffer: ${JSON.stringify(this.#buf)})`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.#lines.shift()!;
  }

  /** Next complete (possibly multiline, RFC 5321 §4.2.1) reply. */
  async reply(timeoutMs?: number): Promise<Reply> {
    const lines: string[] = [];
    for (;;) {
      const line = await this.line(timeoutMs);
      if (line === null) throw new Error(`connection closed after ${JSON.stringify(lines)}`);
      lines.push(line);
      if (line[3] !== '-') break;
    }
    return { code: Number(lines[0].slice(0, 3)), lines, text: lines.join('\n') };
  }

  write(data: string | Uint8Array): void {
    this.#socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  async command(line: string): Promise<Reply> {
    this.write(line + '\r\n');
    return this.reply();
  }

  /** Upgrades after a 220 to STARTTLS: a real TLS handshake over the same socket. */
  async startTls(): Promise<tls.TLSSocket> {
    const plain = this.#socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    const secure = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({ socket: plain, rejectUnauthorized: false, servername: 'localhost' }, () => resolve(s));
      s.once('error', reject);
    });
    this.#socket = secure;
    this.#buf = '';
    this.#lines = [];
    this.#attach(secure);
    return secure;
  }

  /** Resolves when the server has closed the connection. */
  async waitClosed(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#closed) {
      if (Date.now() > deadline) throw new Error('server did not close the connection');
      await this.line(deadline - Date.now()).catch(() => null);
    }
  }

  close(): void {
    this.#socket.destroy();
  }
}

/** One complete transaction; returns the final reply after the data. */
export async function sendMessage(
  c: TestSmtpClient,
  from: string,
  to: string[],
  body: string,
): Promise<Reply> {
  let r = await c.command(`MAIL FROM:<${from}>`);
  if (r.code !== 250) return r;
  for (const rcpt of to) {
    r = await c.command(`RCPT TO:<${rcpt}>`);
    if (r.code !== 250) return r;
  }
  r = await c.command('DATA');
  if (r.code !== 354) return r;
  const stuffed = body.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..');
  c.write(stuffed + (stuffed.endsWith('\r\n') ? '' : '\r\n') + '.\r\n');
  return c.reply();
}
