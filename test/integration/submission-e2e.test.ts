// Submission end to end through a real daemon: users made with `tern user`, real clients logging in against the
// scrypt hashes in the database, DKIM keys made with `tern dkim` signing what they send (checked by dkimpy),
// the failed-login lockout, and `tern sendmail` signed the same way. PGlite, or PostgreSQL with TERN_TEST_DATABASE_URL.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { createQueueReader } from '../../src/queue/repo.ts';
import type { QueueReader } from '../../src/queue/types.ts';
import { runCli, startTestDaemon, type TestDaemon } from '../support/server.ts';
import { runProcess } from '../support/process.ts';

const T = { timeout: 90_000 };
const PYTHON = '/usr/bin/python3'; // python3-dkim installs for the system Python

const run = runProcess;

// dkimpy verifies with a dnsfunc that serves the one record `tern dkim generate` printed.
const DKIMPY_VERIFY = `
import sys, dkim
name, record = sys.argv[1].encode(), sys.argv[2].encode()
def dnsfunc(qname, timeout=5):
    return record if qname.rstrip(b'.').lower() == name else None
try:
    print('pass' if dkim.DKIM(sys.stdin.buffer.read()).verify(dnsfunc=dnsfunc) else 'fail')
except dkim.ValidationError as e:  # a body hash mismatch is raised, not returned
    print('fail', e)
`;

