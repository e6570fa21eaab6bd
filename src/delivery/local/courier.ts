// The courier for local-route jobs: expands each recipient through the directory, delivers every local
// mailbox by its domain's method (mailbox store, Maildir, webhook or LMTP) and hands remote targets back
// to the engine.
//
// A recipient counts as delivered only when every local mailbox it stands for took its copy. When one
// fails temporarily the whole recipient is retried, so the mailboxes that already took the message get it
// again: at-least-once, like Postfix's local(8) with a multi-member alias. Remote targets are forwarded
// only after the local ones succeeded, so a retry never forwards twice.
import type { Logger } from '../../lib/log.ts';
import type { Store } from '../../store/open.ts';
import type { AttemptTrace, Courier, DeliveryJob, DeliveryReport, JobRecipient, RecipientResult } from '../types.ts';
import { parseLmtpTarget } from '../../config/next-hop.ts';
import type { DomainConfig } from '../../config/schema.ts';
import { deliveredTo, type LocalOutcome, permanent, temporary } from './common.ts';
import type { Directory, Expansion } from './directory.ts';
import { deliverToMailbox } from './mailbox.ts';
import { deliverToMaildir } from './maildir.ts';
import { postToWebhook } from './webhook.ts';

export interface LocalCourierDeps {
  /** The [domains] table; the directory, built from it and relay.localDomains, is what is consulted. */
  domains: Record<string, DomainConfig>;
  directory: Directory;
  store: Store;
  /** The LMTP courier for a DomainConfig.lmtp target ("HOST:PORT" or "unix:/path"). */
  lmtp: (target: string) => Courier;
  /**
   * Adds targets as new recipients of the job's message (RFC 5321 §3.9.1: envelope sender unchanged).
   * Rejects only when that could not be recorded; this recipient is then retried.
   */
  forward(job: DeliveryJob, recipientId: number, targets: string[]): Promise<void>;
  log: Logger;
  /** Per webhook POST; default WEBHOOK_TIMEOUT_MS. */
  webhookTimeoutMs?: number;
}

/** Copies written at once (webhook POSTs, files, inserts) for one job. */
const PARALLEL = 8;
/** Targets named in an expanded recipient's reply (expandedTo has them all). */
const SHOWN_TARGETS = 5;

/** The result of one local mailbox, shared by every recipient of the job that expands to it. */
type Copy = LocalOutcome & { remote?: string | null; replyType?: 'smtp' | 'x-tern'; dsnRelayed?: boolean };

export function createLocalCourier(deps: LocalCourierDeps): Courier {
  return {
    async deliver(job, signal) {
      const plans = new Map<number, Expansion>();
      for (const r of job.recipients) plans.set(r.id, deps.directory.expand(r.address));
      // Every mailbox once per job, whichever recipients (or aliases) lead to it.
      const mailboxes = new Set<string>();
      for (const p of plans.values()) if (!p.unknown) p.local.forEach((a) => mailboxes.add(a));
      const attempts: AttemptTrace[] = [];
      const copies = await deliverCopies(deps, job, [...mailboxes], direct(job, plans), signal, attempts);
      const results = new Map<number, RecipientResult>();
      const forwarded = new Set<string>();
      for (const r of job.recipients) {
        results.set(r.id, await settle(deps, job, r, plans.get(r.id)!, copies, forwarded));
      }
      return { results, attempts };
    },
  };
}

