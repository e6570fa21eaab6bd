// Messages between the main thread and the embedded-database worker (pglite-worker.ts, pglite-remote.ts).

export type WorkerRequest =
  | { id: number; op: 'open'; dir: string }
  | { id: number; op: 'query'; text: string; params: unknown[]; rowMode: 'array' | 'object'; rawTypes: number[]; tx?: number }
  | { id: number; op: 'exec'; text: string; tx?: number }
  | { id: number; op: 'begin' }
  | { id: number; op: 'end'; tx: number; commit: boolean }
  | { id: number; op: 'listen'; channel: string }
  | { id: number; op: 'unlisten'; listener: number }
  | { id: number; op: 'close' };

/** A database error as data: structured clone keeps an Error's message but drops code and severity. */
export interface WireError {
  message: string;
  code?: string;
  severity?: string;
  detail?: string;
  constraint?: string;
}

export type WorkerMessage =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: WireError }
  | { event: 'notify'; listener: number; payload: string };

export function toWireError(err: unknown): WireError {
  const e = (err ?? {}) as Partial<WireError> & { message?: unknown };
  const out: WireError = { message: typeof e.message === 'string' ? e.message : String(err) };
  for (const key of ['code', 'severity', 'detail', 'constraint'] as const) {
    if (typeof e[key] === 'string') out[key] = e[key];
  }
  return out;
}

export function fromWireError(w: WireError): Error {
  return Object.assign(new Error(w.message), w);
}
