// SMTP AUTH over real TCP and TLS with real clients (Python smtplib, swaks, curl) against an SmtpServer with a
// small in-test authenticator (PLAIN, LOGIN) and a recording queue: the session and server mechanics of
// RFC 4954, RFC 6409 and RFC 8314, not the user database.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { createLogger } from '../../src/lib/log.ts';
import { loadOrCreateCertificate } from '../../src/server/certificate.ts';
import { InflightBudget } from '../../src/server/limits.ts';
import { createPipeline } from '../../src/server/pipeline.ts';
import { SmtpServer } from '../../src/server/smtp-server.ts';
import { newQueueId } from '../../src/smtp/queue-id.ts';
import type { Envelope, ListenerKind } from '../../src/smtp/types.ts';
import { FakeAuthenticator } from '../dialogues/fake-hosts.ts';
import { testSessionOptions } from '../support/session-options.ts';
import { TestSmtpClient } from '../support/smtp-client.ts';
import { runProcess } from '../support/process.ts';

const T = { timeout: 60_000 };

const run = runProcess;

// smtplib: mode plain|starttls|implicit; mech PLAIN|LOGIN|auto. Prints the features, then the outcome.
const PY = `
import smtplib, ssl, sys
port, mode, mech, user, password, sender, marker = sys.argv[1:8]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP_SSL('127.0.0.1', int(port), context=ctx, timeout=20) if mode == 'implicit' else smtplib.SMTP('127.0.0.1', int(port), timeout=20)
s.ehlo('client.example.org')
if mode == 'starttls':
    s.starttls(context=ctx)
    s.ehlo('client.example.org')
print('auth-offered', s.has_extn('auth'), s.esmtp_features.get('auth', '').strip())
try:
    if mech == 'auto':
        s.login(user, password)
    elif mech == 'PLAIN':
        s.user, s.password = user, password
        s.auth('PLAIN', s.auth_plain)
    else:
        s.user, s.password = user, password
        s.auth('LOGIN', s.auth_login, initial_response_ok=False)
    print('login ok')
except smtplib.SMTPNotSupportedError:
    print('login not-supported')
except smtplib.SMTPAuthenticationError as e:
    print('login failed', e.smtp_code)
msg = 'From: <' + sender + '>\\r\\nTo: <bob@elsewhere.test>\\r\\nSubject: auth test\\r\\n\\r\\n' + marker + '\\r\\n'
try:
    s.sendmail(sender, ['bob@elsewhere.test'], msg)
    print('sent')
except smtplib.SMTPSenderRefused as e:
    print('sender-refused', e.smtp_code, e.smtp_error.decode())
except smtplib.SMTPRecipientsRefused as e:
    print('recipients-refused', list(e.recipients.values())[0][0])
s.quit()
`;

