// Session API tests: what the host sees (effects, waiting, phase, closed) and what reaches the queue.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Session } from '../../../src/smtp/session.ts';
import type { Effect } from '../../../src/smtp/types.ts';
import { testConnection, testSessionDeps, testSessionOptions } from '../../support/session-options.ts';
import { bytes, Driver, ehloDriver, lines, rng } from './harness.ts';

const TX = 'MAIL FROM:<alice@client.test>\r\nRCPT TO:<bob@tern.test>\r\nDATA\r\n';

describe('greeting and basics', () => {
  test('greet() sends 220 and nothing else', () => {
    const d = new Driver();
    assert.equal(d.greet(), '220 mx.tern.test ESMTP Tern\r\n');
    assert.deepEqual(d.logs('connect'), []);
    assert.equal(d.session.phase, 'command');
    assert.equal(d.session.waiting, false);
    assert.equal(d.session.closed, false);
  });

  test('all replies to one receive() go out in a single send (RFC 2920 §3.1)', () => {
    const d = new Driver();
    d.greet();
    const effects = d.session.receive(bytes('EHLO a.test\r\nNOOP\r\nNOOP\r\nRSET\r\n'));
    const sends = effects.filter((e) => e.kind === 'send');
    assert.equal(sends.length, 1);
    assert.equal(lines((sends[0] as { data: string }).data).length, 9 + 3);
  });

  test('QUIT: the close effect comes after the send of 221', () => {
    const d = ehloDriver();
    const effects = d.session.receive(bytes('QUIT\r\nNOOP\r\n')).filter((e) => e.kind !== 'log');
    assert.deepEqual(effects, [{ kind: 'send', data: '221 2.0.0 Bye\r\n' }, { kind: 'close' }]);
    assert.equal(d.session.closed, true);
    assert.deepEqual(d.session.receive(bytes('NOOP\r\n')), []);
  });

  test('state changes are debug logs, one shared object per transition (no allocation)', () => {
    const a = ehloDriver();
    const b = ehloDriver();
    const pick = (d: Driver) => d.effects.find((e) => e.kind === 'log' && e.event === 'state');
    assert.ok(pick(a) !== undefined);
    assert.equal(pick(a), pick(b));
    assert.deepEqual(pick(a), { kind: 'log', event: 'state', level: 'debug', fields: { from: 'init', to: 'ready' } });
  });

  test('reject logs carry the verb, code and reason', () => {
    const d = ehloDriver();
    d.send('MAIL FROM:<a@client.test>\r\nRCPT TO:<x@elsewhere.test>\r\n');
    assert.deepEqual(d.logs('reject'), [{ verb: 'RCPT', code: 554, reason: 'relay-denied', detail: 'elsewhere.test' }]);
  });
});

