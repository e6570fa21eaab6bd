// One DNS exchange with one server over UDP or TCP (RFC 1035 §4.2, RFC 7766), bounded by a timeout; never throws.
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { parseIp } from '../lib/cidr.ts';

/** A recursive resolver to ask. */
export interface NameServer {
  host: string; // IPv4 dotted or IPv6 without brackets
  port: number;
  family: 4 | 6;
}

/** Why no reply came: the server stayed silent, or the query could not be sent at all. */
export type Exchange<T> = { ok: true; value: T } | { ok: false; error: 'timeout' | 'network'; message: string };

export function serverLabel(s: NameServer): string {
  return s.family === 6 ? `[${s.host}]:${s.port}` : `${s.host}:${s.port}`;
}

function sameAddress(a: string, b: string): boolean {
  const x = parseIp(a);
  const y = parseIp(b);
  return x !== null && y !== null && x.every((w, i) => w === y[i]);
}

/**
 * Sends `query` from a fresh socket and resolves with the first datagram that comes from the server's address
 * and port and that `accept` takes (returns non-null). A fresh socket per attempt gets a new ephemeral source
 * port chosen by the kernel (randomised on Linux, BSD and Windows): with the random id that is the ~32 bits of
 * entropy RFC 5452 §9.2 asks for against answer forgery. Datagrams from elsewhere are dropped unread.
 */
export function exchangeUdp<T>(
  server: NameServer,
  query: Uint8Array,
  timeoutMs: number,
  accept: (bytes: Uint8Array) => T | null,
): Promise<Exchange<T>> {
  return new Promise((resolve) => {
    let done = false;
    let socket: dgram.Socket;
    const finish = (result: Exchange<T>): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      try {
        socket.close();
      } catch {
        // already closed by an error: nothing to release
      }
      resolve(result);
    };
    const timer = setTimeout(
      () =>
        finish({
          ok: false,
          error: 'timeout',
          message: `no answer from ${serverLabel(server)} within ${timeoutMs} ms`,
        }),
      timeoutMs,
    );
    const fail = (err: Error): void =>
      finish({ ok: false, error: 'network', message: `${serverLabel(server)}: ${err.message}` });
    try {
      socket = dgram.createSocket(server.family === 6 ? 'udp6' : 'udp4');
      socket.on('error', fail);
      socket.on('message', (msg: Uint8Array, rinfo: dgram.RemoteInfo) => {
        if (rinfo.port !== server.port || !sameAddress(rinfo.address, server.host)) return;
        const value = accept(msg);
        if (value !== null) finish({ ok: true, value });
      });
      socket.send(query, server.port, server.host, (err) => {
        if (err) fail(err);
      });
    } catch (err) {
      fail(err as Error);
    }
  });
}

/**
 * Sends `query` over TCP with the 2-octet length prefix (RFC 1035 §4.2.2) and resolves with the reply, after a
 * truncated UDP answer (RFC 7766 §5). One query per connection: the answers Tern needs are rarely truncated.
 * A reply `accept` refuses is a broken server on a connection nobody else can write to: a network failure.
 */
export function exchangeTcp<T>(
  server: NameServer,
  query: Uint8Array,
  timeoutMs: number,
  accept: (bytes: Uint8Array) => T | null,
): Promise<Exchange<T>> {
  return new Promise((resolve) => {
    let done = false;
    let socket: net.Socket | null = null;
    const finish = (result: Exchange<T>): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket?.destroy();
      resolve(result);
    };
    const fail = (why: string): void =>
      finish({ ok: false, error: 'network', message: `${serverLabel(server)} (TCP): ${why}` });
    const timer = setTimeout(
      () =>
        finish({
          ok: false,
          error: 'timeout',
          message: `no answer from ${serverLabel(server)} over TCP within ${timeoutMs} ms`,
        }),
      timeoutMs,
    );
    const chunks: Uint8Array[] = [];
    let received = 0;
    try {
      socket = net.connect({ host: server.host, port: server.port });
      socket.on('error', (err: Error) => fail(err.message));
      socket.on('close', () => fail('connection closed before the answer'));
      socket.on('connect', () => {
        const framed = new Uint8Array(query.length + 2);
        new DataView(framed.buffer).setUint16(0, query.length);
        framed.set(query, 2);
        socket?.write(framed);
      });
      socket.on('data', (chunk: Uint8Array) => {
        chunks.push(chunk);
        received += chunk.length;
        if (received < 2) return;
        const all = Buffer.concat(chunks);
        const length = all.readUInt16BE(0);
        if (all.length < length + 2) return;
        const value = accept(all.subarray(2, 2 + length));
        if (value === null) fail('the answer does not match the query');
        else finish({ ok: true, value });
      });
    } catch (err) {
      fail((err as Error).message);
    }
  });
}
