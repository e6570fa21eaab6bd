// The remote courier: delivers a job over SMTP (RFC 5321) or LMTP (RFC 2033) to its route's next hop,
// trying every host and address in order, reusing idle connections, and reporting per recipient.
import { readFile } from 'node:fs/promises';
import * as tls from 'node:tls';
import { local, type Verdict } from '../../smtp/client/verdict.ts';
import type { Logger } from '../../lib/log.ts';
import type { MxResolution } from '../mx.ts';
import type {
  AttemptTrace,
  Courier,
  DeliveryJob,
  DeliveryReport,
  JobRecipient,
  MtaStsProvider,
  RecipientResult,
} from '../types.ts';
import { describe } from './channel.ts';
import { asciiDomain } from './idna.ts';
import { SessionPool } from './pool.ts';
import { openSession, type ReadySession, type SessionDeps, transact } from './session.ts';
import { planTargets, type Target } from './targets.ts';

export interface SmtpCourierDeps {
  /** Our name in EHLO/HELO/LHLO (RFC 5321 §4.1.1.1: the FQDN of the client host). */
  heloName: string;
  resolveDestination(domain: string): Promise<MxResolution>;
  resolveHost(host: string): Promise<MxResolution>;
  mtaSts: MtaStsProvider | null;
  /** PEM file of extra CAs trusted for 'verify' and MTA-STS ('' = the system's only). */
  caFile: string;
  /** Milliseconds (RFC 5321 §4.5.3.2): TCP connect; greeting and each command; the reply to the end of data. */
  connectTimeout: number;
  commandTimeout: number;
  dataTimeout: number;
  /** How long an idle connection is kept for the next job to the same destination; 0 = no reuse. */
  connectionIdle: number;
  log: Logger;
}

/** A failed attempt at one address (or a host that could not be tried). */
export interface AttemptFailure {
  verdict: Verdict;
  remote: string | null; // set when the peer was reached and answered
}

/**
 * The SMTP/LMTP courier. deliver() keeps Courier's contract: a result for every recipient, never a throw
 * for an expected failure. close() QUITs the idle connections; deliveries still running finish first.
 */
export function createSmtpCourier(deps: SmtpCourierDeps): Courier & { close(): Promise<void> } {
  const pool = new SessionPool(deps.connectionIdle);
  let context: Promise<tls.SecureContext> | null = null;
  const sessionDeps: SessionDeps = {
    heloName: deps.heloName,
    connectTimeout: deps.connectTimeout,
    commandTimeout: deps.commandTimeout,
    dataTimeout: deps.dataTimeout,
    tlsContext: () => (context ??= trustedContext(deps.caFile, deps.log)),
    log: deps.log,
  };

  async function deliver(job: DeliveryJob, signal: AbortSignal): Promise<DeliveryReport> {
    const log = deps.log.child({ id: job.message.id, route: job.route.key });
    const results = new Map<number, RecipientResult>();
    const attempts: AttemptTrace[] = [];
    const plan = await planTargets(job.route, { ...deps, log });
    if (!plan.ok) {
      for (const r of job.recipients) results.set(r.id, toResult(plan.verdict, null, false));
      return { results, attempts };
    }
    const failures: AttemptFailure[] = plan.skipped.map((s) => ({ verdict: s.verdict, remote: null }));
    let pending: JobRecipient[] = [...job.recipients];
    const sdeps = { ...sessionDeps, log };
    const msg = { ...job.message, sender: asciiDomain(job.message.sender), body: job.body };
    const ascii = new Map(job.recipients.map((r) => [r.id, { ...r, address: asciiDomain(r.address) }]));

    /** Transactions on a ready session; settles what it can and keeps or closes the connection. */
    const run = async (s: ReadySession, key: string, reused: boolean): Promise<void> => {
      const trace = reused ? s.channel.restartTrace() : s.channel.trace;
      if (reused) attempts.push(trace);
      const remote = describe(s.target.endpoint);
      let tx = await transact(s, msg, pending.map((r) => ascii.get(r.id) ?? r), sdeps, signal);
      for (;;) {
        for (const [id, v] of tx.verdicts) results.set(id, toResult(v, remote, s.caps.dsn));
        pending = pending.filter((r) => !tx.verdicts.has(r.id));
        // Over the peer's recipient limit (see Transaction): the rest in another transaction, while it progresses.
        const more = pending.length > 0 && tx.interruption === null && tx.reusable && tx.verdicts.size > 0;
        if (!more || signal.aborted) break;
        tx = await transact(s, msg, pending.map((r) => ascii.get(r.id) ?? r), sdeps, signal);
      }
      if (pending.length > 0 && tx.interruption !== null) {
        // A stale pooled connection that died before answering is not the destination failing.
        if (!reused || trace.replies.length > 0) failures.push({ verdict: tx.interruption, remote });
        trace.error ??= tx.interruption.reply;
      } else if (pending.length > 0) {
        failures.push({ verdict: local('temporary', '4.5.3', 'the peer took no more recipients in this session'), remote });
      }
      logAttempt(log, trace, { reused, settled: tx.verdicts.size, undecided: pending.length });
      if (tx.reusable && !signal.aborted) pool.put(key, s);
      else s.channel.quit();
    };

    // Idle connections first, in target order: reuse beats reconnecting to a more preferred host that
    // may be down (Postfix looks its connection cache up by destination the same way).
    for (const t of plan.targets) {
      if (pending.length === 0 || signal.aborted) break;
      const key = poolKey(job, t);
      const s = pool.take(key);
      if (s !== null) await run(s, key, true);
    }
    for (const t of plan.targets) {
      if (pending.length === 0 || signal.aborted) break;
      let opened = await openSession(t, t.tls, job.route, sdeps, signal);
      attempts.push(opened.ok ? opened.session.channel.trace : opened.trace);
      if (!opened.ok && opened.failure.retryWithoutTls && !signal.aborted) {
        // Opportunistic TLS broke in the handshake: once more in plaintext (see Handshake.tlsFailed).
        logAttempt(log, opened.trace, { fallback: 'plaintext' });
        failures.push({ verdict: opened.failure.verdict, remote: describe(t.endpoint) });
        opened = await openSession(t, 'none', job.route, sdeps, signal);
        attempts.push(opened.ok ? opened.session.channel.trace : opened.trace);
      }
      if (!opened.ok) {
        failures.push({ verdict: opened.failure.verdict, remote: opened.reached ? describe(t.endpoint) : null });
        logAttempt(log, opened.trace, {});
        continue;
      }
      pool.opened(opened.session);
      await run(opened.session, poolKey(job, t), false);
    }

    if (pending.length > 0) {
      const final = signal.aborted
        ? { verdict: local('temporary', '4.4.2', 'delivery aborted'), remote: null }
        : finalFailure(failures);
      for (const r of pending) results.set(r.id, toResult(final.verdict, final.remote, false));
    }
    return { results, attempts };
  }

  return {
    deliver,
    close: () => pool.close(),
  };
}

