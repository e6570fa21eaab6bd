// The whole daemon delivering: a loopback DNS zone, scripted MX peers on 127.0.0.x, local domains, DSNs
// that travel back to the sender's own (fake) MX. Runs on PGlite and, with TERN_TEST_DATABASE_URL, PostgreSQL.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { createQueueReader } from '../../src/queue/repo.ts';
import type { QueuedMessage } from '../../src/queue/types.ts';
import { listMailbox } from '../../src/delivery/local/mailbox.ts';
import { a, mx, startDnsServer, type TestDnsServer, type Zone } from '../support/dns-server.ts';
import { makeTestPki, startFakeMxGroup, type FakeMx } from '../support/fake-mx.ts';
import { startTestDaemon, tempDir, type TestDaemon } from '../support/server.ts';
import { sendMessage, TestSmtpClient } from '../support/smtp-client.ts';

const T = { timeout: 90_000 };

async function until(what: string, cond: () => Promise<boolean> | boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('delivery end to end', () => {
  let dns: TestDnsServer;
  // .2 primary and .3 secondary of multi.test; .4 is the sender's own MX (DSNs land there); .5 a quirky peer
  let peers: FakeMx[];
  let quirky: FakeMx;
  let srv: TestDaemon;
  let maildirBase: string;
  let webhookHits: Array<{ headers: http.IncomingHttpHeaders; body: string }>;
  let webhook: http.Server;
  let webhookStatus: number[];

  before(async () => {
    const pki = await makeTestPki();
    peers = await startFakeMxGroup([
      { name: 'mx1.multi.test', refuseFirst: 1 }, // 421 to the first connection: the secondary must be tried
      {
        name: 'mx2.multi.test',
        tls: await pki.issue(['mx2.multi.test']),
        rcpt: { 'nobody@multi.test': '550 5.1.1 <nobody@multi.test> no such user' },
      },
      { name: 'mx.sender.test' },
      { name: 'mx.quirky.test', caps: { eightBitMime: false, smtpUtf8: false, startTls: false }, replies: { MAIL: ['451 4.3.0 try later', '250 2.1.0 ok'] } },
      { name: 'mx.drop.test', dropMidData: 1 }, // the first transfer loses its connection halfway
    ]);
    quirky = peers[3];
    const zone: Zone = {
      'multi.test': [mx(10, 'mx1.multi.test'), mx(20, 'mx2.multi.test')],
      'mx1.multi.test': [a('127.0.0.2')],
      'mx2.multi.test': [a('127.0.0.3')],
      'sender.test': [mx(10, 'mx.sender.test')],
      'mx.sender.test': [a('127.0.0.4')],
      'quirky.test': [mx(10, 'mx.quirky.test')],
      'mx.quirky.test': [a('127.0.0.5')],
      'drop.test': [mx(10, 'mx.drop.test')],
      'mx.drop.test': [a('127.0.0.6')],
      'implicit.test': [a('127.0.0.4')], // no MX: the domain's own address (RFC 5321 §5.1)
      'nullmx.test': [mx(0, '.')],
      'flaky.test': { behaviour: 'servfail' },
    };
    dns = await startDnsServer(zone);
    maildirBase = tempDir('tern-maildir-');
    webhookHits = [];
    webhookStatus = [500, 200];
    webhook = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        webhookHits.push({ headers: req.headers, body });
        res.statusCode = webhookStatus.length > 1 ? webhookStatus.shift()! : webhookStatus[0];
        res.end();
      });
    });
    await new Promise<void>((r) => webhook.listen(0, '127.0.0.1', r));
    const hookPort = (webhook.address() as { port: number }).port;
    srv = await startTestDaemon(
      {
        TERN_DELIVERY_ENABLED: 'true',
        TERN_DNS_SERVERS: dns.server,
        TERN_DELIVERY_SMTP_PORT: String(peers[0].port),
        TERN_DELIVERY_MTA_STS: 'false',
        TERN_DELIVERY_IPV6: 'false',
        TERN_DELIVERY_RETRY_SCHEDULE: '1s',
        TERN_DELIVERY_CONNECT_TIMEOUT: '2s',
        TERN_RELAY_TRUSTED_NETWORKS: '127.0.0.0/8',
      },
      `
[domains."tern.test"]
recipients = ["alice", "bob"]
aliases = { team = ["alice", "bob"], ext = "someone@multi.test" }

[domains."files.test"]
delivery = "maildir"
maildir = "${maildirBase}/%d/%u"

[domains."hook.test"]
delivery = "webhook"
webhook = "http://127.0.0.1:${hookPort}/inbound"
webhook_secret = "s3cret"
`,
    );
  });

  after(async () => {
    await srv?.stop();
    for (const p of peers ?? []) await p.close();
    await dns?.close();
    await new Promise((r) => webhook?.close(r));
    fs.rmSync(maildirBase, { recursive: true, force: true });
  });

  async function submit(from: string, to: string[], body = 'Subject: e2e\r\n\r\nhello\r\n', mailParams = ''): Promise<string> {
    const c = await TestSmtpClient.connect(srv.port('mx'));
    await c.reply();
    await c.command('EHLO client.test');
    let r;
    if (mailParams) {
      // UTF-8 on the wire (the test client's command() sends Latin-1, right for 8-bit bodies, wrong here)
      const utf8 = async (line: string) => (c.write(Buffer.from(`${line}\r\n`, 'utf8')), c.reply());
      await utf8(`MAIL FROM:<${from}> ${mailParams}`);
      for (const t of to) await utf8(`RCPT TO:<${t}>`);
      await c.command('DATA');
      c.write(body + '.\r\n');
      r = await c.reply();
    } else {
      r = await sendMessage(c, from, to, body);
    }
    c.close();
    assert.equal(r.code, 250, r.text);
    return /queued as (\S+)/.exec(r.text)![1];
  }

  const reader = () => createQueueReader(srv.daemon.store);
  const message = async (id: string): Promise<QueuedMessage> => (await reader().get(id))!;
  const states = async (id: string) => Object.fromEntries((await message(id)).recipients.map((r) => [r.address, r.state]));
  const dsnsAt = (fake: FakeMx) => fake.transactions.filter((t) => t.mailFrom === '');

  test('MX preference order, a 421 primary, the secondary delivers; a 550 recipient bounces with a DSN home', T, async () => {
    const id = await submit('sender@sender.test', ['someone@multi.test', 'nobody@multi.test']);
    await until('final states', async () => {
      const s = await states(id);
      return s['someone@multi.test'] === 'delivered' && s['nobody@multi.test'] === 'bounced';
    });
    const [primary, secondary, home] = peers;
    assert.ok(primary.connections >= 1, 'the primary (preference 10) was tried first');
    assert.equal(primary.transactions.length, 0);
    const tx = secondary.transactions.find((t) => t.data.toString().includes(`id ${id}`) || t.rcpts.some((r) => r.address === 'someone@multi.test'));
    assert.ok(tx, 'the secondary got the message');
    assert.equal(tx.mailFrom, 'sender@sender.test');
    assert.ok(tx.tls, 'opportunistic STARTTLS was used');
    const msg = await message(id);
    const attempts = msg.events.filter((e) => e.kind === 'attempt');
    assert.ok(attempts.some((e) => JSON.stringify(e.detail).includes('421')), 'the 421 is in the history');
    await until('the DSN reaches the sender', () => dsnsAt(home).length >= 1);
    const dsn = dsnsAt(home)[0].data.toString();
    assert.match(dsn, /Final-Recipient: rfc822; ?nobody@multi\.test/);
    assert.match(dsn, /Action: failed/);
    assert.match(dsn, /Status: 5\.1\.1/);
    assert.match(dsn, /Remote-MTA: dns; ?mx2\.multi\.test/);
    assert.match(dsn, /550 5\.1\.1 <nobody@multi\.test> no such user/);
    assert.doesNotMatch(dsn, /Final-Recipient: rfc822; ?someone@multi\.test/);
  });

  test('implicit MX, null MX (5.1.10, immediate), SERVFAIL (deferred, not bounced)', T, async () => {
    const id = await submit('sender@sender.test', ['x@implicit.test', 'x@nullmx.test', 'x@flaky.test']);
    await until('outcomes', async () => {
      const s = await states(id);
      return s['x@implicit.test'] === 'delivered' && s['x@nullmx.test'] === 'bounced' && s['x@flaky.test'] === 'deferred';
    });
    const rc = (await message(id)).recipients;
    assert.match(rc.find((r) => r.address === 'x@nullmx.test')!.lastReply ?? '', /null MX|5\.1\.10|accepts no mail/i);
    assert.equal(rc.find((r) => r.address === 'x@nullmx.test')!.attempts, 1, 'no retry for a null MX');
  });

  test('4xx then 2xx: deferred, retried on schedule, delivered; an 8BITMIME message to a 7-bit peer bounces 5.6.3', T, async () => {
    const id = await submit('sender@sender.test', ['later@quirky.test']);
    await until('deferred', async () => (await states(id))['later@quirky.test'] === 'deferred');
    await until('delivered on retry', async () => (await states(id))['later@quirky.test'] === 'delivered', 15_000);
    assert.ok(!quirky.transactions.at(-1)!.tls, 'no STARTTLS offered: plaintext (opportunistic)');
    const eight = await submit('sender@sender.test', ['eight@quirky.test'], 'Subject: 8bit\r\n\r\ncaf\xe9\r\n', 'BODY=8BITMIME');
    await until('bounce', async () => (await states(eight))['eight@quirky.test'] === 'bounced');
    const r = (await message(eight)).recipients[0];
    assert.match(r.lastReply ?? '', /8BITMIME|8-bit|5\.6\.3/);
  });

  test('connection dropped mid-DATA: deferred (never delivered), then delivered on retry; SMTPUTF8 to a peer without it bounces 5.6.7', T, async () => {
    const id = await submit('sender@sender.test', ['cut@drop.test'], 'Subject: cut\r\n\r\n' + 'line of text\r\n'.repeat(2000));
    await until('deferred', async () => (await states(id))['cut@drop.test'] === 'deferred');
    const first = (await message(id)).recipients[0];
    assert.match(first.lastReply ?? '', /lost|connection|closed/i);
    await until('delivered on retry', async () => (await states(id))['cut@drop.test'] === 'delivered', 15_000);
    const drop = peers[4];
    assert.equal(drop.transactions.length, 1, 'the cut transfer was not recorded as received');

    const utf = await submit('jörg@sender.test', ['x@quirky.test'], 'Subject: utf8\r\n\r\nhi\r\n', 'SMTPUTF8');
    await until('bounce', async () => (await states(utf))['x@quirky.test'] === 'bounced');
    assert.match((await message(utf)).recipients[0].lastReply ?? '', /SMTPUTF8/);
    const home = peers[2];
    await until('a DSN to the UTF-8 sender', () => home.transactions.some((t) => t.mailFrom === '' && t.rcpts.some((r) => r.address === 'jörg@sender.test')));
  });

  test('local delivery: mailbox with aliases and a remote forward, Maildir, webhook with retry; unknown users refused at RCPT', T, async () => {
    // RCPT-time refusal for a domain with a recipient list
    const c = await TestSmtpClient.connect(srv.port('mx'));
    await c.reply();
    await c.command('EHLO client.test');
    await c.command('MAIL FROM:<sender@sender.test>');
    assert.match((await c.command('RCPT TO:<mallory@tern.test>')).text, /^550 5\.1\.1 /);
    c.close();

    const id = await submit('sender@sender.test', ['team@tern.test', 'ext@tern.test', 'u@files.test', 'v@hook.test']);
    await until('local outcomes', async () => {
      const s = await states(id);
      return s['team@tern.test'] === 'delivered' && s['u@files.test'] === 'delivered' && s['v@hook.test'] === 'delivered' && s['ext@tern.test'] === 'delivered';
    });
    const alice = await listMailbox(srv.daemon.store, 'alice@tern.test', 10);
    const bob = await listMailbox(srv.daemon.store, 'bob@tern.test', 10);
    assert.equal(alice.length, 1);
    assert.equal(bob.length, 1);
    // ext@ forwards to a remote address: a new recipient of the same message, delivered by SMTP
    await until('forwarded copy delivered', async () => (await states(id))['someone@multi.test'] === 'delivered');
    const files = fs.readdirSync(path.join(maildirBase, 'files.test', 'u', 'new'));
    assert.equal(files.length, 1);
    const onDisk = fs.readFileSync(path.join(maildirBase, 'files.test', 'u', 'new', files[0]), 'utf8');
    assert.match(onDisk, /^Return-Path: <sender@sender\.test>\n/);
    assert.match(onDisk, /Delivered-To: u@files\.test/);
    assert.equal(webhookHits.length, 2, 'the first POST got 500 and was retried');
    assert.equal(webhookHits[1].headers['x-tern-envelope-to'], 'v@hook.test');
    assert.match(String(webhookHits[1].headers['x-tern-signature']), /^sha256=[0-9a-f]{64}$/);
    assert.match(webhookHits[1].body, /hello/);
  });
});
