// STARTTLS (RFC 3207) and implicit TLS (RFC 8314) over real sockets with real handshakes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createQueueReader } from '../../src/queue/repo.ts';
import { startTestDaemon, type TestDaemon } from '../support/server.ts';
import { sendMessage, TestSmtpClient } from '../support/smtp-client.ts';

describe('TLS', () => {
  let srv: TestDaemon;
  before(async () => {
    srv = await startTestDaemon();
  });
  after(() => srv?.stop());

  test('STARTTLS command injection (CVE-2011-0411 class): commands pipelined after STARTTLS are never executed', async () => {
    const c = await TestSmtpClient.connect(srv.port('mx'));
    await c.reply();
    const ehlo = await c.command('EHLO inject.example');
    assert.match(ehlo.text, /^250[ -]STARTTLS$/m);
    // One write: the injected MAIL rides in the same TCP segment as STARTTLS.
    c.write('STARTTLS\r\nMAIL FROM:<injected@evil.example>\r\n');
    assert.match((await c.reply()).text, /^220 2\.0\.0 /);
    const secure = await c.startTls();
    assert.ok(secure.encrypted);
    const again = await c.command('EHLO inject.example');
    assert.doesNotMatch(again.text, /STARTTLS/, 'STARTTLS is not offered twice');
    // Had the injected MAIL run, this RCPT would be accepted.
    assert.match((await c.command('RCPT TO:<b@tern.test>')).text, /^503 5\.5\.1 /);
    assert.match((await c.command('STARTTLS')).text, /^503 5\.5\.1 /);
    c.close();
  });

  test('state is reset by STARTTLS: MAIL without a new EHLO is refused (RFC 3207 §4.2)', async () => {
    const c = await TestSmtpClient.connect(srv.port('submission'));
    await c.reply();
    await c.command('EHLO reset.example');
    assert.equal((await c.command('STARTTLS')).code, 220);
    await c.startTls();
    assert.match((await c.command('MAIL FROM:<a@example.org>')).text, /^503 5\.5\.1 /);
    c.close();
  });

  test('the Received header records ESMTPS and the negotiated protocol and cipher', async () => {
    const c = await TestSmtpClient.connect(srv.port('mx'));
    await c.reply();
    await c.command('EHLO trace.example');
    await c.command('STARTTLS');
    const secure = await c.startTls();
    await c.command('EHLO trace.example');
    const r = await sendMessage(c, 'a@example.org', ['b@tern.test'], 'Subject: trace\r\n\r\nbody\r\n');
    assert.equal(r.code, 250, r.text);
    const id = /queued as (\S+)/.exec(r.text)![1];
    const msg = await createQueueReader(srv.daemon.store).get(id, { withBody: true });
    const text = Buffer.from(msg!.body!).toString('latin1');
    const header = text.slice(0, text.indexOf('\r\n\r\n'));
    assert.match(header, /with ESMTPS id /);
    assert.ok(header.includes(secure.getProtocol()!), header);
    assert.ok(header.includes(secure.getCipher()!.name), header);
    assert.equal(msg!.envelope.tls?.protocol, secure.getProtocol());
    c.close();
  });

  test('implicit TLS listener: TLS from the first byte, no STARTTLS offered', async () => {
    const c = await TestSmtpClient.connect(srv.port('submissions'), { tls: true });
    assert.match((await c.reply()).text, /^220 mx\.tern\.test /);
    const ehlo = await c.command('EHLO implicit.example');
    assert.equal(ehlo.code, 250);
    assert.doesNotMatch(ehlo.text, /STARTTLS/);
    c.close();
  });

  test('a failed handshake after STARTTLS ends that connection only', async () => {
    const c = await TestSmtpClient.connect(srv.port('mx'));
    await c.reply();
    await c.command('EHLO junk.example');
    assert.equal((await c.command('STARTTLS')).code, 220);
    c.write('this is not a TLS ClientHello\r\n');
    await c.waitClosed();
    const ok = await TestSmtpClient.connect(srv.port('mx'));
    assert.equal((await ok.reply()).code, 220);
    ok.close();
  });
});