describe('the message and envelope handed to the queue', () => {
  test('Received header first, then the unstuffed data', () => {
    const d = ehloDriver();
    d.send(`${TX}Subject: hi\r\n\r\n..leading dot\r\n...two\r\n.\r\n`);
    assert.equal(d.stored.length, 1);
    assert.equal(
      d.stored[0].text,
      'Received: from client.test ([192.0.2.1])\r\n' +
        '\tby mx.tern.test (Tern) with ESMTP id Q0001\r\n' +
        '\tfor <bob@tern.test>;\r\n' +
        '\tFri, 02 Jan 2026 03:04:05 +0000\r\n' +
        'Subject: hi\r\n\r\n.leading dot\r\n..two\r\n',
    );
  });

  test('the envelope carries every parameter', () => {
    const d = ehloDriver();
    d.send(
      'MAIL FROM:<Alice@Client.TEST> SIZE=300 BODY=8BITMIME RET=HDRS ENVID=id+2B1\r\n' +
        'RCPT TO:<bob@TERN.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@tern.test\r\n' +
        'RCPT TO:<Postmaster>\r\nDATA\r\n.\r\n',
    );
    const env = d.stored[0].envelope;
    assert.deepEqual(env, {
      queueId: 'Q0001',
      sender: 'Alice@client.test',
      recipients: [
        {
          address: 'bob@tern.test',
          notify: ['SUCCESS', 'FAILURE'],
          orcpt: { type: 'rfc822', address: 'bob@tern.test' },
        },
        { address: 'Postmaster', notify: null, orcpt: null },
      ],
      bodyType: '8BITMIME',
      smtpUtf8: false,
      declaredSize: 300,
      dsnRet: 'HDRS',
      dsnEnvid: 'id+1',
      helo: 'client.test',
      protocol: 'ESMTP',
      clientAddress: '192.0.2.1',
      clientPort: 40000,
      listener: 'mx',
      tls: null,
      authUser: null,
      receivedAt: new Date('2026-01-02T03:04:05Z'),
    });
    // Two recipients: no FOR clause (RFC 5321 §7.6).
    assert.ok(!d.stored[0].text.includes('\tfor <'));
  });

  test('duplicate recipients are stored once (domain case-insensitive, local part exact)', () => {
    const d = ehloDriver();
    const out = d.send(
      'MAIL FROM:<>\r\nRCPT TO:<bob@tern.test>\r\nRCPT TO:<bob@Tern.Test>\r\nRCPT TO:<Bob@tern.test>\r\nDATA\r\n.\r\n',
    );
    assert.deepEqual(lines(out).slice(1, 4), ['250 2.1.5 Ok', '250 2.1.5 Ok', '250 2.1.5 Ok']);
    assert.deepEqual(d.stored[0].envelope.recipients.map((r) => r.address), ['bob@tern.test', 'Bob@tern.test']);
    assert.equal(d.stored[0].envelope.sender, '');
  });

  test('protocol names: HELO, SMTPUTF8, TLS, implicit TLS', () => {
    const helo = new Driver();
    helo.greet();
    helo.send(`HELO client.test\r\n${TX}.\r\n`);
    assert.equal(helo.stored[0].envelope.protocol, 'SMTP');

    const utf8 = ehloDriver();
    utf8.send('MAIL FROM:<δ@client.test> SMTPUTF8\r\nRCPT TO:<bob@tern.test>\r\nDATA\r\n.\r\n');
    assert.equal(utf8.stored[0].envelope.protocol, 'UTF8SMTP');
    assert.equal(utf8.stored[0].envelope.smtpUtf8, true);
    assert.equal(utf8.stored[0].envelope.sender, 'δ@client.test');

    const implicit = new Driver({
      conn: { tls: { protocol: 'TLSv1.3', cipher: 'TLS_AES_128_GCM_SHA256' }, listener: 'submissions' },
    });
    implicit.greet();
    implicit.send(`EHLO client.test\r\n${TX}.\r\n`);
    assert.equal(implicit.stored[0].envelope.protocol, 'ESMTPS');
    assert.match(
      implicit.stored[0].text,
      /^Received: from client\.test \(\[192\.0\.2\.1\]\)\r\n\t\(using TLSv1\.3 with cipher TLS_AES_128_GCM_SHA256\)\r\n/,
    );
    assert.equal(implicit.stored[0].envelope.listener, 'submissions');
  });

  test('BDAT chunks are concatenated as sent, without unstuffing', () => {
    const d = ehloDriver();
    d.send('MAIL FROM:<alice@client.test>\r\nRCPT TO:<bob@tern.test>\r\nBDAT 5\r\n.a\r\n.');
    d.send('BDAT 4 LAST\r\n\r\n\r\n');
    assert.equal(d.stored.length, 1);
    assert.ok(d.stored[0].text.endsWith('\tFri, 02 Jan 2026 03:04:05 +0000\r\n.a\r\n.\r\n\r\n'));
    assert.equal(d.logs('transaction')[0].mode, 'bdat');
  });

  test('the message is one exact-size buffer; the transaction log has its size', () => {
    const d = ehloDriver();
    d.send(`${TX}abc\r\n.\r\n`);
    const m = d.stored[0].message;
    assert.equal(m.byteOffset, 0);
    assert.equal(m.buffer.byteLength, m.length);
    assert.deepEqual(d.logs('transaction'), [{
      id: 'Q0001',
      sender: 'alice@client.test',
      recipients: 1,
      size: m.length,
      mode: 'data',
    }]);
  });

  test('our own Received header is not counted for loop detection', () => {
    const d = ehloDriver({ options: { maxReceivedHeaders: 2 } });
    const out = d.send(`${TX}Received: one\r\n\r\n.\r\n`);
    assert.match(out, /queued as Q0001/);
  });

  test('one queue id per transaction, asked when the data starts', () => {
    let asked = 0;
    const d = ehloDriver({ deps: { now: () => new Date(0), newQueueId: () => `ID${++asked}` } });
    d.send('MAIL FROM:<a@client.test>\r\nRCPT TO:<b@tern.test>\r\n');
    assert.equal(asked, 0);
    d.send('DATA\r\n');
    assert.equal(asked, 1);
    d.send('x\r\n.\r\n');
    assert.equal(asked, 1);
    assert.equal(d.stored[0].envelope.queueId, 'ID1');
  });
});

