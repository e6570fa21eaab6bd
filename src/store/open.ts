// The one place that picks the database driver (embedded PGlite or a PostgreSQL server) and evens out
// their differences, so the rest of Tern sees one Store whatever it runs on.
import * as path from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import postgres from 'postgres';
import type { SQL } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { openDurablePglite, type PgliteClient } from './pglite-engine.ts';
import type { HostSync } from './pglite-fs.ts';
import { RemotePglite } from './pglite-remote.ts';
import * as schema from './schema.ts';

export type TernSchema = typeof schema;

/** drizzle over Tern's schema; the same type whichever driver is underneath. */
export type TernDb = PgDatabase<PgQueryResultHKT, TernSchema>;

export interface StoreOptions {
  /** postgres://… URL; '' = embedded PGlite in `${dataDir}/pglite`. */
  url: string;
  /** For PGlite. The caller must hold an exclusive lock on it: two PGlite instances on one directory corrupt it. */
  dataDir: string;
  /** Connections in the postgres-js pool; ignored for PGlite (one in-process session). */
  poolSize: number;
  /** PGlite only, for tests: how descriptors are synced, so a failing disk can be simulated. */
  hostSync?: HostSync;
  /** PostgreSQL only: query() rejects after this long without an answer. Default 60 s (QUERY_TIMEOUT_MS). */
  queryTimeoutMs?: number;
}

/**
 * An open database. Once close() was called, or the server is gone, or the embedded database stopped
 * after a PANIC, calls reject instead of waiting: postgres-js gives up connecting after
 * CONNECT_TIMEOUT_S, query() has a deadline, and a stopped PGlite fails every call at once.
 */
export interface Store {
  kind: 'pglite' | 'postgres';
  db: TernDb;
  /**
   * Raw SQL; rows as plain objects keyed by column name, on both drivers. Values keep the driver's
   * text-level quirks (timestamps come back as text, bigint as text on postgres-js): cast in SQL
   * (`::int`, `::text`, `::float8`) where a query must be portable.
   */
  execute<T>(query: SQL): Promise<T[]>;
  /**
   * Raw text with $1… parameters, bypassing drizzle's query builder, for the one hot path where building
   * costs more than storing (the intake's batches). Same row shape as execute(). Parameters: string,
   * number, boolean, null, Uint8Array (bytea); give timestamps and json as text, which both drivers
   * pass through unchanged. One statement, run in its own implicit transaction.
   */
  query<T>(text: string, params: unknown[]): Promise<T[]>;
  /** Subscribe to NOTIFY on channel; resolves once LISTEN is active. The returned function unsubscribes. */
  listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  notify(channel: string, payload: string): Promise<void>;
  /**
   * Run fn while holding a cluster-wide mutex named by key: a session-level pg_advisory_lock on a
   * connection of its own (so a pool of size 1 cannot deadlock against it). On PGlite only one process
   * can have the database open anyway, so fn just runs.
   */
  withLock<T>(key: bigint, fn: () => Promise<T>): Promise<T>;
  /** Idempotent. PGlite: shuts postgres down cleanly (checkpoint). postgres-js: ends the pool. */
  close(): Promise<void>;
}

const CONNECT_TIMEOUT_S = 10;
/**
 * postgres-js 3.4.9 can leave a query unsettled for ever when its connection is killed at the wrong
 * moment (reproduced: DROP DATABASE … WITH (FORCE) under load left one enqueue hanging in about half
 * of the runs while the ones after it failed normally; porsager/postgres#1208 and #1215 upstream
 * describe the same family of bugs).
 * A hung enqueue holds an SMTP session until the client's own 10-minute timeout (RFC 5321 §4.5.3.2.6),
 * so query() has a deadline. If the statement commits after it anyway (a server that was merely slow),
 * the client retries on our 451 and the message is delivered twice: a duplicate, never a loss.
 */
const QUERY_TIMEOUT_MS = 60_000;

export async function openStore(opts: StoreOptions): Promise<Store> {
  return opts.url === ''
    ? openPglite(path.join(opts.dataDir, 'pglite'), opts.hostSync)
    : openPostgres(opts.url, opts.poolSize, opts.queryTimeoutMs ?? QUERY_TIMEOUT_MS);
}

/**
 * The embedded database runs on a worker thread (pglite-worker.ts explains why); tests that inject a
 * failing disk (hostSync) run it in-process, since a function cannot cross to the worker.
 */
