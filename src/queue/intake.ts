// The durable intake: turns accepted SMTP transactions into queue rows, grouping concurrent ones into
// shared transactions (group commit) so one disk flush acknowledges many messages.
import { getTableName } from 'drizzle-orm';
import type { AnyPgTable, PgColumn } from 'drizzle-orm/pg-core';
import type { Envelope } from '../smtp/types.ts';
import type { Store } from '../store/open.ts';
import { events, messages, recipients } from '../store/schema.ts';
import type { QueueWriter } from './types.ts';
import { errorText } from '../lib/errors.ts';

/** Delivery workers LISTEN here; one NOTIFY per committed batch, payload = number of messages in it. */
export const QUEUE_CHANNEL = 'tern_queue';

export interface IntakeOptions {
  /** Most messages in one transaction. Bounds the latency a batch adds to the messages waiting behind it. */
  maxBatchMessages?: number;
  /** Most body octets in one transaction (a single larger message still goes alone). Bounds memory and statement size. */
  maxBatchBytes?: number;
  /**
   * Batches in flight at once on PostgreSQL (PGlite is one session: always 1). Measured with
   * scripts/bench-store.ts on 2 cores with a local server: for throughput 1 is as good as 2 or up to
   * ~15% better (bigger batches, less CPU per message) and 4 is worse. The default is 2 for latency
   * under mixed sizes (`--big-mb 20 --concurrency 10`: one writer of 20 MiB messages beside ten of
   * 5 KB): with 1 in flight the small ones got 39/s at p50 270 ms, with 2 they got 3353/s at p50
   * 1.3 ms — a big message no longer holds everyone else's 250.
   */
  maxInFlight?: number;
}

/** Monotonic counters, for tests and the benchmark. */
export interface IntakeCounters {
  transactions: number; // attempted, including one-by-one retries
  batches: number; // committed group transactions (retries not included)
  messages: number; // committed messages
  failedBatches: number; // group transactions that failed and were retried one by one
  rejected: number; // enqueue() calls that rejected
  buildMs: number; // time spent turning batches into statement text and parameters
  dbMs: number; // time spent waiting for the database to execute and commit them
}

export interface Intake extends QueueWriter {
  readonly counters: IntakeCounters;
  /** Rejects later enqueue() calls, waits for everything already accepted to commit or fail. */
  close(): Promise<void>;
}

interface Pending {
  envelope: Envelope;
  message: Uint8Array;
  resolve(): void;
  reject(err: Error): void;
}

const DEFAULTS = { maxBatchMessages: 256, maxBatchBytes: 16 * 1024 * 1024, maxInFlight: 2 };
// PostgreSQL's wire protocol counts bind parameters in an int16: at most 65535 per statement. A
// message takes MESSAGE_COLUMNS + EVENT_COLUMNS of them; recipients travel as one JSON parameter, so a
// message with 10 000 recipients costs no more than one with a single recipient.
const MAX_PARAMS = 65_000;
const PARAMS_PER_MESSAGE = 21;