describe('waiting for the queue (backpressure)', () => {
  test('input after the end of data is kept, not processed, until enqueued()', () => {
    const d = ehloDriver({ enqueue: null });
    const out = d.send(`${TX}x\r\n.\r\nNOOP\r\n`);
    assert.equal(lines(out).at(-1), '354 End data with <CR><LF>.<CR><LF>');
    assert.equal(d.session.waiting, true);
    assert.equal(d.send('RSET\r\nNOOP\r\n'), '');
    assert.equal(d.session.bufferedBytes, 'NOOP\r\nRSET\r\nNOOP\r\n'.length);
    const after = d.answerEnqueue({ ok: true });
    assert.deepEqual(lines(after), ['250 2.0.0 Ok: queued as Q0001', '250 2.0.0 Ok', '250 2.0.0 Ok', '250 2.0.0 Ok']);
    assert.equal(d.session.waiting, false);
    assert.equal(d.session.bufferedBytes, 0);
  });

  test('a failed enqueue gets 451 4.3.0 and the session goes on', () => {
    const d = ehloDriver({ enqueue: { ok: false, reason: 'disk full' } });
    const out = d.send(`${TX}x\r\n.\r\nMAIL FROM:<a@client.test>\r\n`);
    assert.deepEqual(lines(out).slice(-2), ['451 4.3.0 Temporary failure, please try again later', '250 2.1.0 Ok']);
    assert.deepEqual(d.logs('enqueue-failed'), [{ id: 'Q0001', reason: 'disk full' }]);
    assert.deepEqual(d.logs('transaction'), []);
  });

  test('an answer nobody asked for is logged and ignored', () => {
    const d = ehloDriver();
    assert.deepEqual(d.session.enqueued({ ok: true }).filter((e) => e.kind !== 'log'), []);
    assert.equal(d.logs('unexpected-answer').length, 0);
    d.apply(d.session.enqueued({ ok: true }));
    assert.equal(d.logs('unexpected-answer').length, 1);
    d.apply(d.session.tlsStarted({ protocol: 'x', cipher: 'y' }));
    assert.equal(d.logs('unexpected-answer').length, 2);
    assert.equal(d.session.closed, false);
  });
});

