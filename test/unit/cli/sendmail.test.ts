// `tern sendmail` without processes: argument parsing, stdin normalisation, -t extraction, Bcc removal,
// and the local submission path (src/submit) against a recording queue.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseNotify, parseSendmailArgs, type SendmailArgs } from '../../../src/cli/sendmail.ts';
import { normaliseInput } from '../../../src/submit/input.ts';
import {
  ensureBodySeparator,
  fromField,
  headerRecipients,
  parseAddressList,
  removeBlindCopies,
  splitHeader,
} from '../../../src/submit/headers.ts';
import { type LocalSubmission, submitLocal, type SubmitDeps } from '../../../src/submit/local.ts';
import { decodeSubmitRequest, encodeSubmitRequest, submitControlHandlers, submitRequestBytes } from '../../../src/submit/control.ts';
import type { Envelope } from '../../../src/smtp/types.ts';
import { createLogger } from '../../../src/lib/log.ts';

const DEFAULTS: SendmailArgs = {
  extract: false, ignoreDots: false, sender: null, fullName: null, notify: null, ret: null, envid: null,
  verbose: false, config: undefined, recipients: [],
};

describe('sendmail arguments', () => {
  const ok: Array<[string[], Partial<SendmailArgs>]> = [
    [[], {}],
    [['bob@example.org'], { recipients: ['bob@example.org'] }],
    [['-t'], { extract: true }],
    [['-ti'], { extract: true, ignoreDots: true }],
    [['-it', '-v'], { extract: true, ignoreDots: true, verbose: true }],
    [['-oi'], { ignoreDots: true }],
    [['-o', 'i'], { ignoreDots: true }],
    [['-i'], { ignoreDots: true }],
    [['-fsender@example.org'], { sender: 'sender@example.org' }],
    [['-f', 'sender@example.org'], { sender: 'sender@example.org' }],
    [['-f', '<>'], { sender: '<>' }],
    [['-f', ''], { sender: '' }],
    [['-r', 'old@example.org'], { sender: 'old@example.org' }],
    [['-tif', 'a@example.org', 'rcpt@example.org'], { extract: true, ignoreDots: true, sender: 'a@example.org', recipients: ['rcpt@example.org'] }],
    [['-F', 'Ada Lovelace'], { fullName: 'Ada Lovelace' }],
    [['-FAda'], { fullName: 'Ada' }],
    [['-N', 'success,delay'], { notify: ['SUCCESS', 'DELAY'] }],
    [['-Nnever'], { notify: 'NEVER' }],
    [['-N', 'FAILURE'], { notify: ['FAILURE'] }],
    [['-R', 'hdrs'], { ret: 'HDRS' }],
    [['-Rfull'], { ret: 'FULL' }],
    [['-V', 'env-42'], { envid: 'env-42' }],
    [['-bm'], {}],
    [['-odb', '-odi', '-oem', '-om', '-o7'], {}],
    [['-C', '/etc/tern.toml'], { config: '/etc/tern.toml' }],
    [['-B', '8BITMIME', '-h', '3', '-L', 'label', '-O', 'a=b', '-X', 'log', '-G', '-U', '-n', '-m', '-c', '-x'], {}],
    [['a@example.org', '-oi', 'c@example.org'], { ignoreDots: true, recipients: ['a@example.org', 'c@example.org'] }],
    [['--', '-odd@example.org', '-t'], { recipients: ['-odd@example.org', '-t'] }],
    [['-'], { recipients: ['-'] }],
  ];
  for (const [argv, expected] of ok) {
    test(`accepts ${JSON.stringify(argv)}`, () => {
      assert.deepEqual(parseSendmailArgs(argv), { ok: true, args: { ...DEFAULTS, ...expected } });
    });
  }

  const bad: Array<[string[], number, RegExp]> = [
    [['-z'], 64, /unknown option -z/],
    [['-tz'], 64, /unknown option -z/],
    [['-f'], 64, /-f requires a value/],
    [['-t', '-F'], 64, /-F requires a value/],
    [['-N', 'sometimes'], 64, /-N sometimes/],
    [['-N', 'never,success'], 64, /-N/],
    [['-R', 'body'], 64, /-R body/],
    [['-bx'], 64, /unknown mode -bx/],
    [['-bs'], 69, /only -bm/],
    [['-bp'], 69, /only -bm/],
    [['-bi'], 69, /only -bm/],
    [['-bv', 'x@example.org'], 69, /only -bm/],
    [['-q'], 69, /-q/],
    [['-q30m'], 69, /-q/],
    [['-I'], 69, /aliases/],
  ];
  for (const [argv, code, message] of bad) {
    test(`refuses ${JSON.stringify(argv)} with ${code}`, () => {
      const r = parseSendmailArgs(argv);
      assert.equal(r.ok, false);
      if (r.ok) return;
      assert.equal(r.exitCode, code);
      assert.match(r.message, message);
    });
  }

  test('-N: NEVER alone, or a list without repeats', () => {
    assert.equal(parseNotify('Never'), 'NEVER');
    assert.deepEqual(parseNotify('failure, failure ,delay'), ['FAILURE', 'DELAY']);
    assert.equal(parseNotify(''), null);
    assert.equal(parseNotify('success,'), null);
  });
});