export function createIntake(store: Store, opts: IntakeOptions = {}): Intake {
  const maxBatchMessages = Math.min(
    Math.floor((MAX_PARAMS - 3) / PARAMS_PER_MESSAGE),
    Math.max(1, opts.maxBatchMessages ?? DEFAULTS.maxBatchMessages),
  );
  const maxBatchBytes = Math.max(1, opts.maxBatchBytes ?? DEFAULTS.maxBatchBytes);
  // PGlite serialises transactions on its single backend anyway; a second one would only queue inside it.
  const maxInFlight = store.kind === 'pglite' ? 1 : Math.max(1, opts.maxInFlight ?? DEFAULTS.maxInFlight);
  const counters: IntakeCounters = {
    transactions: 0,
    batches: 0,
    messages: 0,
    failedBatches: 0,
    rejected: 0,
    buildMs: 0,
    dbMs: 0,
  };
  const queue: Pending[] = [];
  let inFlight = 0;
  let closed = false;
  const idleWaiters: Array<() => void> = [];

  // Starts flushes while there is room; a lone enqueue at low load therefore flushes at once, while
  // under load everything that arrived during a flush leaves together in the next one.
  function pump(): void {
    while (inFlight < maxInFlight && queue.length > 0) {
      const batch = takeBatch();
      inFlight++;
      void flush(batch).finally(() => {
        inFlight--;
        pump();
        if (inFlight === 0 && queue.length === 0) for (const wake of idleWaiters.splice(0)) wake();
      });
    }
  }

  function takeBatch(): Pending[] {
    let bytes = 0;
    let n = 0;
    while (n < queue.length && n < maxBatchMessages) {
      const size = queue[n].message.byteLength;
      if (n > 0 && bytes + size > maxBatchBytes) break;
      bytes += size;
      n++;
    }
    return queue.splice(0, n);
  }

  async function flush(batch: Pending[]): Promise<void> {
    try {
      await write(batch);
      counters.batches++;
      counters.messages += batch.length;
      for (const p of batch) p.resolve();
      return;
    } catch (err) {
      if (batch.length === 1 || !isMessageFault(err)) {
        // The database is unreachable, shutting down, out of disk…: every message would fail the same
        // way, and retrying them one by one would only make each sender wait longer for its 451.
        for (const p of batch) fail(p, err);
        return;
      }
      counters.failedBatches++;
    }
    // One bad message (a NUL byte in a field, a duplicate id) must not cost the others their 250: retry
    // each alone. Sequential, so the in-flight bound still holds while the database may be struggling.
    for (const p of batch) {
      try {
        await write([p]);
        counters.messages++;
        p.resolve();
      } catch (err) {
        fail(p, err);
      }
    }
  }

  function fail(p: Pending, cause: unknown): void {
    counters.rejected++;
    const root = rootCause(cause);
    const why = errorText(root);
    p.reject(new Error(`enqueue ${p.envelope.queueId} failed: ${why}`, { cause }));
  }

  /**
   * One batch as ONE statement: data-modifying CTEs insert the messages, their recipients and their
   * 'received' events, and the statement's autocommit is the transaction. Why not BEGIN … COMMIT:
   * - atomic all the same (a statement commits whole or not at all), in one round trip instead of ~10
   *   (postgres-js describes every unnamed parameterised statement before executing it);
   * - postgres-js 3.4.9's sql.begin() answers a connection lost mid-transaction with its own ROLLBACK on
   *   the dead socket, which throws from a setImmediate and kills the process (porsager/postgres#1208,
   *   reproduced here by dropping the database under load). A plain statement just rejects.
   * The NOTIFY is part of the same statement: PostgreSQL delivers it only at commit, so workers never
   * wake for rows they cannot see, and no commit can happen without its wake-up.
   * The text is built here rather than with drizzle's insert builder: profiling the benchmark showed
   * drizzle spending ~110 µs per message (about 70% of the process's CPU) assembling multi-row VALUES,
   * more than the database took to store them. Table and column names still come from schema.ts.
   */
  async function write(batch: Pending[]): Promise<void> {
    counters.transactions++;
    const t0 = performance.now();
    const msgRows = batch.map((p) => messageValues(p.envelope, p.message));
    const rcptRows = batch.flatMap((p) => recipientValues(p.envelope));
    const eventRows = batch.map((p) => eventValues(p.envelope, p.message));
    const params: unknown[] = [];
    const text =
      `with m as (${insertText(messages, MESSAGE_COLUMNS, msgRows, params)}), ` +
      `r as (${insertRecipientsText(rcptRows, params)}), ` +
      `e as (${insertText(events, EVENT_COLUMNS, eventRows, params)}) ` +
      `select pg_notify($${params.push(QUEUE_CHANNEL)}, $${params.push(String(batch.length))})`;
    const t1 = performance.now();
    counters.buildMs += t1 - t0;
    try {
      await store.query(text, params);
    } finally {
      counters.dbMs += performance.now() - t1;
    }
  }

  return {
    counters,
    enqueue(envelope, message) {
      if (closed) return Promise.reject(new Error(`enqueue ${envelope.queueId} failed: intake is closed`));
      // The session never accepts DATA without a recipient (RFC 5321 §3.3, 503); a message with none
      // could never be delivered nor bounced, so it is a bug to store it.
      if (envelope.recipients.length === 0) {
        return Promise.reject(new Error(`enqueue ${envelope.queueId} failed: no recipients`));
      }
      return new Promise<void>((resolve, reject) => {
        queue.push({ envelope, message, resolve, reject });
        pump();
      });
    },
    async close() {
      closed = true;
      if (inFlight === 0 && queue.length === 0) return;
      await new Promise<void>((resolve) => idleWaiters.push(resolve));
    },
  };
}

// Wrappers (drizzle's DrizzleQueryError repeats the statement and every parameter, i.e. whole message
// bodies) keep the database's own error at the end of the cause chain: report that one.
function rootCause(err: unknown): unknown {
  let root = err;
  while (root instanceof Error && root.cause !== undefined) root = root.cause;
  return root;
}

