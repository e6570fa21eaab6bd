// MTA-STS (RFC 8461) policies for the SMTP client: TXT discovery, HTTPS fetch, an in-memory cache kept for
// max_age, and the fallbacks of §3.3 and §5.1. The client enforces; this only says what the policy is.
import { readFile } from 'node:fs/promises';
import tls from 'node:tls';
import type { Resolver } from '../dns/types.ts';
import type { Logger } from '../lib/log.ts';
import { fetchPolicyText, type PolicyFetchResult } from './mta-sts-fetch.ts';
import { parseStsPolicy, parseStsTxt } from './mta-sts-parse.ts';
import type { MtaStsPolicy, MtaStsProvider } from './types.ts';

export { MAX_AGE_CAP, mxMatches, parseStsPolicy, parseStsTxt } from './mta-sts-parse.ts';
export { MAX_POLICY_BYTES, type PolicyFetchResult } from './mta-sts-fetch.ts';

/** §3.3 suggests a minute; a policy host slower than this holds a delivery slot for nothing. */
export const POLICY_FETCH_TIMEOUT = 20_000;
/** §3.3: after a failed fetch, "limit further attempts to a period of five minutes or longer per version ID". */
export const FAILED_FETCH_BACKOFF = 5 * 60_000;
/** §3.3: "proactively refresh cached policies before they expire; a suggested refresh frequency is once per day". */
export const REFRESH_AFTER = 24 * 3_600_000;

export interface MtaStsOptions {
  resolver: Resolver;
  /** PEM file of extra trusted CAs (delivery.caFile), added to the system's roots; '' for none. */
  caFile: string;
  /** Clock in ms (tests move it to expire policies). */
  now?: () => number;
  /** HTTPS port of policy hosts: 443; tests use an ephemeral one. */
  port?: number;
  timeoutMs?: number;
  /** Replaces the HTTPS fetch (address lookup included): answers the policy body for a domain, or why not. */
  fetchImpl?: (domain: string) => Promise<PolicyFetchResult>;
  log?: Logger;
}

interface Cached {
  policy: MtaStsPolicy;
  fetchedAt: number;
  expiresAt: number;
}

export type MtaSts = MtaStsProvider & {
  /**
   * Makes the next policyFor(domain) fetch the policy again even if the TXT id is unchanged, ignoring the
   * five-minute back-off. The cached policy stays the fallback until its max_age ends: dropping it would let
   * an attacker who blocks the refresh turn "enforce" off (RFC 8461 §10).
   */
  invalidate(domain: string): void;
};

/**
 * policyFor(domain), per §5.1: the TXT record's id is checked on every call (the resolver caches it for its
 * TTL); the policy is fetched when nothing valid is cached, when the id differs from the cached policy's, or
 * once a day to refresh it. When no live policy can be had (no usable TXT record, DNS failure, a failed or
 * invalid fetch), a still valid cached policy is returned, else null: the domain is then treated as having
 * no policy, which §3.3 requires. A failed fetch is not repeated for the same id within five minutes.
 * Concurrent calls for one domain share one lookup.
 *
 * The cache is in memory: each Tern node fetches its own copy, which costs one small HTTPS request per
 * domain and node and keeps nodes independent of each other.
 */
export function createMtaSts(opts: MtaStsOptions): MtaSts {
  const now = opts.now ?? Date.now;
  const cache = new Map<string, Cached>();
  const failed = new Map<string, { id: string; at: number }>();
  const inflight = new Map<string, Promise<MtaStsPolicy | null>>();
  let trusted: Promise<string[]> | undefined;

  const trustedCas = (): Promise<string[]> => {
    trusted ??= (async () => {
      if (opts.caFile === '') return [...tls.rootCertificates];
      try {
        return [...tls.rootCertificates, await readFile(opts.caFile, 'utf8')];
      } catch (e) {
        opts.log?.error('mta-sts.ca-file', { file: opts.caFile, error: (e as Error).message });
        return [...tls.rootCertificates];
      }
    })();
    return trusted;
  };

  const fetchBody = opts.fetchImpl ?? (async (domain: string) =>
    fetchPolicyText(domain, {
      resolver: opts.resolver,
      ca: await trustedCas(),
      port: opts.port ?? 443,
      timeoutMs: opts.timeoutMs ?? POLICY_FETCH_TIMEOUT,
    }));

  /** The cached policy if it has not outlived its max_age (§3.2); an expired one is dropped. */
  const valid = (domain: string): Cached | undefined => {
    const c = cache.get(domain);
    if (c === undefined || now() < c.expiresAt) return c;
    cache.delete(domain);
    return undefined;
  };

  /** Entries are dropped when read after expiry; this also drops those never read again. */
  let stores = 0;
  const sweep = () => {
    if (++stores % 1024 !== 0) return;
    for (const [d, c] of cache) if (now() >= c.expiresAt) cache.delete(d);
    for (const [d, f] of failed) if (now() - f.at >= FAILED_FETCH_BACKOFF) failed.delete(d);
  };

  async function lookup(domain: string): Promise<MtaStsPolicy | null> {
    const cached = valid(domain);
    const txt = await opts.resolver.txt(`_mta-sts.${domain}`);
    // §3.1: a missing or unusable record "is not by itself sufficient to remove" a cached policy.
    if (!txt.ok) return cached?.policy ?? null;
    const record = parseStsTxt(txt.records);
    if (!record.ok) {
      if (txt.records.some((r) => r.startsWith('v=STSv1'))) {
        opts.log?.warn('mta-sts.bad-txt', { domain, reason: record.reason });
      }
      return cached?.policy ?? null;
    }
    const id = record.value.id;
    if (cached !== undefined && cached.policy.id === id && now() - cached.fetchedAt < REFRESH_AFTER) {
      return cached.policy;
    }
    const last = failed.get(domain);
    if (last !== undefined && last.id === id && now() - last.at < FAILED_FETCH_BACKOFF) {
      return cached?.policy ?? null;
    }

    const got = await fetchBody(domain);
    const parsed = got.ok ? parseStsPolicy(got.body) : got;
    if (!parsed.ok) {
      failed.set(domain, { id, at: now() });
      sweep();
      // §3.3: alert administrators when a refresh fails, "unless the cached policy mode is none".
      if (cached?.policy.mode !== 'none') {
        opts.log?.warn('mta-sts.fetch-failed', {
          domain,
          id,
          reason: parsed.reason,
          usingCached: cached !== undefined,
        });
      }
      return cached?.policy ?? null;
    }
    failed.delete(domain);
    const policy: MtaStsPolicy = { ...parsed.value, id };
    const at = now();
    cache.set(domain, { policy, fetchedAt: at, expiresAt: at + policy.maxAge * 1000 });
    sweep();
    opts.log?.debug('mta-sts.policy', { domain, id, mode: policy.mode, maxAge: policy.maxAge });
    return policy;
  }

  return {
    policyFor(domain: string): Promise<MtaStsPolicy | null> {
      // §3.4: the policy domain is exactly the recipient (or smarthost) domain, never a parent.
      const d = domain.toLowerCase().replace(/\.$/, '');
      let p = inflight.get(d);
      if (p === undefined) {
        p = lookup(d).finally(() => inflight.delete(d));
        inflight.set(d, p);
      }
      return p;
    },
    invalidate(domain: string): void {
      const d = domain.toLowerCase().replace(/\.$/, '');
      const c = cache.get(d);
      if (c !== undefined) c.fetchedAt = -Infinity;
      failed.delete(d);
    },
  };
}
