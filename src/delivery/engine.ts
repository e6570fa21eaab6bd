// The delivery engine: claims due recipients, groups them into jobs, runs couriers, records results, sends DSNs.
import type { Logger } from '../lib/log.ts';
import type { ClaimedRecipient, DeliveryRepo } from '../queue/delivery-repo.ts';
import { QUEUE_CHANNEL } from '../queue/intake.ts';
import type { QueueWriter } from '../queue/types.ts';
import type { Store } from '../store/open.ts';
import { Dispatcher } from './dispatcher.ts';
import { buildDsn, dsnRecipients } from './dsn.ts';
import { decide, type OutcomePolicy, type OwedDsn } from './outcome.ts';
import type { Router } from './router.ts';
import type { Courier, DeliveryJob, DeliveryReport, JobMessage } from './types.ts';
import { errorText } from '../lib/errors.ts';

export interface EngineOptions extends OutcomePolicy {
  hostname: string; // Reporting-MTA of our DSNs
  concurrency: number;
  destinationConcurrency: number;
  destinationRate: number;
  /** Octets of message bodies held by jobs in progress (delivery.maxInflightBytes). */
  maxInflightBytes: number;
  lease: number; // ms
  /** Longest sleep between looks at the queue when no wake-up arrives (a NOTIFY lost with a connection). */
  pollInterval?: number;
}

export interface EngineDeps {
  store: Store;
  repo: DeliveryRepo;
  intake: QueueWriter;
  router: Router;
  remote: Courier;
  local: Courier;
  newQueueId(): string;
  log: Logger;
  /** This process's name in lease_owner: unique per process, stable for its life. */
  nodeId: string;
  now?: () => Date;
  random?: () => number;
}

export interface DeliveryEngine {
  start(): Promise<void>;
  /** Stops claiming; jobs in flight get `graceMs` to finish, then are aborted; waiting claims are given back. */
  stop(graceMs: number): Promise<void>;
  /** Look at the queue now (new mail, an operator's "retry now"). */
  poke(): void;
  readonly counters: { jobs: number; delivered: number; deferred: number; bounced: number; dsns: number; lostLeases: number };
}

const CLAIM_BATCH = 200; // messages per claim query, at most

