// Per-client rate limits in memory: connections and messages per minute, one token bucket per client key.
//
// A token bucket holds at most `perMinute` tokens and refills at perMinute per 60 s; each event takes one.
// So a client may burst up to the limit, after which it gets one event per 60/perMinute seconds: the
// (N+1)-th event inside a minute is refused, as with Postfix's anvil counters, but without anvil's fixed
// time slots (a burst straddling a slot boundary would get 2N through). State is per node: several nodes
// behind one MX name each allow N, which is the usual meaning of such a limit and needs no database write.
import { rateKey } from './network.ts';

const MINUTE = 60_000;

/** The most client keys held at once; past it the least recently seen one is forgotten. */
export const DEFAULT_MAX_KEYS = 100_000;

interface Bucket {
  tokens: number;
  at: number; // ms of the last refill
}

export interface RateLimiter {
  /**
   * Counts one event for the client at `ip` (IPv6 counted per /64: network.ts rateKey) at time `now` (ms).
   * true = within the limit; false = over it (the refused event is not counted against the client).
   */
  take(ip: string, now: number): boolean;
  /** Forgets clients whose bucket has refilled completely (idle ones): they are the same as unknown ones. */
  sweep(now: number): number;
  /** Clients currently tracked. */
  readonly size: number;
}

/**
 * perMinute > 0. Memory is bounded by maxKeys buckets of a few dozen bytes: an attacker with a million
 * addresses makes us forget the quietest clients (each then starts with a full bucket, which errs towards
 * letting mail in), never grow without bound.
 */
export function createRateLimiter(perMinute: number, maxKeys = DEFAULT_MAX_KEYS): RateLimiter {
  if (!(perMinute > 0)) throw new Error(`createRateLimiter: perMinute must be positive, got ${perMinute}`);
  // Map iteration order is insertion order; re-inserting on every use keeps the least recently used first.
  const buckets = new Map<string, Bucket>();
  const perMs = perMinute / MINUTE;
  const refill = (b: Bucket, now: number): number => Math.min(perMinute, b.tokens + Math.max(0, now - b.at) * perMs);

  return {
    take(ip, now) {
      const key = rateKey(ip);
      const b = buckets.get(key);
      if (b) {
        buckets.delete(key);
        b.tokens = refill(b, now);
        b.at = now;
        buckets.set(key, b);
        if (b.tokens < 1) return false;
        b.tokens -= 1;
        return true;
      }
      if (buckets.size >= maxKeys) {
        const oldest = buckets.keys().next();
        if (!oldest.done) buckets.delete(oldest.value);
      }
      buckets.set(key, { tokens: perMinute - 1, at: now });
      return true;
    },
    sweep(now) {
      let removed = 0;
      for (const [key, b] of buckets) {
        if (refill(b, now) >= perMinute) {
          buckets.delete(key);
          removed++;
        }
      }
      return removed;
    },
    get size() {
      return buckets.size;
    },
  };
}
