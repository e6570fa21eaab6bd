// SMTP AUTH users: canonical names and addresses, the repository over the `users` table, and the AuthIdentity a row grants.
import { asc, eq, and, sql } from 'drizzle-orm';
import type { Parsed } from '../lib/units.ts';
import { parsePath, isDomain } from '../smtp/address.ts';
import type { AuthIdentity } from '../smtp/types.ts';
import type { Store } from '../store/open.ts';
import { users, type UserRow } from '../store/schema.ts';

/** RFC 4616 §2: servers must accept authcids of 255 octets; Tern allows no longer names. */
export const MAX_NAME_BYTES = 255;

/** A user as the CLI, the console and the control socket see it: everything but the password hash. */
export interface User {
  name: string;
  addresses: string[];
  domains: string[];
  any: boolean;
  disabled: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export interface StoredUser extends User {
  passwordHash: string;
}

/** Input to add(): already canonical (validate with the functions below first). */
export interface NewUser {
  name: string;
  passwordHash: string;
  addresses?: readonly string[];
  domains?: readonly string[];
  any?: boolean;
  disabled?: boolean;
}

/**
 * The one form names are stored and looked up in: NFC, lower-case. Logins are case-insensitive, like the
 * address most of them are (RFC 5321 §2.4: local parts are case-sensitive in theory, never in practice).
 */
export function canonicalName(raw: string): string {
  return raw.normalize('NFC').toLowerCase();
}

/** An addr-spec as MAIL FROM carries it (RFC 5321 §4.1.2), lower-cased; no source route, no address literal. */
export function validateAddress(raw: string): Parsed<string> {
  const text = canonicalName(raw.trim());
  if (text.startsWith('@') || /[<>\s]/.test(text)) return { ok: false, error: `'${raw}' is not an address (local@domain)` };
  const r = parsePath(`<${text}>`, 0, { allowNull: false, allowPostmaster: false });
  if (!r.ok || r.mailbox === null || r.end !== text.length + 2) return { ok: false, error: `'${raw}' is not an address (local@domain)` };
  if (r.mailbox.literal) return { ok: false, error: `'${raw}': an address literal cannot be a sender identity` };
  return { ok: true, value: `${r.mailbox.local}@${r.mailbox.domain}` };
}

/** A domain name (A-labels or U-labels, as the sender's domain may arrive either way), lower-cased. */
export function validateDomain(raw: string): Parsed<string> {
  const text = canonicalName(raw.trim()).replace(/\.$/, '');
  return isDomain(text, true) ? { ok: true, value: text } : { ok: false, error: `'${raw}' is not a domain name` };
}

/**
 * A login name: an address (then it is also an address the user may send as) or a plain name of letters,
 * digits and . _ + - (for applications: "newsletter", "billing-app"). Spaces and controls are refused so a
 * name can never forge a log field or be mistaken for another in a listing.
 */
export function validateUserName(raw: string): Parsed<string> {
  const name = canonicalName(raw);
  if (name === '') return { ok: false, error: 'the user name is empty' };
  if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) return { ok: false, error: `the user name is longer than ${MAX_NAME_BYTES} octets` };
  if (name.includes('@')) {
    const a = validateAddress(name);
    return a.ok && a.value === name ? a : { ok: false, error: `'${raw}' is neither a plain name nor an address` };
  }
  return /^[\p{L}\p{N}._+-]+$/u.test(name) ? { ok: true, value: name } : { ok: false, error: `'${raw}' may only contain letters, digits and . _ + - (or be an address)` };
}

/**
 * Which envelope senders the user may use (the 553 5.7.1 rule, RFC 6409 §6.1): its own name when that is an
 * address, its extra addresses, every address in its domains, or anyone with `any`.
 */
export function identityOf(user: Pick<User, 'name' | 'addresses' | 'domains' | 'any'>): AuthIdentity {
  const addresses = new Set<string>();
  if (user.name.includes('@')) addresses.add(user.name);
  for (const a of user.addresses) addresses.add(a);
  return { user: user.name, addresses: [...addresses], domains: [...new Set(user.domains)], any: user.any };
}

function toUser(row: UserRow): User {
  return {
    name: row.name,
    addresses: row.addresses,
    domains: row.domains,
    any: row.sendAsAny,
    disabled: row.disabled,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

export interface UserRepo {
  /** 'exists' when the name is taken (the unique constraint decides, so two adders cannot both win). */
  add(user: NewUser): Promise<{ ok: true; user: User } | { ok: false; error: 'exists' }>;
  /** False when there is no such user. */
  setPassword(name: string, passwordHash: string): Promise<boolean>;
  /** Compare-and-set for rehash-on-login: loses (false) to a concurrent `tern user passwd`. */
  replaceHash(name: string, expected: string, next: string): Promise<boolean>;
  setDisabled(name: string, disabled: boolean): Promise<boolean>;
  remove(name: string): Promise<boolean>;
  list(): Promise<User[]>;
  /** The row for a canonical name, hash included; null when unknown. Rejects when the database is unreachable. */
  lookup(name: string): Promise<StoredUser | null>;
}

export function createUserRepo(store: Store): UserRepo {
  const { db } = store;
  const now = sql`now()`;
  return {
    async add(u) {
      const rows = await db
        .insert(users)
        .values({
          name: u.name,
          passwordHash: u.passwordHash,
          addresses: [...(u.addresses ?? [])],
          domains: [...(u.domains ?? [])],
          sendAsAny: u.any ?? false,
          disabled: u.disabled ?? false,
        })
        .onConflictDoNothing({ target: users.name })
        .returning();
      return rows.length === 1 ? { ok: true, user: toUser(rows[0]) } : { ok: false, error: 'exists' };
    },
    async setPassword(name, passwordHash) {
      const rows = await db.update(users).set({ passwordHash, updatedAt: now }).where(eq(users.name, name)).returning({ id: users.id });
      return rows.length === 1;
    },
    async replaceHash(name, expected, next) {
      const rows = await db
        .update(users)
        .set({ passwordHash: next, updatedAt: now })
        .where(and(eq(users.name, name), eq(users.passwordHash, expected)))
        .returning({ id: users.id });
      return rows.length === 1;
    },
    async setDisabled(name, disabled) {
      const rows = await db.update(users).set({ disabled, updatedAt: now }).where(eq(users.name, name)).returning({ id: users.id });
      return rows.length === 1;
    },
    async remove(name) {
      const rows = await db.delete(users).where(eq(users.name, name)).returning({ id: users.id });
      return rows.length === 1;
    },
    async list() {
      return (await db.select().from(users).orderBy(asc(users.name))).map(toUser);
    },
    async lookup(name) {
      const [row] = await db.select().from(users).where(eq(users.name, name));
      return row ? { ...toUser(row), passwordHash: row.passwordHash } : null;
    },
  };
}
