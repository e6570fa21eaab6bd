// The delivery engine against a real store (PGlite, or PostgreSQL with TERN_TEST_DATABASE_URL) with scripted couriers.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createDeliveryEngine, type DeliveryEngine, type EngineOptions } from '../../src/delivery/engine.ts';
import { createRouter } from '../../src/delivery/router.ts';
import type { Courier, DeliveryJob, DeliveryReport, RecipientResult } from '../../src/delivery/types.ts';
import { createLogger } from '../../src/lib/log.ts';
import { createDeliveryRepo } from '../../src/queue/delivery-repo.ts';
import { createIntake, type Intake } from '../../src/queue/intake.ts';
import { createQueueReader } from '../../src/queue/repo.ts';
import { newQueueId } from '../../src/smtp/queue-id.ts';
import type { DsnNotify, Envelope } from '../../src/smtp/types.ts';
import { openTestStore, type TestStore } from '../support/db.ts';

const T = { timeout: 60_000 };

type Script = (job: DeliveryJob, address: string, attempt: number) => Partial<RecipientResult> & { outcome: RecipientResult['outcome'] };

/** A courier that answers per recipient from a script and remembers every job. */
function scriptedCourier(script: Script, opts: { delayMs?: number } = {}) {
  const jobs: DeliveryJob[] = [];
  const tries = new Map<string, number>();
  let active = 0;
  const maxActive = new Map<string, number>();
  const courier: Courier = {
    async deliver(job): Promise<DeliveryReport> {
      jobs.push(job);
      active++;
      maxActive.set(job.route.key, Math.max(maxActive.get(job.route.key) ?? 0, active));
      if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
      active--;
      const results = new Map<number, RecipientResult>();
      for (const r of job.recipients) {
        const n = (tries.get(r.address) ?? 0) + 1;
        tries.set(r.address, n);
        const s = script(job, r.address, n);
        results.set(r.id, {
          status: s.outcome === 'delivered' ? '2.0.0' : s.outcome === 'temporary' ? '4.0.0' : '5.0.0',
          reply: `${s.outcome} by script`,
          replyType: 'smtp',
          remote: 'mx.example [192.0.2.1]:25',
          dsnRelayed: false,
          ...s,
        });
      }
      return { results, attempts: [{ host: 'mx.example', ip: '192.0.2.1', port: 25, tls: null, replies: ['250 ok'], error: null }] };
    },
  };
  return { courier, jobs, tries, maxActive };
}

function envelope(sender: string, to: Array<string | { address: string; notify: DsnNotify }>): Envelope {
  return {
    queueId: newQueueId(),
    sender,
    recipients: to.map((t) => (typeof t === 'string' ? { address: t, notify: null, orcpt: null } : { ...t, orcpt: null })),
    bodyType: null,
    smtpUtf8: false,
    declaredSize: null,
    dsnRet: null,
    dsnEnvid: null,
    helo: 'client.example',
    protocol: 'ESMTP',
    clientAddress: '192.0.2.9',
    clientPort: 4000,
    listener: 'mx',
    tls: null,
    authUser: null,
    receivedAt: new Date(),
  };
}

const BODY = new TextEncoder().encode('From: a@example.org\r\nSubject: engine test\r\nMessage-ID: <t@example.org>\r\n\r\nhello\r\n');

