// Interop with a real Postfix in both directions: Tern delivers to Postfix as the destination MX (over
// STARTTLS, DSN parameters passed on, a refused recipient bounced), and Postfix relays into Tern.
// Runs on PGlite and, with TERN_TEST_DATABASE_URL, PostgreSQL; skipped only where Postfix cannot run.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createQueueReader } from '../../src/queue/repo.ts';
import type { QueuedMessage } from '../../src/queue/types.ts';
import { listMailbox } from '../../src/delivery/local/mailbox.ts';
import { a, mx, startDnsServer, type TestDnsServer } from '../support/dns-server.ts';
import { makeTestPki, startFakeMx, type FakeMx, type RecordedTransaction } from '../support/fake-mx.ts';
import { postfixUnavailable, startPostfix, type Postfix } from '../support/postfix.ts';
import { startTestDaemon, type TestDaemon } from '../support/server.ts';
import { TestSmtpClient } from '../support/smtp-client.ts';

const T = { timeout: 60_000 };
const skip = postfixUnavailable();

async function until(what: string, cond: () => Promise<boolean> | boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Headers of a message as text, unfolded (RFC 5322 §2.2.3), so a pattern can span a folded field. */
const unfoldedHeaders = (data: Buffer | Uint8Array): string => {
  const text = Buffer.from(data).toString('latin1');
  return text.slice(0, text.indexOf('\r\n\r\n')).replace(/\r\n[ \t]+/g, ' ');
};

describe('interop with a real Postfix', { skip }, () => {
  let dns: TestDnsServer;
  let recorder: FakeMx; // where the destination Postfix relays everything it accepts
  let destination: Postfix; // the MX of dest.test, and of the senders' domains (DSNs come back through it)
  let relay: Postfix; // origin.test's outbound Postfix, relaying into Tern
  let srv: TestDaemon;

  before(async () => {
    const pki = await makeTestPki();
    recorder = await startFakeMx({ name: 'recorder.test' });
    dns = await startDnsServer({
      'dest.test': [mx(10, 'mx.dest.test')],
      'mx.dest.test': [a('127.0.0.1')],
      'sender.test': [mx(10, 'mx.dest.test')],
      'origin.test': [mx(10, 'mx.dest.test')],
    });
    destination = await startPostfix({
      name: 'mx.dest.test',
      relayPort: recorder.port,
      tls: await pki.issue(['mx.dest.test']), // a CA Tern does not know: opportunistic TLS must still be used
      mainCf: {
        // An access(5) table answering one recipient with a chosen reply, as a real MX refuses unknown users.
        smtpd_recipient_restrictions: 'check_recipient_access inline:{ { nobody@dest.test = 550 5.1.1 no such user } }',
      },
    });
    srv = await startTestDaemon({
      TERN_DELIVERY_ENABLED: 'true',
      TERN_DNS_SERVERS: dns.server,
      TERN_DELIVERY_SMTP_PORT: String(destination.port),
      TERN_DELIVERY_MTA_STS: 'false',
      TERN_DELIVERY_IPV6: 'false',
      TERN_DELIVERY_RETRY_SCHEDULE: '1s',
      TERN_DELIVERY_CONNECT_TIMEOUT: '2s',
      TERN_RELAY_TRUSTED_NETWORKS: '127.0.0.0/8',
    });
    relay = await startPostfix({ name: 'relay.origin.test', relayPort: srv.port('mx') });
  });

  after(async () => {
    // Every step runs whatever failed before it, so no Postfix is left running; the two stop side by side.
    const report = (err: unknown) => console.error('cleanup:', err);
    await Promise.all([relay?.stop().catch(report), destination?.stop().catch(report)]);
    for (const step of [() => srv?.stop(), () => recorder?.close(), () => dns?.close()]) await step()?.catch(report);
  });

  const message = async (id: string): Promise<QueuedMessage & { body?: Uint8Array }> =>
    (await createQueueReader(srv.daemon.store).get(id, { withBody: true }))!;
  const states = async (id: string) => Object.fromEntries((await message(id)).recipients.map((r) => [r.address, r.state]));
  const recorded = (pred: (t: RecordedTransaction) => boolean) => recorder.transactions.find(pred);

  test('Tern -> Postfix: STARTTLS, 250 "queued as" recorded, DSN parameters passed on; a 550 recipient bounces', T, async () => {
    const c = await TestSmtpClient.connect(srv.port('mx'));
    await c.reply();
    await c.command('EHLO client.sender.test');
    assert.equal((await c.command('MAIL FROM:<sender@sender.test> RET=HDRS ENVID=interop-1')).code, 250);
    assert.equal((await c.command('RCPT TO:<someone@dest.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;someone@dest.test')).code, 250);
    assert.equal((await c.command('RCPT TO:<nobody@dest.test>')).code, 250);
    assert.equal((await c.command('DATA')).code, 354);
    c.write('From: <sender@sender.test>\r\nSubject: to Postfix\r\n\r\nmarker-tern-to-postfix\r\n.\r\n');
    const queued = await c.reply();
    c.close();
    const id = /queued as (\S+)/.exec(queued.text)![1];

    await until('final states', async () => {
      const s = await states(id);
      return s['someone@dest.test'] === 'delivered' && s['nobody@dest.test'] === 'bounced';
    });
    const msg = await message(id);
    const someone = msg.recipients.find((r) => r.address === 'someone@dest.test')!;
    const nobody = msg.recipients.find((r) => r.address === 'nobody@dest.test')!;
    // Postfix's own reply to the end of data, with its queue id: the message is in Postfix's durable queue.
    // "N bytes queued as" is how Postfix answers BDAT LAST: Tern used CHUNKING (RFC 3030), which Postfix offers.
    const postfixId = /^250 2\.0\.0 Ok: \d+ bytes queued as ([0-9A-Za-z]+)$/.exec(someone.lastReply ?? '')?.[1];
    assert.ok(postfixId, `Postfix's 250 recorded: ${someone.lastReply}`);
    assert.match(nobody.lastReply ?? '', /^550 5\.1\.1 <nobody@dest\.test>: Recipient address rejected: no such user/);
    assert.equal(nobody.attempts, 1, 'a 5xx is final: no retry');

    const attempt = msg.events.find((e) => e.kind === 'attempt' && e.detail.host === 'mx.dest.test');
    assert.ok(attempt, 'the attempt is in the history');
    assert.equal(attempt.detail.ip, '127.0.0.1');
    assert.equal(attempt.detail.port, destination.port);
    const tls = attempt.detail.tls as { protocol: string } | null;
    assert.match(tls?.protocol ?? 'none', /^TLSv1\.[23]$/, 'opportunistic STARTTLS with real Postfix');

    // Postfix's side: TLS, the refusal, and the relay onwards (status=sent) of the queue id Tern was told.
    await destination.waitForLog(/TLS connection established from \S+\[127\.0\.0\.1\]: TLSv1\.[23]/);
    await destination.waitForLog(
      new RegExp(`${postfixId}: reject: RCPT from \\S+: 550 5\\.1\\.1 <nobody@dest\\.test>: .* from=<sender@sender\\.test> to=<nobody@dest\\.test> proto=ESMTP helo=<mx\\.tern\\.test>`),
    );
    await destination.waitForLog(new RegExp(`${postfixId}: to=<someone@dest\\.test>,.* status=sent `));

    await until('the recorder has the message', () => !!recorded((t) => t.rcpts.some((r) => r.address === 'someone@dest.test')));
    const tx = recorded((t) => t.rcpts.some((r) => r.address === 'someone@dest.test'))!;
    assert.equal(tx.mailFrom, 'sender@sender.test');
    assert.deepEqual(tx.rcpts.map((r) => r.address), ['someone@dest.test'], 'the refused recipient never got past Postfix');
    // DSN parameters travelled Tern -> Postfix -> next hop unchanged (RFC 3461 §5.2.1).
    assert.ok(tx.mailParams.includes('RET=HDRS') && tx.mailParams.includes('ENVID=interop-1'), tx.mailParams.join(' '));
    assert.ok(tx.rcpts[0].params.includes('NOTIFY=SUCCESS,FAILURE'), tx.rcpts[0].params.join(' '));
    assert.ok(tx.rcpts[0].params.some((p) => /^ORCPT=rfc822;someone@dest\.test$/i.test(p)), tx.rcpts[0].params.join(' '));
    const headers = unfoldedHeaders(tx.data);
    // Postfix's Received (newest first) names Tern's EHLO and the TLS; Tern's own follows, then the body.
    assert.match(headers, new RegExp(`^Received: from mx\\.tern\\.test \\(\\S+ \\[127\\.0\\.0\\.1\\]\\) \\(using TLSv1\\.[23] .*by mx\\.dest\\.test \\(Postfix\\) with ESMTPS id ${postfixId}`));
    assert.match(headers, new RegExp(`\\r\\nReceived: from client\\.sender\\.test \\(\\[127\\.0\\.0\\.1\\]\\) by mx\\.tern\\.test \\(Tern\\) with ESMTP id ${id};`));
    assert.match(tx.data.toString('latin1'), /\r\n\r\nmarker-tern-to-postfix\r\n$/);

    // The bounce (RFC 3464) goes home through Postfix too: Postfix took it from the null reverse-path.
    await until('the DSN reaches the sender', () => !!recorded((t) => t.mailFrom === '' && t.rcpts[0]?.address === 'sender@sender.test'));
    const dsn = recorded((t) => t.mailFrom === '' && t.rcpts[0]?.address === 'sender@sender.test')!.data.toString('latin1');
    assert.match(dsn, /Content-Type: multipart\/report; report-type=delivery-status/i);
    assert.match(dsn, /Original-Envelope-Id: interop-1/);
    assert.match(dsn, /Final-Recipient: rfc822; ?nobody@dest\.test/);
    assert.match(dsn, /Action: failed/);
    assert.match(dsn, /Status: 5\.1\.1/);
    assert.match(dsn, /Remote-MTA: dns; ?mx\.dest\.test/);
    assert.match(dsn, /Diagnostic-Code: smtp; ?550 5\.1\.1 <nobody@dest\.test>: Recipient address rejected: no such user/);
    // Postfix speaks DSN, so the NOTIFY=SUCCESS recipient owes no "relayed" DSN from Tern (RFC 3461 §5.2.2 is
    // for peers without DSN): the failure notice is the only message Tern queued for the sender.
    assert.doesNotMatch(dsn, /Final-Recipient: rfc822; ?someone@dest\.test/);
    const home = (await createQueueReader(srv.daemon.store).list({ limit: 100 })).filter(
      (m) => m.sender === '' && m.recipients.some((r) => r.address === 'sender@sender.test'),
    );
    assert.equal(home.length, 1, 'one DSN: the failure');
  });

  test("Postfix -> Tern: Postfix's sendmail, relayed by its smtp(8); Tern records its HELO, Received and DSN parameters", T, async () => {
    const sent = await relay.sendmail(
      ['-f', 'sender@origin.test', '-N', 'success', '-V', 'interop-2', '-R', 'hdrs', 'alice@tern.test'],
      'From: <sender@origin.test>\nTo: <alice@tern.test>\nSubject: from Postfix\n\nmarker-postfix-to-tern\n',
    );
    assert.equal(sent.code, 0, sent.stderr);
    // Postfix's log line for the hand-off carries Tern's reply, and so Tern's queue id.
    const [, id] = await relay.waitForLog(
      new RegExp(`to=<alice@tern\\.test>, relay=127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:${srv.port('mx')},.* status=sent \\(250 2\\.0\\.0 Ok: queued as (\\S+)\\)`),
    );
    const msg = await message(id);
    assert.ok(msg, `message ${id} is in Tern's queue`);
    assert.equal(msg.envelope.helo, 'relay.origin.test', "Postfix's HELO name (smtp_helo_name = $myhostname)");
    assert.equal(msg.envelope.protocol, 'ESMTP');
    assert.equal(msg.envelope.sender, 'sender@origin.test');
    assert.equal(msg.envelope.dsnEnvid, 'interop-2');
    assert.equal(msg.envelope.dsnRet, 'HDRS');
    assert.deepEqual(
      msg.envelope.recipients.map((r) => ({ address: r.address, notify: r.notify, orcpt: r.orcpt })),
      [{ address: 'alice@tern.test', notify: ['SUCCESS'], orcpt: { type: 'rfc822', address: 'alice@tern.test' } }],
    );
    const headers = unfoldedHeaders(msg.body!);
    assert.match(headers, new RegExp(`^Received: from relay\\.origin\\.test \\(\\[127\\.0\\.0\\.1\\]\\) by mx\\.tern\\.test \\(Tern\\) with ESMTP id ${id}`));
    assert.match(headers, /\r\nReceived: by relay\.origin\.test \(Postfix, from userid 0\) id \w+;/, "Postfix's pickup Received header");
    assert.match(headers, /\r\nMessage-Id: <[^>]+@relay\.origin\.test>/i, 'cleanup(8) added the Message-ID');
    assert.match(Buffer.from(msg.body!).toString('latin1'), /\r\n\r\nmarker-postfix-to-tern\r\n$/, 'LF line ends arrive as CRLF');

    // Tern honours the NOTIFY=SUCCESS Postfix passed on: delivered locally, then a "delivered" DSN that
    // travels back out through the destination Postfix (the MX of origin.test).
    await until('local delivery', async () => (await states(id))['alice@tern.test'] === 'delivered');
    assert.ok((await listMailbox(srv.daemon.store, 'alice@tern.test', 10)).length >= 1);
    await until('the success DSN', () => !!recorded((t) => t.mailFrom === '' && t.rcpts[0]?.address === 'sender@origin.test'));
    const dsn = recorded((t) => t.mailFrom === '' && t.rcpts[0]?.address === 'sender@origin.test')!.data.toString('latin1');
    assert.match(dsn, /Original-Envelope-Id: interop-2/);
    assert.match(dsn, /Final-Recipient: rfc822; ?alice@tern\.test/);
    assert.match(dsn, /Action: delivered/);
    assert.match(dsn, /Status: 2\.0\.0/);
    assert.doesNotMatch(dsn, /marker-postfix-to-tern/, 'RET=HDRS: headers only');
  });

  test('bulk both ways: 20 messages from smtp-source through Postfix into Tern, 20 from Tern through Postfix', T, async () => {
    // smtp-source: 4 sessions, 5 messages each, to the relay Postfix, which relays them all into Tern.
    const src = await relay.smtpSource(['-s', '4', '-m', '20', '-f', 'bulk@origin.test', '-t', 'bob@tern.test', '-S', 'bulk-in']);
    assert.equal(src.code, 0, src.stderr);
    await until('20 hand-offs to Tern', () => (relay.maillog().match(/to=<bob@tern\.test>,.* status=sent \(250 2\.0\.0 Ok: queued as /g) ?? []).length === 20);
    await until('20 in the mailbox', async () => (await listMailbox(srv.daemon.store, 'bob@tern.test', 50)).length === 20);

    const c = await TestSmtpClient.connect(srv.port('mx'));
    await c.reply();
    await c.command('EHLO client.sender.test');
    for (let i = 0; i < 20; i++) {
      assert.equal((await c.command('MAIL FROM:<bulk@sender.test>')).code, 250);
      assert.equal((await c.command(`RCPT TO:<bulk${i}@dest.test>`)).code, 250);
      assert.equal((await c.command('DATA')).code, 354);
      c.write(`Subject: bulk ${i}\r\n\r\nbulk-out-${i}\r\n.\r\n`);
      assert.equal((await c.reply()).code, 250);
    }
    c.close();
    const bulk = () => recorder.transactions.filter((t) => t.mailFrom === 'bulk@sender.test').map((t) => t.rcpts[0].address);
    await until('20 relayed on by Postfix', () => bulk().length >= 20);
    const got = bulk().sort();
    assert.deepEqual(got, Array.from({ length: 20 }, (_, i) => `bulk${i}@dest.test`).sort());
  });
});