/** One recipient's result from its copies, forwarding its remote targets once all its copies are in. */
async function settle(
  deps: LocalCourierDeps,
  job: DeliveryJob,
  r: JobRecipient,
  plan: Expansion,
  copies: Map<string, Copy>,
  forwarded: Set<string>,
): Promise<RecipientResult> {
  if (plan.unknown) return toResult(permanent('5.1.1', 'no such local user'));
  for (const b of plan.broken) deps.log.warn('alias-target-unusable', { id: job.message.id, rcpt: r.address, ...b });
  const outcomes = plan.local.map((a) => copies.get(a)!);
  const failed = outcomes.find((o) => o.outcome === 'temporary');
  if (failed) return toResult(failed);
  if (!plan.expanded && outcomes.length === 1) return toResult(outcomes[0]);
  const delivered = plan.local.filter((a) => copies.get(a)!.outcome === 'delivered');
  if (delivered.length === 0 && plan.remote.length === 0) {
    const firstPermanent = outcomes.find((o) => o.outcome === 'permanent');
    return toResult(firstPermanent ?? permanent('5.1.1', 'alias leads to no mailbox'));
  }
  const remote = plan.remote.filter((t) => !forwarded.has(t));
  if (remote.length > 0) {
    try {
      await deps.forward(job, r.id, remote);
      remote.forEach((t) => forwarded.add(t));
    } catch (err) {
      deps.log.error('forward-failed', { id: job.message.id, rcpt: r.address, error: err });
      return toResult(temporary('4.3.0', 'could not queue forwarded copies'));
    }
  }
  // Members that failed for good are the alias owner's concern, not the sender's (RFC 3461 §5.2.7.3 (a)
  // treats fan-out like relaying beyond DSN support): they are logged, the recipient counts as delivered.
  const targets = [...delivered, ...plan.remote];
  const more = targets.length - SHOWN_TARGETS;
  const shown = targets.slice(0, SHOWN_TARGETS).join(', ') + (more > 0 ? ` and ${more} more` : '');
  return { ...toResult({ outcome: 'delivered', status: '2.0.0', reply: `expanded to ${shown}` }), expandedTo: targets };
}

/** Recipients delivered straight to their own mailbox: their DSN parameters go on to an LMTP server. */
function direct(job: DeliveryJob, plans: Map<number, Expansion>): Map<string, JobRecipient> {
  const out = new Map<string, JobRecipient>();
  for (const r of job.recipients) {
    const p = plans.get(r.id)!;
    if (!p.unknown && !p.expanded && p.local.length === 1) out.set(p.local[0], r);
  }
  return out;
}

/** Delivers every mailbox once: LMTP targets batched per server, the rest a few at a time. */
async function deliverCopies(
  deps: LocalCourierDeps,
  job: DeliveryJob,
  mailboxes: string[],
  directRecipients: Map<string, JobRecipient>,
  signal: AbortSignal,
  attempts: AttemptTrace[],
): Promise<Map<string, Copy>> {
  const copies = new Map<string, Copy>();
  const lmtpGroups = new Map<string, string[]>();
  const others: Array<[string, DomainConfig]> = [];
  const before = deliveredTo(job.body);
  for (const a of mailboxes) {
    const config = deps.directory.config(a.slice(a.lastIndexOf('@') + 1));
    if (!config) copies.set(a, permanent('5.1.1', 'no such local user'));
    // RFC 5321 §6.3 loop: this copy went to this very mailbox before and came back.
    else if (before.has(a)) copies.set(a, permanent('5.4.6', 'mail forwarding loop'));
    else if (config.delivery === 'lmtp') lmtpGroups.set(config.lmtp, [...(lmtpGroups.get(config.lmtp) ?? []), a]);
    else others.push([a, config]);
  }
  const lmtpDone = [...lmtpGroups].map(async ([target, list]) => {
    const r = await deliverLmtp(deps, job, target, list, directRecipients, signal);
    attempts.push(...r.attempts);
    for (const [a, c] of r.copies) copies.set(a, c);
  });
  let next = 0;
  const worker = async () => {
    while (next < others.length) {
      const [address, config] = others[next++];
      copies.set(address, await deliverOne(deps, job, address, config, signal));
    }
  };
  await Promise.all([...lmtpDone, ...Array.from({ length: Math.min(PARALLEL, others.length) }, worker)]);
  for (const [a, c] of copies) {
    const fields = {
      id: job.message.id,
      mailbox: a,
      outcome: c.outcome,
      status: c.status,
      reply: c.reply,
      detail: c.detail,
    };
    if (c.outcome === 'delivered') deps.log.info('local-delivered', fields);
    else deps.log.warn('local-failed', fields);
  }
  return copies;
}

