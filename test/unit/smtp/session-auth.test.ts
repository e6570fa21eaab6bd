// Session AUTH mechanics beyond the dialogues: what the host sees in 'auth' effects, the identity's effect on
// the envelope and Received header, the submission fix-ups, and that responses never reach the logs.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AuthAnswer, AuthIdentity, ListenerKind } from '../../../src/smtp/types.ts';
import { bytes, Driver, type DriverOptions, lines } from './harness.ts';

const TLS = { protocol: 'TLSv1.3', cipher: 'TEST' };
const ALICE: AuthIdentity = { user: 'alice', addresses: ['alice@tern.test'], domains: [], any: false };
const AUTH = { mechanisms: ['PLAIN', 'LOGIN'], listeners: new Set<ListenerKind>(['mx', 'submission', 'submissions']), allowPlaintext: false };
const ok: AuthAnswer = { kind: 'success', identity: ALICE };
const PLAIN = 'AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n'; // \0alice\0secret

function driver(o: DriverOptions & { listener?: ListenerKind; fix?: boolean } = {}): Driver {
  const d = new Driver({
    ...o,
    options: { auth: AUTH, ...(o.fix === false ? {} : { fixSubmissions: true }), ...o.options },
    conn: { tls: TLS, listener: o.listener ?? 'submissions', ...o.conn },
  });
  d.greet();
  d.send('EHLO client.test\r\n');
  return d;
}

function transaction(d: Driver, body = 'Subject: hi\r\n\r\nhello\r\n'): string {
  return d.send(`MAIL FROM:<alice@tern.test>\r\nRCPT TO:<bob@elsewhere.test>\r\nDATA\r\n${body}.\r\n`);
}

describe('AUTH in the session', () => {
  test('the decoded initial response and the TLS state go to the host; input waits meanwhile', () => {
    const d = driver();
    assert.equal(d.send(`${PLAIN}NOOP\r\n`), '');
    assert.equal(d.session.waiting, true);
    assert.deepEqual(d.authSteps, [{ mechanism: 'PLAIN', response: bytes('\0alice\0secret'), tls: true }]);
    assert.deepEqual(lines(d.answerAuth(ok)), ['235 2.7.0 Authentication successful', '250 2.0.0 Ok']);
    assert.equal(d.session.waiting, false);
    assert.equal(d.session.authUser, 'alice');
  });

  test('a challenge is base64-encoded, the next line decoded; no initial response is null', () => {
    const d = driver();
    d.send('AUTH LOGIN\r\n');
    assert.equal(d.authSteps[0].response, null);
    assert.equal(d.answerAuth({ kind: 'challenge', data: bytes('Username:') }), '334 VXNlcm5hbWU6\r\n');
    assert.equal(d.session.waiting, false); // the client's turn
    d.send('YWxpY2U=\r\n');
    assert.deepEqual(d.authSteps[1].response, bytes('alice'));
    assert.equal(d.session.waiting, true);
  });

  test('responses and initial responses never appear in log effects', () => {
    const d = driver({ auth: () => ({ kind: 'failure', reason: 'invalid' }) });
    d.send(PLAIN);
    d.send('AUTH PLAIN\r\n');
    const logged = JSON.stringify(d.effects.filter((e) => e.kind === 'log'));
    assert.ok(!logged.includes('AGFsaWNlAHNlY3JldA'));
    assert.ok(!logged.includes('secret'));
    const failures = d.logs('auth-failed');
    assert.deepEqual(failures[0], { ip: '192.0.2.1', mechanism: 'PLAIN', reason: 'invalid' });
  });

  test('after AUTH under TLS the Received protocol is ESMTPSA and the envelope names the user (RFC 3848)', () => {
    const d = driver({ auth: () => ok });
    d.send(PLAIN);
    transaction(d);
    const [s] = d.stored;
    assert.equal(s.envelope.protocol, 'ESMTPSA');
    assert.equal(s.envelope.authUser, 'alice');
    assert.match(s.text, /with ESMTPSA id Q0001/);
  });

  test('ESMTPA without TLS (plaintext allowed), UTF8SMTPSA with SMTPUTF8 (RFC 6531 §4.3)', () => {
    const plain = driver({ auth: () => ok, conn: { tls: null }, options: { auth: { ...AUTH, allowPlaintext: true } } });
    plain.send(PLAIN);
    transaction(plain);
    assert.equal(plain.stored[0].envelope.protocol, 'ESMTPA');
    const utf8 = driver({ auth: () => ok });
    utf8.send(PLAIN);
    utf8.send('MAIL FROM:<alice@tern.test> SMTPUTF8\r\nRCPT TO:<bob@elsewhere.test>\r\nDATA\r\nSubject: x\r\n\r\n.\r\n');
    assert.equal(utf8.stored[0].envelope.protocol, 'UTF8SMTPSA');
  });

  test('STARTTLS forgets the identity (RFC 3207 §4.2)', () => {
    const d = driver({ auth: () => ok, conn: { tls: null }, listener: 'mx', options: { auth: { ...AUTH, allowPlaintext: true } } });
    d.send(PLAIN);
    assert.equal(d.session.authUser, 'alice');
    d.send('STARTTLS\r\n');
    d.answerTls();
    assert.equal(d.session.authUser, null);
  });

  test('shutdown while the host checks credentials waits for the answer, then closes', () => {
    const d = driver();
    d.send(PLAIN);
    assert.equal(d.apply(d.session.shutdown()), '');
    assert.deepEqual(lines(d.answerAuth(ok)), ['235 2.7.0 Authentication successful', '421 4.3.2 Service shutting down, closing connection']);
    assert.ok(d.closed);
  });

  test('an answer when none is expected is logged, not obeyed', () => {
    const d = driver();
    assert.equal(d.answerAuth(ok), '');
    assert.equal(d.session.authUser, null);
    assert.equal(d.logs('unexpected-answer').length, 1);
  });
});

