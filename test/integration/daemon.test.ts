// `tern serve` as operators run it: dev defaults, the data-directory lock, the CLI via the daemon, graceful stop.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createTestDatabase } from '../support/db.ts';
import { type ChildDaemon, runCli, spawnDaemon, tempDir, testEnv } from '../support/server.ts';
import { sendMessage, TestSmtpClient } from '../support/smtp-client.ts';

describe('tern serve as a process', () => {
  let dataDir: string;
  let db: { url: string; drop(): Promise<void> };
  let env: Record<string, string>;
  let d: ChildDaemon;

  before(async () => {
    dataDir = tempDir();
    db = await createTestDatabase();
    env = testEnv(dataDir, db.url);
    d = await spawnDaemon(env);
  });
  after(async () => {
    if (d.child.exitCode === null) {
      d.child.kill('SIGKILL');
      await d.exited;
    }
    await db.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  test('a second daemon on the same data directory is refused clearly (exit 75)', async () => {
    const r = await runCli(['serve'], { ...env, TERN_LISTENERS_MX_ADDRESS: '127.0.0.1:0' });
    assert.equal(r.code, 75, r.stderr);
    assert.match(r.stderr, /data directory .* is in use by a running Tern/);
  });

  test('the CLI reads the queue through the running daemon', async () => {
    const c = await TestSmtpClient.connect(d.ports.mx);
    await c.reply();
    await c.command('EHLO cli.example');
    const r = await sendMessage(c, 'a@example.org', ['b@tern.test'], 'Subject: via cli\r\n\r\nhi\r\n');
    assert.equal(r.code, 250, r.text);
    const id = /queued as (\S+)/.exec(r.text)![1];
    await c.command('QUIT');
    const list = await runCli(['queue', 'list', '--json'], env);
    assert.equal(list.code, 0, list.stderr);
    assert.ok((JSON.parse(list.stdout) as Array<{ id: string }>).some((m) => m.id === id));
    const human = await runCli(['queue', 'list'], env);
    assert.match(human.stdout, new RegExp(`${id} .* <a@example.org>\\s+1 queued`));
    const show = await runCli(['queue', 'show', id, '--json'], env);
    assert.equal(show.code, 0, show.stderr);
    const msg = JSON.parse(show.stdout) as { envelope: { helo: string }; recipients: Array<{ address: string }> };
    assert.equal(msg.envelope.helo, 'cli.example');
    assert.deepEqual(msg.recipients.map((x) => x.address), ['b@tern.test']);
    const missing = await runCli(['queue', 'show', 'NOSUCHID'], env);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /no message NOSUCHID/);
    const status = await runCli(['status', '--json'], env);
    assert.equal(status.code, 0, status.stderr);
    assert.equal((JSON.parse(status.stdout) as { database: string }).database, db.url ? 'postgres' : 'pglite');
  });

  test('SIGTERM: an idle session gets 421, a transaction in flight completes with 250, exit 0', async () => {
    const idle = await TestSmtpClient.connect(d.ports.mx);
    await idle.reply();
    await idle.command('EHLO idle.example');
    const busy = await TestSmtpClient.connect(d.ports.mx);
    await busy.reply();
    await busy.command('EHLO busy.example');
    await busy.command('MAIL FROM:<a@example.org>');
    await busy.command('RCPT TO:<b@tern.test>');
    assert.equal((await busy.command('DATA')).code, 354);
    busy.write('Subject: in flight\r\n\r\nfirst half\r\n');
    d.child.kill('SIGTERM');
    const bye = await idle.reply();
    assert.match(bye.text, /^421 4\.3\.2 /);
    await idle.waitClosed();
    await new Promise((r) => setTimeout(r, 200));
    busy.write('second half\r\n.\r\n');
    const done = await busy.reply();
    assert.equal(done.code, 250, done.text);
    assert.match((await busy.reply()).text, /^421 4\.3\.2 /);
    await busy.waitClosed();
    assert.equal(await d.exited, 0);
    // The message acknowledged during shutdown is in the queue (offline read: the CLI takes the lock itself).
    const id = /queued as (\S+)/.exec(done.text)![1];
    const show = await runCli(['queue', 'show', id, '--json'], env);
    assert.equal(show.code, 0, show.stderr);
  });
});

test('no configuration at all: dev defaults on loopback high ports, ./data with a self-signed certificate', { timeout: 90_000 }, async (t) => {
  const cwd = tempDir();
  let d: ChildDaemon;
  try {
    d = await spawnDaemon({}, cwd);
  } catch (err) {
    // Another process holding 2525 on this machine is not a Tern bug; say so instead of failing obscurely.
    if (String(err).includes('EADDRINUSE')) return t.skip('dev default ports are busy on this machine');
    throw err;
  }
  try {
    assert.equal(d.ports.mx, 2525);
    assert.equal(d.ports.submission, 2587);
    assert.equal(d.ports.submissions, 2465);
    assert.equal(d.ports.console, 8025);
    assert.ok(d.output.some((l) => l.includes('dev defaults')), 'start-up says it runs the dev defaults');
    assert.ok(fs.existsSync(path.join(cwd, 'data', 'tls', 'self-signed.crt')));
    const health = await fetch('http://127.0.0.1:8025/healthz');
    assert.equal(health.status, 200);
    const c = await TestSmtpClient.connect(2525);
    assert.match((await c.reply()).text, /^220 /);
    c.close();
  } finally {
    d.child.kill('SIGTERM');
    assert.equal(await d.exited, 0);
    fs.rmSync(cwd, { recursive: true, force: true });
  }
});

test('a bad configuration is refused with every problem listed (exit 78)', async () => {
  const cwd = tempDir();
  fs.writeFileSync(path.join(cwd, 'tern.toml'), '[smtp]\nmax_recipients = 10\nno_such_key = 1\n');
  const r = await runCli(['serve'], {}, cwd);
  assert.equal(r.code, 78);
  assert.match(r.stderr, /max_recipients/);
  assert.match(r.stderr, /no_such_key/);
  const env = await runCli(['config', 'check'], { TERN_SMTP_MAX_RECIPIENTS: 'many' }, tempDir());
  assert.equal(env.code, 78);
  assert.match(env.stderr, /TERN_SMTP_MAX_RECIPIENTS/);
  fs.rmSync(cwd, { recursive: true, force: true });
});
