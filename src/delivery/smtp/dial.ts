// Opening the TCP or Unix-socket connection for one attempt, bounded by a timeout and the job's AbortSignal.
import * as net from 'node:net';
import type { Endpoint } from './channel.ts';

export type DialResult = { ok: true; socket: net.Socket } | { ok: false; error: string };

/** Connects; never rejects. The error names the cause as the OS gave it (ECONNREFUSED, EHOSTUNREACH...). */
export function dial(e: Endpoint, timeoutMs: number, signal: AbortSignal): Promise<DialResult> {
  if (signal.aborted) return Promise.resolve({ ok: false, error: 'aborted' });
  return new Promise((resolve) => {
    const socket = e.kind === 'unix' ? net.connect({ path: e.path }) : net.connect({ host: e.ip, port: e.port });
    const finish = (r: DialResult): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket.off('connect', onConnect);
      socket.off('error', onError);
      if (!r.ok) {
        socket.on('error', () => {}); // a late error from a destroyed socket must not go unhandled
        socket.destroy();
      }
      resolve(r);
    };
    const onConnect = (): void => finish({ ok: true, socket });
    const onError = (err: Error): void => finish({ ok: false, error: (err as { code?: string }).code ?? err.message });
    const onAbort = (): void => finish({ ok: false, error: 'aborted' });
    const timer = setTimeout(() => finish({ ok: false, error: `timeout after ${timeoutMs} ms` }), timeoutMs);
    socket.once('connect', onConnect);
    socket.once('error', onError);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
