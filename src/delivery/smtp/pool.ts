// Idle SMTP/LMTP connections kept for the next job to the same destination (connection reuse, like
// Postfix's connection cache), each closed with QUIT when its idle time runs out.
import type { ReadySession } from './session.ts';

interface Entry {
  session: ReadySession;
  timer: ReturnType<typeof setTimeout>;
  pooled: boolean; // false once taken or dropped
}

// A connection this old is not reused however idle it was: peers limit session length and message counts
// (Postfix's smtp_connection_reuse_time_limit is the same 300 s), and a fresh EHLO picks up config changes.
export const MAX_SESSION_AGE = 300_000;
const MAX_IDLE_PER_KEY = 32;

/**
 * Keyed by destination (route key, address, port, TLS policy). A session is handed to one job at a
 * time: take() removes it; put() returns it after a transaction that left the peer in its initial state.
 */
export class SessionPool {
  readonly #idle = new Map<string, Entry[]>();
  readonly #born = new WeakMap<ReadySession, number>();
  readonly #idleMs: number;
  readonly #now: () => number;
  #closed = false;

  constructor(idleMs: number, now: () => number = Date.now) {
    this.#idleMs = idleMs;
    this.#now = now;
  }

  /** Remembers when a session was opened (for MAX_SESSION_AGE). */
  opened(s: ReadySession): void {
    this.#born.set(s, this.#now());
  }

  /** The most recently used idle session for this key that is still fit for a transaction, or null. */
  take(key: string): ReadySession | null {
    const list = this.#idle.get(key);
    while (list !== undefined && list.length > 0) {
      const e = list.pop()!;
      e.pooled = false;
      clearTimeout(e.timer);
      if (e.session.channel.idle) {
        if (list.length === 0) this.#idle.delete(key);
        return e.session;
      }
      e.session.channel.quit();
    }
    this.#idle.delete(key);
    return null;
  }

  /** Keeps the session for `idleMs`, or closes it at once when pooling is off, full, closed or it is too old. */
  put(key: string, s: ReadySession): void {
    const list = this.#idle.get(key) ?? [];
    const age = this.#now() - (this.#born.get(s) ?? this.#now());
    if (this.#closed || this.#idleMs <= 0 || !s.channel.idle || list.length >= MAX_IDLE_PER_KEY || age >= MAX_SESSION_AGE) {
      s.channel.quit();
      return;
    }
    const entry: Entry = {
      session: s,
      pooled: true,
      timer: setTimeout(() => this.#drop(key, entry), this.#idleMs),
    };
    (entry.timer as { unref?: () => void }).unref?.();
    // A peer that closes an idle connection (its own timeout, RFC 5321 §4.5.3.2.7) takes it out of the pool.
    s.channel.onClose(() => this.#drop(key, entry));
    list.push(entry);
    this.#idle.set(key, list);
  }

  /** QUITs every idle session and waits until they are closed; later put()s close theirs at once. */
  async close(): Promise<void> {
    this.#closed = true;
    const closing: Promise<void>[] = [];
    for (const [key, list] of this.#idle) {
      for (const e of [...list]) {
        closing.push(e.session.channel.closed);
        this.#drop(key, e);
      }
    }
    await Promise.all(closing);
  }

  #drop(key: string, e: Entry): void {
    if (!e.pooled) return;
    e.pooled = false;
    clearTimeout(e.timer);
    const list = this.#idle.get(key);
    const i = list?.indexOf(e) ?? -1;
    if (list !== undefined && i >= 0) list.splice(i, 1);
    if (list !== undefined && list.length === 0) this.#idle.delete(key);
    e.session.channel.quit();
  }
}
