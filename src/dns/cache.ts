// A size-bounded cache of DNS answers that keeps each entry only as long as its TTL allows (RFC 1035 §3.2.1, RFC 2308).

/** Positive answers are kept at most an hour even when their TTL is longer, so a fixed DNS error heals soon. */
export const POSITIVE_TTL_CAP = 3600;

interface Entry<V> {
  value: V;
  expires: number; // ms, on the injected clock
}

/**
 * Least-recently-used eviction past `size` entries (a Map iterates in insertion order; a hit re-inserts).
 * `now` is injected so tests can step time instead of sleeping.
 */
export class TtlCache<V> {
  readonly #entries = new Map<string, Entry<V>>();
  readonly #size: number;
  readonly #now: () => number;

  constructor(size: number, now: () => number) {
    this.#size = size;
    this.#now = now;
  }

  /** The value and its remaining lifetime in whole seconds (at least 1 while it is still valid), or null. */
  get(key: string): { value: V; remaining: number } | null {
    const entry = this.#entries.get(key);
    if (!entry) return null;
    const left = entry.expires - this.#now();
    if (left <= 0) {
      this.#entries.delete(key);
      return null;
    }
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return { value: entry.value, remaining: Math.max(1, Math.ceil(left / 1000)) };
  }

  /** Keeps `value` for `seconds`; 0 (a TTL of zero: RFC 1035 §3.2.1 "do not cache") stores nothing. */
  set(key: string, value: V, seconds: number): void {
    if (this.#size <= 0 || !(seconds > 0)) return;
    this.#entries.delete(key);
    this.#entries.set(key, { value, expires: this.#now() + seconds * 1000 });
    while (this.#entries.size > this.#size) {
      const oldest = this.#entries.keys().next();
      if (oldest.done) break;
      this.#entries.delete(oldest.value);
    }
  }

  clear(): void {
    this.#entries.clear();
  }

  get entries(): number {
    return this.#entries.size;
  }
}