/** One line per connection (host, address, TLS, how it ended); its reply lines at debug level. */
function logAttempt(log: Logger, t: AttemptTrace, extra: Record<string, unknown>): void {
  const fields = { host: t.host, ip: t.ip, port: t.port, tls: t.tls?.protocol, cipher: t.tls?.cipher, error: t.error ?? undefined };
  log.info('smtp-attempt', { ...fields, replies: t.replies.length, ...extra });
  if (log.enabled('debug')) log.debug('smtp-replies', { host: t.host, ip: t.ip, replies: t.replies });
}

/**
 * Every address failed. Permanent only when every one refused us permanently at connection level (a
 * 554 greeting, or 5yz to EHLO and HELO): RFC 5321 §3.1 makes the 554 greeting a formal refusal of the
 * session, and when all MX hosts say it the domain refuses us. One temporary failure among them (a host
 * down, a 421, a timeout) means a retry may reach a host that would take the mail, so the result is
 * temporary, with the last temporary failure as the reason. (Postfix defers even then, by default,
 * and its manual calls that default "incorrect".)
 */
export function finalFailure(failures: readonly AttemptFailure[]): AttemptFailure {
  if (failures.length === 0) return { verdict: local('temporary', '4.4.1', 'no host to connect to'), remote: null };
  const temporary = failures.filter((f) => f.verdict.outcome !== 'permanent');
  return temporary.length === 0 ? failures[failures.length - 1] : temporary[temporary.length - 1];
}

function toResult(v: Verdict, remote: string | null, dsnOffered: boolean): RecipientResult {
  return {
    outcome: v.outcome,
    status: v.status,
    reply: v.reply,
    replyType: v.replyType,
    remote,
    // RFC 3461 §4: a peer offering DSN got our NOTIFY/ORCPT and now owns the success report.
    dsnRelayed: dsnOffered && v.outcome === 'delivered',
  };
}

/** Connections are shared only between jobs with the same route, address and TLS policy. */
function poolKey(job: DeliveryJob, t: Target): string {
  return `${job.route.key}|${describe(t.endpoint)}|${t.tls}`;
}

/** System CAs plus the operator's caFile, as one context built once (parsing ~150 roots per connection adds up). */
async function trustedContext(caFile: string, log: Logger): Promise<tls.SecureContext> {
  const ca = [...tls.rootCertificates];
  if (caFile !== '') {
    try {
      ca.push(await readFile(caFile, 'utf8'));
    } catch (err) {
      // Config validation checks the file; if it vanished since, 'verify' fails closed for its CAs.
      log.error('ca-file-unreadable', { file: caFile, error: err });
    }
  }
  return tls.createSecureContext({ ca });
}