describe('SMTP AUTH with real clients', () => {
  const stored: Array<{ envelope: Envelope; text: string }> = [];
  const logs: string[] = [];
  let server: SmtpServer;
  let ports: Record<ListenerKind, number>;
  let dir: string;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tern-auth-'));
    const cert = await loadOrCreateCertificate({ certFile: '', keyFile: '', dataDir: dir, hostname: 'mx.tern.test' });
    const fake = new FakeAuthenticator([
      { user: 'alice', pass: 'secret', addresses: ['alice@tern.test'], domains: [], any: false },
    ]);
    const log = createLogger({ format: 'json', level: 'info', write: (l) => logs.push(l) });
    const options = testSessionOptions({
      maxMessageSize: 1_000_000,
      auth: { mechanisms: ['PLAIN', 'LOGIN'], listeners: new Set(['submission', 'submissions']), allowPlaintext: false },
      fixSubmissions: true,
    });
    server = new SmtpServer({
      listeners: (['mx', 'submission', 'submissions'] as const).map((kind) => ({ kind, host: '127.0.0.1', port: 0 })),
      context: {
        options,
        deps: { now: () => new Date(), newQueueId },
        queue: {
          enqueue: (envelope, message) => {
            stored.push({ envelope, text: Buffer.from(message).toString('latin1') });
            return Promise.resolve();
          },
        },
        log,
        commandTimeout: 20_000,
        dataTimeout: 20_000,
        secureContext: tls.createSecureContext(cert),
        budget: new InflightBudget(64 * 1024 * 1024),
        isTrusted: () => false,
        authenticator: {
          step: (conn, mechanism, response) => Promise.resolve(fake.step(conn.id, mechanism, response)),
          forget: (id) => fake.forget(id),
        },
      },
      maxConnections: 50,
      maxConnectionsPerIp: 50,
      tlsKeyCert: cert,
      log,
    });
    const bound = await server.start();
    const port = (k: ListenerKind) => bound.find((b) => b.kind === k)!.port;
    ports = { mx: port('mx'), submission: port('submission'), submissions: port('submissions') };
  }, T);

  after(async () => {
    await server?.stop(1000);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function storedWith(marker: string) {
    const found = stored.filter((s) => s.text.includes(marker));
    assert.equal(found.length, 1, `exactly one stored message carries ${marker}`);
    return found[0];
  }

  const python = (mode: string, port: number, mech: string, password = 'secret', sender = 'alice@tern.test') => {
    const marker = `marker-${mode}-${mech}-${Math.random().toString(36).slice(2)}`;
    return run('python3', ['-c', PY, String(port), mode, mech, 'alice', password, sender, marker]).then((r) => ({ ...r, marker }));
  };

  for (const mech of ['auto', 'PLAIN', 'LOGIN']) {
    test(`smtplib STARTTLS on submission, login (${mech}), relays as ESMTPSA with Date and Message-ID added`, T, async () => {
      const r = await python('starttls', ports.submission, mech);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /auth-offered True PLAIN LOGIN/);
      assert.match(r.stdout, /login ok\nsent/);
      const s = storedWith(r.marker);
      assert.equal(s.envelope.authUser, 'alice');
      assert.equal(s.envelope.protocol, 'ESMTPSA');
      assert.equal(s.envelope.listener, 'submission');
      assert.match(s.text, /with ESMTPSA id /);
      assert.match(s.text, /\r\nDate: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d \+0000\r\n/);
      assert.match(s.text, new RegExp(`\\r\\nMessage-ID: <${s.envelope.queueId}@mx\\.tern\\.test>\\r\\n`));
    });
  }

  test('smtplib on implicit TLS (submissions, RFC 8314)', T, async () => {
    const r = await python('implicit', ports.submissions, 'auto');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /login ok\nsent/);
    assert.equal(storedWith(r.marker).envelope.listener, 'submissions');
  });

  test('smtplib without TLS: AUTH not offered, login impossible, MAIL gets 530', T, async () => {
    const r = await python('plain', ports.submission, 'auto');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /auth-offered False/);
    assert.match(r.stdout, /login not-supported/);
    assert.match(r.stdout, /sender-refused 530 5\.7\.0 Authentication required/);
  });

  test('smtplib with a wrong password: 535, and the failure is logged with IP and mechanism', T, async () => {
    const r = await python('starttls', ports.submission, 'PLAIN', 'wrong');
    assert.match(r.stdout, /login failed 535/);
    assert.ok(logs.some((l) => l.includes('"auth-failed"') && l.includes('127.0.0.1') && l.includes('PLAIN')));
    assert.ok(!logs.some((l) => l.includes('wrong')), 'the password never reaches the logs');
  });

  test('smtplib sending as someone else: 553 5.7.1', T, async () => {
    const r = await python('starttls', ports.submission, 'auto', 'secret', 'ceo@tern.test');
    assert.match(r.stdout, /sender-refused 553 5\.7\.1 Sender address rejected: not owned by user alice/);
  });

  for (const mech of ['PLAIN', 'LOGIN']) {
    test(`swaks --auth ${mech} --tls`, T, async () => {
      const marker = `marker-swaks-${mech}-${Date.now()}`;
      const r = await run('swaks', [
        '--server', `127.0.0.1:${ports.submission}`, '--tls', '--auth', mech, '--auth-user', 'alice',
        '--auth-password', 'secret', '--from', 'alice@tern.test', '--to', 'bob@elsewhere.test',
        '--body', marker, '--timeout', '20',
      ]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /235 2\.7\.0 Authentication successful/);
      assert.equal(storedWith(marker).envelope.authUser, 'alice');
    });
  }

  test('swaks --tlsc (implicit TLS) with a bad password fails with 535', T, async () => {
    const r = await run('swaks', [
      '--server', `127.0.0.1:${ports.submissions}`, '--tlsc', '--auth', 'LOGIN', '--auth-user', 'alice',
      '--auth-password', 'nope', '--from', 'alice@tern.test', '--to', 'bob@elsewhere.test', '--timeout', '20',
    ]);
    assert.notEqual(r.code, 0);
    assert.match(r.stdout, /535 5\.7\.8 Authentication credentials invalid/);
  });

  for (const scheme of ['smtp', 'smtps'] as const) {
    test(`curl --user with ${scheme === 'smtp' ? '--ssl-reqd (STARTTLS)' : 'smtps://'}`, T, async () => {
      const marker = `marker-curl-${scheme}-${Date.now()}`;
      const port = scheme === 'smtp' ? ports.submission : ports.submissions;
      const r = await run('curl', [
        '-sS', '-k', '--max-time', '20', ...(scheme === 'smtp' ? ['--ssl-reqd'] : []),
        `${scheme}://127.0.0.1:${port}`, '--user', 'alice:secret',
        '--mail-from', 'alice@tern.test', '--mail-rcpt', 'bob@elsewhere.test', '--upload-file', '-',
      ], `From: alice@tern.test\r\nSubject: curl\r\n\r\n${marker}\r\n`);
      assert.equal(r.code, 0, r.stderr);
      const s = storedWith(marker);
      assert.equal(s.envelope.protocol, 'ESMTPSA');
      assert.match(s.text, /\r\nMessage-ID: </);
    });
  }

  test('curl --user without TLS is refused: no AUTH offered in clear', T, async () => {
    const r = await run('curl', [
      '-sS', '--max-time', '20', `smtp://127.0.0.1:${ports.submission}`, '--user', 'alice:secret',
      '--mail-from', 'alice@tern.test', '--mail-rcpt', 'bob@elsewhere.test', '--upload-file', '-',
    ], 'Subject: x\r\n\r\nx\r\n');
    // curl finds no AUTH to use, goes on without, and the submission port refuses MAIL (RFC 4954 §6).
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /MAIL failed: 530/);
  });

  test('raw AUTH in clear gets 538 5.7.11; on the MX listener AUTH is not there at all', T, async () => {
    const c = await TestSmtpClient.connect(ports.submission);
    try {
      await c.line();
      c.write('EHLO raw.test\r\n');
      const ehlo: string[] = [];
      for (let l = await c.line(); l !== null; l = await c.line()) {
        ehlo.push(l);
        if (l.startsWith('250 ')) break;
      }
      assert.ok(!ehlo.some((l) => l.includes('AUTH')), ehlo.join('\n'));
      c.write('AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n');
      assert.equal(await c.line(), '538 5.7.11 Encryption required for requested authentication mechanism');
    } finally {
      c.close();
    }
    const mx = await TestSmtpClient.connect(ports.mx);
    try {
      await mx.line();
      mx.write('EHLO raw.test\r\n');
      for (let l = await mx.line(); l !== null && !l.startsWith('250 '); l = await mx.line());
      mx.write('AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n');
      assert.equal(await mx.line(), '502 5.5.1 Command not implemented');
    } finally {
      mx.close();
    }
  });
});

