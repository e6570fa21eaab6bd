// Answers the SMTP session's AUTH effects: runs the SASL exchange, checks the password, throttles and logs.
import type { Config } from '../config/schema.ts';
import { parseIp } from '../lib/cidr.ts';
import type { Logger } from '../lib/log.ts';
import type { AuthAnswer } from '../smtp/types.ts';
import type { Store } from '../store/open.ts';
import { DUMMY_HASH, hashPassword, verifyPassword } from './password.ts';
import { saslMechanism, saslStep, type SaslState } from './sasl.ts';
import { FailureThrottle } from './throttle.ts';
import { canonicalName, createUserRepo, identityOf, validateUserName, type StoredUser, type UserRepo } from './users.ts';
import { errorText } from '../lib/errors.ts';

/** The connection an exchange belongs to, as the server knows it. */
export interface AuthConn {
  id: string;
  ip: string;
  tls: boolean;
}

/**
 * The contract with src/server: step() is called once per client response of one exchange (never two at
 * once for the same connection), and always resolves, never rejects; forget() when the connection ends.
 */
export interface Authenticator {
  step(conn: AuthConn, mechanism: string, response: Uint8Array | null): Promise<AuthAnswer>;
  forget(connId: string): void;
}

export interface AuthenticatorOptions {
  /** Where users are looked up; either this or `repo`. */
  store?: Store;
  config: Config['auth'];
  log: Logger;
  /** Clock (epoch ms) for throttling and the cache; injected in tests. */
  now?: () => number;
  /** The user table (tests pass an in-memory one); default: createUserRepo(store). */
  repo?: UserRepo;
  /** How long a looked-up user is trusted without asking the database again (ms). */
  cacheTtl?: number;
}

/**
 * Short, so a `tern user passwd` or `del` made against another node (or straight on PostgreSQL) takes effect
 * here within this time; changes made through this daemon's control socket call invalidate() at once.
 */
export const USER_CACHE_TTL = 30_000;
/** Only existing users are cached (so guessed names cannot fill it), and at most this many. */
const MAX_CACHED = 10_000;

/**
 * The per-IP throttle's key. An IPv6 client usually holds a whole /64 (RFC 6177) and can pick a fresh address
 * for every guess, so IPv6 counts per /64; IPv4, also when v4-mapped, per address.
 */
export function throttleKey(ip: string): string {
  const w = parseIp(ip);
  if (w === null) return ip;
  if (w[0] === 0 && w[1] === 0 && w[2] === 0xffff) return [w[3] >>> 24, (w[3] >>> 16) & 255, (w[3] >>> 8) & 255, w[3] & 255].join('.');
  const hex = (n: number) => [(n >>> 16).toString(16), (n & 0xffff).toString(16)].join(':');
  return `${hex(w[0])}:${hex(w[1])}::/64`;
}

