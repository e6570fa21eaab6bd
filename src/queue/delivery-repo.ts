// The delivery side of the queue: claim due recipients under a lease, load what a job needs, record results.
//
// Several Tern processes may share one PostgreSQL: a claim takes due rows with FOR UPDATE SKIP LOCKED and
// stamps them with an expiring lease, so two workers never hold the same recipient and a crashed worker's
// claims fall due again when the lease runs out (at-least-once: that recipient may be delivered twice).
// Lease times use the database's clock, so nodes with skewed clocks still agree on who holds what.
import type { Store } from '../store/open.ts';
import type { DsnNotify, DsnOrcpt } from '../smtp/types.ts';
import type { JobMessage } from '../delivery/types.ts';
import { QUEUE_CHANNEL } from './intake.ts';
import { coalesce } from '../lib/coalesce.ts';
import type { RecipientState } from './types.ts';

export interface ClaimedRecipient {
  id: number;
  messageId: string;
  address: string;
  notify: DsnNotify | null;
  orcpt: DsnOrcpt | null;
  attempts: number;
  delayNotified: boolean;
  size: number; // the message's, so the dispatcher can bound the bodies held in memory
}

/** What a finished attempt changes on one recipient row. */
export interface RecipientUpdate {
  id: number;
  state: RecipientState;
  attempts: number;
  nextAttemptAt: Date; // meaningful for 'deferred'; kept as is otherwise
  reply: string;
  status: string;
  remote: string | null;
  final: boolean;
  delayNotified: boolean;
}

export interface NewEvent {
  messageId: string;
  recipientId: number | null;
  kind: string;
  detail: Record<string, unknown>;
}

const ACTIVE = `state in ('queued', 'deferred')`;
const DUE = `${ACTIVE} and next_attempt_at <= now() and (lease_until is null or lease_until < now())`;

export function parseNotify(text: string | null): DsnNotify | null {
  if (text === null || text === '') return null;
  if (text === 'NEVER') return 'NEVER';
  return text.split(',') as Array<'SUCCESS' | 'FAILURE' | 'DELAY'>;
}

type LoadedMessage = JobMessage & { body: Uint8Array };
interface RecordInput {
  owner: string;
  updates: RecipientUpdate[];
  events: NewEvent[];
}

/**
 * Deliveries finish many at a time (20 parallel connections to one smarthost are normal), and two statements
 * per message (load it, record its results) each with its own commit were two thirds of the CPU a delivered
 * message cost (scripts/bench-delivery.ts). Concurrent loads and concurrent records are therefore coalesced
 * (src/lib/coalesce.ts): one statement for all loads waiting, one for all results waiting.
 */
const BATCH = 100;

