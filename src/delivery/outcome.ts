// Turns one job's delivery report into recipient updates, history events and the DSNs owed: pure, so tested alone.
import type { ClaimedRecipient, NewEvent, RecipientUpdate } from '../queue/delivery-repo.ts';
import { planRetry } from '../queue/retry.ts';
import type { DsnEvent } from './dsn-select.ts';
import type { DeliveryJob, DeliveryReport, RecipientResult } from './types.ts';

export interface OwedDsn {
  event: DsnEvent;
  recipient: ClaimedRecipient;
  result: RecipientResult;
  willRetryUntil: Date | null;
}

export interface OutcomePolicy {
  retrySchedule: number[];
  maxQueueLifetime: number;
  delayWarning: number; // 0 = never
  /** Is this address delivered here (a local domain)? Decides the DSN of a one-target alias. */
  isLocal(address: string): boolean;
}

export interface Outcome {
  updates: RecipientUpdate[];
  events: NewEvent[];
  dsns: OwedDsn[];
}

/**
 * Rules: delivered and permanent results end the recipient; temporary ones are retried on the schedule until
 * the queue lifetime runs out, then bounce with 4.4.7 (RFC 3463: delivery time expired) and the last
 * reason as diagnostic. A recipient still deferred after `delayWarning` owes one 'delayed' DSN.
 * Success DSNs: 'delivered' for local delivery, 'relayed' when the peer did not take our DSN parameters
 * (RFC 3461 §6.2.1), none when it did (it reports itself), 'expanded' for an alias with several targets
 * (RFC 3461 §6.2.2); an alias with one target is reported as that target would be (§5.2.7.2).
 * Whether each owed DSN is actually sent (NOTIFY, null sender) is dsn.ts's decision.
 */
export function decide(
  job: DeliveryJob,
  claimed: Map<number, ClaimedRecipient>,
  report: DeliveryReport,
  policy: OutcomePolicy,
  now: Date,
  random: () => number,
): Outcome {
  const out: Outcome = { updates: [], events: [], dsns: [] };
  const local = job.route.nextHop.kind === 'local';
  for (const a of report.attempts) {
    out.events.push({
      messageId: job.message.id,
      recipientId: null,
      kind: 'attempt',
      detail: { route: job.route.key, host: a.host, ip: a.ip, port: a.port, tls: a.tls, replies: a.replies, error: a.error },
    });
  }
  for (const jr of job.recipients) {
    const r = claimed.get(jr.id)!;
    const res: RecipientResult = report.results.get(jr.id) ?? {
      outcome: 'temporary',
      status: '4.3.0',
      reply: 'no result from the courier',
      replyType: 'x-tern',
      remote: null,
      dsnRelayed: false,
    };
    const attempts = r.attempts + 1;
    const base = { id: r.id, attempts, reply: res.reply, status: res.status, remote: res.remote, delayNotified: r.delayNotified };
    if (res.outcome === 'delivered') {
      out.updates.push({ ...base, state: 'delivered', nextAttemptAt: now, final: true });
      push(out, job, r, 'delivered', res, null);
      const targets = res.expandedTo ?? [];
      if (targets.length > 1) out.dsns.push({ event: 'expanded', recipient: r, result: res, willRetryUntil: null });
      else if (targets.length === 1 && !policy.isLocal(targets[0])) continue; // the forwarded copy reports (RFC 3461 §5.2.7.2)
      else if (local) out.dsns.push({ event: 'delivered', recipient: r, result: res, willRetryUntil: null });
      else if (!res.dsnRelayed) out.dsns.push({ event: 'relayed', recipient: r, result: res, willRetryUntil: null });
      continue;
    }
    if (res.outcome === 'permanent') {
      out.updates.push({ ...base, state: 'bounced', nextAttemptAt: now, final: true });
      push(out, job, r, 'bounced', res, null);
      out.dsns.push({ event: 'failed', recipient: r, result: res, willRetryUntil: null });
      continue;
    }
    const plan = planRetry({
      attempts,
      firstQueuedAt: job.message.receivedAt,
      now,
      random,
      schedule: policy.retrySchedule,
      maxLifetime: policy.maxQueueLifetime,
    });
    if (plan.kind === 'expired') {
      const expired = { ...res, status: '4.4.7', reply: res.reply };
      out.updates.push({ ...base, status: '4.4.7', state: 'bounced', nextAttemptAt: now, final: true });
      push(out, job, r, 'bounced', expired, null, 'queue lifetime expired');
      out.dsns.push({ event: 'failed', recipient: r, result: expired, willRetryUntil: null });
      continue;
    }
    const warn =
      policy.delayWarning > 0 && !r.delayNotified && now.getTime() - job.message.receivedAt.getTime() >= policy.delayWarning;
    out.updates.push({ ...base, state: 'deferred', nextAttemptAt: plan.at, final: false, delayNotified: r.delayNotified || warn });
    push(out, job, r, 'deferred', res, plan.at);
    if (warn) {
      const until = new Date(job.message.receivedAt.getTime() + policy.maxQueueLifetime);
      out.dsns.push({ event: 'delayed', recipient: r, result: res, willRetryUntil: until });
    }
  }
  return out;
}

function push(
  out: Outcome,
  job: DeliveryJob,
  r: ClaimedRecipient,
  kind: 'delivered' | 'bounced' | 'deferred',
  res: RecipientResult,
  nextAttemptAt: Date | null,
  note?: string,
): void {
  out.events.push({
    messageId: job.message.id,
    recipientId: r.id,
    kind,
    detail: {
      address: r.address,
      status: res.status,
      reply: res.reply,
      remote: res.remote,
      ...(nextAttemptAt ? { nextAttemptAt: nextAttemptAt.toISOString() } : {}),
      ...(res.expandedTo ? { expandedTo: res.expandedTo } : {}),
      ...(note ? { note } : {}),
    },
  });
}
