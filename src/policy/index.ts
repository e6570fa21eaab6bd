// Anti-abuse policy for the MX listener: rate limits, DNSBL, HELO checks and greylisting behind one check().
//
// The SMTP session asks at the stages session-options.ts turns on (src/smtp/types.ts PolicyStage); this
// module answers. The allow-list comes first: trusted networks, abuse.allowNetworks and authenticated
// sessions are never limited, listed, greylisted or HELO-checked. Then, by stage:
//   connect  connection rate (421 4.7.0, in memory, cheapest first), then the DNSBL zones (554 5.7.1);
//   helo     HELO claiming to be us / not fully qualified (550 5.7.1);
//   mail     message rate (451 4.7.1);
//   rcpt     greylisting (450 4.7.1).
// Every refusal is logged as a 'policy' event with stage, check, ip and reason.
import type { Config } from '../config/schema.ts';
import type { Resolver } from '../dns/types.ts';
import { matcher } from '../lib/cidr.ts';
import type { LogFields, Logger } from '../lib/log.ts';
import type { ConnectionInfo, PolicyQuery, PolicyVerdict } from '../smtp/types.ts';
import type { Store } from '../store/open.ts';
import { createDnsbl, type Dnsbl } from './dnsbl.ts';
import { createGreylist, type Greylist } from './greylist.ts';
import { checkHelo, type HeloCheckOptions } from './helo.ts';
import { createRateLimiter, type RateLimiter } from './rate.ts';
import { disconnect, policyReplies, type Refusal, reject } from './replies.ts';

export interface PolicyDeps {
  config: Config;
  store: Store;
  resolver: Resolver;
  log: Logger;
  /** Clock in ms; tests step it. Default Date.now. */
  now?: () => number;
}

/**
 * The contract the SMTP server calls (src/server/hooks.ts PolicyHook): check() resolves with a verdict and
 * never rejects. An internal failure (the greylist database unreachable, a bug) is logged at error level and
 * answered as the server answers a failed hook (src/server/connection.ts): 451 4.3.0 at MAIL and RCPT, so
 * mail is neither bounced nor waved through unchecked, and accept at connect and HELO, where a temporary
 * refusal would only make the client come back to the same checks later in the session.
 */
export interface Policy {
  check(conn: ConnectionInfo, query: PolicyQuery): Promise<PolicyVerdict>;
  /** Stops the housekeeping timer. Idempotent. */
  close(): void;
}

const ACCEPT: PolicyVerdict = { action: 'accept' };
const SWEEP_EVERY = 60_000; // forget idle rate-limit buckets
const CLEANUP_EVERY = 3_600_000; // delete expired greylist rows

/** What a check found: the verdict, and why, for the log. */
interface Finding {
  check: 'connection-rate' | 'message-rate' | 'dnsbl' | 'helo-is-us' | 'helo-not-fqdn' | 'greylist';
  verdict: Refusal;
  reason: string;
  fields?: LogFields;
}

