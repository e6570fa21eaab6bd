// Greylisting (RFC 6647 §2.4) of (client network, sender, recipient) triplets, in the database every node shares.
//
// The first delivery attempt of an unknown triplet is deferred; a retry after `delay` and within `window` of
// the first attempt passes, and the triplet stays known until `expiry` without traffic (RFC 6647 §5 (2), (3)).
// As RFC 6647 §5 (1) recommends, a successful retry also makes the client's own address known, so its
// later mail passes whatever the envelope (postgrey's auto-whitelisting, after one retry instead of five).
// Every node reads and writes the same `greylist` table (§5 (4)): a retry landing on another node passes.
import type { Store } from '../store/open.ts';
import { canonicalIp, greylistNetwork } from './network.ts';

export interface GreylistOptions {
  delay: number; // ms
  window: number; // ms
  expiry: number; // ms
  /** Sender domains never greylisted (subdomains included), lower-case. */
  allowDomains: readonly string[];
}

/**
 * - 'allowed': the sender domain is on the allow-list, nothing recorded;
 * - 'known': the client address or the triplet passed before;
 * - 'passed': this attempt is the retry that passes;
 * - 'deferred': unknown, too early, or too late (a new first attempt): answer 4xx.
 */
export type GreylistOutcome =
  | { kind: 'allowed' | 'known' }
  | { kind: 'passed'; waitedMs: number }
  | { kind: 'deferred'; waitedMs: number; attempts: number };

export interface Greylist {
  /** Throws only when the database does: the caller decides what a failed lookup answers. */
  check(ip: string, sender: string, recipient: string, now: number): Promise<GreylistOutcome>;
  /** Deletes triplets past their window or expiry; returns how many. */
  cleanup(now: number): Promise<number>;
}

// Keys join parts with "|"; "%" and "|" inside an address are escaped so two triplets never share a key.
const part = (s: string): string => s.toLowerCase().replace(/%/g, '%25').replace(/\|/g, '%7C');

/** The triplet's key: network|sender|recipient ('' for the null sender <>). */
export const tripletKey = (ip: string, sender: string, recipient: string): string =>
  `${greylistNetwork(ip)}|${part(sender)}|${part(recipient)}`;

/** The key of a client address that passed (no "|", so it never equals a triplet key). */
export const clientKey = (ip: string): string => canonicalIp(ip);

const iso = (ms: number): string => new Date(ms).toISOString();

const TRIPLET_UPSERT = `
insert into greylist as g (key, first_seen, last_seen, passed_at, attempts)
values ($1, $2::timestamptz, $2::timestamptz, null, 1)
on conflict (key) do update set
  first_seen = case when (g.passed_at is null and g.first_seen < $4::timestamptz)
                      or (g.passed_at is not null and g.last_seen < $5::timestamptz)
                    then excluded.first_seen else g.first_seen end,
  passed_at = case when (g.passed_at is null and g.first_seen < $4::timestamptz)
                     or (g.passed_at is not null and g.last_seen < $5::timestamptz) then null
                   when g.passed_at is not null then g.passed_at
                   when g.first_seen <= $3::timestamptz then excluded.last_seen
                   else null end,
  last_seen = excluded.last_seen,
  attempts = case when (g.passed_at is null and g.first_seen < $4::timestamptz)
                    or (g.passed_at is not null and g.last_seen < $5::timestamptz)
                  then 1 else g.attempts + 1 end
returning passed_at is not null as passed, passed_at = $2::timestamptz as just_passed,
  (extract(epoch from first_seen) * 1000)::float8 as first_ms, attempts`;

const CLIENT_LOOKUP = `
select (extract(epoch from last_seen) * 1000)::float8 as last_ms from greylist
where key = $1 and passed_at is not null and last_seen >= $2::timestamptz`;

const CLIENT_UPSERT = `
insert into greylist as g (key, first_seen, last_seen, passed_at, attempts)
values ($1, $2::timestamptz, $2::timestamptz, $2::timestamptz, 1)
on conflict (key) do update set last_seen = excluded.last_seen, attempts = g.attempts + 1,
  passed_at = coalesce(g.passed_at, excluded.passed_at)`;

const CLEANUP = `
with gone as (
  delete from greylist
  where (passed_at is null and first_seen < $1::timestamptz) or (passed_at is not null and last_seen < $2::timestamptz)
  returning 1
) select count(*)::int as n from gone`;

function senderDomain(sender: string): string | null {
  const at = sender.lastIndexOf('@');
  return at < 0 ? null : sender.slice(at + 1).toLowerCase();
}

export function createGreylist(store: Store, opts: GreylistOptions): Greylist {
  const allow = opts.allowDomains.map((d) => d.toLowerCase().replace(/\.$/, ''));
  const allowed = (domain: string | null): boolean =>
    domain !== null && allow.some((d) => domain === d || domain.endsWith('.' + d));
  // A known entry's last_seen is written at most this often, not on every recipient: expiry is measured
  // in weeks, so an hour's precision costs nothing and saves a write per message from known senders.
  const refreshEvery = Math.min(3_600_000, opts.expiry / 4);

  return {
    async check(ip, sender, recipient, now) {
      if (allowed(senderDomain(sender))) return { kind: 'allowed' };
      const client = clientKey(ip);
      const known = await store.query<{ last_ms: number }>(CLIENT_LOOKUP, [client, iso(now - opts.expiry)]);
      if (known.length > 0) {
        if (now - Number(known[0].last_ms) >= refreshEvery) await store.query(CLIENT_UPSERT, [client, iso(now)]);
        return { kind: 'known' };
      }
      // One statement decides and records, so two nodes seeing the same retry at once cannot both insert.
      const [row] = await store.query<{ passed: boolean; just_passed: boolean; first_ms: number; attempts: number }>(
        TRIPLET_UPSERT,
        [tripletKey(ip, sender, recipient), iso(now), iso(now - opts.delay), iso(now - opts.window), iso(now - opts.expiry)],
      );
      const waitedMs = now - Number(row.first_ms);
      if (!row.passed) return { kind: 'deferred', waitedMs, attempts: Number(row.attempts) };
      await store.query(CLIENT_UPSERT, [client, iso(now)]);
      return row.just_passed ? { kind: 'passed', waitedMs } : { kind: 'known' };
    },
    async cleanup(now) {
      const [row] = await store.query<{ n: number }>(CLEANUP, [iso(now - opts.window), iso(now - opts.expiry)]);
      return Number(row?.n ?? 0);
    },
  };
}
