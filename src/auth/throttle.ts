// Failed-login limits per client IP and per user name: too many failures within a window lock the key for a while.
//
// State is in memory, per node: a cluster of N nodes lets an attacker try up to N times the limit, and a
// restart forgets locks. That is the usual trade (Postfix's anvil, Dovecot's auth penalty work the same way);
// the limits exist to make online guessing slow, and scrypt plus the limits already make it hopeless.

export interface ThrottleLimits {
  /** Failures from one IP within the window that lock it; 0 = no per-IP limit. */
  maxFailuresPerIp: number;
  /** Failures for one user name within the window that lock it; 0 = no per-user limit. */
  maxFailuresPerUser: number;
  failureWindow: number; // ms
  lockout: number; // ms
}

export type ThrottleScope = 'ip' | 'user';

/** A lock that started just now, for the caller to log. */
export interface NewLock {
  scope: ThrottleScope;
  key: string;
  until: number; // epoch ms
}

interface Entry {
  failures: number[]; // epoch ms of recent failures, oldest first, never more than the limit
  lockedUntil: number; // epoch ms; 0 = not locked
}

/**
 * Entries kept per scope. An attacker choosing user names (or an IPv6 attacker choosing addresses) could grow
 * the maps without bound; past this size expired entries are swept, then the oldest dropped.
 */
export const MAX_ENTRIES = 50_000;

export class FailureThrottle {
  private readonly maps: Record<ThrottleScope, Map<string, Entry>> = { ip: new Map(), user: new Map() };

  constructor(
    private readonly limits: ThrottleLimits,
    private readonly now: () => number = Date.now,
  ) {}

  /** When the key's lock ends (epoch ms), or null when it may try. */
  lockedUntil(scope: ThrottleScope, key: string): number | null {
    const e = this.maps[scope].get(key);
    return e && e.lockedUntil > this.now() ? e.lockedUntil : null;
  }

  /**
   * Records one failed login from `ip` for `user` (null when no name was readable). Returns the locks this
   * failure started: the limit-th failure within the window locks, so at most `max` guesses fit in a window.
   */
  fail(ip: string, user: string | null): NewLock[] {
    const locks: NewLock[] = [];
    const ipLock = this.count('ip', ip, this.limits.maxFailuresPerIp);
    if (ipLock) locks.push(ipLock);
    if (user !== null) {
      const userLock = this.count('user', user, this.limits.maxFailuresPerUser);
      if (userLock) locks.push(userLock);
    }
    return locks;
  }

  /**
   * A successful login clears the user's failures (and any lock, though a locked user cannot get here). The
   * IP's count stays: otherwise one valid account would let its owner reset the limit for guessing others.
   */
  succeed(user: string): void {
    this.maps.user.delete(user);
  }

  /** Keys currently tracked, for tests and status output. */
  size(scope: ThrottleScope): number {
    return this.maps[scope].size;
  }

  private count(scope: ThrottleScope, key: string, max: number): NewLock | null {
    if (max <= 0) return null;
    const now = this.now();
    const map = this.maps[scope];
    let e = map.get(key);
    if (!e) {
      if (map.size >= MAX_ENTRIES) this.prune(map, now);
      e = { failures: [], lockedUntil: 0 };
      map.set(key, e);
    }
    const since = now - this.limits.failureWindow;
    e.failures = e.failures.filter((t) => t > since);
    e.failures.push(now);
    if (e.failures.length < max) return null;
    // The window starts afresh after the lock: a client that comes back is judged on what it does next.
    e.failures = [];
    e.lockedUntil = now + this.limits.lockout;
    return { scope, key, until: e.lockedUntil };
  }

  private prune(map: Map<string, Entry>, now: number): void {
    const since = now - this.limits.failureWindow;
    for (const [k, e] of map) {
      if (e.lockedUntil <= now && e.failures.every((t) => t <= since)) map.delete(k);
    }
    // Still full of live entries: forget the oldest (Map keeps insertion order). Degrades to a higher
    // effective limit under an extreme flood rather than to unbounded memory.
    for (const k of map.keys()) {
      if (map.size < MAX_ENTRIES) break;
      map.delete(k);
    }
  }
}