export function createDeliveryEngine(deps: EngineDeps, opts: EngineOptions): DeliveryEngine {
  const now = deps.now ?? (() => new Date());
  const random = deps.random ?? Math.random;
  const log = deps.log;
  const dispatcher = new Dispatcher({ ...opts, maxWeight: opts.maxInflightBytes });
  const held = new Map<number, ClaimedRecipient>(); // claimed and not yet recorded: leases to renew
  const aborts = new Set<AbortController>();
  const recordings = new Set<Promise<void>>(); // results being written after their job freed its slot
  const counters = { jobs: 0, delivered: 0, deferred: 0, bounced: 0, dsns: 0, lostLeases: 0 };
  let running = false;
  let pumping = false;
  let again = false;
  let wakeTimer: ReturnType<typeof setTimeout> | null = null;
  let renewTimer: ReturnType<typeof setInterval> | null = null;
  let unlisten: (() => Promise<void>) | null = null;

  function poke(): void {
    if (!running) return;
    if (pumping) {
      again = true;
      return;
    }
    void pump();
  }

  /** Claims while there is room; the dispatcher holds at most twice the concurrency in jobs. */
  async function pump(): Promise<void> {
    pumping = true;
    let full = false;
    try {
      while (running) {
        again = false;
        const room = opts.concurrency * 2 - dispatcher.size;
        if (room <= 0) {
          full = true;
          break;
        }
        const claimed = await deps.repo.claim(Math.min(room, CLAIM_BATCH), deps.nodeId, opts.lease);
        if (claimed.length > 0) submit(claimed);
        if (claimed.length === 0 && !again) break;
      }
    } catch (err) {
      log.error('claim-failed', { error: errorText(err) });
    } finally {
      pumping = false;
      if (again && running) poke();
      // Full: every job that finishes pokes again, so no timer (and no nextDueInMs query per finished job).
      else if (!full) void scheduleWake();
    }
  }

  /** Sleeps until the next recipient falls due (or a wake-up comes first); never longer than the poll interval. */
  async function scheduleWake(): Promise<void> {
    if (!running) return;
    let ms = opts.pollInterval ?? 30_000;
    try {
      const due = await deps.repo.nextDueInMs();
      if (due !== null) ms = Math.min(ms, Math.max(50, due + 10));
    } catch {
      ms = Math.min(ms, 5_000); // the database is away: look again soon
    }
    if (!running) return;
    if (wakeTimer) clearTimeout(wakeTimer);
    wakeTimer = setTimeout(() => {
      wakeTimer = null;
      poke();
    }, ms);
  }

  /** One job per message and destination: its recipients there share one transaction (issue 3 §1). */
  function submit(claimed: ClaimedRecipient[]): void {
    const jobs = new Map<string, { messageId: string; route: ReturnType<Router['route']>; recipients: ClaimedRecipient[] }>();
    for (const r of claimed) {
      held.set(r.id, r);
      const route = deps.router.route(r.address);
      const key = `${r.messageId}\u0000${route.key}`;
      let job = jobs.get(key);
      if (!job) jobs.set(key, (job = { messageId: r.messageId, route, recipients: [] }));
      job.recipients.push(r);
    }
    for (const job of jobs.values()) {
      dispatcher.submit({ key: job.route.key, weight: job.recipients[0].size, run: () => run(job.messageId, job.route, job.recipients) });
    }
  }

  /**
   * A job holds its dispatcher slot (a connection to the destination) only while it loads and delivers; its
   * results are recorded after the slot is free, so the next message for that destination goes out while the
   * database writes (measured: the slot otherwise waited out a record batch per message). Until recorded, the
   * recipients stay in `held` and keep their lease, so nothing can be claimed twice meanwhile. At most
   * `concurrency` jobs wait for their record this way.
   */
  async function run(messageId: string, route: DeliveryJob['route'], recipients: ClaimedRecipient[]): Promise<void> {
    counters.jobs++;
    const ids = recipients.map((r) => r.id);
    let recording: Promise<void> | null = null;
    try {
      const message = await deps.repo.message(messageId);
      if (!message) {
        // Deleted by an operator while claimed: nothing to deliver.
        await deps.repo.release(ids, deps.nodeId);
        return;
      }
      const { body, ...head } = message;
      const job: DeliveryJob = {
        message: head,
        route,
        body,
        recipients: recipients.map((r) => ({ id: r.id, address: deps.router.normalize(r.address), notify: r.notify, orcpt: r.orcpt })),
      };
      const courier = route.nextHop.kind === 'local' ? deps.local : deps.remote;
      const ac = new AbortController();
      aborts.add(ac);
      let report: DeliveryReport;
      try {
        report = await courier.deliver(job, ac.signal);
      } catch (err) {
        log.error('courier-error', { id: messageId, route: route.key, error: errorText(err) });
        report = { results: new Map(), attempts: [] }; // decide() makes every recipient temporary
      } finally {
        aborts.delete(ac);
      }
      const pending: Promise<void> = finish(job, body, new Map(recipients.map((r) => [r.id, r])), report)
        .catch((err) => {
          // Recording failed (the database is away): the leases run out and the recipients are tried again.
          log.error('record-failed', { id: messageId, error: errorText(err) });
        })
        .finally(() => {
          for (const id of ids) held.delete(id);
          recordings.delete(pending);
        });
      recordings.add(pending);
      recording = pending;
      // Bounded: delivered-but-unrecorded jobs are what a crash repeats (at-least-once) and their bodies stay
      // in memory, so when the database lags, jobs wait for their own record again instead of piling up.
      if (recordings.size > opts.concurrency) await pending;
    } catch (err) {
      // Loading the message or releasing the claim failed (the database is away): the leases run out.
      log.error('job-failed', { id: messageId, error: errorText(err) });
    } finally {
      if (recording === null) for (const id of ids) held.delete(id);
      poke(); // a slot is free: claim more now rather than at the next wake-up
    }
  }

  async function finish(job: DeliveryJob, body: Uint8Array, claimed: Map<number, ClaimedRecipient>, report: DeliveryReport): Promise<void> {
    const outcome = decide(job, claimed, report, opts, now(), random);
    // DSNs first, then the record: a crash in between repeats a DSN, never loses one.
    await sendDsns(job.message, body, outcome.dsns);
    const recorded = await deps.repo.record(deps.nodeId, outcome.updates, outcome.events);
    if (recorded < outcome.updates.length) {
      counters.lostLeases += outcome.updates.length - recorded;
      log.warn('lease-lost', { id: job.message.id, route: job.route.key, results: outcome.updates.length, recorded });
    }
    for (const u of outcome.updates) {
      if (u.state === 'delivered') counters.delivered++;
      else if (u.state === 'bounced') counters.bounced++;
      else counters.deferred++;
      log.info(u.state, {
        id: job.message.id,
        to: claimed.get(u.id)?.address,
        route: job.route.key,
        remote: u.remote,
        status: u.status,
        reply: u.reply,
        attempts: u.attempts,
        ...(u.state === 'deferred' ? { next: u.nextAttemptAt.toISOString() } : {}),
      });
    }
  }

  /** One DSN per message per event, listing every affected recipient (issue 3 §5). */
  async function sendDsns(message: JobMessage, body: Uint8Array, owed: OwedDsn[]): Promise<void> {
    const byEvent = new Map<OwedDsn['event'], OwedDsn[]>();
    for (const o of owed) byEvent.set(o.event, [...(byEvent.get(o.event) ?? []), o]);
    for (const [event, list] of byEvent) {
      const chosen = dsnRecipients(
        event,
        list.map((o) => ({ ...o, notify: o.recipient.notify })),
        message.sender,
      );
      if (chosen.length === 0) continue;
      const at = now();
      const dsn = buildDsn({
        reportingMta: opts.hostname,
        event,
        message,
        original: body,
        recipients: chosen.map((o) => ({
          address: o.recipient.address,
          orcpt: o.recipient.orcpt,
          status: o.result.status,
          remote: o.result.remote,
          diagnostic: o.result.reply,
          diagnosticType: o.result.replyType,
          lastAttemptAt: at,
          willRetryUntil: o.willRetryUntil,
        })),
        now: at,
      });
      const queueId = deps.newQueueId();
      await deps.intake.enqueue(
        {
          queueId,
          sender: '',
          recipients: [{ address: dsn.recipient, notify: null, orcpt: null }],
          bodyType: dsn.bodyType === '8BITMIME' ? '8BITMIME' : null,
          smtpUtf8: dsn.smtpUtf8,
          declaredSize: null,
          dsnRet: null,
          dsnEnvid: null,
          helo: opts.hostname,
          protocol: 'local',
          clientAddress: '',
          clientPort: 0,
          listener: 'local',
          tls: null,
          authUser: null,
          receivedAt: at,
        },
        dsn.message,
      );
      counters.dsns++;
      log.info('dsn', { id: queueId, about: message.id, event, to: dsn.recipient, recipients: chosen.length });
    }
  }

  async function renewLeases(): Promise<void> {
    const ids = [...held.keys()];
    if (ids.length === 0) return;
    try {
      const kept = await deps.repo.renew(ids, deps.nodeId, opts.lease);
      if (kept < ids.length) log.warn('lease-renew-short', { held: ids.length, renewed: kept });
    } catch (err) {
      log.warn('lease-renew-failed', { error: errorText(err) });
    }
  }

  return {
    counters,
    poke,
    async start() {
      running = true;
      // New mail wakes the workers at once; the timer only covers retries and lost notifications.
      unlisten = await deps.store.listen(QUEUE_CHANNEL, () => poke());
      renewTimer = setInterval(() => void renewLeases(), Math.max(1000, opts.lease / 3));
      poke();
    },
    async stop(graceMs) {
      running = false;
      if (wakeTimer) clearTimeout(wakeTimer);
      if (renewTimer) clearInterval(renewTimer);
      await unlisten?.().catch(() => {});
      // Jobs not started yet are dropped here; their recipients stay in `held` and are given back below.
      dispatcher.takeWaiting();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const expired = new Promise<'expired'>((r) => (timer = setTimeout(() => r('expired'), graceMs)));
      if ((await Promise.race([dispatcher.idle().then(() => 'idle' as const), expired])) === 'expired') {
        log.warn('delivery-grace-expired', { aborted: aborts.size });
        for (const ac of aborts) ac.abort();
        await dispatcher.idle();
      }
      clearTimeout(timer);
      await Promise.allSettled([...recordings]);
      // What is still held was never started: give it back, due at once for any worker.
      await deps.repo.release([...held.keys()], deps.nodeId).catch(() => {});
    },
  };
}