const bytes = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));
const text = (b: Uint8Array) => Buffer.from(b).toString('latin1');

describe('stdin normalisation', () => {
  const cases: Array<[string, string, boolean, string]> = [
    ['LF becomes CRLF', 'a\nb\n', true, 'a\r\nb\r\n'],
    ['CRLF stays', 'a\r\nb\r\n', true, 'a\r\nb\r\n'],
    ['a bare CR is a line end', 'a\rb\r\n', true, 'a\r\nb\r\n'],
    ['CR CR LF is two line ends', 'a\r\r\nb', true, 'a\r\n\r\nb\r\n'],
    ['the last line gets its line end', 'a\nb', true, 'a\r\nb\r\n'],
    ['empty input stays empty', '', true, ''],
    ['a lone dot ends the message', 'a\n.\nafter\n', true, 'a\r\n'],
    ['a lone dot with CRLF ends it too', 'a\r\n.\r\nafter\r\n', true, 'a\r\n'],
    ['a dot as the last line without a line end', 'a\n.', true, 'a\r\n'],
    ['a dot on the first line: nothing', '.\nafter\n', true, ''],
    ['".." is not the end, and is not unstuffed', 'a\n..\nb\n', true, 'a\r\n..\r\nb\r\n'],
    ['". " is not the end', 'a\n. \nb\n', true, 'a\r\n. \r\nb\r\n'],
    ['-i: a lone dot is text', 'a\n.\nafter\n', false, 'a\r\n.\r\nafter\r\n'],
    ['-i: a last dot without a line end is text', 'a\n.', false, 'a\r\n.\r\n'],
    ['8-bit octets pass unchanged', 'caf\xe9\n', true, 'caf\xe9\r\n'],
  ];
  for (const [name, input, dotEnds, expected] of cases) {
    test(name, () => assert.equal(text(normaliseInput(bytes(input), { dotEnds })), expected));
  }
});