describe('submission fix-ups (RFC 6409 §8)', () => {
  const dated = 'Date: Fri, 02 Jan 2026 03:04:05 +0000';
  const id = 'Message-ID: <Q0001@mx.tern.test>';

  test('an authenticated message gets Date and Message-ID below our Received header', () => {
    const d = driver({ auth: () => ok });
    d.send(PLAIN);
    transaction(d);
    const text = d.stored[0].text;
    assert.match(text, /^Received: from client\.test/);
    const date = text.indexOf(`\r\n${dated}\r\n`);
    assert.ok(date > 0 && text.indexOf(id) > date && text.indexOf('Subject: hi') > text.indexOf(id), text);
    assert.ok(text.endsWith('Subject: hi\r\n\r\nhello\r\n'));
    assert.equal(d.stored[0].envelope.queueId, 'Q0001');
  });

  test('present fields are kept as they are', () => {
    const d = driver({ auth: () => ok });
    d.send(PLAIN);
    transaction(d, 'Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <x@y>\r\n\r\nhi\r\n');
    assert.ok(!d.stored[0].text.includes('Q0001@mx.tern.test'));
    assert.equal(d.stored[0].text.match(/^Date:/gm)?.length, 1);
  });

  test('not on the MX listener for strangers, nor when switched off', () => {
    const mx = driver({ listener: 'mx', options: { auth: undefined } });
    mx.send('MAIL FROM:<carol@client.test>\r\nRCPT TO:<bob@tern.test>\r\nDATA\r\nSubject: x\r\n\r\n.\r\n');
    assert.ok(!mx.stored[0].text.includes('Message-ID'));
    const off = driver({ auth: () => ok, fix: false });
    off.send(PLAIN);
    transaction(off);
    assert.ok(!off.stored[0].text.includes('Message-ID'));
  });

  test('the same for BDAT, whose data need not end in CRLF', () => {
    const d = driver({ auth: () => ok });
    d.send(PLAIN);
    d.send('MAIL FROM:<alice@tern.test>\r\nRCPT TO:<bob@elsewhere.test>\r\nBDAT 10 LAST\r\nSubject: x');
    assert.ok(d.stored[0].text.endsWith(`${id}\r\nSubject: x`));
  });
});

describe('host replies', () => {
  test('enqueued({ok:false, reply}) answers with the host reply, not 451', () => {
    const d = driver({ auth: () => ok, enqueue: { ok: false, reason: 'dmarc', reply: { code: 550, status: '5.7.1', text: 'Rejected by DMARC' } } });
    d.send(PLAIN);
    assert.match(transaction(d), /550 5\.7\.1 Rejected by DMARC\r\n$/);
    assert.equal(d.logs('message-refused').length, 1);
  });

  test('host reply text is reduced to one printable line; a nonsense code becomes 451', () => {
    const d = driver({ listener: 'mx', enqueue: { ok: false, reason: 'x', reply: { code: 250, status: 'bogus', text: 'a\r\nb' } } });
    d.send('MAIL FROM:<carol@client.test>\r\n');
    assert.match(d.send('RCPT TO:<bob@tern.test>\r\nDATA\r\n.\r\n'), /451 4\.0\.0 a  b\r\n$/);
  });
});

describe('authContinued', () => {
  test('false for the AUTH command step, true for response lines, false again after a cancel', () => {
    const d = driver();
    d.send('AUTH LOGIN\r\n');
    assert.equal(d.session.authContinued, false);
    d.answerAuth({ kind: 'challenge', data: bytes('Username:') });
    d.send('YWxpY2U=\r\n');
    assert.equal(d.session.authContinued, true);
    d.answerAuth({ kind: 'challenge', data: bytes('Password:') });
    d.send('*\r\nAUTH LOGIN\r\n');
    assert.equal(d.session.authContinued, false);
    assert.equal(d.authSteps.length, 3);
  });
});