describe('STARTTLS (RFC 3207)', () => {
  test('220, then the starttls effect; pipelined bytes and bytes before tlsStarted are discarded', () => {
    const d = ehloDriver();
    const effects = d.session.receive(bytes('STARTTLS\r\nMAIL FROM:<evil@x.test>\r\n'));
    const kinds = effects.filter((e) => e.kind !== 'log');
    assert.deepEqual(kinds, [{ kind: 'send', data: '220 2.0.0 Ready to start TLS\r\n' }, { kind: 'starttls' }]);
    assert.equal(d.session.waiting, true);
    assert.equal(d.session.bufferedBytes, 0);
    d.apply(effects);
    assert.deepEqual(d.logs('discard-pipelined'), [{ bytes: 25, when: 'pipelined-after-starttls' }]);
    assert.equal(d.send('RCPT TO:<victim@tern.test>\r\n'), '');
    assert.deepEqual(d.logs('discard-pipelined')[1], { bytes: 28, when: 'before-tls' });
    assert.equal(d.answerTls({ protocol: 'TLSv1.3', cipher: 'TLS_CHACHA20_POLY1305_SHA256' }), '');
    assert.equal(d.session.waiting, false);
    // RFC 3207 §4.2: greeting forgotten, STARTTLS no longer offered.
    assert.equal(d.send('MAIL FROM:<a@client.test>\r\n'), '503 5.5.1 Send EHLO/HELO first\r\n');
    const ehlo = d.send('EHLO client.test\r\n');
    assert.ok(!ehlo.includes('STARTTLS'));
    d.send(`${TX}.\r\n`);
    assert.equal(d.stored[0].envelope.protocol, 'ESMTPS');
    assert.deepEqual(d.stored[0].envelope.tls, { protocol: 'TLSv1.3', cipher: 'TLS_CHACHA20_POLY1305_SHA256' });
  });

  test("the caller's ConnectionInfo is not modified", () => {
    const conn = testConnection();
    const s = new Session(conn, testSessionOptions(), testSessionDeps());
    s.greet();
    s.receive(bytes('STARTTLS\r\n'));
    s.tlsStarted({ protocol: 'TLSv1.3', cipher: 'X' });
    assert.equal(conn.tls, null);
  });

  test('a failed handshake just closes', () => {
    const d = ehloDriver();
    d.send('STARTTLS\r\n');
    const effects = d.session.tlsFailed();
    assert.deepEqual(effects.filter((e) => e.kind !== 'log'), [{ kind: 'close' }]);
    assert.equal(d.session.closed, true);
  });
});

describe('timeouts and shutdown', () => {
  test('timedOut(): 421 4.4.2 and close', () => {
    const d = ehloDriver();
    d.send(TX);
    assert.equal(d.session.phase, 'data');
    const effects = d.session.timedOut().filter((e) => e.kind !== 'log');
    assert.deepEqual(effects, [{ kind: 'send', data: '421 4.4.2 Timeout exceeded, closing connection\r\n' }, {
      kind: 'close',
    }]);
    assert.deepEqual(d.session.timedOut(), []);
  });

  test('shutdown() while idle: 421 4.3.2 and close', () => {
    const d = ehloDriver();
    const effects = d.session.shutdown().filter((e) => e.kind !== 'log');
    assert.deepEqual(effects, [{ kind: 'send', data: '421 4.3.2 Service shutting down, closing connection\r\n' }, {
      kind: 'close',
    }]);
  });

  test('shutdown() during DATA waits for the end of the transaction', () => {
    const d = ehloDriver();
    d.send(`${TX}partial`);
    assert.deepEqual(d.session.shutdown(), []);
    assert.equal(d.session.closed, false);
    const out = d.send(' line\r\n.\r\nNOOP\r\n');
    assert.deepEqual(lines(out), [
      '250 2.0.0 Ok: queued as Q0001',
      '421 4.3.2 Service shutting down, closing connection',
    ]);
    assert.equal(d.session.closed, true);
  });

  test('shutdown() while waiting for the queue closes right after the 250', () => {
    const d = ehloDriver({ enqueue: null });
    d.send(`${TX}.\r\n`);
    assert.deepEqual(d.session.shutdown(), []);
    assert.deepEqual(lines(d.answerEnqueue({ ok: true })), [
      '250 2.0.0 Ok: queued as Q0001',
      '421 4.3.2 Service shutting down, closing connection',
    ]);
    assert.equal(d.closed, true);
  });

  test('shutdown() after MAIL: closes once the client ends the transaction with RSET', () => {
    const d = ehloDriver();
    d.send('MAIL FROM:<a@client.test>\r\n');
    assert.deepEqual(d.session.shutdown(), []);
    assert.equal(d.send('RCPT TO:<b@tern.test>\r\n'), '250 2.1.5 Ok\r\n');
    assert.deepEqual(lines(d.send('RSET\r\nNOOP\r\n')), [
      '250 2.0.0 Ok',
      '421 4.3.2 Service shutting down, closing connection',
    ]);
    assert.equal(d.closed, true);
  });
});