export function createPolicy(deps: PolicyDeps): Policy {
  const { config, log } = deps;
  const a = config.abuse;
  const now = deps.now ?? Date.now;
  const allowed = matcher(a.allowNetworks);
  const connections: RateLimiter | null = a.connectionRate > 0 ? createRateLimiter(a.connectionRate) : null;
  const messages: RateLimiter | null = a.messageRate > 0 ? createRateLimiter(a.messageRate) : null;
  const dnsbl: Dnsbl | null = a.dnsbl.length > 0 ? createDnsbl(deps.resolver, a.dnsbl, log) : null;
  const greylist: Greylist | null = a.greylisting
    ? createGreylist(deps.store, {
      delay: a.greylistDelay,
      window: a.greylistWindow,
      expiry: a.greylistExpiry,
      allowDomains: a.greylistAllowDomains,
    })
    : null;
  // "localhost" (a default local domain) is every host's name for itself, not a claim to be this server;
  // refusing it is requireFqdnHelo's business.
  const ourNames = [config.hostname, ...config.relay.localDomains, ...Object.keys(config.domains)]
    .map((d) => d.toLowerCase())
    .filter((d) => d !== 'localhost');
  const helo: HeloCheckOptions = {
    ourNames: new Set(ourNames),
    rejectHeloAsUs: a.rejectHeloAsUs,
    requireFqdnHelo: a.requireFqdnHelo,
  };

  const onConnect = async (conn: ConnectionInfo): Promise<Finding | null> => {
    const ip = conn.remoteAddress;
    if (connections && !connections.take(ip, now())) {
      return {
        check: 'connection-rate',
        verdict: disconnect(policyReplies.tooManyConnections),
        reason: `more than ${a.connectionRate} connections per minute`,
      };
    }
    const hit = dnsbl ? await dnsbl.check(ip) : null;
    if (!hit) return null;
    return {
      check: 'dnsbl',
      verdict: disconnect(policyReplies.blocked(ip, hit.zone)),
      reason: `listed in ${hit.zone}`,
      fields: { zone: hit.zone, codes: hit.codes, ...(hit.reason !== null ? { listReason: hit.reason } : {}) },
    };
  };

  const onHelo = (conn: ConnectionInfo, name: string): Finding | null => {
    const found = checkHelo(name, conn, helo);
    if (found === null) return null;
    const isUs = found === 'helo-is-us';
    return {
      check: found,
      verdict: reject(isUs ? policyReplies.heloIsUs : policyReplies.heloNotFqdn),
      reason: isUs ? 'the name given is ours' : 'not a fully qualified domain name or address literal',
      fields: { helo: name },
    };
  };

  const onMail = (conn: ConnectionInfo): Finding | null => {
    if (!messages || messages.take(conn.remoteAddress, now())) return null;
    return {
      check: 'message-rate',
      verdict: reject(policyReplies.tooManyMessages),
      reason: `more than ${a.messageRate} messages per minute`,
    };
  };

  const onRcpt = async (conn: ConnectionInfo, q: PolicyQuery): Promise<Finding | null> => {
    if (!greylist || q.recipient === null) return null;
    const sender = q.sender ?? '';
    const out = await greylist.check(conn.remoteAddress, sender, q.recipient, now());
    if (out.kind === 'passed') {
      log.info('greylist-passed', { ip: conn.remoteAddress, sender, recipient: q.recipient, waitedMs: out.waitedMs });
    }
    if (out.kind !== 'deferred') return null;
    return {
      check: 'greylist',
      verdict: reject(policyReplies.greylisted),
      reason: out.attempts === 1 ? 'unknown triplet' : 'retried too early',
      fields: { sender, recipient: q.recipient, attempts: out.attempts, waitedMs: out.waitedMs },
    };
  };

  const decide = (conn: ConnectionInfo, q: PolicyQuery): Promise<Finding | null> | Finding | null => {
    switch (q.stage) {
      case 'connect':
        return onConnect(conn);
      case 'helo':
        return q.helo === null ? null : onHelo(conn, q.helo);
      case 'mail':
        return onMail(conn);
      case 'rcpt':
        return onRcpt(conn, q);
    }
  };

  /**
   * Why a client is exempt from every check, or null. The checks are for strangers on port 25 (issue 4:
   * "anti-abuse on the MX port"); RFC 6647 §5 (6), (7): never greylist allow-listed networks,
   * authenticated sessions or known internal addresses.
   */
  const exemption = (conn: ConnectionInfo, q: PolicyQuery): string | null =>
    conn.listener !== 'mx'
      ? `${conn.listener} listener`
      : conn.trusted
      ? 'relay.trusted_networks'
      : q.authUser !== null
      ? 'authenticated'
      : allowed(conn.remoteAddress)
      ? 'abuse.allow_networks'
      : null;

  let timer: ReturnType<typeof setInterval> | null = null;
  if (connections || messages || greylist) {
    let lastCleanup = now();
    timer = setInterval(() => {
      const t = now();
      connections?.sweep(t);
      messages?.sweep(t);
      if (greylist && t - lastCleanup >= CLEANUP_EVERY) {
        lastCleanup = t;
        greylist.cleanup(t).then(
          (n) => n > 0 && log.info('greylist-cleanup', { removed: n }),
          (err) => log.warn('greylist-cleanup-failed', { error: err }),
        );
      }
    }, SWEEP_EVERY);
    // The timer must not keep a stopping process alive (Bun, Deno and Node all have unref on timers).
    (timer as { unref?: () => void }).unref?.();
  }

  return {
    async check(conn, q) {
      try {
        const exempt = exemption(conn, q);
        if (exempt !== null) {
          if (log.enabled('debug')) log.debug('policy-exempt', { stage: q.stage, ip: conn.remoteAddress, why: exempt });
          return ACCEPT;
        }
        const found = await decide(conn, q);
        if (!found) return ACCEPT;
        log.info('policy', {
          stage: q.stage,
          check: found.check,
          ip: conn.remoteAddress,
          port: conn.remotePort,
          reason: found.reason,
          action: found.verdict.action,
          reply: `${found.verdict.reply.code} ${found.verdict.reply.status}`,
          ...found.fields,
        });
        return found.verdict;
      } catch (err) {
        const verdict = q.stage === 'mail' || q.stage === 'rcpt' ? reject(policyReplies.policyFailed) : ACCEPT;
        log.error('policy-failed', { stage: q.stage, ip: conn.remoteAddress, port: conn.remotePort, error: err, action: verdict.action });
        return verdict;
      }
    },
    close() {
      if (timer) clearInterval(timer);
      timer = null;
    },
  };
}
