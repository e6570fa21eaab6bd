// Local delivery end to end through the courier: the mailbox store on the database under test (PGlite, or
// PostgreSQL with TERN_TEST_DATABASE_URL), Maildir in a temporary directory, a webhook on a loopback HTTP
// server (success, 500 then success, refusal, timeout, signature), LMTP through a fake courier.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import type { DomainConfig } from '../../src/config/schema.ts';
import { createLocalCourier } from '../../src/delivery/local/courier.ts';
import { createDirectory } from '../../src/delivery/local/directory.ts';
import {
  deleteMailboxMessage,
  deliverToMailbox,
  getMailboxMessage,
  listMailbox,
  listMailboxes,
  markMailboxSeen,
} from '../../src/delivery/local/mailbox.ts';
import type { Courier, DeliveryJob, RecipientResult } from '../../src/delivery/types.ts';
import { openTestStore, type TestStore } from '../support/db.ts';
import { domain, fakeLmtp, localJob, MESSAGE, recordingLog } from '../unit/delivery/local/fixtures.ts';

const T = { timeout: 60_000 }; // creating a PGlite database takes a few seconds

interface Hit {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** A loopback webhook receiver answering from a script: a status per request, 'hang' = never answer. */
async function webhookServer() {
  const hits: Hit[] = [];
  const script: Array<number | 'hang'> = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      hits.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
      const step = script.shift() ?? 200;
      if (step === 'hang') return;
      if (step >= 300 && step < 400) res.setHeader('location', 'http://127.0.0.1:1/elsewhere');
      res.writeHead(step, { 'content-type': 'text/plain' });
      res.end(`status ${step}\r\nsecond line`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hooks/mail?token=s3cret`,
    hits,
    script,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('local delivery', () => {
  let db: TestStore;
  let hook: Awaited<ReturnType<typeof webhookServer>>;

  before(async () => {
    db = await openTestStore();
    hook = await webhookServer();
  }, T);
  after(async () => {
    await hook?.close();
    await db?.cleanup();
  }, T);

  function courierFor(domains: Record<string, DomainConfig>, webhookTimeoutMs = 5000) {
    const lmtp = fakeLmtp();
    const forwarded: Array<{ recipientId: number; targets: string[] }> = [];
    const { log, lines } = recordingLog();
    const courier = createLocalCourier({
      domains,
      directory: createDirectory(domains, []),
      store: db.store,
      lmtp: lmtp.factory,
      forward(_job: DeliveryJob, recipientId: number, targets: string[]) {
        forwarded.push({ recipientId, targets });
        return Promise.resolve();
      },
      log,
      webhookTimeoutMs,
    });
    return { courier, lmtp, forwarded, lines };
  }

  async function one(courier: Courier, address: string): Promise<RecipientResult> {
    const job = localJob([address]);
    return (await courier.deliver(job, new AbortController().signal)).results.get(job.recipients[0].id)!;
  }

  test(
    'mailbox: stored once per mailbox with Return-Path and Delivered-To on top; the console reads it',
    T,
    async () => {
      const { courier } = courierFor({
        'example.com': domain({ recipients: ['alice', 'bob'], aliases: { team: ['alice', 'bob'] } }),
      });
      const job = localJob(['Alice@example.com', 'team@example.com'], MESSAGE, '');
      const report = await courier.deliver(job, new AbortController().signal);
      const [alice, team] = job.recipients.map((r) => report.results.get(r.id)!);
      assert.deepEqual([alice.outcome, alice.status, alice.reply], ['delivered', '2.0.0', 'delivered to mailbox']);
      assert.deepEqual(team.expandedTo, ['alice@example.com', 'bob@example.com']);

      const list = await listMailbox(db.store, 'ALICE@example.com', 10);
      assert.equal(list.length, 1, 'alice is reached twice and stored once');
      const [summary] = list;
      assert.deepEqual(
        [summary.address, summary.messageId, summary.seen, summary.subject, summary.from],
        ['alice@example.com', job.message.id, false, 'local test', 's@sender.example'],
      );
      assert.ok(summary.deliveredAt instanceof Date);
      const stored = await getMailboxMessage(db.store, summary.id);
      assert.ok(stored);
      const want = `Return-Path: <>\r\nDelivered-To: alice@example.com\r\n${MESSAGE}`;
      assert.equal(new TextDecoder().decode(stored.body), want);
      assert.equal(stored.size, want.length);
      assert.equal(Object.getPrototypeOf(stored.body), Uint8Array.prototype);

      assert.equal(await markMailboxSeen(db.store, summary.id), true);
      const boxes = await listMailboxes(db.store);
      assert.deepEqual(
        boxes.map((b) => [b.address, b.messages, b.unseen]),
        [['alice@example.com', 1, 0], ['bob@example.com', 1, 1]],
      );
      assert.equal(await deleteMailboxMessage(db.store, summary.id), true);
      assert.equal(await getMailboxMessage(db.store, summary.id), null);
      assert.equal(await deleteMailboxMessage(db.store, summary.id), false);
    },
  );

  test('webhook: a 2xx delivers; one POST per mailbox with envelope headers and a valid signature', T, async () => {
    const secret = 'shared-secret';
    const { courier } = courierFor({
      'hook.test': domain({
        delivery: 'webhook',
        webhook: hook.url,
        webhookSecret: secret,
        aliases: { both: ['a', 'b'] },
      }),
    });
    hook.hits.length = 0;
    const job = localJob(['both@hook.test']);
    const r = (await courier.deliver(job, new AbortController().signal)).results.get(job.recipients[0].id)!;
    assert.deepEqual([r.outcome, r.expandedTo], ['delivered', ['a@hook.test', 'b@hook.test']]);
    assert.equal(hook.hits.length, 2);
    for (const hit of hook.hits) {
      assert.equal(hit.method, 'POST');
      assert.equal(hit.url, '/hooks/mail?token=s3cret');
      assert.equal(hit.headers['content-type'], 'message/rfc822');
      assert.equal(hit.headers['x-tern-queue-id'], job.message.id);
      assert.equal(hit.headers['x-tern-envelope-from'], 's@sender.example');
      const to = String(hit.headers['x-tern-envelope-to']);
      assert.equal(hit.body.toString(), `Return-Path: <s@sender.example>\r\nDelivered-To: ${to}\r\n${MESSAGE}`);
      // What a receiver does: recompute the HMAC over the raw body it got.
      const expected = `sha256=${createHmac('sha256', secret).update(hit.body).digest('hex')}`;
      assert.equal(hit.headers['x-tern-signature'], expected);
    }
    assert.deepEqual(hook.hits.map((h) => h.headers['x-tern-envelope-to']).sort(), ['a@hook.test', 'b@hook.test']);
  });

  test('webhook: without a secret there is no signature; the null sender is "<>"', T, async () => {
    const { courier } = courierFor({ 'hook.test': domain({ delivery: 'webhook', webhook: hook.url }) });
    hook.hits.length = 0;
    const job = localJob(['x@hook.test'], MESSAGE, '');
    const r = (await courier.deliver(job, new AbortController().signal)).results.get(job.recipients[0].id)!;
    assert.equal(r.outcome, 'delivered');
    assert.equal(hook.hits[0].headers['x-tern-signature'], undefined);
    assert.equal(hook.hits[0].headers['x-tern-envelope-from'], '<>');
  });

  test('webhook: 500 is temporary, and the retry that gets 200 delivers', T, async () => {
    const { courier, lines } = courierFor({ 'hook.test': domain({ delivery: 'webhook', webhook: hook.url }) });
    hook.hits.length = 0;
    hook.script.push(500, 200);
    const first = await one(courier, 'x@hook.test');
    assert.deepEqual([first.outcome, first.status, first.reply], [
      'temporary',
      '4.3.0',
      'webhook unavailable (HTTP 500)',
    ]);
    const second = await one(courier, 'x@hook.test');
    assert.deepEqual([second.outcome, second.status, second.reply], [
      'delivered',
      '2.0.0',
      'webhook accepted (HTTP 200)',
    ]);
    assert.equal(hook.hits.length, 2);
    // Operators see the answer; the token in the URL appears nowhere.
    const failed = lines.find((l) => l.event === 'local-failed')!;
    assert.match(String(failed.detail), /answered 500: status 500 second line/);
    assert.ok(!JSON.stringify(lines).includes('s3cret'));
  });

  test('webhook: 400 is a permanent refusal; 408, 429 and redirects are temporary', T, async () => {
    const { courier } = courierFor({ 'hook.test': domain({ delivery: 'webhook', webhook: hook.url }) });
    const table: Array<[number, string, string]> = [
      [400, 'permanent', '5.3.0'],
      [404, 'permanent', '5.3.0'],
      [408, 'temporary', '4.3.0'],
      [429, 'temporary', '4.3.0'],
      [503, 'temporary', '4.3.0'],
      [302, 'temporary', '4.3.0'],
      [204, 'delivered', '2.0.0'],
    ];
    for (const [status, outcome, enhanced] of table) {
      hook.script.push(status);
      const r = await one(courier, 'x@hook.test');
      assert.deepEqual([r.outcome, r.status], [outcome, enhanced], String(status));
    }
    hook.script.push(400);
    assert.equal((await one(courier, 'x@hook.test')).reply, 'webhook refused (HTTP 400)');
  });

  test('webhook: no answer within the timeout is temporary', T, async () => {
    const { courier } = courierFor({ 'hook.test': domain({ delivery: 'webhook', webhook: hook.url }) }, 300);
    hook.script.push('hang');
    const started = Date.now();
    const r = await one(courier, 'x@hook.test');
    assert.deepEqual([r.outcome, r.status, r.reply], ['temporary', '4.3.0', 'webhook request timed out']);
    assert.ok(Date.now() - started < 5000);
  });

  test('maildir, mailbox, webhook and LMTP chosen per domain in one job', T, async () => {
    const root = fs.mkdtempSync(path.join(db.dataDir, 'maildirs-'));
    const { courier, lmtp, forwarded } = courierFor({
      'box.test': domain({ delivery: 'mailbox' }),
      'md.test': domain({ delivery: 'maildir', maildir: `${root}/%d/%u/Maildir` }),
      'hook.test': domain({ delivery: 'webhook', webhook: hook.url }),
      'lmtp.test': domain({ delivery: 'lmtp', lmtp: 'unix:/run/dovecot/lmtp' }),
      'list.test': domain({
        aliases: { all: ['u@box.test', 'u@md.test', 'u@hook.test', 'u@lmtp.test', 'far@remote.example'] },
      }),
    });
    hook.hits.length = 0;
    const job = localJob(['all@list.test']);
    const r = (await courier.deliver(job, new AbortController().signal)).results.get(job.recipients[0].id)!;
    assert.equal(r.outcome, 'delivered');
    assert.deepEqual(r.expandedTo, ['u@box.test', 'u@md.test', 'u@hook.test', 'u@lmtp.test', 'far@remote.example']);
    assert.equal((await listMailbox(db.store, 'u@box.test')).length, 1);
    assert.equal(fs.readdirSync(path.join(root, 'md.test', 'u', 'Maildir', 'new')).length, 1);
    assert.equal(hook.hits.length, 1);
    assert.deepEqual(lmtp.calls.map((c) => c.job.recipients.map((x) => x.address)), [['u@lmtp.test']]);
    assert.deepEqual(forwarded, [{ recipientId: job.recipients[0].id, targets: ['far@remote.example'] }]);
  });

  test('mailbox: a database that is gone is a temporary failure', T, async () => {
    const t = await openTestStore();
    await t.cleanup();
    const r = await deliverToMailbox(t.store, {
      address: 'a@box.test',
      messageId: 'Q1',
      sender: '',
      body: new TextEncoder().encode(MESSAGE),
    });
    assert.deepEqual([r.outcome, r.status, r.reply], ['temporary', '4.3.0', 'local mailbox store unavailable']);
  });
});