describe('submission through a real daemon', () => {
  let srv: TestDaemon;
  let reader: QueueReader;
  let env: Record<string, string>;
  let record: { name: string; value: string };

  async function storedWith(marker: string) {
    for (const row of await reader.list({ limit: 1000 })) {
      const msg = await reader.get(row.id, { withBody: true });
      if (msg?.body && Buffer.from(msg.body).toString('latin1').includes(marker)) {
        return { msg, text: Buffer.from(msg.body).toString('latin1') };
      }
    }
    throw new Error(`no stored message carries ${marker}`);
  }

  async function dkimpy(text: string): Promise<string> {
    const r = await run(PYTHON, ['-c', DKIMPY_VERIFY, record.name, record.value], text);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim();
  }

  before(async () => {
    // support@ is an alias of alice's mailbox: she may send as it (bob may not).
    srv = await startTestDaemon(
      { TERN_AUTH_MAX_FAILURES_PER_USER: '2', TERN_AUTH_MAX_FAILURES_PER_IP: '50' },
      '[domains."tern.test"]\ndelivery = "mailbox"\n[domains."tern.test".aliases]\nsupport = "alice"\n',
    );
    reader = createQueueReader(srv.daemon.store);
    env = { TERN_DATA_DIR: srv.dataDir, TERN_HOSTNAME: 'mx.tern.test' };
    for (const [name, extra] of [['alice', ['--address', 'alice@tern.test', '--address', 'sales@tern.test']], ['bob', []]] as const) {
      const r = await runCli(['user', 'add', name, ...extra, '--password-stdin'], env, undefined, 'correct horse battery\n');
      assert.equal(r.code, 0, r.stdout + r.stderr);
    }
    const g = await runCli(['dkim', 'generate', 'tern.test', '--algorithm', 'ed25519', '--activate', '--json'], env);
    assert.equal(g.code, 0, g.stdout + g.stderr);
    record = (JSON.parse(g.stdout) as { record: { name: string; value: string } }).record;
  }, T);

  after(async () => {
    await srv?.stop();
  });

  test('tern user list shows the users and the senders they may use', T, async () => {
    const r = await runCli(['user', 'list', '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    const users = JSON.parse(r.stdout) as Array<{ name: string; addresses: string[] }>;
    assert.deepEqual(users.map((u) => u.name).sort(), ['alice', 'bob']);
    assert.deepEqual(users.find((u) => u.name === 'alice')?.addresses.sort(), ['alice@tern.test', 'sales@tern.test']);
  });

  test('swaks --auth PLAIN over STARTTLS on 587 relays, and the message is DKIM-signed (dkimpy: pass)', T, async () => {
    const marker = `marker-e2e-swaks-${Date.now()}`;
    const r = await run('swaks', [
      '--server', `127.0.0.1:${srv.port('submission')}`, '--tls', '--auth', 'PLAIN', '--auth-user', 'alice',
      '--auth-password', 'correct horse battery', '--from', 'sales@tern.test', '--to', 'someone@elsewhere.example',
      '--header', 'From: Sales <sales@tern.test>', '--body', marker, '--timeout', '30',
    ]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const { msg, text } = await storedWith(marker);
    assert.equal(msg.envelope.authUser, 'alice');
    assert.match(text, /with ESMTPSA id /);
    assert.match(text, /^DKIM-Signature: v=1; a=ed25519-sha256;[^]*d=tern\.test/);
    assert.equal(await dkimpy(text), 'pass');
    // Changed in transit, the signature no longer holds: dkimpy is really checking.
    assert.match(await dkimpy(text.replace(marker, `${marker}!`)), /^fail/);
  });

  test('curl --user on implicit TLS (465) is accepted with the real password hash', T, async () => {
    const marker = `marker-e2e-curl-${Date.now()}`;
    const r = await run('curl', [
      '-sS', '-k', '--max-time', '30', `smtps://127.0.0.1:${srv.port('submissions')}`, '--user', 'alice:correct horse battery',
      '--mail-from', 'alice@tern.test', '--mail-rcpt', 'someone@elsewhere.example', '--upload-file', '-',
    ], `From: alice@tern.test\r\nTo: someone@elsewhere.example\r\nSubject: curl\r\n\r\n${marker}\r\n`);
    assert.equal(r.code, 0, r.stderr);
    const { msg, text } = await storedWith(marker);
    assert.equal(msg.envelope.listener, 'submissions');
    assert.match(text, /\r\nMessage-ID: <[^>]+@mx\.tern\.test>\r\n/); // RFC 6409 §8.3: added, it had none
    assert.equal(await dkimpy(text), 'pass');
  });

  test('a user sending as an address it does not own gets 553 5.7.1', T, async () => {
    const r = await run('swaks', [
      '--server', `127.0.0.1:${srv.port('submission')}`, '--tls', '--auth', 'LOGIN', '--auth-user', 'bob',
      '--auth-password', 'correct horse battery', '--from', 'alice@tern.test', '--to', 'someone@elsewhere.example', '--timeout', '30',
    ]);
    assert.notEqual(r.code, 0);
    assert.match(r.stdout, /553 5\.7\.1 /);
  });

  test('a user may send as a local alias that delivers to it, another user may not', T, async () => {
    const send = (user: string) =>
      run('swaks', [
        '--server', `127.0.0.1:${srv.port('submission')}`, '--tls', '--auth', 'PLAIN', '--auth-user', user,
        '--auth-password', 'correct horse battery', '--from', 'support@tern.test', '--to', 'someone@elsewhere.example', '--timeout', '30',
      ]);
    const ok = await send('alice');
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    const refused = await send('bob');
    assert.notEqual(refused.code, 0);
    assert.match(refused.stdout, /553 5\.7\.1 /);
  });

  test('failed logins lock the user out (454 4.7.0), even with the right password, and are logged', T, async () => {
    const login = (password: string) =>
      run('swaks', [
        '--server', `127.0.0.1:${srv.port('submission')}`, '--tls', '--auth', 'PLAIN', '--auth-user', 'bob',
        '--auth-password', password, '--from', 'bob@elsewhere.example', '--to', 'x@elsewhere.example', '--quit-after', 'AUTH', '--timeout', '30',
      ]);
    for (let i = 0; i < 2; i++) assert.match((await login('wrong guess')).stdout, /535 5\.7\.8 /);
    const locked = await login('correct horse battery');
    assert.notEqual(locked.code, 0);
    assert.match(locked.stdout, /454 4\.7\.0 /);
    assert.ok(srv.logs.some((l) => l.includes('"auth-locked"')), 'the lockout is logged');
    assert.ok(!srv.logs.some((l) => l.includes('wrong guess')), 'passwords never reach the log');
  });

  test('the MX listener refuses relaying for a stranger although users exist (no open relay)', T, async () => {
    const r = await run('swaks', [
      '--server', `127.0.0.1:${srv.port('mx')}`, '--from', 'alice@tern.test', '--to', 'someone@elsewhere.example', '--timeout', '30',
    ]);
    assert.notEqual(r.code, 0);
    assert.match(r.stdout, /554 5\.7\.1 /);
  });

  test('tern sendmail -t through the daemon: queued, and signed like submitted mail', T, async () => {
    const marker = `marker-e2e-sendmail-${Date.now()}`;
    const r = await runCli(
      ['sendmail', '-t', '-i', '-f', 'alice@tern.test'],
      env,
      undefined,
      `From: alice@tern.test\nTo: carol@elsewhere.example\nSubject: cron\n\n${marker}\n`,
    );
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const { msg, text } = await storedWith(marker);
    assert.equal(msg.envelope.listener, 'local');
    assert.deepEqual(msg.recipients.map((x) => x.address), ['carol@elsewhere.example']);
    assert.equal(await dkimpy(text), 'pass');
  });
});
