// The local courier: expansion to mailboxes, per-domain methods, forwarding, partial failure, loops.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { DomainConfig } from '../../../../src/config/schema.ts';
import { createLocalCourier } from '../../../../src/delivery/local/courier.ts';
import { createDirectory } from '../../../../src/delivery/local/directory.ts';
import type { Courier, DeliveryJob } from '../../../../src/delivery/types.ts';
import type { Store } from '../../../../src/store/open.ts';
import { domain, fakeLmtp, type LmtpAnswer, localJob, recordingLog } from './fixtures.ts';

/** No method here touches the database (mailbox delivery is tested against PGlite and PostgreSQL). */
const noStore = {} as unknown as Store;

function setup(domains: Record<string, DomainConfig>, opts: { lmtp?: LmtpAnswer; forwardFails?: boolean } = {}) {
  const lmtp = fakeLmtp(opts.lmtp);
  const forwarded: Array<{ recipientId: number; targets: string[] }> = [];
  const { log, lines } = recordingLog();
  const courier = createLocalCourier({
    domains,
    directory: createDirectory(domains, []),
    store: noStore,
    lmtp: lmtp.factory,
    forward(_job: DeliveryJob, recipientId: number, targets: string[]) {
      if (opts.forwardFails) return Promise.reject(new Error('database gone'));
      forwarded.push({ recipientId, targets });
      return Promise.resolve();
    },
    log,
  });
  return { courier, lmtp, forwarded, lines };
}

const run = (courier: Courier, job: DeliveryJob, signal = new AbortController().signal) => courier.deliver(job, signal);

function withMaildirRoot(fn: (root: string) => Promise<void>) {
  return async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tern-courier-'));
    try {
      await fn(root);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  };
}

const files = (dir: string) => (fs.existsSync(dir) ? fs.readdirSync(dir) : []);

test('unknown local recipients fail permanently with 5.1.1', async () => {
  const { courier } = setup({ 'example.com': domain({ recipients: ['alice'] }) });
  const job = localJob(['mallory@example.com']);
  const report = await run(courier, job);
  const r = report.results.get(job.recipients[0].id)!;
  assert.deepEqual([r.outcome, r.status, r.replyType, r.remote], ['permanent', '5.1.1', 'x-tern', null]);
});

test(
  'maildir: a plain recipient is delivered to its own Maildir',
  withMaildirRoot(async (root) => {
    const { courier, lines } = setup({
      'example.com': domain({ delivery: 'maildir', maildir: `${root}/%d/%u`, recipients: ['alice'] }),
    });
    const job = localJob(['Alice+news@example.com']);
    const report = await run(courier, job);
    const r = report.results.get(job.recipients[0].id)!;
    assert.deepEqual([r.outcome, r.status, r.reply, r.expandedTo], [
      'delivered',
      '2.0.0',
      'delivered to maildir',
      undefined,
    ]);
    assert.equal(files(path.join(root, 'example.com', 'alice', 'new')).length, 1);
    assert.ok(lines.some((l) => l.event === 'local-delivered' && l.mailbox === 'alice@example.com'));
  }),
);

test(
  'an alias delivers its local members and forwards its remote ones once, with expandedTo',
  withMaildirRoot(async (root) => {
    const { courier, forwarded } = setup({
      'example.com': domain({
        delivery: 'maildir',
        maildir: `${root}/%u`,
        recipients: ['alice', 'bob'],
        aliases: { team: ['alice', 'bob', 'ext@remote.example'], ops: ['bob', 'ext@remote.example'] },
      }),
    });
    const job = localJob(['team@example.com', 'ops@example.com', 'bob@example.com']);
    const report = await run(courier, job);
    const [team, ops, bob] = job.recipients.map((r) => report.results.get(r.id)!);
    assert.deepEqual([team.outcome, team.status], ['delivered', '2.0.0']);
    assert.deepEqual(team.expandedTo, ['alice@example.com', 'bob@example.com', 'ext@remote.example']);
    assert.equal(team.reply, 'expanded to alice@example.com, bob@example.com, ext@remote.example');
    assert.deepEqual(ops.expandedTo, ['bob@example.com', 'ext@remote.example']);
    assert.equal(bob.reply, 'delivered to maildir');
    // bob is reached three ways but gets one copy; the remote member is queued once (RFC 5321 §3.9.1).
    assert.equal(files(path.join(root, 'bob', 'new')).length, 1);
    assert.equal(files(path.join(root, 'alice', 'new')).length, 1);
    assert.deepEqual(forwarded, [{ recipientId: job.recipients[0].id, targets: ['ext@remote.example'] }]);
  }),
);

