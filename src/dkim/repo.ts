// The dkim_keys table: generating, listing, activating and retiring signing keys, the same functions for the
// daemon's control socket and the offline CLI.
import { and, asc, eq } from 'drizzle-orm';
import type { Store } from '../store/open.ts';
import { dkimKeys, type DkimKeyRow } from '../store/schema.ts';
import {
  type DkimAlgorithm,
  type DnsRecord,
  defaultSelector,
  dnsRecord,
  generateKey,
  normaliseDomain,
  normaliseSelector,
} from './keys.ts';

/** What the operator sees of a key: never the private half. */
export interface KeyInfo {
  domain: string;
  selector: string;
  algorithm: DkimAlgorithm;
  /** The selector new mail from this domain is signed with; at most one per domain. */
  active: boolean;
  createdAt: string; // ISO 8601
  /** Set when retired: its DNS record may be removed once mail signed with it is no longer verified. */
  retiredAt: string | null;
  record: DnsRecord;
}

/** An expected failure (bad name, unknown selector…), shown to the operator as is. */
export type KeyResult<T> = { ok: true; value: T } | { ok: false; error: string };

function iso(d: Date | string | null): string | null {
  if (d === null) return null;
  return (d instanceof Date ? d : new Date(d)).toISOString();
}

export function keyInfo(row: DkimKeyRow): KeyInfo {
  const algorithm = row.algorithm as DkimAlgorithm; // the table's check constraint allows only these two
  return {
    domain: row.domain,
    selector: row.selector,
    algorithm,
    active: row.active,
    createdAt: iso(row.createdAt) ?? '',
    retiredAt: iso(row.retiredAt),
    record: dnsRecord(row.domain, row.selector, algorithm, row.publicKey),
  };
}

function domainOnly(domainText: string): KeyResult<string> {
  const domain = normaliseDomain(domainText);
  return domain ? { ok: true, value: domain } : { ok: false, error: `not a domain name: ${domainText}` };
}

function names(domainText: string, selectorText: string): KeyResult<{ domain: string; selector: string }> {
  const domain = domainOnly(domainText);
  if (!domain.ok) return domain;
  const selector = normaliseSelector(selectorText);
  if (!selector) return { ok: false, error: `not a valid selector (RFC 6376 §3.1): ${selectorText}` };
  return { ok: true, value: { domain: domain.value, selector } };
}

export interface GenerateRequest {
  domain: string;
  selector?: string;
  algorithm: DkimAlgorithm;
  activate: boolean;
  now?: Date;
}

/** Creates and stores a key; with `activate`, new mail is signed with it at once (publish the record first). */
export async function generate(store: Store, req: GenerateRequest): Promise<KeyResult<KeyInfo>> {
  const n = req.selector === undefined ? domainOnly(req.domain) : names(req.domain, req.selector);
  if (!n.ok) return n;
  const domain = typeof n.value === 'string' ? n.value : n.value.domain;
  const existing = await store.db.select({ selector: dkimKeys.selector }).from(dkimKeys).where(eq(dkimKeys.domain, domain));
  const taken = new Set(existing.map((r) => r.selector));
  const selector = typeof n.value === 'string' ? defaultSelector(req.now ?? new Date(), taken) : n.value.selector;
  if (taken.has(selector)) return { ok: false, error: `${domain} already has a key with selector ${selector}` };
  const key = generateKey(req.algorithm);
  // The unique index (domain, selector) settles a race with another node: the loser's insert inserts nothing.
  const inserted = await store.db
    .insert(dkimKeys)
    .values({ domain, selector, algorithm: key.algorithm, privateKey: key.privateKey, publicKey: key.publicKey })
    .onConflictDoNothing()
    .returning();
  if (inserted.length === 0) return { ok: false, error: `${domain} already has a key with selector ${selector}` };
  if (req.activate) return activate(store, domain, selector);
  return { ok: true, value: keyInfo(inserted[0]) };
}

/** Every key, retired ones included (so the operator knows which records can go), by domain then age. */
export async function list(store: Store, domainText?: string): Promise<KeyResult<KeyInfo[]>> {
  let rows: DkimKeyRow[];
  if (domainText !== undefined) {
    const domain = domainOnly(domainText);
    if (!domain.ok) return domain;
    rows = await store.db.select().from(dkimKeys).where(eq(dkimKeys.domain, domain.value)).orderBy(asc(dkimKeys.createdAt), asc(dkimKeys.id));
  } else {
    rows = await store.db.select().from(dkimKeys).orderBy(asc(dkimKeys.domain), asc(dkimKeys.createdAt), asc(dkimKeys.id));
  }
  return { ok: true, value: rows.map(keyInfo) };
}

/**
 * Makes `selector` the domain's one active key (rotation, RFC 6376 §3.1: selectors exist so keys can change
 * without a flag day). One UPDATE flips every key of the domain, so no reader ever sees two active keys.
 * Re-activating a retired key un-retires it.
 */
export async function activate(store: Store, domainText: string, selectorText: string): Promise<KeyResult<KeyInfo>> {
  const n = names(domainText, selectorText);
  if (!n.ok) return n;
  const { domain, selector } = n.value;
  const target = await store.db.select().from(dkimKeys).where(and(eq(dkimKeys.domain, domain), eq(dkimKeys.selector, selector)));
  if (target.length === 0) return { ok: false, error: `${domain} has no key with selector ${selector}` };
  await store.query(
    `update dkim_keys set active = (selector = $2),
       retired_at = case when selector = $2 then null else retired_at end
     where domain = $1`,
    [domain, selector],
  );
  const row = await store.db.select().from(dkimKeys).where(eq(dkimKeys.id, target[0].id));
  return { ok: true, value: keyInfo(row[0]) };
}

/** Stops signing with a key and marks it retired; it stays listed until the operator deletes the record. */
export async function retire(store: Store, domainText: string, selectorText: string, now = new Date()): Promise<KeyResult<KeyInfo>> {
  const n = names(domainText, selectorText);
  if (!n.ok) return n;
  const { domain, selector } = n.value;
  const rows = await store.db
    .update(dkimKeys)
    .set({ active: false, retiredAt: now })
    .where(and(eq(dkimKeys.domain, domain), eq(dkimKeys.selector, selector)))
    .returning();
  if (rows.length === 0) return { ok: false, error: `${domain} has no key with selector ${selector}` };
  return { ok: true, value: keyInfo(rows[0]) };
}

/** The records to publish: one selector's, or every key of the domain not retired (the active one first). */
export async function records(store: Store, domainText: string, selectorText?: string): Promise<KeyResult<KeyInfo[]>> {
  const n = selectorText === undefined ? domainOnly(domainText) : names(domainText, selectorText);
  if (!n.ok) return n;
  const domain = typeof n.value === 'string' ? n.value : n.value.domain;
  const selector = typeof n.value === 'string' ? null : n.value.selector;
  const all = await list(store, domain);
  if (!all.ok) return all;
  const keys = selector ? all.value.filter((k) => k.selector === selector) : all.value.filter((k) => k.retiredAt === null);
  if (selector && keys.length === 0) return { ok: false, error: `${domain} has no key with selector ${selector}` };
  keys.sort((a, b) => Number(b.active) - Number(a.active));
  return { ok: true, value: keys };
}

/** Active keys with their private halves, for the signer: one row per domain at most. */
export async function activeKeys(store: Store): Promise<DkimKeyRow[]> {
  return store.db.select().from(dkimKeys).where(eq(dkimKeys.active, true));
}