describe('header work', () => {
  test('-t reads To, Cc and Bcc: names, comments, groups, folding, bare local parts', () => {
    const msg =
      'From: me@example.org\r\nTo: "Doe, Jane" <jane@example.org>, team: a@example.net, (boss) b@example.net;\r\n' +
      'cc: undisclosed-recipients:;\r\nCC: Carl <carl@example.com>,\r\n\tdora@example.com\r\nBcc: root\r\nSubject: To: x@evil.test\r\n\r\nTo: body@evil.test\r\n';
    assert.deepEqual(headerRecipients(splitHeader(msg)), [
      'jane@example.org', 'a@example.net', 'b@example.net', 'carl@example.com', 'dora@example.com', 'root',
    ]);
  });

  test('-t on a re-sent message reads only the Resent- fields (RFC 5322 §3.6.6)', () => {
    const msg = 'Resent-To: new@example.org\r\nResent-Bcc: quiet@example.org\r\nTo: old@example.org\r\n\r\nbody\r\n';
    assert.deepEqual(headerRecipients(splitHeader(msg)), ['new@example.org', 'quiet@example.org']);
  });

  test('the header ends at the empty line, or at the first line that is no field', () => {
    assert.deepEqual(headerRecipients(splitHeader('Subject: x\r\nnot a field\r\nTo: a@example.org\r\n')), []);
    assert.equal(splitHeader('To: a@b\r\n\r\nbody').bodyStart, 11);
    assert.equal(splitHeader('To: a@b\r\n\r\nbody').separated, true);
  });

  test('address lists: an empty group gives nothing, a quoted comma is no separator', () => {
    assert.deepEqual(parseAddressList('undisclosed-recipients:;'), []);
    assert.deepEqual(parseAddressList('"a, b" <ab@example.org>'), ['ab@example.org']);
    assert.deepEqual(parseAddressList('two words'), []);
  });

  test('Bcc and Resent-Bcc go, folded lines included, and nothing in the body is touched', () => {
    const msg = 'To: a@example.org\r\nBCC: x@example.org,\r\n y@example.org\r\nSubject: s\r\nResent-Bcc: z@example.org\r\n\r\nBcc: stays@example.org\r\n';
    assert.equal(removeBlindCopies(msg), 'To: a@example.org\r\nSubject: s\r\n\r\nBcc: stays@example.org\r\n');
  });

  test('an empty line is put before the first line that is no field', () => {
    assert.equal(ensureBodySeparator('hello\r\n'), '\r\nhello\r\n');
    assert.equal(ensureBodySeparator('Subject: s\r\nhello\r\n'), 'Subject: s\r\n\r\nhello\r\n');
    assert.equal(ensureBodySeparator('Subject: s\r\n\r\nhello\r\n'), 'Subject: s\r\n\r\nhello\r\n');
    assert.equal(ensureBodySeparator('Subject: s\r\n'), 'Subject: s\r\n');
  });

  test('From: quotes the display name and cannot be broken out of', () => {
    assert.equal(fromField('a@example.org', null), 'From: a@example.org\r\n');
    assert.equal(fromField('a@example.org', 'Ada "the" Count\\ess'), 'From: "Ada \\"the\\" Count\\\\ess" <a@example.org>\r\n');
    assert.equal(fromField('a@example.org', 'Eve\r\nBcc: x@evil.test'), 'From: "Eve Bcc: x@evil.test" <a@example.org>\r\n');
  });
});

/** A QueueWriter that records, or fails when told to. */
function recordingDeps(over: Partial<SubmitDeps> = {}) {
  const queued: Array<{ envelope: Envelope; message: string }> = [];
  let n = 0;
  const deps: SubmitDeps = {
    queue: { enqueue: async (envelope, message) => void queued.push({ envelope, message: text(message) }) },
    hostname: 'host.example.org',
    maxMessageSize: 65536,
    now: () => new Date('2026-01-02T03:04:05Z'),
    newQueueId: () => `QID${++n}`,
    ...over,
  };
  return { deps, queued };
}

const submission = (over: Partial<LocalSubmission>): LocalSubmission => ({
  sender: 'alice@example.org',
  recipients: ['bob@example.net'],
  message: bytes('Subject: hi\r\n\r\nhello\r\n'),
  ...over,
});