test('lmtp: one transaction per server for all its mailboxes; replies map back', async () => {
  const { courier, lmtp } = setup(
    {
      'example.com': domain({
        delivery: 'lmtp',
        lmtp: 'unix:/run/dovecot/lmtp',
        aliases: { both: ['alice', 'carol'] },
      }),
      'other.test': domain({ delivery: 'lmtp', lmtp: '127.0.0.1:2424' }),
    },
    {
      lmtp: (
        a,
      ) => (a === 'carol@example.com' ? { outcome: 'permanent', status: '5.2.1', reply: '550 5.2.1 disabled' } : {}),
    },
  );
  const notify = ['SUCCESS' as const];
  const job = localJob([
    { address: 'alice@example.com', notify, orcpt: { type: 'rfc822', address: 'Alice@example.com' } },
    'both@example.com',
    'dan@other.test',
    'carol@example.com',
  ]);
  const report = await run(courier, job);
  assert.deepEqual(lmtp.calls.map((c) => c.target).sort(), ['127.0.0.1:2424', 'unix:/run/dovecot/lmtp']);
  const unix = lmtp.calls.find((c) => c.target.startsWith('unix:'))!.job;
  assert.deepEqual(unix.route, {
    key: 'lmtp:unix:/run/dovecot/lmtp',
    domain: 'example.com',
    nextHop: { kind: 'lmtp-unix', path: '/run/dovecot/lmtp' },
    tls: 'none',
    auth: null,
  });
  assert.deepEqual(unix.recipients.map((r) => r.address), ['alice@example.com', 'carol@example.com']);
  // A recipient delivered straight keeps its DSN parameters (RFC 3461 §5.2.7.2); an expanded one does not.
  assert.deepEqual(unix.recipients[0].notify, notify);
  assert.equal(unix.recipients[0].orcpt?.address, 'Alice@example.com');
  assert.equal(unix.body, job.body); // the LMTP server adds its own Return-Path and Delivered-To
  const tcp = lmtp.calls.find((c) => !c.target.startsWith('unix:'))!.job;
  assert.deepEqual(tcp.route.nextHop, { kind: 'lmtp', host: '127.0.0.1', port: 2424 });
  assert.equal(tcp.route.tls, 'opportunistic');

  const [alice, both, dan, carol] = job.recipients.map((r) => report.results.get(r.id)!);
  assert.deepEqual([alice.outcome, alice.status, alice.replyType, alice.remote], [
    'delivered',
    '2.1.5',
    'smtp',
    'lmtp.test [127.0.0.1]:24',
  ]);
  assert.equal(alice.reply, '250 2.1.5 <alice@example.com> delivered');
  assert.deepEqual([dan.outcome, dan.status], ['delivered', '2.1.5']);
  assert.deepEqual([carol.outcome, carol.status, carol.reply], ['permanent', '5.2.1', '550 5.2.1 disabled']);
  // The alias reached alice; carol's permanent refusal is logged, not bounced to the sender.
  assert.deepEqual([both.outcome, both.expandedTo], ['delivered', ['alice@example.com']]);
  assert.equal(report.attempts.length, 2);
});

test('a temporary failure of one member makes the recipient temporary and forwards nothing yet', async () => {
  const { courier, forwarded } = setup(
    {
      'example.com': domain({
        delivery: 'lmtp',
        lmtp: '127.0.0.1:24',
        aliases: { team: ['alice', 'bob', 'x@remote.example'] },
      }),
    },
    {
      lmtp: (
        a,
      ) => (a === 'bob@example.com' ? { outcome: 'temporary', status: '4.2.2', reply: '452 4.2.2 over quota' } : {}),
    },
  );
  const job = localJob(['team@example.com']);
  const r = (await run(courier, job)).results.get(job.recipients[0].id)!;
  assert.deepEqual([r.outcome, r.status, r.reply], ['temporary', '4.2.2', '452 4.2.2 over quota']);
  assert.deepEqual(forwarded, []);
});

