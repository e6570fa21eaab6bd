// The CLI's side of the control socket: send one request to the running daemon, get one response.
import * as net from 'node:net';
import type { ControlRequest, ControlResponse } from './protocol.ts';

/** No daemon listening (socket missing or stale): the caller may open the store itself. */
export class NoDaemonError extends Error {}

export function controlRequest(socketPath: string, req: ControlRequest, timeoutMs = 30_000): Promise<ControlResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    let buf = '';
    let connected = false;
    socket.setEncoding('utf8');
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      reject(new Error(`the daemon did not answer within ${timeoutMs} ms`));
    });
    socket.on('connect', () => {
      connected = true;
      socket.write(JSON.stringify(req) + '\n');
    });
    socket.on('data', (chunk: string) => (buf += chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (!connected) reject(new NoDaemonError(err.message));
      else reject(err);
    });
    socket.on('end', () => {
      try {
        resolve(JSON.parse(buf) as ControlResponse);
      } catch {
        reject(new Error('the daemon sent an unreadable answer'));
      }
    });
  });
}