describe('server hooks that fail', () => {
  const stored: Envelope[] = [];
  let server: SmtpServer;
  let ports: Record<ListenerKind, number>;
  let dir: string;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tern-hooks-'));
    const cert = await loadOrCreateCertificate({ certFile: '', keyFile: '', dataDir: dir, hostname: 'mx.tern.test' });
    const log = createLogger({ format: 'json', level: 'error', write: () => {} });
    const options = testSessionOptions({
      auth: { mechanisms: ['PLAIN'], listeners: new Set(['submissions']), allowPlaintext: false },
      policyStages: new Set(['connect', 'helo', 'rcpt']),
    });
    server = new SmtpServer({
      listeners: (['mx', 'submissions'] as const).map((kind) => ({ kind, host: '127.0.0.1', port: 0 })),
      context: {
        options,
        deps: { now: () => new Date(), newQueueId },
        // The daemon's pipeline with a DMARC quarantine verdict: stored on hold, the client gets its 250.
        queue: createPipeline({
          intake: { enqueue: (envelope) => (stored.push(envelope), Promise.resolve()) },
          inbound: { check: ({ message }) => Promise.resolve({ action: 'hold' as const, reason: 'dmarc quarantine', message }) },
          isTrusted: () => false,
          log,
        }),
        log,
        commandTimeout: 20_000,
        dataTimeout: 20_000,
        secureContext: tls.createSecureContext(cert),
        budget: new InflightBudget(64 * 1024 * 1024),
        isTrusted: () => false,
        authenticator: { step: () => Promise.reject(new Error('user database down')), forget: () => {} },
        policy: {
          check: (_conn, q) =>
            q.recipient === 'dave@tern.test' ? Promise.resolve({ action: 'accept' as const }) : Promise.reject(new Error('greylist database down')),
        },
      },
      maxConnections: 50,
      maxConnectionsPerIp: 50,
      tlsKeyCert: cert,
      log,
    });
    const bound = await server.start();
    const port = (k: ListenerKind) => bound.find((b) => b.kind === k)?.port ?? 0;
    ports = { mx: port('mx'), submission: 0, submissions: port('submissions') };
  }, T);

  after(async () => {
    await server?.stop(1000);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function until250(c: TestSmtpClient): Promise<void> {
    for (let l = await c.line(); l !== null && !l.startsWith('250 '); l = await c.line());
  }

  test('a failing policy: connect and HELO go on, RCPT gets 451 4.3.0; inbound hold reaches the queue', T, async () => {
    const c = await TestSmtpClient.connect(ports.mx);
    try {
      assert.match((await c.line()) ?? '', /^220 /);
      c.write('EHLO client.test\r\n');
      await until250(c);
      c.write('MAIL FROM:<carol@client.test>\r\nRCPT TO:<bob@tern.test>\r\n');
      assert.equal(await c.line(), '250 2.1.0 Ok');
      assert.equal(await c.line(), '451 4.3.0 Temporary policy failure, please try again later');
      c.write('RCPT TO:<dave@tern.test>\r\nDATA\r\n');
      assert.equal(await c.line(), '250 2.1.5 Ok');
      assert.match((await c.line()) ?? '', /^354 /);
      c.write('Subject: held\r\n\r\nhi\r\n.\r\n');
      assert.match((await c.line()) ?? '', /^250 2\.0\.0 Ok: queued as /);
      assert.equal(stored.length, 1);
      assert.equal(stored[0].hold, 'dmarc quarantine');
    } finally {
      c.close();
    }
  });

  test('a failing authenticator is 454 4.7.0, never a success', T, async () => {
    const c = await TestSmtpClient.connect(ports.submissions, { tls: true });
    try {
      await c.line();
      c.write('EHLO client.test\r\n');
      await until250(c);
      c.write('AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n');
      assert.equal(await c.line(), '454 4.7.0 Temporary authentication failure');
      c.write('MAIL FROM:<alice@tern.test>\r\n');
      assert.equal(await c.line(), '530 5.7.0 Authentication required');
    } finally {
      c.close();
    }
  });
});
