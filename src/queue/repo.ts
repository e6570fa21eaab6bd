// Read side of the queue for the CLI, the console and tests: list, inspect and count queued mail.
import { and, asc, count, desc, eq, getTableColumns, inArray, sql } from 'drizzle-orm';
import type { DsnNotify, Envelope, EnvelopeRecipient, ListenerKind } from '../smtp/types.ts';
import type { Store } from '../store/open.ts';
import { events, messages, recipients, type MessageRow, type RecipientRow } from '../store/schema.ts';
import type {
  QueueEvent,
  QueueReader,
  QueueStats,
  QueuedMessage,
  QueuedMessageSummary,
  QueuedRecipient,
  RecipientState,
} from './types.ts';

/** Rows per table, for tests and health checks. */
export interface QueueCounts {
  messages: number;
  recipients: number;
  events: number;
}

export interface QueueRepo extends QueueReader {
  counts(): Promise<QueueCounts>;
  /** Every queue id, oldest first. */
  ids(): Promise<string[]>;
  /** Messages that lack recipients or their 'received' event: must always be empty (intake is atomic). */
  incomplete(): Promise<string[]>;
}

// Everything but the body, which can be tens of megabytes and is fetched only when asked for.
const { body: _body, ...headColumns } = getTableColumns(messages);
type MessageHead = Omit<MessageRow, 'body'>;

export function createQueueReader(store: Store): QueueRepo {
  const { db } = store;

  async function recipientsOf(ids: string[]): Promise<Map<string, RecipientRow[]>> {
    const byMessage = new Map<string, RecipientRow[]>(ids.map((id) => [id, []]));
    if (ids.length === 0) return byMessage;
    const rows = await db.select().from(recipients).where(inArray(recipients.messageId, ids)).orderBy(asc(recipients.id));
    for (const r of rows) byMessage.get(r.messageId)?.push(r);
    return byMessage;
  }

  return {
    async list({ limit, state }) {
      const base = db.select(headColumns).from(messages);
      const filtered = state
        ? base.where(
            inArray(
              messages.id,
              db.select({ id: recipients.messageId }).from(recipients).where(eq(recipients.state, state)),
            ),
          )
        : base;
      const heads = await filtered.orderBy(desc(messages.receivedAt), desc(messages.id)).limit(limit);
      const rcpts = await recipientsOf(heads.map((h) => h.id));
      return heads.map((h) => summary(h, rcpts.get(h.id) ?? []));
    },

    async get(id, opts = {}) {
      const [row] = opts.withBody
        ? await db.select().from(messages).where(eq(messages.id, id))
        : await db.select(headColumns).from(messages).where(eq(messages.id, id));
      if (!row) return null;
      const rcpts = (await recipientsOf([id])).get(id) ?? [];
      const evs = await db.select().from(events).where(eq(events.messageId, id)).orderBy(asc(events.at), asc(events.id));
      const msg: QueuedMessage & { body?: Uint8Array } = {
        ...summary(row, rcpts),
        envelope: envelopeOf(row, rcpts),
        events: evs.map(
          (e): QueueEvent => ({ at: e.at, kind: e.kind, recipientId: e.recipientId, detail: e.detail }),
        ),
      };
      if ('body' in row) msg.body = row.body as Uint8Array;
      return msg;
    },

    async stats(): Promise<QueueStats> {
      const [{ n }] = await db.select({ n: count() }).from(messages);
      const rows = await db.select({ state: recipients.state, n: count() }).from(recipients).groupBy(recipients.state);
      const byState: Record<RecipientState, number> = { queued: 0, deferred: 0, delivered: 0, bounced: 0, held: 0 };
      for (const r of rows) byState[r.state] = r.n;
      return { messages: n, recipients: byState };
    },

    async counts() {
      const [m] = await db.select({ n: count() }).from(messages);
      const [r] = await db.select({ n: count() }).from(recipients);
      const [e] = await db.select({ n: count() }).from(events);
      return { messages: m.n, recipients: r.n, events: e.n };
    },

    async ids() {
      const rows = await db.select({ id: messages.id }).from(messages).orderBy(asc(messages.receivedAt), asc(messages.id));
      return rows.map((r) => r.id);
    },

    async incomplete() {
      const rows = await db
        .select({ id: messages.id })
        .from(messages)
        .where(
          sql`not exists (select 1 from ${recipients} where ${recipients.messageId} = ${messages.id})
           or not exists (select 1 from ${events} where ${and(eq(events.messageId, messages.id), eq(events.kind, 'received'))})`,
        );
      return rows.map((r) => r.id);
    },
  };
}

function summary(h: MessageHead, rcpts: RecipientRow[]): QueuedMessageSummary {
  return {
    id: h.id,
    sender: h.sender,
    size: h.size,
    receivedAt: h.receivedAt,
    clientAddress: h.clientAddress,
    recipients: rcpts.map(
      (r): QueuedRecipient => ({
        id: r.id,
        address: r.address,
        state: r.state,
        attempts: r.attempts,
        nextAttemptAt: r.nextAttemptAt,
        lastReply: r.lastReply,
      }),
    ),
  };
}

/** The inverse of intake's row mapping: the Envelope exactly as the session handed it over. */
function envelopeOf(h: MessageHead, rcpts: RecipientRow[]): Envelope {
  return {
    queueId: h.id,
    sender: h.sender,
    recipients: rcpts.map(
      (r): EnvelopeRecipient => ({
        address: r.address,
        notify: parseNotify(r.notify),
        orcpt: r.orcptType === null ? null : { type: r.orcptType, address: r.orcptAddress ?? '' },
      }),
    ),
    bodyType: h.bodyType as Envelope['bodyType'],
    smtpUtf8: h.smtpUtf8,
    declaredSize: h.declaredSize,
    dsnRet: h.dsnRet as Envelope['dsnRet'],
    dsnEnvid: h.dsnEnvid,
    helo: h.helo,
    protocol: h.protocol,
    clientAddress: h.clientAddress,
    clientPort: h.clientPort,
    listener: h.listener as ListenerKind,
    tls: h.tlsProtocol === null ? null : { protocol: h.tlsProtocol, cipher: h.tlsCipher ?? '' },
    authUser: h.authUser,
    receivedAt: h.receivedAt,
  };
}

function parseNotify(v: string | null): DsnNotify | null {
  if (v === null) return null;
  if (v === 'NEVER') return 'NEVER';
  return v === '' ? [] : (v.split(',') as Array<'SUCCESS' | 'FAILURE' | 'DELAY'>);
}