/**
 * Did the statement fail because of something in one of the messages? SQLSTATE classes 22 (data
 * exception: NUL byte, invalid encoding), 23 (integrity: duplicate queue id) and 54 (a limit such as
 * an oversized row). Connection errors carry no SQLSTATE (postgres-js uses codes like ECONNRESET,
 * CONNECTION_CLOSED) and server-side trouble has other classes (08, 53, 57, 58).
 */
function isMessageFault(err: unknown): boolean {
  const code = (rootCause(err) as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^(22|23|54)[0-9A-Z]{3}$/.test(code);
}

// The columns intake fills, in the order of the values below; everything else takes its default.
const MESSAGE_COLUMNS: PgColumn[] = [
  messages.id, messages.receivedAt, messages.sender, messages.size, messages.body, messages.clientAddress,
  messages.clientPort, messages.helo, messages.protocol, messages.listener, messages.tlsProtocol,
  messages.tlsCipher, messages.authUser, messages.bodyType, messages.smtpUtf8, messages.declaredSize,
  messages.dsnRet, messages.dsnEnvid,
];
const RECIPIENT_COLUMNS: PgColumn[] = [
  recipients.messageId, recipients.address, recipients.orcptType, recipients.orcptAddress, recipients.notify,
  recipients.state, recipients.holdReason,
];
const EVENT_COLUMNS: PgColumn[] = [events.messageId, events.kind, events.detail];
if (MESSAGE_COLUMNS.length + EVENT_COLUMNS.length !== PARAMS_PER_MESSAGE) throw new Error('intake: PARAMS_PER_MESSAGE is stale');

// Values both drivers take the same way: timestamps as ISO text, jsonb as JSON text, bytea as Uint8Array
// (PGlite sends it in binary, postgres-js as hex), so no driver-specific mapping is involved here.
function messageValues(e: Envelope, body: Uint8Array): unknown[] {
  return [
    e.queueId, e.receivedAt.toISOString(), e.sender, body.byteLength, body, e.clientAddress,
    e.clientPort, e.helo, e.protocol, e.listener, e.tls?.protocol ?? null,
    e.tls?.cipher ?? null, e.authUser, e.bodyType, e.smtpUtf8, e.declaredSize,
    e.dsnRet, e.dsnEnvid,
  ];
}

function recipientValues(e: Envelope): unknown[][] {
  return e.recipients.map((r) => [
    e.queueId,
    r.address,
    r.orcpt?.type ?? null,
    r.orcpt?.address ?? null,
    r.notify === null ? null : r.notify === 'NEVER' ? 'NEVER' : r.notify.join(','),
    // Quarantined mail (e.g. DMARC p=quarantine) waits as 'held' until an operator releases it.
    e.hold ? 'held' : 'queued',
    e.hold ?? null,
  ]);
}

function eventValues(e: Envelope, body: Uint8Array): unknown[] {
  return [e.queueId, 'received', JSON.stringify(receivedDetail(e, body))];
}

/**
 * Recipients as one jsonb array of arrays, unpacked in order (ids ascend in envelope order): keeps the
 * parameter count independent of the number of recipients. ->> yields NULL for JSON null.
 */
function insertRecipientsText(rows: unknown[][], params: unknown[]): string {
  const cols = RECIPIENT_COLUMNS.map((c) => `"${c.name}"`).join(', ');
  const picks = RECIPIENT_COLUMNS.map((_, i) => `x->>${i}`).join(', ');
  const p = params.push(JSON.stringify(rows));
  return `insert into "${getTableName(recipients)}" (${cols}) select ${picks} from jsonb_array_elements($${p}::jsonb) with ordinality as t(x, i) order by i`;
}

/** `insert into "t" ("a", "b") values ($n, $n+1), …`, appending the values to params. */
function insertText(table: AnyPgTable, columns: PgColumn[], rows: unknown[][], params: unknown[]): string {
  const tuples = rows.map((row) => `(${row.map((v) => `$${params.push(v)}`).join(', ')})`);
  return `insert into "${getTableName(table)}" (${columns.map((c) => `"${c.name}"`).join(', ')}) values ${tuples.join(', ')}`;
}

/** What an operator reading the history wants to see without joining back to the message. */
function receivedDetail(e: Envelope, body: Uint8Array): Record<string, unknown> {
  return {
    from: e.sender,
    recipients: e.recipients.length,
    size: body.byteLength,
    client: `${e.clientAddress}:${e.clientPort}`,
    helo: e.helo,
    protocol: e.protocol,
    listener: e.listener,
    tls: e.tls ? `${e.tls.protocol} ${e.tls.cipher}` : null,
    ...(e.authUser ? { authUser: e.authUser } : {}),
    ...(e.hold ? { hold: e.hold } : {}),
  };
}
