// The main thread's handle on the embedded database running in pglite-worker.ts, shaped like PGlite.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pgliteWorkerUrl } from '../runtime/pglite-assets.ts';
import type { PgliteClient, PgliteResults, PgliteTx, QueryOptions } from './pglite-engine.ts';
import { fromWireError, type WorkerMessage, type WorkerRequest } from './pglite-protocol.ts';

type Distribute<T> = T extends unknown ? Omit<T, 'id'> : never;
type Call = Distribute<WorkerRequest>;

/**
 * Every method is one message to the worker; results come back in the shape PGlite gives (rows, fields),
 * and errors keep their SQLSTATE code and severity so the intake can tell a bad message from a dead disk.
 * If the worker dies, every pending and later call rejects: never a hang.
 */
export class RemotePglite implements PgliteClient {
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  readonly #listeners = new Map<number, (payload: string) => void>();
  #nextId = 1;
  #dead: Error | null = null;
  #closed = false;

  private constructor(worker: Worker) {
    this.#worker = worker;
    worker.onmessage = (ev: MessageEvent<WorkerMessage>) => this.#receive(ev.data);
    worker.onerror = (ev: ErrorEvent) => {
      ev.preventDefault?.();
      this.#die(new Error(`embedded database thread failed: ${ev.message}`));
    };
  }

  static async open(dir: string): Promise<RemotePglite> {
    if (!fs.existsSync(path.join(dir, 'PG_VERSION'))) {
      // First start: initdb needs ~700 MB (measured: RSS 700 MB after it, 280 MB on a restart) that the
      // thread keeps. Create the database in a throwaway thread, so the daemon runs on a fresh one.
      await (await RemotePglite.#start(dir)).close();
    }
    return RemotePglite.#start(dir);
  }

  static async #start(dir: string): Promise<RemotePglite> {
    const worker = new Worker(pgliteWorkerUrl(), { type: 'module' });
    const remote = new RemotePglite(worker);
    try {
      await remote.#call({ op: 'open', dir });
    } catch (err) {
      worker.terminate();
      throw err;
    }
    return remote;
  }

  get closed(): boolean {
    return this.#closed;
  }

  #receive(msg: WorkerMessage): void {
    if ('event' in msg) {
      this.#listeners.get(msg.listener)?.(msg.payload);
      return;
    }
    const p = this.#pending.get(msg.id);
    if (!p) return;
    this.#pending.delete(msg.id);
    if (msg.ok) p.resolve(msg.result);
    else p.reject(fromWireError(msg.error));
  }

  #die(err: Error): void {
    this.#dead ??= err;
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
  }

  #call(req: Call): Promise<unknown> {
    if (this.#dead) return Promise.reject(this.#dead);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ ...req, id } as WorkerRequest);
    });
  }

  async #query<T>(text: string, params: unknown[] = [], opts: QueryOptions = {}, tx?: number): Promise<PgliteResults<T>> {
    const parsers = opts.parsers ?? {};
    const rawTypes = Object.keys(parsers).map(Number);
    const result = (await this.#call({ op: 'query', text, params, rowMode: opts.rowMode ?? 'object', rawTypes, tx })) as PgliteResults<T>;
    if (rawTypes.length > 0) applyParsers(result, parsers, opts.rowMode ?? 'object');
    return result;
  }

  query<T>(text: string, params?: unknown[], opts?: QueryOptions): Promise<PgliteResults<T>> {
    return this.#query<T>(text, params, opts);
  }

  async exec(text: string): Promise<unknown> {
    return this.#call({ op: 'exec', text });
  }

  /** Like PGlite.transaction: commits when fn resolves, rolls back when it throws or calls rollback(). */
  async transaction<T>(fn: (tx: PgliteTx) => Promise<T>): Promise<T> {
    const handle = (await this.#call({ op: 'begin' })) as number;
    let rolledBack = false;
    const tx: PgliteTx = {
      query: (text, params, opts) => this.#query(text, params, opts, handle),
      exec: (text) => this.#call({ op: 'exec', text, tx: handle }),
      rollback: async () => {
        rolledBack = true;
      },
    };
    let result: T;
    try {
      result = await fn(tx);
    } catch (err) {
      await this.#call({ op: 'end', tx: handle, commit: false }).catch(() => {});
      throw err;
    }
    await this.#call({ op: 'end', tx: handle, commit: !rolledBack });
    return result;
  }

  async listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>> {
    const listener = (await this.#call({ op: 'listen', channel })) as number;
    this.#listeners.set(listener, onPayload);
    return async () => {
      this.#listeners.delete(listener);
      await this.#call({ op: 'unlisten', listener });
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      if (!this.#dead) await this.#call({ op: 'close' });
    } finally {
      this.#die(new Error('embedded database is closed'));
      this.#worker.terminate();
    }
  }
}

/** Runs the caller's parsers on the raw text the worker returned for those column types. */
function applyParsers<T>(result: PgliteResults<T>, parsers: NonNullable<QueryOptions['parsers']>, rowMode: 'array' | 'object'): void {
  result.fields.forEach((field, i) => {
    const parse = parsers[field.dataTypeID];
    if (!parse) return;
    for (const row of result.rows as unknown as Array<Record<string | number, unknown>>) {
      const key = rowMode === 'array' ? i : field.name;
      const v = row[key];
      if (typeof v === 'string') row[key] = parse(v, field.dataTypeID);
    }
  });
}