export function createAuthenticator(opts: AuthenticatorOptions): Authenticator & { invalidate(name: string): void } {
  const { config, log } = opts;
  const now = opts.now ?? Date.now;
  if (!opts.repo && !opts.store) throw new Error('createAuthenticator needs a store or a repo');
  const repo = opts.repo ?? createUserRepo(opts.store!);
  const ttl = opts.cacheTtl ?? USER_CACHE_TTL;
  const throttle = new FailureThrottle(config, now);
  const pending = new Map<string, SaslState>();
  const cache = new Map<string, { user: StoredUser; expires: number }>();

  async function lookup(name: string): Promise<StoredUser | null> {
    const hit = cache.get(name);
    if (hit && hit.expires > now()) return hit.user;
    cache.delete(name);
    const user = await repo.lookup(name);
    if (user) {
      if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value as string);
      cache.set(name, { user, expires: now() + ttl });
    }
    return user;
  }

  /** Counts one failure against the IP (and the user when known), logs it and any lock it started. */
  function fail(conn: AuthConn, mechanism: string, user: string | null, reason: string): AuthAnswer {
    log.warn('auth-failed', { conn: conn.id, ip: conn.ip, user, mechanism, reason });
    for (const lock of throttle.fail(throttleKey(conn.ip), user)) {
      const until = new Date(lock.until).toISOString();
      log.warn('auth-locked', { conn: conn.id, ip: conn.ip, user, mechanism, scope: lock.scope, key: lock.key, until });
    }
    return { kind: 'failure', reason: 'invalid' };
  }

  function locked(conn: AuthConn, mechanism: string, user: string | null, scope: 'ip' | 'user'): AuthAnswer {
    // Not counted again: the lock already stops guessing, and counting would only extend it without end.
    log.warn('auth-failed', { conn: conn.id, ip: conn.ip, user, mechanism, reason: `${scope} locked` });
    return { kind: 'failure', reason: 'locked' };
  }

  async function check(conn: AuthConn, mechanism: string, rawUser: string, password: string): Promise<AuthAnswer> {
    const name = canonicalName(rawUser);
    if (throttle.lockedUntil('user', name) !== null) return locked(conn, mechanism, name, 'user');
    let user: StoredUser | null = null;
    if (validateUserName(rawUser).ok) {
      try {
        user = await lookup(name);
      } catch (err) {
        // The database is unreachable: 454 4.7.0, a temporary failure that is not the client's fault.
        log.error('auth-error', { conn: conn.id, ip: conn.ip, user: name, mechanism, error: errorText(err) });
        return { kind: 'failure', reason: 'temporary' };
      }
    }
    const usable = user !== null && !user.disabled;
    // Unknown and disabled users cost one scrypt too, so timing does not tell which names exist.
    const stored = usable ? user!.passwordHash : DUMMY_HASH;
    const v = await verifyPassword(password, stored);
    if (!v.ok) {
      log.error('auth-error', { conn: conn.id, ip: conn.ip, user: name, mechanism, error: `stored hash unusable: ${v.error}` });
      return fail(conn, mechanism, name, 'unusable stored hash');
    }
    if (!usable || !v.match) return fail(conn, mechanism, name, user === null ? 'unknown user' : user.disabled ? 'disabled' : 'wrong password');
    throttle.succeed(name);
    log.info('auth-ok', { conn: conn.id, ip: conn.ip, user: name, mechanism });
    if (v.rehash) await rehash(name, stored, password);
    return { kind: 'success', identity: identityOf(user!) };
  }

  /** The stored hash is weaker than today's parameters: replace it now that the password is known. */
  async function rehash(name: string, stored: string, password: string): Promise<void> {
    try {
      const next = await hashPassword(password);
      if (await repo.replaceHash(name, stored, next)) log.info('auth-rehashed', { user: name });
      cache.delete(name);
    } catch (err) {
      log.warn('auth-rehash-failed', { user: name, error: errorText(err) });
    }
  }

  function step(conn: AuthConn, mechanismName: string, response: Uint8Array | null): AuthAnswer | Promise<AuthAnswer> {
    const mechanism = saslMechanism(mechanismName);
    if (mechanism === null || !config.mechanisms.includes(mechanism)) {
      pending.delete(conn.id);
      return fail(conn, mechanismName.slice(0, 20), null, 'mechanism not offered');
    }
    // RFC 4954 §4: no password in clear. The session should never ask; this is defence in depth.
    if (!conn.tls && !config.iKnowPasswordsTravelInClear) {
      pending.delete(conn.id);
      log.warn('auth-failed', { conn: conn.id, ip: conn.ip, mechanism, reason: 'no TLS' });
      return { kind: 'failure', reason: 'invalid' };
    }
    if (throttle.lockedUntil('ip', throttleKey(conn.ip)) !== null) {
      pending.delete(conn.id);
      return locked(conn, mechanism, null, 'ip');
    }
    const r = saslStep(mechanism, pending.get(conn.id) ?? null, response);
    switch (r.kind) {
      case 'challenge':
        pending.set(conn.id, r.state);
        return { kind: 'challenge', data: r.data };
      case 'malformed':
        pending.delete(conn.id);
        return fail(conn, mechanism, r.user === null ? null : canonicalName(r.user), r.reason);
      case 'credentials':
        pending.delete(conn.id);
        return check(conn, mechanism, r.user, r.password);
    }
  }

  return {
    async step(conn, mechanism, response) {
      try {
        return await step(conn, mechanism, response);
      } catch (err) {
        // A bug or a runtime failure (scrypt out of memory): the contract is to resolve, so answer 454.
        pending.delete(conn.id);
        log.error('auth-error', { conn: conn.id, ip: conn.ip, mechanism, error: errorText(err) });
        return { kind: 'failure', reason: 'temporary' };
      }
    },
    forget(connId) {
      pending.delete(connId);
    },
    invalidate(name) {
      cache.delete(canonicalName(name));
    },
  };
}