test('an alias whose every member failed for good fails with the first refusal', async () => {
  const { courier } = setup(
    { 'example.com': domain({ delivery: 'lmtp', lmtp: '127.0.0.1:24', aliases: { team: ['alice', 'bob'] } }) },
    { lmtp: () => ({ outcome: 'permanent', status: '5.1.1', reply: '550 5.1.1 unknown' }) },
  );
  const job = localJob(['team@example.com']);
  const r = (await run(courier, job)).results.get(job.recipients[0].id)!;
  assert.deepEqual([r.outcome, r.status], ['permanent', '5.1.1']);
});

test('an alias leading nowhere fails permanently and says why in the log', async () => {
  const { courier, lines } = setup({ 'example.com': domain({ recipients: ['alice'], aliases: { gone: ['nobody'] } }) });
  const job = localJob(['gone@example.com']);
  const r = (await run(courier, job)).results.get(job.recipients[0].id)!;
  assert.deepEqual([r.outcome, r.status], ['permanent', '5.1.1']);
  assert.ok(lines.some((l) => l.event === 'alias-target-unusable' && l.target === 'nobody@example.com'));
});

test('a failure to queue forwarded copies is temporary', async () => {
  const { courier } = setup({ 'example.com': domain({ aliases: { fwd: ['x@remote.example'] } }) }, {
    forwardFails: true,
  });
  const job = localJob(['fwd@example.com']);
  const r = (await run(courier, job)).results.get(job.recipients[0].id)!;
  assert.deepEqual([r.outcome, r.status], ['temporary', '4.3.0']);
});

test('a message already delivered to this mailbox is a loop: 5.4.6', async () => {
  const { courier, lmtp } = setup({ 'example.com': domain({ delivery: 'lmtp', lmtp: '127.0.0.1:24' }) });
  const job = localJob(['alice@example.com'], 'Delivered-To: alice@example.com\r\nSubject: again\r\n\r\nhi\r\n');
  const r = (await run(courier, job)).results.get(job.recipients[0].id)!;
  assert.deepEqual([r.outcome, r.status, r.reply], ['permanent', '5.4.6', 'mail forwarding loop']);
  assert.equal(lmtp.calls.length, 0);
});

test('misconfigured targets wait in the queue (4.3.5) instead of bouncing', async () => {
  const { courier } = setup({
    'a.test': domain({ delivery: 'lmtp', lmtp: 'nonsense' }),
    'b.test': domain({ delivery: 'maildir', maildir: 'relative/%u' }),
    'c.test': domain({ delivery: 'webhook', webhook: 'ftp://x.test/' }),
  });
  const job = localJob(['u@a.test', 'u@b.test', 'u@c.test']);
  const report = await run(courier, job);
  for (const r of job.recipients) {
    const res = report.results.get(r.id)!;
    assert.deepEqual(
      [res.outcome, res.status, res.reply],
      ['temporary', '4.3.5', 'local delivery misconfigured'],
      r.address,
    );
  }
});

test('an LMTP courier that throws, or an aborted delivery, gives temporary results', async () => {
  const domains = { 'example.com': domain({ delivery: 'lmtp', lmtp: '127.0.0.1:24' }) };
  const { log } = recordingLog();
  const courier = createLocalCourier({
    domains,
    directory: createDirectory(domains, []),
    store: noStore,
    lmtp: () => ({ deliver: () => Promise.reject(new Error('bug')) }),
    forward: () => Promise.resolve(),
    log,
  });
  const job = localJob(['alice@example.com']);
  assert.equal((await run(courier, job)).results.get(job.recipients[0].id)!.outcome, 'temporary');

  const { courier: mdCourier } = setup({ 'example.com': domain({ delivery: 'maildir', maildir: '/nonexistent/%u' }) });
  const aborted = new AbortController();
  aborted.abort();
  const job2 = localJob(['alice@example.com']);
  const r = (await run(mdCourier, job2, aborted.signal)).results.get(job2.recipients[0].id)!;
  assert.deepEqual([r.outcome, r.reply], ['temporary', 'delivery interrupted']);
});
