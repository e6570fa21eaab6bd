// The queue's tables, the single source of truth: migrations/ is generated from this file by drizzle-kit.
import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  check,
  customType,
  index,
  integer,
  jsonb,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

/**
 * bytea that reads back as a plain Uint8Array on both drivers. postgres-js returns a Buffer (a
 * Uint8Array subclass whose slice() shares memory and whose equality differs under assert), PGlite
 * a Uint8Array; callers must not see which driver they run on.
 */
export const bytea = customType<{ data: Uint8Array; driverData: Uint8Array }>({
  dataType: () => 'bytea',
  toDriver: (value) => value,
  fromDriver: (value) => {
    if (value instanceof Uint8Array) {
      return value.constructor === Uint8Array ? value : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    }
    // Defensive: a driver configured without its bytea parser hands back '\x…' hex text.
    const hex = String(value);
    if (!hex.startsWith('\\x')) throw new Error('bytea: unexpected driver value');
    const out = new Uint8Array((hex.length - 2) / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 + i * 2, 4 + i * 2), 16);
    return out;
  },
});

// Millisecond precision is what a JS Date carries; storing more would only invite false inequality.
const tstz = (name: string) => timestamp(name, { withTimezone: true, precision: 3, mode: 'date' });

export const recipientStates = ['queued', 'deferred', 'delivered', 'bounced', 'held'] as const;

/** One accepted SMTP transaction: the envelope facts and the message bytes exactly as received. */
export const messages = pgTable(
  'messages',
  {
    id: text('id').primaryKey(), // the queue id the session announced in its 250 reply
    receivedAt: tstz('received_at').notNull(),
    sender: text('sender').notNull(), // '' is the null reverse-path <>, i.e. a bounce
    size: integer('size').notNull(), // octets of body as stored
    body: bytea('body').notNull(),
    clientAddress: text('client_address').notNull(),
    clientPort: integer('client_port').notNull(),
    helo: text('helo').notNull(),
    protocol: text('protocol').notNull(),
    listener: text('listener').notNull(),
    tlsProtocol: text('tls_protocol'),
    tlsCipher: text('tls_cipher'),
    authUser: text('auth_user'),
    bodyType: text('body_type'),
    smtpUtf8: boolean('smtputf8').notNull(),
    declaredSize: integer('declared_size'),
    dsnRet: text('dsn_ret'),
    dsnEnvid: text('dsn_envid'),
  },
  (t) => [
    // Operators list the queue newest first and expire old mail by age.
    index('messages_received_at_idx').on(t.receivedAt),
    // "What is queued from this sender?" is the first question during a spam or loop incident.
    index('messages_sender_idx').on(t.sender),
    // 'local': made by Tern itself (delivery status notifications) or handed in locally (sendmail).
    check('messages_listener_check', sql`${t.listener} in ('mx', 'submission', 'submissions', 'local')`),
    check('messages_body_type_check', sql`${t.bodyType} in ('7BIT', '8BITMIME')`),
    check('messages_dsn_ret_check', sql`${t.dsnRet} in ('FULL', 'HDRS')`),
    check('messages_size_check', sql`${t.size} >= 0`),
  ],
);

/** One forward-path of a message and its delivery state; delivery workers claim rows under a lease. */
export const recipients = pgTable(
  'recipients',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    messageId: text('message_id')
      .notNull()
      .references(() => messages.id, { onDelete: 'cascade' }),
    address: text('address').notNull(),
    orcptType: text('orcpt_type'), // RFC 3461 ORCPT address type, e.g. 'rfc822'
    orcptAddress: text('orcpt_address'),
    notify: text('notify'), // RFC 3461 NOTIFY: 'NEVER' or a comma list such as 'SUCCESS,FAILURE'
    state: text('state', { enum: recipientStates }).notNull().default('queued'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: tstz('next_attempt_at').notNull().defaultNow(),
    lastAttemptAt: tstz('last_attempt_at'),
    lastReply: text('last_reply'), // the remote reply (or local reason) of the last attempt, for operators
    lastStatus: text('last_status'), // RFC 3463 enhanced status of the last attempt, e.g. '4.4.1'; the DSN Status
    lastRemote: text('last_remote'), // 'host [ip]:port' of the last attempt, for the DSN's Remote-MTA
    // Set when the RFC 3461 delay warning went out, so each recipient gets at most one.
    delayNotifiedAt: tstz('delay_notified_at'),
    finalAt: tstz('final_at'), // when it reached delivered or bounced
    holdReason: text('hold_reason'), // why it is 'held' (quarantine: e.g. DMARC quarantine), for the console
    // A worker claims due rows with FOR UPDATE SKIP LOCKED and sets an expiring lease, so a crashed
    // node's claims become due again instead of being stuck or delivered twice concurrently.
    leaseOwner: text('lease_owner'),
    leaseUntil: tstz('lease_until'),
    updatedAt: tstz('updated_at').notNull().defaultNow(),
  },
  (t) => [
    check('recipients_state_check', sql`${t.state} in ('queued', 'deferred', 'delivered', 'bounced', 'held')`),
    check('recipients_attempts_check', sql`${t.attempts} >= 0`),
    // The delivery scheduler's only hot query: due recipients in time order. Partial, so delivered
    // and bounced rows kept for the record cost nothing here.
    index('recipients_due_idx')
      .on(t.nextAttemptAt)
      .where(sql`${t.state} in ('queued', 'deferred')`),
    index('recipients_message_id_idx').on(t.messageId),
    // "Where is mail for this address?" when a user asks about a missing message.
    index('recipients_address_idx').on(t.address),
  ],
);