describe('robustness', () => {
  test('a throw inside a verb becomes 421 4.3.0 and close, never an exception', () => {
    const d = ehloDriver({
      deps: {
        now: () => new Date(0),
        newQueueId: () => {
          throw new Error('boom');
        },
      },
    });
    const out = d.send(TX);
    assert.deepEqual(lines(out), ['250 2.1.0 Ok', '250 2.1.5 Ok', '421 4.3.0 Internal error, closing connection']);
    assert.equal(d.closed, true);
    const err = d.effects.find((e) => e.kind === 'log' && e.event === 'error') as Extract<Effect, { kind: 'log' }>;
    assert.equal(err.level, 'error');
    assert.equal(err.fields.error, 'boom');
    assert.equal(d.session.bufferedBytes, 0);
  });

  test('50 MB of command bytes without a line end: memory stays bounded', () => {
    const d = ehloDriver();
    const garbage = new Uint8Array(1 << 20).fill(0x58);
    for (let i = 0; i < 50; i++) {
      assert.deepEqual(d.send(garbage), '');
      assert.ok(d.session.bufferedBytes < d.options.maxCommandLine, `buffered ${d.session.bufferedBytes}`);
    }
    assert.equal(d.send('\r\nNOOP\r\n'), '500 5.5.2 Line too long\r\n250 2.0.0 Ok\r\n');
  });

  test('a message over the limit is not buffered while it streams', () => {
    const d = ehloDriver();
    d.send(TX);
    const line = bytes(`${'x'.repeat(998)}\r\n`);
    let peak = 0;
    for (let i = 0; i < 5000; i++) {
      d.send(line.slice());
      peak = Math.max(peak, d.session.bufferedBytes);
    }
    assert.ok(peak <= d.options.maxMessageSize, `peak ${peak}`);
    assert.equal(d.send('.\r\n'), '552 5.3.4 Message size exceeds fixed limit\r\n');
    assert.equal(d.session.bufferedBytes, 0);
  });

  test('a refused 5 MB BDAT chunk is consumed without being buffered', () => {
    const d = ehloDriver();
    d.send('BDAT 5000000\r\n');
    assert.equal(d.session.phase, 'data');
    const block = new Uint8Array(100_000).fill(0x41);
    for (let i = 0; i < 50; i++) {
      assert.equal(d.send(block), i === 49 ? '503 5.5.1 Need MAIL command\r\n' : '');
      assert.equal(d.session.bufferedBytes, 0);
    }
    assert.equal(d.session.phase, 'command');
  });

  test('error budget: 452 does not count, 5xx command errors do', () => {
    const d = ehloDriver({ options: { maxBadCommands: 2, maxRecipients: 1 } });
    d.send('MAIL FROM:<a@client.test>\r\nRCPT TO:<b@tern.test>\r\n');
    for (let i = 0; i < 5; i++) assert.equal(d.send('RCPT TO:<c@tern.test>\r\n'), '452 4.5.3 Too many recipients\r\n');
    // Relay denied (554) is a policy answer, not a syntax error: it does not count either.
    for (let i = 0; i < 3; i++) d.send('RCPT TO:<c@elsewhere.test>\r\n');
    assert.equal(d.closed, false);
    assert.equal(d.send('FOO\r\n'), '500 5.5.2 Command not recognized\r\n');
    assert.deepEqual(lines(d.send('BAR\r\nNOOP\r\n')), [
      '500 5.5.2 Command not recognized',
      '421 4.7.0 Too many errors, closing connection',
    ]);
    assert.equal(d.closed, true);
  });

  test('ENHANCEDSTATUSCODES off: no enhanced codes anywhere', () => {
    const d = ehloDriver({ options: { extensions: { enhancedStatusCodes: false } } });
    const out = d.send(`FOO\r\nVRFY x\r\n${TX}.\r\nQUIT\r\n`);
    assert.deepEqual(lines(out), [
      '500 Command not recognized',
      '252 Cannot VRFY user, but will accept message and attempt delivery',
      '250 Ok',
      '250 Ok',
      '354 End data with <CR><LF>.<CR><LF>',
      '250 Ok: queued as Q0001',
      '221 Bye',
    ]);
  });
});

