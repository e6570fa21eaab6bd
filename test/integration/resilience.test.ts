// What happens under pressure: connection caps, timeouts, a failing database, a client that never reads.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestDaemon, type TestDaemon } from '../support/server.ts';
import { sendMessage, TestSmtpClient } from '../support/smtp-client.ts';

async function greeted(port: number): Promise<TestSmtpClient> {
  const c = await TestSmtpClient.connect(port);
  const r = await c.reply();
  assert.equal(r.code, 220, r.text);
  return c;
}

describe('connection limits and timeouts', () => {
  let srv: TestDaemon;
  before(async () => {
    srv = await startTestDaemon({
      TERN_LIMITS_MAX_CONNECTIONS_PER_IP: '3',
      TERN_LIMITS_MAX_CONNECTIONS: '5',
      TERN_SMTP_COMMAND_TIMEOUT: '1s',
      TERN_SMTP_DATA_TIMEOUT: '2s',
    });
  });
  after(() => srv?.stop());

  test('per-IP cap: the fourth connection from 127.0.0.1 gets 421 4.7.0 and is closed', async () => {
    const held = await Promise.all([1, 2, 3].map(() => greeted(srv.port('mx'))));
    const extra = await TestSmtpClient.connect(srv.port('submission'));
    assert.match((await extra.reply()).text, /^421 4\.7\.0 /);
    await extra.waitClosed();
    for (const c of held) c.close();
    // Capacity comes back once the held connections are gone.
    await new Promise((r) => setTimeout(r, 200));
    const again = await greeted(srv.port('mx'));
    again.close();
    await new Promise((r) => setTimeout(r, 200));
  });

  test('total cap counts every listener and every peer address', async () => {
    const open: TestSmtpClient[] = [];
    try {
      for (const from of ['127.0.0.1', '127.0.0.1', '127.0.0.1', '127.0.0.2', '127.0.0.2']) {
        const c = await TestSmtpClient.connect(srv.port(open.length % 2 ? 'submission' : 'mx'), { from });
        open.push(c);
        assert.equal((await c.reply()).code, 220);
      }
      // 127.0.0.3 is under its own per-IP cap, but the server as a whole is full.
      const sixth = await TestSmtpClient.connect(srv.port('mx'), { from: '127.0.0.3' });
      assert.match((await sixth.reply()).text, /^421 4\.7\.0 /);
      await sixth.waitClosed();
    } finally {
      for (const c of open) c.close();
      await new Promise((r) => setTimeout(r, 200));
    }
  });

  test('command timeout: an idle client gets 421 4.4.2 and the connection ends', async () => {
    const c = await greeted(srv.port('mx'));
    await c.command('EHLO idle.example');
    const r = await c.reply(5000);
    assert.match(r.text, /^421 4\.4\.2 /);
    await c.waitClosed();
  });

  test('data timeout: a client stalling inside DATA gets 421 4.4.2 and nothing is stored', async () => {
    const c = await greeted(srv.port('mx'));
    await c.command('EHLO stall.example');
    await c.command('MAIL FROM:<a@example.org>');
    await c.command('RCPT TO:<b@tern.test>');
    assert.equal((await c.command('DATA')).code, 354);
    c.write('Subject: stalled\r\n\r\npartial');
    const r = await c.reply(6000);
    assert.match(r.text, /^421 4\.4\.2 /);
    await c.waitClosed();
  });
});

describe('database failure', () => {
  let srv: TestDaemon;
  before(async () => {
    srv = await startTestDaemon();
  });
  after(() => srv?.stop());

  test('a commit that fails is answered 451 4.3.0, the server stays up and the session goes on', async () => {
    const c = await greeted(srv.port('mx'));
    await c.command('EHLO dbfail.example');
    const ok = await sendMessage(c, 'a@example.org', ['b@tern.test'], 'Subject: before\r\n\r\nfine\r\n');
    assert.equal(ok.code, 250, ok.text);
    // Break the store underneath the running daemon.
    await srv.daemon.store.close();
    const failed = await sendMessage(c, 'a@example.org', ['b@tern.test'], 'Subject: during\r\n\r\nlost?\r\n');
    assert.match(failed.text, /^451 4\.3\.0 /);
    assert.equal((await c.command('NOOP')).code, 250, 'session continues');
    const other = await greeted(srv.port('mx'));
    assert.equal((await other.command('EHLO still.example')).code, 250, 'server still accepts connections');
    other.close();
    c.close();
    assert.ok(srv.logs.some((l) => l.includes('enqueue-failed')), 'the failure is logged');
  });
});

describe('a client that never reads its replies', () => {
  let srv: TestDaemon;
  before(async () => {
    srv = await startTestDaemon({ TERN_SMTP_COMMAND_TIMEOUT: '2s' });
  });
  after(() => srv?.stop());

  test('a pipelined NOOP flood does not grow server memory without bound: reading stops, then the session times out', async () => {
    const c = await TestSmtpClient.connect(srv.port('mx'));
    c.socket.pause(); // never read: replies pile up in the kernel buffers, then the server must stop reading
    const chunk = Buffer.from('NOOP\r\n'.repeat(10_000));
    let written = 0;
    const start = Date.now();
    while (Date.now() - start < 3000) {
      if (!c.socket.write(chunk)) await new Promise((r) => setTimeout(r, 50));
      else written += chunk.length;
      if (c.socket.destroyed) break;
    }
    // Without flow control the server would have consumed everything and kept every reply in memory.
    assert.ok(c.socket.writableLength > 0 || c.socket.destroyed, 'the server applied backpressure');
    c.close();
    // The server is healthy for others afterwards.
    const other = await greeted(srv.port('mx'));
    other.close();
    assert.ok(written > 0);
  });
});

describe('shared budget for buffered message data', () => {
  let srv: TestDaemon;
  before(async () => {
    srv = await startTestDaemon({ TERN_SMTP_MAX_MESSAGE_SIZE: '64KiB', TERN_LIMITS_MAX_INFLIGHT_BYTES: '64KiB' });
  });
  after(() => srv?.stop());

  test('the session that would exceed it gets 421 4.3.1 and is closed; the others finish normally', async () => {
    const open = async () => {
      const c = await greeted(srv.port('mx'));
      await c.command('EHLO budget.example');
      await c.command('MAIL FROM:<a@example.org>');
      await c.command('RCPT TO:<b@tern.test>');
      assert.equal((await c.command('DATA')).code, 354);
      return c;
    };
    const line = 'x'.repeat(998) + '\r\n';
    const a = await open();
    const b = await open();
    a.write('Subject: a\r\n\r\n' + line.repeat(40)); // ~40 KB held by A
    await new Promise((r) => setTimeout(r, 200));
    b.write('Subject: b\r\n\r\n' + line.repeat(40)); // would take the total past 64 KiB
    assert.match((await b.reply()).text, /^421 4\.3\.1 /);
    await b.waitClosed();
    a.write('.\r\n');
    assert.equal((await a.reply()).code, 250, 'the session within budget is unaffected');
    a.close();
    assert.ok(srv.logs.some((l) => l.includes('"shed"')), 'the shedding is logged');
  });
});
