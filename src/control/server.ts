// The daemon's side of the control socket: answers CLI requests from the live queue.
import type * as net from 'node:net';
import type { Logger } from '../lib/log.ts';
import { type ControlRequest, type ControlResponse, encodeResponse, MAX_REQUEST_BYTES } from './protocol.ts';
import { errorText } from '../lib/errors.ts';

export type ControlHandler = (req: ControlRequest) => Promise<unknown>;

/**
 * Serves requests on the lock's socket; a handler's throw becomes {ok:false} for that request only.
 * `maxRequestBytes` grows beyond the default for `submit`, whose line carries a whole message in base64.
 */
export function serveControl(server: net.Server, handle: ControlHandler, log: Logger, maxRequestBytes = MAX_REQUEST_BYTES): void {
  server.on('connection', (socket: net.Socket) => {
    let buf = '';
    socket.setEncoding('utf8');
    socket.setTimeout(10_000, () => socket.destroy());
    socket.on('error', () => {});
    socket.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > maxRequestBytes) return socket.destroy();
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const line = buf.slice(0, nl);
      socket.pause();
      // The idle timeout guards reading the request; a handler (a commit, a key generation) may take longer,
      // and cutting the client off then would make it report a failure for work that was done.
      socket.setTimeout(0);
      void respond(line).then((res) => socket.end(encodeResponse(res)));
    });
  });

  async function respond(line: string): Promise<ControlResponse> {
    let req: ControlRequest;
    try {
      req = JSON.parse(line) as ControlRequest;
    } catch {
      return { ok: false, error: 'request is not JSON' };
    }
    try {
      return { ok: true, result: await handle(req) };
    } catch (err) {
      const error = errorText(err);
      log.warn('control-error', { cmd: req.cmd, error });
      return { ok: false, error };
    }
  }
}
