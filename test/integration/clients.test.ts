// Third-party SMTP clients (Python smtplib, curl, swaks) against a real Tern daemon over real sockets and TLS.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createQueueReader } from '../../src/queue/repo.ts';
import { hashPassword } from '../../src/auth/password.ts';
import { createUserRepo } from '../../src/auth/users.ts';
import type { QueueReader } from '../../src/queue/types.ts';
import { startTestDaemon, type TestDaemon } from '../support/server.ts';
import { runProcess } from '../support/process.ts';

const run = runProcess;

/** Finds the one stored message whose body contains the marker, failing loudly otherwise. */
async function storedWith(reader: QueueReader, marker: string) {
  const rows = await reader.list({ limit: 1000 });
  const found = [];
  for (const row of rows) {
    const msg = await reader.get(row.id, { withBody: true });
    if (msg?.body && Buffer.from(msg.body).toString('latin1').includes(marker)) found.push(msg);
  }
  assert.equal(found.length, 1, `exactly one stored message carries ${marker}`);
  return found[0];
}

const PY_SEND = `
import smtplib, ssl, sys
from email.message import EmailMessage
port, mode, marker = int(sys.argv[1]), sys.argv[2], sys.argv[3]
msg = EmailMessage()
msg['From'] = 'alice@example.org'
msg['To'] = 'bob@tern.test'
msg['Subject'] = 'smtplib ' + mode
msg.set_content('hello from smtplib\\n.leading dot line\\n' + marker + '\\n')
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
if mode == 'implicit':
    s = smtplib.SMTP_SSL('127.0.0.1', port, context=ctx, timeout=20)
    s.login('alice@example.org', 'correct horse battery')
else:
    s = smtplib.SMTP('127.0.0.1', port, timeout=20)
s.ehlo('client.example.org')
if mode == 'starttls':
    code, _ = s.starttls(context=ctx)
    assert code == 220, code
    s.ehlo('client.example.org')
print('esmtp_features', sorted(s.esmtp_features.keys()))
refused = s.send_message(msg, to_addrs=['bob@tern.test', 'Postmaster'])
print('refused', refused)
s.quit()
`;

describe('third-party clients', () => {
  let srv: TestDaemon;
  let reader: QueueReader;
  before(async () => {
    srv = await startTestDaemon();
    reader = createQueueReader(srv.daemon.store);
    // Submission on 465 requires AUTH (RFC 6409 §4.3, RFC 8314): alice logs in there.
    const added = await createUserRepo(srv.daemon.store).add({ name: 'alice@example.org', passwordHash: await hashPassword('correct horse battery') });
    assert.ok(added.ok);
  });
  after(async () => {
    await srv?.stop();
  });

  for (const mode of ['plain', 'starttls', 'implicit'] as const) {
    test(`python smtplib (${mode})`, async () => {
      const marker = `marker-smtplib-${mode}-${Date.now()}`;
      const port = srv.port(mode === 'implicit' ? 'submissions' : 'mx');
      const r = await run('python3', ['-c', PY_SEND, String(port), mode, marker]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /refused \{\}/);
      // smtplib saw the extensions it understands; STARTTLS only before TLS
      assert.match(r.stdout, /'8bitmime'.*'chunking'.*'dsn'.*'enhancedstatuscodes'.*'pipelining'.*'size'.*'smtputf8'/s);
      if (mode === 'plain') assert.match(r.stdout, /'starttls'/);
      else assert.doesNotMatch(r.stdout, /'starttls'/);
      const msg = await storedWith(reader, marker);
      assert.equal(msg.sender, 'alice@example.org');
      assert.deepEqual(msg.recipients.map((x) => x.address).sort(), ['Postmaster', 'bob@tern.test']);
      assert.ok(msg.recipients.every((x) => x.state === 'queued'));
      const text = Buffer.from(msg.body!).toString('latin1');
      // Dot-unstuffing (RFC 5321 §4.5.2) and our trace header at the top (§4.4)
      assert.match(text, /\r\n\.leading dot line\r\n/);
      assert.match(text, /^Received: from client\.example\.org \(\[127\.0\.0\.1\]\)/);
      assert.match(text, { plain: /with ESMTP id /, starttls: /with ESMTPS id /, implicit: /with ESMTPSA id / }[mode]);
      assert.equal(msg.envelope.authUser ?? null, mode === 'implicit' ? 'alice@example.org' : null);
      assert.equal(msg.envelope.tls === null, mode === 'plain');
      assert.equal(msg.envelope.listener, mode === 'implicit' ? 'submissions' : 'mx');
    });
  }

  test('curl smtp:// with STARTTLS required (--ssl-reqd)', async () => {
    const marker = `marker-curl-${Date.now()}`;
    const body = `From: carol@example.org\r\nTo: dave@tern.test\r\nSubject: curl\r\n\r\nbody ${marker}\r\n`;
    const r = await run('curl', [
      '--silent', '--show-error', '--ssl-reqd', '--insecure',
      `smtp://127.0.0.1:${srv.port('mx')}/client.example.org`,
      '--mail-from', 'carol@example.org', '--mail-rcpt', 'dave@tern.test', '--upload-file', '-',
    ], body);
    assert.equal(r.code, 0, r.stderr);
    const msg = await storedWith(reader, marker);
    assert.equal(msg.sender, 'carol@example.org');
    assert.deepEqual(msg.recipients.map((x) => x.address), ['dave@tern.test']);
    assert.ok(msg.envelope.tls, 'curl negotiated TLS');
  });

  test('curl is refused for a foreign recipient (no open relay)', async () => {
    const r = await run('curl', [
      '--silent', '--show-error', `smtp://127.0.0.1:${srv.port('mx')}/client.example.org`,
      '--mail-from', 'carol@example.org', '--mail-rcpt', 'victim@elsewhere.example', '--upload-file', '-',
    ], 'Subject: relay attempt\r\n\r\nno\r\n');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /554|RCPT failed/);
  });

  test('swaks with STARTTLS and PIPELINING', async () => {
    const marker = `marker-swaks-${Date.now()}`;
    const r = await run('swaks', [
      '--server', `127.0.0.1:${srv.port('mx')}`, '--tls', '--pipeline',
      '--helo', 'swaks.example.org', '--from', 'erin@example.org', '--to', 'frank@tern.test',
      '--body', `swaks body ${marker}`, '--header', 'Subject: swaks',
    ]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /<~?\s+250 2\.0\.0 Ok: queued as \S+/);
    const msg = await storedWith(reader, marker);
    assert.equal(msg.envelope.helo, 'swaks.example.org');
    assert.ok(msg.envelope.tls);
  });

  test('swaks sees 554 5.7.1 for a domain that is neither local nor relayed', async () => {
    const r = await run('swaks', [
      '--server', `127.0.0.1:${srv.port('mx')}`, '--from', 'erin@example.org', '--to', 'someone@not-ours.example',
    ]);
    assert.notEqual(r.code, 0);
    assert.match(r.stdout, /554 5\.7\.1/);
  });
});