describe('submitLocal', () => {
  test('completes the message: Received on top, then Date, Message-ID and From; Bcc removed', async () => {
    const { deps, queued } = recordingDeps();
    const r = await submitLocal(deps, submission({ fullName: 'Alice A', uid: 1000, message: bytes('Bcc: x@example.net\r\nSubject: hi\r\n\r\nhello\r\n') }));
    assert.deepEqual(r, { ok: true, queueId: 'QID1' });
    assert.equal(
      queued[0].message,
      'Received: by host.example.org (Tern, from userid 1000)\r\n\tid QID1; Fri, 02 Jan 2026 03:04:05 +0000\r\n' +
        'Date: Fri, 02 Jan 2026 03:04:05 +0000\r\nMessage-ID: <QID1@host.example.org>\r\n' +
        'From: "Alice A" <alice@example.org>\r\nSubject: hi\r\n\r\nhello\r\n',
    );
  });

  test('keeps the fields the message has', async () => {
    const { deps, queued } = recordingDeps();
    const msg = 'From: Someone <someone@example.org>\r\nDate: Thu, 01 Jan 2026 00:00:00 +0000\r\nMessage-ID: <x@y>\r\n\r\nbody\r\n';
    await submitLocal(deps, submission({ message: bytes(msg), fullName: 'Ignored' }));
    assert.equal(queued[0].message, `Received: by host.example.org (Tern)\r\n\tid QID1; Fri, 02 Jan 2026 03:04:05 +0000\r\n${msg}`);
  });

  test('a message without any header gets one, and its text stays body', async () => {
    const { deps, queued } = recordingDeps();
    await submitLocal(deps, submission({ message: bytes('just text\r\n') }));
    assert.match(queued[0].message, /\r\nFrom: alice@example\.org\r\n\r\njust text\r\n$/);
  });

  test('the envelope: local origin, qualified and de-duplicated addresses, DSN parameters', async () => {
    const { deps, queued } = recordingDeps();
    const r = await submitLocal(
      deps,
      submission({
        sender: 'alice',
        recipients: ['bob', '<carol@Example.NET>', 'carol@example.net', 'bob@host.example.org'],
        notify: ['FAILURE', 'DELAY'],
        ret: 'HDRS',
        envid: 'env-1',
      }),
    );
    assert.equal(r.ok, true);
    const e = queued[0].envelope;
    assert.equal(e.sender, 'alice@host.example.org');
    assert.deepEqual(e.recipients, [
      { address: 'bob@host.example.org', notify: ['FAILURE', 'DELAY'], orcpt: null },
      { address: 'carol@example.net', notify: ['FAILURE', 'DELAY'], orcpt: null },
    ]);
    assert.deepEqual(
      { listener: e.listener, protocol: e.protocol, clientAddress: e.clientAddress, helo: e.helo, dsnRet: e.dsnRet, dsnEnvid: e.dsnEnvid, bodyType: e.bodyType, smtpUtf8: e.smtpUtf8 },
      { listener: 'local', protocol: 'local', clientAddress: '127.0.0.1', helo: 'host.example.org', dsnRet: 'HDRS', dsnEnvid: 'env-1', bodyType: null, smtpUtf8: false },
    );
    assert.equal(e.receivedAt.toISOString(), '2026-01-02T03:04:05.000Z');
  });

  test('the null sender: envelope <>, From MAILER-DAEMON', async () => {
    for (const sender of ['', '<>']) {
      const { deps, queued } = recordingDeps();
      await submitLocal(deps, submission({ sender }));
      assert.equal(queued[0].envelope.sender, '');
      assert.match(queued[0].message, /\r\nFrom: MAILER-DAEMON@host\.example\.org\r\n/);
    }
  });

  test('8-bit text and UTF-8 addresses are flagged for relaying (RFC 6152, RFC 6531)', async () => {
    const { deps, queued } = recordingDeps();
    await submitLocal(deps, submission({ recipients: ['josé@example.net'], message: new Uint8Array(Buffer.from('Subject: café\r\n\r\n')) }));
    assert.equal(queued[0].envelope.bodyType, '8BITMIME');
    assert.equal(queued[0].envelope.smtpUtf8, true);
  });

  const refusals: Array<[string, Partial<LocalSubmission>, RegExp]> = [
    ['no recipients', { recipients: [] }, /no recipients/],
    ['a bad recipient', { recipients: ['bob@'] }, /bad recipient address: bob@/],
    ['a recipient with spaces', { recipients: ['bob smith@example.org'] }, /bad recipient/],
    ['a bad sender', { sender: 'a@b@c' }, /bad sender/],
    ['an envelope id with a space', { envid: 'a b' }, /envelope id/],
    ['a message too big once completed', { message: bytes('x'.repeat(65_400) + '\r\n') }, /too big/],
  ];
  for (const [name, over, reason] of refusals) {
    test(`refuses ${name} as a data error, queueing nothing`, async () => {
      const { deps, queued } = recordingDeps();
      const r = await submitLocal(deps, submission(over));
      assert.equal(r.ok, false);
      if (r.ok) return;
      assert.equal(r.kind, 'dataerr');
      assert.match(r.reason, reason);
      assert.equal(queued.length, 0);
    });
  }

  test('a queue failure is temporary', async () => {
    const { deps } = recordingDeps({ queue: { enqueue: () => Promise.reject(new Error('database unreachable')) } });
    assert.deepEqual(await submitLocal(deps, submission({})), { ok: false, kind: 'tempfail', reason: 'database unreachable' });
  });
});