describe('property: any split of a recorded stream gives the same effects', () => {
  const stream = bytes(
    'EHLO client.test\r\nNOOP\nMAIL FROM:<a@client.test> SIZE=100\r\nRCPT TO:<b@tern.test>\r\n' +
      'RCPT TO:<c@elsewhere.test>\r\nDATA\r\nSubject: x\r\n\r\n..dot\r\nbare\nlf\r\n.\r\n' +
      'MAIL FROM:<a@client.test>\r\nRCPT TO:<b@tern.test>\r\nDATA\r\nok\r\n.\r\n' +
      'MAIL FROM:<a@client.test>\r\nRCPT TO:<b@tern.test>\r\nBDAT 4\r\nab\r\nBDAT 3 LAST\r\ncd\r' +
      'BDAT 2\r\nxxRSET\r\nFOO\r\n' +
      'x'.repeat(3000) +
      '\r\nVRFY x\r\nSTARTTLS\r\nNOOP\r\n',
  );

  /** Sends, enqueue messages and logs, independent of how they were batched. */
  function run(
    cuts: number[],
  ): { sent: string; others: unknown[]; logs: unknown[]; discarded: number; buffered: number } {
    const d = new Driver();
    d.greet();
    d.sendSplit(stream, cuts);
    // Bytes after STARTTLS are discarded either from the buffer or as they arrive: one log or several.
    const discarded = d.logs('discard-pipelined').reduce((n, f) => n + (f.bytes as number), 0);
    return {
      sent: d.sent,
      others: d.effects.filter((e) => e.kind !== 'send' && e.kind !== 'log'),
      logs: d.effects.filter((e) => e.kind === 'log' && e.event !== 'discard-pipelined'),
      discarded,
      buffered: d.session.bufferedBytes,
    };
  }

  test('random splits', () => {
    const whole = run([]);
    assert.match(whole.sent, /550 5\.6\.0/);
    assert.match(whole.sent, /queued as Q0002/); // Q0001 went to the refused message
    assert.equal(whole.discarded, 6);
    assert.match(whole.sent, /220 2\.0\.0 Ready to start TLS\r\n$/);
    const random = rng(5321);
    for (let round = 0; round < 200; round++) {
      const cuts: number[] = [];
      let at = 0;
      for (;;) {
        at += 1 + Math.floor(random() * (round % 2 === 0 ? 16 : 600));
        if (at >= stream.length) break;
        cuts.push(at);
      }
      assert.deepEqual(run(cuts), whole, `round ${round}`);
    }
  });

  test('one byte at a time', () => {
    assert.deepEqual(run(Array.from({ length: stream.length - 1 }, (_, i) => i + 1)), run([]));
  });
});
