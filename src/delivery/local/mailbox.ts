// The built-in mailbox store: local mail written into the `mailbox` table, and the reads the console makes.
import { count, desc, eq, max, sql } from 'drizzle-orm';
import type { Store } from '../../store/open.ts';
import { mailbox, type MailboxRow } from '../../store/schema.ts';
import { delivered, type LocalOutcome, temporary, withTraceHeaders } from './common.ts';

export interface MailboxDelivery {
  address: string; // the canonical local mailbox (after aliases)
  messageId: string; // the queue id, for tracing
  sender: string; // '' = null reverse-path
  body: Uint8Array; // as queued; the trace headers are added here
}

/**
 * Stores one copy. The insert commits before this resolves (one statement, its own transaction), so a
 * delivered result is durable. A database failure is temporary 4.3.0: the queue keeps the message and
 * the engine retries when the database is back.
 */
export async function deliverToMailbox(store: Store, m: MailboxDelivery): Promise<LocalOutcome> {
  const body = withTraceHeaders(m.body, m.sender, m.address);
  try {
    const [row] = await store.db
      .insert(mailbox)
      .values({ address: m.address, messageId: m.messageId, size: body.length, body })
      .returning({ id: mailbox.id });
    return delivered('delivered to mailbox', `mailbox id ${row.id}`);
  } catch (err) {
    return temporary('4.3.0', 'local mailbox store unavailable', (err as Error).message);
  }
}

/** One line of a mailbox listing: enough to draw a list without loading message bodies. */
export interface MailboxSummary {
  id: number;
  address: string;
  messageId: string;
  deliveredAt: Date;
  size: number;
  seen: boolean;
  /** Header values as they appear (unfolded, RFC 2047 encoded-words not decoded); '' when absent. */
  from: string;
  subject: string;
  date: string;
}

/** Only this much of each message is read for a listing's headers. */
const SUMMARY_HEAD_OCTETS = 16 * 1024;

/** Newest first. The address is matched as stored: canonical, lower-case. */
export async function listMailbox(store: Store, address: string, limit = 50): Promise<MailboxSummary[]> {
  const rows = await store.db
    .select({
      id: mailbox.id,
      address: mailbox.address,
      messageId: mailbox.messageId,
      deliveredAt: mailbox.deliveredAt,
      size: mailbox.size,
      seen: mailbox.seen,
      head: sql<Uint8Array>`substring(${mailbox.body} from 1 for ${SUMMARY_HEAD_OCTETS})`.mapWith(mailbox.body),
    })
    .from(mailbox)
    .where(eq(mailbox.address, address.toLowerCase()))
    .orderBy(desc(mailbox.deliveredAt), desc(mailbox.id))
    .limit(limit);
  return rows.map(({ head, ...row }) => {
    const fields = headerFields(head);
    return {
      ...row,
      from: fields.get('from') ?? '',
      subject: fields.get('subject') ?? '',
      date: fields.get('date') ?? '',
    };
  });
}

/** The whole stored copy (trace headers included), or null. */
export async function getMailboxMessage(store: Store, id: number): Promise<MailboxRow | null> {
  const [row] = await store.db.select().from(mailbox).where(eq(mailbox.id, id));
  return row ?? null;
}

export async function markMailboxSeen(store: Store, id: number, seen = true): Promise<boolean> {
  const rows = await store.db.update(mailbox).set({ seen }).where(eq(mailbox.id, id)).returning({ id: mailbox.id });
  return rows.length > 0;
}

export interface MailboxInfo {
  address: string;
  messages: number;
  unseen: number;
  latest: Date;
}

/** Every address that has mail, for the console's mailbox list. */
export async function listMailboxes(store: Store): Promise<MailboxInfo[]> {
  const rows = await store.db
    .select({
      address: mailbox.address,
      messages: count(),
      unseen: sql<number>`count(*) filter (where not ${mailbox.seen})`.mapWith(Number),
      latest: max(mailbox.deliveredAt),
    })
    .from(mailbox)
    .groupBy(mailbox.address)
    .orderBy(mailbox.address);
  return rows.map((r) => ({ ...r, latest: r.latest ?? new Date(0) }));
}

/** Deletes one stored copy; false when it was not there. */
export async function deleteMailboxMessage(store: Store, id: number): Promise<boolean> {
  const rows = await store.db.delete(mailbox).where(eq(mailbox.id, id)).returning({ id: mailbox.id });
  return rows.length > 0;
}

/** The first occurrence of each header field in a message's head, names lower-cased, values unfolded. */
function headerFields(head: Uint8Array): Map<string, string> {
  // UTF-8 headers are allowed (RFC 6532); invalid octets become U+FFFD rather than failing the listing.
  const text = new TextDecoder().decode(head);
  const end = text.search(/\r?\n\r?\n/);
  const unfolded = (end < 0 ? text : text.slice(0, end)).replace(/\r?\n(?=[ \t])/g, '');
  const fields = new Map<string, string>();
  for (const line of unfolded.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!fields.has(name)) fields.set(name, line.slice(colon + 1).trim());
  }
  return fields;
}