async function openPglite(dir: string, hostSync?: HostSync): Promise<Store> {
  const pg: PgliteClient = hostSync ? await openDurablePglite(dir, hostSync) : await RemotePglite.open(dir);
  // drizzle's two database classes differ only in their result-kind type parameter, which TernDb
  // erases; the runtime API is the same PgDatabase. The client is PGlite or its worker proxy, which
  // has the query/transaction shape drizzle's PGlite session calls.
  const db = drizzlePglite({ client: pg as unknown as PGlite, schema }) as unknown as TernDb;
  let closing: Promise<void> | null = null;
  return {
    kind: 'pglite',
    db,
    async execute<T>(query: SQL) {
      const result = (await db.execute(query)) as unknown as { rows: T[] };
      return result.rows;
    },
    async query<T>(text: string, params: unknown[]) {
      return (await pg.query<T>(text, params)).rows;
    },
    listen: (channel, onPayload) => pg.listen(channel, onPayload),
    async notify(channel, payload) {
      await pg.query('select pg_notify($1, $2)', [channel, payload]);
    },
    withLock: (_key, fn) => fn(),
    close() {
      closing ??= pg.close();
      return closing;
    },
  };
}

async function openPostgres(url: string, poolSize: number, queryTimeoutMs: number): Promise<Store> {
  const clientOptions = {
    connect_timeout: CONNECT_TIMEOUT_S,
    // postgres-js waits before each reconnection attempt, by default up to 20 s growing exponentially,
    // and holds queries meanwhile; measured with the database dropped under load, the 20th enqueue got
    // its error after 56 s. A mail server wants a prompt 451 (the client retries later), so keep the
    // wait short: at most 1 s.
    backoff: (attempt: number) => Math.min(0.05 * 2 ** attempt, 1),
    onnotice: () => {}, // "relation already exists, skipping" from idempotent DDL is not news
    // Array types are not used (recipients travel as JSON). With fetch_types on, every new connection
    // first runs a pg_type query from an async function nobody awaits: when the connection dies during
    // it (a server restart, a dropped database) the rejection goes unhandled, which ends the process.
    fetch_types: false,
    connection: { application_name: 'tern' },
  };
  const client = postgres(url, { ...clientOptions, max: poolSize });
  const db = drizzlePostgres({ client, schema }) as unknown as TernDb;
  try {
    await client`select 1`; // fail at start, not on the first message, when the URL is wrong
  } catch (err) {
    await client.end({ timeout: 0 });
    throw new Error(`cannot connect to the database: ${(err as Error).message}`, { cause: err });
  }
  let closing: Promise<void> | null = null;
  return {
    kind: 'postgres',
    db,
    async execute<T>(query: SQL) {
      const rows = (await db.execute(query)) as unknown as T[];
      return Array.from(rows); // postgres-js's RowList is an Array subclass with extra fields
    },
    async query<T>(text: string, params: unknown[]) {
      const pending = client.unsafe(text, params as postgres.ParameterOrJSON<never>[], { prepare: true });
      let timer: ReturnType<typeof setTimeout> | undefined;
      const deadline = new Promise<never>((_, reject) => {
        // No pending.cancel(): in 3.4.9 it can leave a promise of its own rejected with nobody to
        // catch it (query.cancelled, settled when the pool is ended), which would crash the process.
        timer = setTimeout(
          () => reject(new Error(`the database did not answer within ${queryTimeoutMs / 1000} s`)),
          queryTimeoutMs,
        );
      });
      pending.catch(() => {}); // it may still settle after the deadline; nobody is listening then
      try {
        return Array.from((await Promise.race([pending, deadline])) as unknown as T[]);
      } finally {
        clearTimeout(timer);
      }
    },
    async listen(channel, onPayload) {
      const sub = await client.listen(channel, onPayload);
      return () => sub.unlisten();
    },
    async notify(channel, payload) {
      await client.notify(channel, payload);
    },
    async withLock(key, fn) {
      const lockClient = postgres(url, { ...clientOptions, max: 1 });
      try {
        await lockClient`select pg_advisory_lock(${key.toString()}::bigint)`;
        try {
          return await fn();
        } finally {
          await lockClient`select pg_advisory_unlock(${key.toString()}::bigint)`.catch(() => {});
        }
      } finally {
        await lockClient.end({ timeout: 5 });
      }
    },
    close() {
      closing ??= client.end({ timeout: 5 });
      return closing;
    },
  };
}