async function deliverOne(
  deps: LocalCourierDeps,
  job: DeliveryJob,
  address: string,
  config: DomainConfig,
  signal: AbortSignal,
): Promise<Copy> {
  if (signal.aborted) return temporary('4.3.0', 'delivery interrupted');
  const { id, sender } = job.message;
  try {
    switch (config.delivery) {
      case 'mailbox':
        return await deliverToMailbox(deps.store, { address, messageId: id, sender, body: job.body });
      case 'maildir':
        return await deliverToMaildir({ template: config.maildir, address, sender, body: job.body });
      case 'webhook':
        return await postToWebhook({
          url: config.webhook,
          secret: config.webhookSecret,
          queueId: id,
          sender,
          address,
          body: job.body,
          timeoutMs: deps.webhookTimeoutMs,
          signal,
        });
      default:
        return temporary('4.3.5', 'local delivery misconfigured', `unknown delivery "${String(config.delivery)}"`);
    }
  } catch (err) {
    // A throw is a bug (every method returns its failures); the queue keeps the message meanwhile.
    deps.log.error('local-delivery-bug', { id, mailbox: address, error: err });
    return temporary('4.3.0', 'local delivery failed');
  }
}

/** One LMTP transaction for all of a server's mailboxes; RFC 2033 §4.2 gives a reply per recipient. */
async function deliverLmtp(
  deps: LocalCourierDeps,
  job: DeliveryJob,
  target: string,
  mailboxes: string[],
  directRecipients: Map<string, JobRecipient>,
  signal: AbortSignal,
): Promise<{ copies: Map<string, Copy>; attempts: AttemptTrace[] }> {
  const copies = new Map<string, Copy>();
  // The same parser that validated the configuration, so a target that validates is one we can use.
  const parsed = parseLmtpTarget(target);
  if (!parsed.ok) {
    const bad = temporary('4.3.5', 'local delivery misconfigured', `lmtp ${parsed.error}`);
    for (const a of mailboxes) copies.set(a, bad);
    return { copies, attempts: [] };
  }
  const nextHop = parsed.value;
  // Our own ids for the LMTP job's recipients; a recipient delivered straight keeps its NOTIFY and ORCPT
  // (RFC 3461 §5.2.7.2), expanded ones go without (§5.2.7.3 (a)): we report for them.
  const recipients = mailboxes.map((address, i) => {
    const d = directRecipients.get(address);
    return { id: i + 1, address, notify: d?.notify ?? null, orcpt: d?.orcpt ?? null };
  });
  const domain = mailboxes[0].slice(mailboxes[0].lastIndexOf('@') + 1);
  // Over a Unix socket there is nothing to encrypt; over TCP use TLS when offered, as toward any peer.
  const tls = nextHop.kind === 'lmtp-unix' ? 'none' : 'opportunistic';
  const lmtpJob: DeliveryJob = {
    ...job,
    recipients,
    route: { key: `lmtp:${target}`, domain, nextHop, tls, auth: null },
  };
  let report: DeliveryReport;
  try {
    report = await deps.lmtp(target).deliver(lmtpJob, signal);
  } catch (err) {
    deps.log.error('lmtp-courier-bug', { id: job.message.id, target, error: err });
    report = { results: new Map(), attempts: [] };
  }
  for (const r of recipients) {
    const res = report.results.get(r.id);
    copies.set(
      r.address,
      res ?? temporary('4.3.0', 'local delivery failed'),
    );
  }
  return { copies, attempts: report.attempts };
}

function toResult(c: Copy): RecipientResult {
  return {
    outcome: c.outcome,
    status: c.status,
    reply: c.reply,
    replyType: c.replyType ?? 'x-tern',
    remote: c.remote ?? null,
    dsnRelayed: c.dsnRelayed ?? false,
  };
}