/** Append-only history of a message: received, each attempt, state changes. Never updated. */
export const events = pgTable(
  'events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    messageId: text('message_id')
      .notNull()
      .references(() => messages.id, { onDelete: 'cascade' }),
    recipientId: bigint('recipient_id', { mode: 'number' }).references(() => recipients.id, { onDelete: 'cascade' }),
    at: tstz('at').notNull().defaultNow(),
    kind: text('kind').notNull(), // 'received', later 'attempt', 'deferred', 'delivered', 'bounced', 'held', 'released'
    detail: jsonb('detail').$type<Record<string, unknown>>().notNull().default({}),
  },
  (t) => [
    index('events_message_id_idx').on(t.messageId, t.at),
    // Serves the cascade when a recipient row goes; partial because most events concern the whole message.
    index('events_recipient_id_idx')
      .on(t.recipientId)
      .where(sql`${t.recipientId} is not null`),
  ],
);

/**
 * The built-in mailbox store: local mail delivered here when a domain's delivery is 'mailbox', for the
 * console to show. A copy of the message, independent of the queue row, which may be purged later.
 */
export const mailbox = pgTable(
  'mailbox',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    address: text('address').notNull(), // the final local address, after aliases (lower-cased domain)
    messageId: text('message_id').notNull(), // the queue id it came from, for tracing
    deliveredAt: tstz('delivered_at').notNull().defaultNow(),
    size: integer('size').notNull(),
    body: bytea('body').notNull(), // as delivered: with our Return-Path and Delivered-To on top
    seen: boolean('seen').notNull().default(false),
  },
  (t) => [index('mailbox_address_idx').on(t.address, t.deliveredAt)],
);

/** People and applications that may submit mail with SMTP AUTH (RFC 4954) and the senders they may use. */
export const users = pgTable(
  'users',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    name: text('name').notNull().unique(), // the login (authcid), lower-case
    // PHC-format memory-hard hash, e.g. $scrypt$ln=17,r=8,p=1$salt$hash; never the password itself.
    passwordHash: text('password_hash').notNull(),
    addresses: text('addresses').array().notNull().default(sql`'{}'::text[]`), // may send as these
    domains: text('domains').array().notNull().default(sql`'{}'::text[]`), // may send as any address here
    sendAsAny: boolean('send_as_any').notNull().default(false),
    disabled: boolean('disabled').notNull().default(false),
    createdAt: tstz('created_at').notNull().defaultNow(),
    updatedAt: tstz('updated_at').notNull().defaultNow(),
  },
);

/** DKIM signing keys (RFC 6376, RFC 8463), one active selector per domain; rotation adds a new one. */
export const dkimKeys = pgTable(
  'dkim_keys',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    domain: text('domain').notNull(),
    selector: text('selector').notNull(),
    algorithm: text('algorithm').notNull(), // 'rsa-sha256' | 'ed25519-sha256'
    privateKey: text('private_key').notNull(), // PKCS#8 PEM
    publicKey: text('public_key').notNull(), // base64 of the DNS p= value
    active: boolean('active').notNull().default(false), // the selector new mail is signed with
    createdAt: tstz('created_at').notNull().defaultNow(),
    retiredAt: tstz('retired_at'),
  },
  (t) => [
    uniqueIndex('dkim_keys_domain_selector_idx').on(t.domain, t.selector),
    check('dkim_keys_algorithm_check', sql`${t.algorithm} in ('rsa-sha256', 'ed25519-sha256')`),
  ],
);

/**
 * Greylisting triplets (RFC 6647 §2.1: client network, sender, recipient). Shared by every node on one
 * database, so a retry that lands on another node still passes.
 */
export const greylist = pgTable(
  'greylist',
  {
    key: text('key').primaryKey(), // network|sender|recipient, normalised
    firstSeen: tstz('first_seen').notNull().defaultNow(),
    lastSeen: tstz('last_seen').notNull().defaultNow(),
    passedAt: tstz('passed_at'), // set once a retry came after the delay: the triplet is known good
    attempts: integer('attempts').notNull().default(1),
  },
  (t) => [index('greylist_last_seen_idx').on(t.lastSeen)],
);

export type MessageRow = typeof messages.$inferSelect;
export type NewMessageRow = typeof messages.$inferInsert;
export type RecipientRow = typeof recipients.$inferSelect;
export type NewRecipientRow = typeof recipients.$inferInsert;
export type EventRow = typeof events.$inferSelect;
export type MailboxRow = typeof mailbox.$inferSelect;
export type UserRow = typeof users.$inferSelect;
export type DkimKeyRow = typeof dkimKeys.$inferSelect;