export function createDeliveryRepo(store: Store) {
  const loadMessage = coalesce(async (ids: string[]): Promise<Array<LoadedMessage | null>> => {
    const rows = await store.query<{
      id: string;
      sender: string;
      size: number;
      body_type: string | null;
      smtputf8: boolean;
      dsn_ret: string | null;
      dsn_envid: string | null;
      received_ms: number;
      body: Uint8Array;
    }>(
      `select id, sender, size, body_type, smtputf8, dsn_ret, dsn_envid,
         (extract(epoch from received_at) * 1000)::float8 as received_ms, body
       from messages where id = any($1::text[])`,
      [`{${[...new Set(ids)].map(pgArrayItem).join(',')}}`],
    );
    const byId = new Map<string, LoadedMessage>();
    for (const r of rows) {
      byId.set(r.id, {
        id: r.id,
        sender: r.sender,
        size: Number(r.size),
        bodyType: r.body_type as JobMessage['bodyType'],
        smtpUtf8: r.smtputf8,
        dsnRet: r.dsn_ret as JobMessage['dsnRet'],
        dsnEnvid: r.dsn_envid,
        receivedAt: new Date(Number(r.received_ms)),
        body: toBytes(r.body),
      });
    }
    return ids.map((id) => byId.get(id) ?? null);
  }, BATCH);

  /** One statement per owner in the batch (in practice one: this process); each input learns how many of its rows it still held. */
  const recordResults = coalesce(async (inputs: RecordInput[]): Promise<number[]> => {
    const kept = new Set<number>();
    for (const owner of new Set(inputs.map((i) => i.owner))) {
      const mine = inputs.filter((i) => i.owner === owner);
      const updates = mine.flatMap((i) => i.updates);
      const events = mine.flatMap((i) => i.events);
      const rows = await store.query<{ id: number }>(
        `with u as (
           update recipients r set state = x.state, attempts = x.attempts,
             next_attempt_at = x.next_at::timestamptz, last_attempt_at = now(), last_reply = x.reply,
             last_status = x.status, last_remote = x.remote,
             final_at = case when x.final then now() else null end,
             delay_notified_at = case when x.delay_notified then coalesce(r.delay_notified_at, now()) else r.delay_notified_at end,
             lease_owner = null, lease_until = null, updated_at = now()
           from jsonb_to_recordset($1::jsonb) as x(id bigint, state text, attempts int, next_at text, reply text,
             status text, remote text, final boolean, delay_notified boolean)
           -- The planner cannot see how few rows jsonb_to_recordset yields and would scan every recipient
           -- (measured: one sequential scan per delivered message, growing with the table); the id list lets
           -- it use the primary key.
           where r.id = any($4::bigint[]) and r.id = x.id and r.lease_owner = $2
           returning r.id::float8 as id
         ), e as (
           insert into events (message_id, recipient_id, kind, detail)
           select x.message_id, x.recipient_id, x.kind, x.detail
           from jsonb_to_recordset($3::jsonb) as x(message_id text, recipient_id bigint, kind text, detail jsonb)
         )
         select id from u`,
        [
          JSON.stringify(
            updates.map((u) => ({
              id: u.id,
              state: u.state,
              attempts: u.attempts,
              next_at: u.nextAttemptAt.toISOString(),
              reply: u.reply,
              status: u.status,
              remote: u.remote,
              final: u.final,
              delay_notified: u.delayNotified,
            })),
          ),
          owner,
          JSON.stringify(events.map((e) => ({ message_id: e.messageId, recipient_id: e.recipientId, kind: e.kind, detail: e.detail }))),
          `{${updates.map((u) => Math.trunc(u.id)).join(',')}}`,
        ],
      );
      for (const r of rows) kept.add(Number(r.id));
    }
    return inputs.map((i) => i.updates.filter((u) => kept.has(u.id)).length);
  }, BATCH);

  return {
    /**
     * Claims due recipients of up to `messages` messages, whole messages at a time where possible, so all
     * recipients of one message for one destination can go in one SMTP transaction.
     */
    async claim(messages: number, owner: string, leaseMs: number): Promise<ClaimedRecipient[]> {
      const rows = await store.query<{
        id: number;
        message_id: string;
        address: string;
        notify: string | null;
        orcpt_type: string | null;
        orcpt_address: string | null;
        attempts: number;
        delay_notified: boolean;
        size: number;
      }>(
        `with msgs as (
           select distinct message_id from (
             select message_id from recipients where ${DUE} order by next_attempt_at limit $1) x
         ), due as (
           select r.id from recipients r join msgs using (message_id)
           where r.state in ('queued', 'deferred') and r.next_attempt_at <= now()
             and (r.lease_until is null or r.lease_until < now())
           for update of r skip locked
         )
         update recipients r set lease_owner = $2, lease_until = now() + $3 * interval '1 millisecond', updated_at = now()
         from due where r.id = due.id
         returning r.id::float8 as id, r.message_id, r.address, r.notify, r.orcpt_type, r.orcpt_address,
           r.attempts, (r.delay_notified_at is not null) as delay_notified,
           (select m.size from messages m where m.id = r.message_id) as size`,
        [messages, owner, leaseMs],
      );
      return rows.map((r) => ({
        id: Number(r.id),
        messageId: r.message_id,
        address: r.address,
        notify: parseNotify(r.notify),
        orcpt: r.orcpt_type === null ? null : { type: r.orcpt_type, address: r.orcpt_address ?? '' },
        attempts: Number(r.attempts),
        delayNotified: r.delay_notified === true,
        size: Number(r.size ?? 0),
      }));
    },

    /** Keeps claims alive while their jobs wait or run; returns how many rows this owner still held. */
    async renew(ids: number[], owner: string, leaseMs: number): Promise<number> {
      if (ids.length === 0) return 0;
      const rows = await store.query<{ n: number }>(
        `with u as (update recipients set lease_until = now() + $3 * interval '1 millisecond'
           where id = any($1::bigint[]) and lease_owner = $2 and ${ACTIVE} returning 1)
         select count(*)::int as n from u`,
        [`{${ids.join(',')}}`, owner, leaseMs],
      );
      return Number(rows[0]?.n ?? 0);
    },

    /** Gives claims back (shutdown): they are due again at once for any worker. */
    async release(ids: number[], owner: string): Promise<void> {
      if (ids.length === 0) return;
      await store.query(
        `update recipients set lease_owner = null, lease_until = null where id = any($1::bigint[]) and lease_owner = $2`,
        [`{${ids.join(',')}}`, owner],
      );
    },

    /** The message a job delivers, with its body; null if an operator deleted it meanwhile. Batched (see below). */
    message: (id: string): Promise<(JobMessage & { body: Uint8Array }) | null> => loadMessage(id),

    /**
     * Applies results and appends their events in one statement, releasing the lease. Only rows this owner
     * still holds change: if the lease was lost (a stalled worker), another worker owns the row now and its
     * result wins; ours is dropped and reported so the caller can log it.
     */
    async record(owner: string, updates: RecipientUpdate[], newEvents: NewEvent[]): Promise<number> {
      if (updates.length === 0 && newEvents.length === 0) return 0;
      return recordResults({ owner, updates, events: newEvents });
    },

    /**
     * Alias expansion to addresses elsewhere (RFC 5321 §3.9.1): new recipients of the same message, due now,
     * with the original recipient as ORCPT so DSNs still name what the sender wrote. Wakes the workers.
     */
    async addRecipients(messageId: string, addresses: string[], original: { address: string; notify: DsnNotify | null }): Promise<void> {
      if (addresses.length === 0) return;
      const notify = original.notify === null ? null : original.notify === 'NEVER' ? 'NEVER' : original.notify.join(',');
      await store.query(
        `with r as (
           insert into recipients (message_id, address, orcpt_type, orcpt_address, notify)
           select $1, a, 'rfc822', $3, $4 from unnest($2::text[]) as a
         ) select pg_notify($5, '1')`,
        [messageId, `{${addresses.map(pgArrayItem).join(',')}}`, original.address, notify, QUEUE_CHANNEL],
      );
    },

    /** Seconds until the next recipient falls due (or its lease ends); null when nothing is pending. */
    async nextDueInMs(): Promise<number | null> {
      const rows = await store.query<{ ms: number | null }>(
        `select (extract(epoch from (min(greatest(next_attempt_at, coalesce(lease_until, next_attempt_at))) - now())) * 1000)::float8 as ms
         from recipients where ${ACTIVE}`,
        [],
      );
      const ms = rows[0]?.ms;
      return ms === null || ms === undefined ? null : Math.max(0, Number(ms));
    },
  };
}

export type DeliveryRepo = ReturnType<typeof createDeliveryRepo>;

/** Quoted element of a PostgreSQL array literal: any address survives (quotes, commas, braces). */
function pgArrayItem(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function toBytes(v: Uint8Array): Uint8Array {
  return v.constructor === Uint8Array ? v : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}
