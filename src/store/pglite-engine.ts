// Opens the embedded database the durable way; used in the database worker thread (and in-process for tests).
import { Buffer } from 'node:buffer';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PGlite, types } from '@electric-sql/pglite';
import { pgliteAssets } from '../runtime/pglite-assets.ts';
import { DurableNodeFS, durableStartParams, type HostSync, syncDirectory, syncTree } from './pglite-fs.ts';

/** The part of PGlite that open.ts and drizzle use; the worker proxy implements the same shape. */
export interface PgliteClient {
  query<T>(text: string, params?: unknown[], opts?: QueryOptions): Promise<PgliteResults<T>>;
  exec(text: string): Promise<unknown>;
  transaction<T>(fn: (tx: PgliteTx) => Promise<T>): Promise<T>;
  listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
  readonly closed: boolean;
}

export interface PgliteTx {
  query<T>(text: string, params?: unknown[], opts?: QueryOptions): Promise<PgliteResults<T>>;
  exec(text: string): Promise<unknown>;
  rollback(): Promise<void>;
}

export interface QueryOptions {
  rowMode?: 'array' | 'object';
  parsers?: Record<number, (value: string, typeId: number) => unknown>;
}

export interface PgliteResults<T> {
  rows: T[];
  fields: Array<{ name: string; dataTypeID: number }>;
  affectedRows?: number;
}

/**
 * PGlite with a file system that really syncs (pglite-fs.ts), fast bytea codecs, and a guard that
 * fails every call at once after the single backend died (PANIC/FATAL), instead of hanging.
 */
export async function openDurablePglite(dir: string, hostSync?: HostSync): Promise<PGlite> {
  const fresh = !fs.existsSync(path.join(dir, 'PG_VERSION'));
  fs.mkdirSync(dir, { recursive: true });
  const pg = await PGlite.create({
    ...(await pgliteAssets()),
    fs: new DurableNodeFS(dir, hostSync),
    startParams: durableStartParams(),
    // PGlite's own bytea codecs go byte by byte in JS (Array.from(...).map(toString(16)).join, and a
    // parseInt per byte back): 22 ms to insert 50 bodies of 5 KB. Handing the bytes over unchanged makes
    // PGlite's Bind writer send them in binary format (it does so for any ArrayBuffer view): 2.9 ms.
    // Results still arrive as hex text, decoded natively. PGlite's types declare serializers as
    // returning strings; the binary path is what its writer does at run time, and the intake
    // round-trip test of all 256 byte values pins it.
    serializers: { [types.BYTEA]: byteaAsBinary as unknown as (value: unknown) => string },
    parsers: { [types.BYTEA]: hexToBytea },
  });
  if (fresh) {
    syncTree(dir); // see syncTree: initdb's output was written without fsync
    syncDirectory(path.dirname(dir)); // the entry for pglite/ itself
  }
  guardFatal(pg);
  return pg;
}

/**
 * A PANIC (e.g. fsync failed: see pglite-fs.ts) or FATAL error stops the single postgres backend inside
 * PGlite, and every later call on that instance then waits forever (measured: the next query after a
 * failed fsync never settled). Remember the first such error and fail everything after it at once, so
 * SMTP sessions get their 451 instead of hanging; a restart runs crash recovery.
 */
function guardFatal(pg: PGlite): void {
  let fatal: Error | null = null;
  const guard = <F extends (...args: never[]) => Promise<unknown>>(fn: F): F =>
    (async (...args: Parameters<F>) => {
      if (fatal) throw fatal;
      try {
        return await fn(...args);
      } catch (err) {
        const severity = (err as { severity?: unknown }).severity;
        if (severity === 'PANIC' || severity === 'FATAL') {
          fatal = Object.assign(
            new Error(`embedded database stopped: ${(err as Error).message}; restart Tern to recover`, { cause: err }),
            { severity: 'FATAL' },
          );
        }
        throw err;
      }
    }) as F;
  pg.query = guard(pg.query.bind(pg));
  pg.exec = guard(pg.exec.bind(pg));
  pg.transaction = guard(pg.transaction.bind(pg));
  pg.listen = guard(pg.listen.bind(pg));
  const close = pg.close.bind(pg);
  // After a PANIC the instance answers nothing, close() included; the process is about to restart.
  pg.close = () => (fatal || pg.closed ? Promise.resolve() : close());
}

function byteaAsBinary(value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new Error('bytea parameter must be a Uint8Array');
  return value;
}

function hexToBytea(text: string): Uint8Array {
  const b = Buffer.from(text.slice(2), 'hex');
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}