describe('the submit control command', () => {
  test('a submission survives its JSON trip', () => {
    const s = submission({ fullName: 'A', notify: 'NEVER', ret: 'FULL', envid: 'e', uid: 7, message: new Uint8Array([0, 255, 13, 10]) });
    const wire = JSON.parse(JSON.stringify(encodeSubmitRequest(s))) as Record<string, unknown>;
    assert.equal(wire.cmd, 'submit');
    assert.deepEqual(decodeSubmitRequest(wire), s);
  });

  test('malformed requests throw (the socket answers ok:false)', () => {
    const good = encodeSubmitRequest(submission({})) as unknown as Record<string, unknown>;
    for (const bad of [{ recipients: 'x' }, { recipients: [1] }, { sender: null }, { ret: 'ALL' }, { notify: ['SOMETIMES'] }, { notify: [] }, { uid: 1.5 }]) {
      assert.throws(() => decodeSubmitRequest({ ...good, ...bad }), /submit:/, JSON.stringify(bad));
    }
  });

  test('the handler answers with the submission result', async () => {
    const { deps, queued } = recordingDeps();
    const handlers = submitControlHandlers(deps);
    const req = encodeSubmitRequest(submission({})) as unknown as Record<string, unknown>;
    assert.deepEqual(await handlers.submit(req), { ok: true, queueId: 'QID1' });
    assert.equal(queued.length, 1);
    assert.deepEqual(await handlers.submit({ ...req, recipients: [] }), { ok: false, kind: 'dataerr', reason: 'no recipients' });
  });

  test('the handler logs what it queued and what it refused', async () => {
    const { deps } = recordingDeps();
    const lines: string[] = [];
    const handlers = submitControlHandlers(deps, createLogger({ format: 'json', level: 'info', write: (l) => lines.push(l) }));
    const req = encodeSubmitRequest(submission({ uid: 42 })) as unknown as Record<string, unknown>;
    await handlers.submit(req);
    await handlers.submit({ ...req, recipients: ['bad@'] });
    assert.match(lines[0], /"event":"submitted".*"id":"QID1"/);
    assert.match(lines[0], /"uid":42/);
    assert.match(lines[1], /"event":"submit-refused".*"kind":"dataerr"/);
  });

  test('the request bound grows with the message limit (base64 is 4/3)', () => {
    assert.equal(submitRequestBytes(3 * 1024 * 1024), 4 * 1024 * 1024 + 64 * 1024);
  });
});