async function until(what: string, cond: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('delivery engine', () => {
  let db: TestStore;
  let intake: Intake;
  const engines: DeliveryEngine[] = [];
  const logs: string[] = [];

  before(async () => {
    db = await openTestStore();
    intake = createIntake(db.store);
  });
  after(async () => {
    for (const e of engines) await e.stop(1000);
    await intake.close();
    await db.cleanup();
  });

  function engine(remote: Courier, opts: Partial<EngineOptions> = {}, nodeId = 'test-node'): DeliveryEngine {
    const e = createDeliveryEngine(
      {
        store: db.store,
        repo: createDeliveryRepo(db.store),
        intake,
        router: createRouter({
          localDomains: new Set(['tern.test']),
          postmasterDomain: 'tern.test',
          rules: [],
          smarthost: null,
          defaultTls: 'opportunistic',
          smtpPort: 25,
        }),
        remote,
        local: remote,
        newQueueId,
        log: createLogger({ format: 'json', level: 'info', write: (l) => logs.push(l) }),
        nodeId,
      },
      {
        hostname: 'mx.tern.test',
        concurrency: 20,
        destinationConcurrency: 5,
        destinationRate: 0,
        maxInflightBytes: 64 * 1024 * 1024,
        lease: 60_000,
        retrySchedule: [60_000],
        maxQueueLifetime: 5 * 86_400_000,
        delayWarning: 0,
        pollInterval: 200,
        isLocal: (a) => a.endsWith('@tern.test'),
        ...opts,
      },
    );
    engines.push(e);
    return e;
  }

  async function stateOf(id: string): Promise<Record<string, string>> {
    const msg = await createQueueReader(db.store).get(id);
    return Object.fromEntries(msg!.recipients.map((r) => [r.address, r.state]));
  }

  async function dsnsTo(address: string): Promise<string[]> {
    const reader = createQueueReader(db.store);
    const out: string[] = [];
    for (const m of await reader.list({ limit: 1000 })) {
      if (m.sender !== '' || !m.recipients.some((r) => r.address === address)) continue;
      const full = await reader.get(m.id, { withBody: true });
      out.push(new TextDecoder().decode(full!.body));
    }
    return out;
  }

  test('one job per message and destination; results recorded with their history', T, async () => {
    const s = scriptedCourier(() => ({ outcome: 'delivered' }));
    const e = engine(s.courier);
    await e.start();
    const env = envelope('alice@example.org', ['b1@one.example', 'b2@one.example', 'c@two.example']);
    await intake.enqueue(env, BODY);
    await until('delivery', async () => Object.values(await stateOf(env.queueId)).every((x) => x === 'delivered'));
    const mine = s.jobs.filter((j) => j.message.id === env.queueId);
    assert.equal(mine.length, 2, 'two destinations, two jobs');
    assert.deepEqual(mine.map((j) => j.recipients.length).sort(), [1, 2]);
    assert.equal(mine[0].body.length, BODY.length);
    const msg = await createQueueReader(db.store).get(env.queueId);
    const kinds = msg!.events.map((ev) => ev.kind);
    assert.equal(kinds.filter((k) => k === 'delivered').length, 3);
    assert.ok(kinds.includes('attempt'));
    assert.equal(await dsnsTo('alice@example.org').then((d) => d.length), 0, 'no DSN without NOTIFY=SUCCESS');
    await e.stop(1000);
  });

  test('temporary failure: deferred on the schedule, then delivered', T, async () => {
    const s = scriptedCourier((_j, _a, n) => ({ outcome: n === 1 ? 'temporary' : 'delivered', status: n === 1 ? '4.2.1' : '2.0.0' }));
    const e = engine(s.courier, { retrySchedule: [300] });
    await e.start();
    const env = envelope('alice@example.org', ['later@retry.example']);
    await intake.enqueue(env, BODY);
    await until('deferral', async () => (await stateOf(env.queueId))['later@retry.example'] === 'deferred');
    const deferred = await createQueueReader(db.store).get(env.queueId);
    assert.equal(deferred!.recipients[0].attempts, 1);
    assert.ok(deferred!.recipients[0].nextAttemptAt!.getTime() > Date.now() - 100);
    await until('retry', async () => (await stateOf(env.queueId))['later@retry.example'] === 'delivered');
    assert.equal(s.tries.get('later@retry.example'), 2);
    await e.stop(1000);
  });

  test('permanent failure: bounced, one DSN to the sender listing every failed recipient', T, async () => {
    const s = scriptedCourier(() => ({ outcome: 'permanent', status: '5.1.1', reply: '550 5.1.1 <x> user unknown' }));
    const e = engine(s.courier);
    await e.start();
    const env = envelope('bob@example.org', ['x1@gone.example', 'x2@gone.example']);
    await intake.enqueue(env, BODY);
    await until('bounce', async () => Object.values(await stateOf(env.queueId)).every((x) => x === 'bounced'));
    await until('DSN', async () => (await dsnsTo('bob@example.org')).length === 1);
    const [dsn] = await dsnsTo('bob@example.org');
    assert.match(dsn, /multipart\/report; report-type=delivery-status/);
    assert.match(dsn, /Final-Recipient: rfc822; ?x1@gone\.example/);
    assert.match(dsn, /Final-Recipient: rfc822; ?x2@gone\.example/);
    assert.match(dsn, /Action: failed/);
    assert.match(dsn, /Status: 5\.1\.1/);
    assert.match(dsn, /Diagnostic-Code: smtp; ?550 5\.1\.1 <x> user unknown/);
    assert.match(dsn, /Reporting-MTA: dns; ?mx\.tern\.test/);
    await e.stop(1000);
  });

  test('a bounce of a bounce is never sent (null reverse-path), NOTIFY=NEVER is honoured', T, async () => {
    const s = scriptedCourier(() => ({ outcome: 'permanent', status: '5.1.1' }));
    const e = engine(s.courier);
    await e.start();
    const nul = envelope('', ['gone@null.example']);
    const never = envelope('carol@example.org', [{ address: 'gone@never.example', notify: 'NEVER' }]);
    await intake.enqueue(nul, BODY);
    await intake.enqueue(never, BODY);
    await until('bounces', async () =>
      (await stateOf(nul.queueId))['gone@null.example'] === 'bounced' && (await stateOf(never.queueId))['gone@never.example'] === 'bounced');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await dsnsTo('carol@example.org')).length, 0);
    const all = await createQueueReader(db.store).list({ limit: 1000 });
    assert.ok(!all.some((m) => m.sender === '' && m.recipients.some((r) => r.address === '')), 'nothing addressed to <>');
    await e.stop(1000);
  });

  test('queue lifetime: a recipient that keeps failing bounces with 4.4.7 and a DSN', T, async () => {
    const s = scriptedCourier(() => ({ outcome: 'temporary', status: '4.4.1', reply: 'connection refused' }));
    const e = engine(s.courier, { retrySchedule: [100], maxQueueLifetime: 600 });
    await e.start();
    const env = envelope('dave@example.org', ['never@down.example']);
    await intake.enqueue(env, BODY);
    await until('expiry', async () => (await stateOf(env.queueId))['never@down.example'] === 'bounced');
    const msg = await createQueueReader(db.store).get(env.queueId);
    assert.ok(msg!.recipients[0].attempts >= 2, 'retried before giving up');
    await until('DSN', async () => (await dsnsTo('dave@example.org')).length === 1);
    const [dsn] = await dsnsTo('dave@example.org');
    assert.match(dsn, /Action: failed/);
    assert.match(dsn, /Status: 4\.4\.7/);
    await e.stop(1000);
  });

  test('delay warning: one "delayed" DSN, not one per attempt', T, async () => {
    const s = scriptedCourier(() => ({ outcome: 'temporary', status: '4.4.1' }));
    const e = engine(s.courier, { retrySchedule: [100], delayWarning: 1 });
    await e.start();
    const env = envelope('erin@example.org', ['slow@slow.example']);
    await intake.enqueue(env, BODY);
    await until('several attempts', async () => (s.tries.get('slow@slow.example') ?? 0) >= 3);
    const dsns = await dsnsTo('erin@example.org');
    assert.equal(dsns.length, 1);
    assert.match(dsns[0], /Action: delayed/);
    assert.match(dsns[0], /Will-Retry-Until:/);
    await e.stop(1000);
  });

  test('NOTIFY=SUCCESS to a peer without DSN: a "relayed" DSN; to a DSN peer: none from us', T, async () => {
    const s = scriptedCourier((_j, address) => ({ outcome: 'delivered', dsnRelayed: address.startsWith('dsnpeer') }));
    const e = engine(s.courier);
    await e.start();
    const env = envelope('frank@example.org', [
      { address: 'plain@success.example', notify: ['SUCCESS'] },
      { address: 'dsnpeer@success.example', notify: ['SUCCESS'] },
    ]);
    await intake.enqueue(env, BODY);
    await until('DSN', async () => (await dsnsTo('frank@example.org')).length === 1);
    const [dsn] = await dsnsTo('frank@example.org');
    assert.match(dsn, /Action: relayed/);
    assert.match(dsn, /plain@success\.example/);
    assert.doesNotMatch(dsn, /Final-Recipient: rfc822; ?dsnpeer/);
    await e.stop(1000);
  });

  test('per-destination concurrency cap holds; new mail is delivered on NOTIFY, not on the next poll', T, async () => {
    const s = scriptedCourier(() => ({ outcome: 'delivered' }), { delayMs: 50 });
    const e = engine(s.courier, { destinationConcurrency: 2, pollInterval: 60_000 });
    await e.start();
    await new Promise((r) => setTimeout(r, 300)); // idle: the next poll is a minute away
    const envs = Array.from({ length: 12 }, () => envelope('gina@example.org', ['r@capped.example']));
    const t0 = Date.now();
    await Promise.all(envs.map((env) => intake.enqueue(env, BODY)));
    await until('all delivered', async () => {
      for (const env of envs) if ((await stateOf(env.queueId))['r@capped.example'] !== 'delivered') return false;
      return true;
    });
    assert.ok(Date.now() - t0 < 10_000, 'woken by NOTIFY');
    assert.equal(s.maxActive.get('mx:capped.example:25'), 2);
    await e.stop(1000);
  });

  test('a crashed worker\'s claims are taken over when its lease runs out', T, async () => {
    const env = envelope('hank@example.org', ['orphan@lease.example']);
    await intake.enqueue(env, BODY);
    const repo = createDeliveryRepo(db.store);
    const claimed = await repo.claim(100, 'crashed-node', 800);
    assert.ok(claimed.some((c) => c.address === 'orphan@lease.example'));
    const s = scriptedCourier(() => ({ outcome: 'delivered' }));
    const e = engine(s.courier, { pollInterval: 100 }, 'survivor');
    await e.start();
    await new Promise((r) => setTimeout(r, 300));
    assert.notEqual((await stateOf(env.queueId))['orphan@lease.example'], 'delivered', 'not before the lease ends');
    await until('takeover', async () => (await stateOf(env.queueId))['orphan@lease.example'] === 'delivered');
    await e.stop(1000);
  });

  test('two engines on one queue deliver every recipient exactly once', T, async () => {
    const delivered = new Map<string, number>();
    const count = (job: DeliveryJob, address: string) => {
      const key = `${job.message.id}/${address}`;
      delivered.set(key, (delivered.get(key) ?? 0) + 1);
    };
    const a = scriptedCourier((j, address) => (count(j, address), { outcome: 'delivered' }), { delayMs: 5 });
    const b = scriptedCourier((j, address) => (count(j, address), { outcome: 'delivered' }), { delayMs: 5 });
    const envs = Array.from({ length: 150 }, (_, i) => envelope('ivy@example.org', [`r${i % 7}@d${i % 5}.example`, `s@d${i % 3}.example`]));
    // Both listening before the mail arrives: an engine that started first could otherwise finish the whole
    // queue while the other is still opening its LISTEN connection (seen: 270 jobs to 0).
    const e1 = engine(a.courier, {}, 'node-a');
    const e2 = engine(b.courier, {}, 'node-b');
    await Promise.all([e1.start(), e2.start()]);
    await Promise.all(envs.map((env) => intake.enqueue(env, BODY)));
    await until('all delivered', async () => {
      const rows = await db.store.query<{ n: number }>(
        `select count(*)::int as n from recipients where message_id = any($1::text[]) and state <> 'delivered'`,
        [`{${envs.map((x) => x.queueId).join(',')}}`],
      );
      return Number(rows[0].n) === 0;
    });
    // Per recipient (not per job: a script call is per recipient), nothing twice.
    const dupes = [...delivered.values()].filter((n) => n > 1).length;
    assert.equal(dupes, 0);
    assert.equal(delivered.size, 300);
    assert.ok(a.jobs.length > 0 && b.jobs.length > 0, `both engines worked (${a.jobs.length}/${b.jobs.length})`);
    await e1.stop(1000);
    await e2.stop(1000);
  });
});
