// DSNs parsed back with a small MIME walker (below): every header, part and field, for each event and RET,
// the global (SMTPUTF8) form, the size cap, long lines, boundary collisions and injection attempts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { buildDsn, DSN_EVENTS, type DsnEvent, type DsnInput, type DsnMessage } from '../../../src/delivery/dsn.ts';

// ---------------------------------------------------------------------------------------------------------
// The walker: strict about what RFC 5322 / RFC 2046 demand (CRLF, 998 octets, delimiters at line starts).
// It works on latin1 strings so every octet of 8-bit content survives; utf() decodes a value as UTF-8.

const latin1 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
const utf = (s: string): string => new TextDecoder().decode(Buffer.from(s, 'latin1'));
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
/** Prose is wrapped at 72 columns: compare it with white space runs made one space. */
const flat = (s: string): string => s.replace(/\s+/g, ' ');

interface Entity {
  fields: Array<{ name: string; value: string; lines: string[] }>; // value unfolded; lines as physical
  body: string;
}

function parseEntity(raw: string): Entity {
  const end = raw.startsWith('\r\n') ? -2 : raw.indexOf('\r\n\r\n');
  assert.ok(end >= -2, 'an entity has a header section and a blank line');
  const head = end < 0 ? '' : raw.slice(0, end);
  const fields: Entity['fields'] = [];
  for (const line of head === '' ? [] : head.split('\r\n')) {
    if (/^[ \t]/.test(line)) {
      const f = fields[fields.length - 1];
      assert.ok(f, `continuation line without a field: ${line}`);
      f.value += line; // unfolding removes the CRLF only (RFC 5322 §2.2.3)
      f.lines.push(line);
      continue;
    }
    const m = /^([\x21-\x39\x3b-\x7e]+):[ \t]*(.*)$/.exec(line);
    assert.ok(m, `not a header field: ${JSON.stringify(line)}`);
    fields.push({ name: m[1], value: m[2], lines: [line] });
  }
  return { fields, body: raw.slice(end + 4) };
}

const all = (e: Entity, name: string) => e.fields.filter((f) => f.name.toLowerCase() === name.toLowerCase());
function one(e: Entity, name: string): string {
  const found = all(e, name);
  assert.equal(found.length, 1, `exactly one ${name}: ${JSON.stringify(found)}`);
  return found[0].value;
}

function contentType(e: Entity): { type: string; params: Record<string, string> } {
  const [type, ...rest] = one(e, 'Content-Type').split(';');
  const params: Record<string, string> = {};
  for (const p of rest) {
    const m = /^\s*([^=\s]+)=(?:"([^"]*)"|(\S+))\s*$/.exec(p);
    assert.ok(m, `parameter ${p}`);
    params[m[1].toLowerCase()] = m[2] ?? m[3];
  }
  return { type: type.trim().toLowerCase(), params };
}

/** Body parts of a multipart body (RFC 2046 §5.1.1); the delimiter's leading CRLF belongs to it. */
function multipart(body: string, boundary: string): string[] {
  const pieces = ('\r\n' + body).split('\r\n--' + boundary);
  assert.ok(pieces.length >= 3, 'a preamble, parts and the close delimiter');
  const last = pieces.pop()!;
  assert.equal(last, '--\r\n', 'the close delimiter ends the message');
  return pieces.slice(1).map((p) => {
    assert.ok(p.startsWith('\r\n'), 'a delimiter line ends right after the boundary');
    return p.slice(2);
  });
}

/** Groups of fields of a message/delivery-status body (RFC 3464 §2.1): per-message, then per-recipient. */
function statusGroups(body: string): Entity[] {
  assert.ok(body.endsWith('\r\n'));
  return body.slice(0, -2).split('\r\n\r\n').map((g) => parseEntity(g + '\r\n\r\n'));
}

function checkLines(raw: string): void {
  assert.ok(!/\r(?!\n)/.test(raw), 'no bare CR');
  assert.ok(!/(?<!\r)\n/.test(raw), 'no bare LF');
  assert.ok(raw.endsWith('\r\n'), 'ends with CRLF');
  for (const line of raw.split('\r\n')) assert.ok(line.length <= 998, `line of ${line.length} octets`);
}

interface Parsed {
  top: Entity;
  boundary: string;
  parts: Entity[];
  text: string;
  groups: Entity[];
}

function parse(d: DsnMessage): Parsed {
  const raw = latin1(d.message);
  checkLines(raw);
  assert.equal(d.bodyType, /[\x80-\xff]/.test(raw) ? '8BITMIME' : '7BIT');
  const top = parseEntity(raw);
  const ct = contentType(top);
  assert.equal(ct.type, 'multipart/report');
  const boundary = ct.params.boundary;
  assert.ok(boundary && boundary.length <= 70);
  const parts = multipart(top.body, boundary).map(parseEntity);
  for (const p of parts) assert.ok(!p.body.includes(boundary), 'boundary absent from the content');
  assert.ok(parts.length === 2 || parts.length === 3);
  return { top, boundary, parts, text: utf(parts[0].body), groups: statusGroups(parts[1].body) };
}

// ---------------------------------------------------------------------------------------------------------

const T = (h: number, m = 0) => new Date(Date.UTC(2026, 2, 10, h, m));
const ORIGINAL_HEADERS = 'Received: from client.example.org (client.example.org [192.0.2.9])\r\n' +
  '\tby mx.tern.test with ESMTPS id Q7XK2; Tue, 10 Mar 2026 09:00:00 +0000\r\n' +
  'From: Alice <alice@example.org>\r\n' +
  'To: bob@example.net, carol@example.com\r\n' +
  'Subject: Quarterly report\r\n' +
  'Message-ID: <m1@example.org>\r\n';
const ORIGINAL = ORIGINAL_HEADERS + '\r\nHello Bob,\r\n\r\nthe figures are attached.\r\n-- \r\nAlice\r\n';
const REPLY = '550-5.1.1 The email account that you tried to reach does not exist.\n' +
  "550-5.1.1 Please try double-checking the recipient's email address for typos or\n" +
  '550 5.1.1 unnecessary spaces. https://support.example.net/mail/?p=NoSuchUser x7si';

function input(event: DsnEvent, over: Partial<DsnInput> = {}, message: Partial<DsnInput['message']> = {}): DsnInput {
  return {
    reportingMta: 'mx.tern.test',
    event,
    message: {
      id: 'Q7XK2',
      sender: 'alice@example.org',
      receivedAt: T(9),
      dsnEnvid: null,
      dsnRet: null,
      smtpUtf8: false,
      ...message,
    },
    original: bytes(ORIGINAL),
    recipients: [
      {
        address: 'bob@example.net',
        orcpt: { type: 'rfc822', address: 'Bob@Example.NET' },
        status: event === 'failed' ? '5.1.1' : event === 'delayed' ? '4.4.1' : '2.0.0',
        remote: 'mx1.example.net [192.0.2.25]:25',
        diagnostic: event === 'failed' ? REPLY : event === 'delayed' ? '421 4.4.1 Try again later' : '250 2.0.0 OK',
        diagnosticType: 'smtp',
        lastAttemptAt: T(10, 5),
        willRetryUntil: event === 'delayed' ? T(9 + 120) : null,
      },
      {
        address: 'carol@example.com',
        orcpt: null,
        status: event === 'failed' ? '4.4.1' : event === 'delayed' ? '4.4.1' : '2.0.0',
        remote: null,
        diagnostic: 'no MX host answered: connection refused by 192.0.2.80',
        diagnosticType: 'x-tern',
        lastAttemptAt: null,
        willRetryUntil: event === 'delayed' ? T(9 + 120) : null,
      },
    ],
    now: T(10, 6),
    messageIdSeed: 'abc123',
    ...over,
  };
}

test('a failed DSN, field by field', () => {
  const d = buildDsn(input('failed', {}, { dsnEnvid: 'QQ314159', dsnRet: 'FULL' }));
  assert.equal(d.sender, '');
  assert.equal(d.recipient, 'alice@example.org');
  assert.equal(d.smtpUtf8, false);
  assert.equal(d.bodyType, '7BIT');
  const p = parse(d);

  assert.equal(one(p.top, 'From'), 'Mail Delivery System <MAILER-DAEMON@mx.tern.test>');
  assert.equal(one(p.top, 'To'), '<alice@example.org>');
  assert.equal(one(p.top, 'Subject'), 'Undelivered Mail Returned to Sender');
  assert.equal(one(p.top, 'Date'), 'Tue, 10 Mar 2026 10:06:00 +0000');
  assert.equal(one(p.top, 'Message-ID'), '<Q7XK2.failed.abc123@mx.tern.test>');
  assert.equal(one(p.top, 'Auto-Submitted'), 'auto-replied');
  assert.equal(one(p.top, 'MIME-Version'), '1.0');
  assert.equal(contentType(p.top).params['report-type'], 'delivery-status');
  assert.equal(p.parts.length, 3);

  // Part 1: for people.
  assert.deepEqual(contentType(p.parts[0]), { type: 'text/plain', params: { charset: 'us-ascii' } });
  assert.equal(one(p.parts[0], 'Content-Transfer-Encoding'), '7bit');
  assert.match(p.text, /^This is the mail system at mx\.tern\.test\.\r\n/);
  assert.match(p.text, /could not be delivered/);
  assert.match(
    p.text,
    /<bob@example\.net> \(originally addressed to <Bob@Example\.NET>\): the server mx1\.example\.net \[192\.0\.2\.25\] said:/,
  );
  for (const line of REPLY.split('\n')) assert.ok(p.text.includes(`\r\n    ${line}\r\n`), line);
  assert.match(p.text, /<carol@example\.com>:\r\n {4}no MX host answered: connection refused by 192\.0\.2\.80\r\n/);
  assert.match(p.text, /Your message is attached\./);
  assert.match(p.text, /postmaster@mx\.tern\.test/);

  // Part 2: for programs.
  assert.equal(contentType(p.parts[1]).type, 'message/delivery-status');
  assert.equal(one(p.parts[1], 'Content-Transfer-Encoding'), '7bit');
  assert.equal(p.groups.length, 3);
  const [msg, bob, carol] = p.groups;
  assert.deepEqual(msg.fields.map((f) => f.name), [
    'Original-Envelope-Id',
    'Reporting-MTA',
    'X-Tern-Queue-ID',
    'Arrival-Date',
  ]);
  assert.equal(one(msg, 'Original-Envelope-Id'), 'QQ314159');
  assert.equal(one(msg, 'Reporting-MTA'), 'dns; mx.tern.test');
  assert.equal(one(msg, 'X-Tern-Queue-ID'), 'Q7XK2');
  assert.equal(one(msg, 'Arrival-Date'), 'Tue, 10 Mar 2026 09:00:00 +0000');

  assert.deepEqual(bob.fields.map((f) => f.name), [
    'Original-Recipient',
    'Final-Recipient',
    'Action',
    'Status',
    'Remote-MTA',
    'Diagnostic-Code',
    'Last-Attempt-Date',
  ]);
  assert.equal(one(bob, 'Original-Recipient'), 'rfc822; Bob@Example.NET');
  assert.equal(one(bob, 'Final-Recipient'), 'rfc822; bob@example.net');
  assert.equal(one(bob, 'Action'), 'failed');
  assert.equal(one(bob, 'Status'), '5.1.1');
  assert.equal(one(bob, 'Remote-MTA'), 'dns; mx1.example.net');
  assert.equal(one(bob, 'Last-Attempt-Date'), 'Tue, 10 Mar 2026 10:05:00 +0000');
  // RFC 3461 §9.2: one reply line per physical line, a SPACE before each after the first; exact text.
  const diag = all(bob, 'Diagnostic-Code')[0].lines;
  assert.deepEqual(
    [diag[0].replace(/^Diagnostic-Code: smtp; /, ''), ...diag.slice(1).map((l) => l.slice(1))],
    REPLY.split('\n'),
  );

  // No ORCPT: no Original-Recipient (§6.3(d)); no remote MTA: no Remote-MTA (RFC 3464 §2.3.5).
  assert.deepEqual(carol.fields.map((f) => f.name), ['Final-Recipient', 'Action', 'Status', 'Diagnostic-Code']);
  assert.equal(one(carol, 'Status'), '4.4.1'); // expiry: action failed with the last temporary status (§2.3.3)
  assert.equal(one(carol, 'Diagnostic-Code'), 'x-tern; no MX host answered: connection refused by 192.0.2.80');

  // Part 3: RET=FULL on a failure: the message as stored, octet for octet.
  assert.equal(contentType(p.parts[2]).type, 'message/rfc822');
  assert.equal(one(p.parts[2], 'Content-Transfer-Encoding'), '7bit');
  assert.equal(p.parts[2].body, ORIGINAL);
});

test('RET decides the third part of a failure report; other events carry headers only', () => {
  // [event, RET, part-3 type, content, note in the human part]
  const table: Array<[DsnEvent, 'FULL' | 'HDRS' | null, string, string, RegExp]> = [
    ['failed', 'FULL', 'message/rfc822', ORIGINAL, /Your message is attached/],
    ['failed', 'HDRS', 'text/rfc822-headers', ORIGINAL_HEADERS, /as your mail program asked \(RET=HDRS\)/],
    ['failed', null, 'text/rfc822-headers', ORIGINAL_HEADERS, /only returned when the sending mail program asks/],
    ['delayed', 'FULL', 'text/rfc822-headers', ORIGINAL_HEADERS, /header section of your message is attached\./],
    ['delivered', 'FULL', 'text/rfc822-headers', ORIGINAL_HEADERS, /header section of your message is attached\./],
    ['relayed', null, 'text/rfc822-headers', ORIGINAL_HEADERS, /header section of your message is attached\./],
    ['expanded', 'HDRS', 'text/rfc822-headers', ORIGINAL_HEADERS, /header section of your message is attached\./],
  ];
  for (const [event, ret, type, content, note] of table) {
    const p = parse(buildDsn(input(event, {}, { dsnRet: ret })));
    assert.equal(contentType(p.parts[2]).type, type, `${event} ${ret}`);
    assert.equal(p.parts[2].body, content, `${event} ${ret}`);
    assert.match(flat(p.text), note, `${event} ${ret}`);
  }
});

test('every event: subject, action, status, retry fields and wording', () => {
  const expect: Record<DsnEvent, { subject: string; text: RegExp }> = {
    failed: { subject: 'Undelivered Mail Returned to Sender', text: /permanent error/ },
    delayed: {
      subject: 'Delayed Mail (still being retried)',
      text: /still being retried; you do not need to send it again/,
    },
    delivered: { subject: 'Successful Mail Delivery Report', text: /was delivered to the recipients below/ },
    relayed: { subject: 'Successful Mail Delivery Report', text: /does not send delivery reports/ },
    expanded: { subject: 'Successful Mail Delivery Report', text: /forward it on to several further/ },
  };
  for (const event of DSN_EVENTS) {
    const p = parse(buildDsn(input(event)));
    assert.equal(one(p.top, 'Subject'), expect[event].subject);
    assert.equal(one(p.top, 'Message-ID'), `<Q7XK2.${event}.abc123@mx.tern.test>`);
    assert.match(flat(p.text), expect[event].text, event);
    const [msg, bob, carol] = p.groups;
    assert.equal(all(msg, 'Original-Envelope-Id').length, 0, 'no ENVID, no Original-Envelope-Id (§6.3(a))');
    for (const r of [bob, carol]) {
      assert.equal(one(r, 'Action'), event);
      assert.match(one(r, 'Status'), { failed: /^[45]\./, delayed: /^4\./ }[event as string] ?? /^2\./);
      // RFC 3464 §2.3.9: Will-Retry-Until only in delayed DSNs.
      assert.equal(all(r, 'Will-Retry-Until').length, event === 'delayed' ? 1 : 0, event);
    }
    if (event === 'delayed') {
      assert.equal(one(bob, 'Will-Retry-Until'), 'Sun, 15 Mar 2026 09:00:00 +0000');
      assert.match(flat(p.text), /retried until Sun, 15 Mar 2026 09:00:00 \+0000/);
    }
  }
});

test('an SMTPUTF8 original gives the RFC 6533 global forms', () => {
  const original = 'From: Jörg <jörg@bücher.example>\r\nSubject: Grüße\r\n\r\nHallo\r\n';
  for (const [sender, smtpUtf8] of [['jörg@bücher.example', true], ['joerg@example.org', false]] as const) {
    const d = buildDsn(input('failed', {
      original: bytes(original),
      recipients: [{
        address: 'müller@example.net',
        orcpt: { type: 'utf-8', address: 'Müller@example.net' },
        status: '5.1.1',
        remote: 'mx.example.net [192.0.2.3]:25',
        diagnostic: '550 5.1.1 Unbekannter Empfänger',
        diagnosticType: 'smtp',
        lastAttemptAt: T(10),
        willRetryUntil: null,
      }],
    }, { smtpUtf8: true, sender, dsnRet: 'FULL' }));
    // SMTPUTF8 only when the envelope or top-level header needs it: the parts need only 8BITMIME.
    assert.equal(d.smtpUtf8, smtpUtf8);
    assert.equal(d.bodyType, '8BITMIME');
    const p = parse(d);
    assert.equal(utf(one(p.top, 'To')), `<${sender}>`);
    assert.equal(contentType(p.top).params['report-type'], 'global-delivery-status');
    assert.deepEqual(contentType(p.parts[0]), { type: 'text/plain', params: { charset: 'utf-8' } });
    assert.equal(one(p.parts[0], 'Content-Transfer-Encoding'), '8bit');
    assert.match(p.text, /<müller@example\.net> \(originally addressed to <Müller@example\.net>\)/);
    assert.match(p.text, /550 5\.1\.1 Unbekannter Empfänger/);
    assert.equal(contentType(p.parts[1]).type, 'message/global-delivery-status');
    assert.equal(one(p.parts[1], 'Content-Transfer-Encoding'), '8bit');
    const rcpt = p.groups[1];
    assert.equal(utf(one(rcpt, 'Original-Recipient')), 'utf-8; Müller@example.net');
    assert.equal(utf(one(rcpt, 'Final-Recipient')), 'utf-8; müller@example.net');
    assert.equal(utf(one(rcpt, 'Diagnostic-Code')), 'smtp; 550 5.1.1 Unbekannter Empfänger');
    assert.equal(contentType(p.parts[2]).type, 'message/global');
    assert.equal(one(p.parts[2], 'Content-Transfer-Encoding'), '8bit');
    assert.equal(utf(p.parts[2].body), original);
  }
  // Headers only: message/global-headers.
  const p = parse(buildDsn(input('failed', { original: bytes(original) }, { smtpUtf8: true, dsnRet: 'HDRS' })));
  assert.equal(contentType(p.parts[2]).type, 'message/global-headers');
  assert.equal(utf(p.parts[2].body), 'From: Jörg <jörg@bücher.example>\r\nSubject: Grüße\r\n');
});

test('a plain DSN stays ASCII in its status part: utf-8 ORCPT as xtext, stray 8-bit replaced', () => {
  const d = buildDsn(input('failed', {
    recipients: [{
      address: 'bob@example.net',
      orcpt: { type: 'UTF-8', address: 'Bøb+x=y\\z@example.net' },
      status: '5.1.1',
      remote: '[192.0.2.4]:2525',
      diagnostic: '550 5.1.1 m\u00e4h',
      diagnosticType: 'smtp',
      lastAttemptAt: null,
      willRetryUntil: null,
    }],
  }));
  const p = parse(d);
  assert.equal(d.bodyType, '7BIT');
  const rcpt = p.groups[1];
  assert.equal(one(rcpt, 'Original-Recipient'), 'utf-8; B\\x{F8}b\\x{2B}x\\x{3D}y\\x{5C}z@example.net'); // RFC 6533 §3
  assert.equal(one(rcpt, 'Remote-MTA'), 'dns; [192.0.2.4]'); // no name: an address literal (RFC 3461 §9.3)
  assert.equal(one(rcpt, 'Diagnostic-Code'), 'smtp; 550 5.1.1 m?h');
  assert.match(p.text, /the server \[192\.0\.2\.4\] said:/);
});

test('the RET=FULL size cap and over-long lines fall back to the header section', () => {
  let p = parse(buildDsn(input('failed', { maxReturnSize: 100 }, { dsnRet: 'FULL' })));
  assert.equal(contentType(p.parts[2]).type, 'text/rfc822-headers');
  assert.equal(p.parts[2].body, ORIGINAL_HEADERS);
  assert.match(flat(p.text), /larger than 100 octets, too large to return/);
  p = parse(buildDsn(input('failed', {}, { dsnRet: 'FULL' })));
  assert.equal(contentType(p.parts[2]).type, 'message/rfc822', 'the default cap is 10 MiB');
  const big = ORIGINAL_HEADERS + '\r\n' + 'a'.repeat(990).concat('\r\n').repeat(10_700);
  p = parse(buildDsn(input('failed', { original: bytes(big) }, { dsnRet: 'FULL' })));
  assert.equal(contentType(p.parts[2]).type, 'text/rfc822-headers');
  assert.match(flat(p.text), /larger than 10 MB, too large to return/);

  const longBody = ORIGINAL_HEADERS + '\r\n' + 'x'.repeat(1500) + '\r\n';
  p = parse(buildDsn(input('failed', { original: bytes(longBody) }, { dsnRet: 'FULL' })));
  assert.equal(contentType(p.parts[2]).type, 'text/rfc822-headers');
  assert.equal(p.parts[2].body, ORIGINAL_HEADERS);
  assert.match(flat(p.text), /longer than 998 octets/);

  const longHeader = `X-Long: ${'y'.repeat(1200)}\r\n` + ORIGINAL_HEADERS + '\r\nbody\r\n';
  p = parse(buildDsn(input('failed', { original: bytes(longHeader) }, { dsnRet: 'HDRS' })));
  assert.equal(p.parts.length, 2, 'no third part rather than a broken one');
  assert.match(p.text, /is not attached/);
});

test('odd originals: bare LF, no body, no header, 8-bit content', () => {
  // Bare LFs are made CRLF (the SMTP server refuses them, but other intake paths may not).
  let p = parse(buildDsn(input('failed', { original: bytes('Subject: x\n\nline\n') }, { dsnRet: 'FULL' })));
  assert.equal(p.parts[2].body, 'Subject: x\r\n\r\nline\r\n');
  p = parse(buildDsn(input('failed', { original: bytes('Subject: x\nX-B: y\n\nline\n') }, { dsnRet: 'HDRS' })));
  assert.equal(p.parts[2].body, 'Subject: x\r\nX-B: y\r\n');
  // Header section only, no blank line, no final CRLF.
  p = parse(buildDsn(input('failed', { original: bytes('Subject: only\r\nX-A: b') }, { dsnRet: 'HDRS' })));
  assert.equal(p.parts[2].body, 'Subject: only\r\nX-A: b\r\n');
  // No header fields at all.
  p = parse(buildDsn(input('failed', { original: bytes('\r\nbody\r\n') }, { dsnRet: 'HDRS' })));
  assert.equal(p.parts[2].body, '');
  // 8-bit body (BODY=8BITMIME): returned as is, 8bit, and the DSN needs 8BITMIME.
  const eight = Buffer.concat([Buffer.from('Subject: x\r\n\r\n'), Buffer.from([0xe9, 0xff, 0x0d, 0x0a])]);
  const d = buildDsn(input('failed', { original: new Uint8Array(eight) }, { dsnRet: 'FULL' }));
  assert.equal(d.bodyType, '8BITMIME');
  assert.equal(d.smtpUtf8, false);
  p = parse(d);
  assert.equal(one(p.parts[2], 'Content-Transfer-Encoding'), '8bit');
  assert.equal(p.parts[2].body, eight.toString('latin1'));
});

test('the boundary never occurs in the content', () => {
  const sneaky = ORIGINAL_HEADERS + '\r\n--=_tern-dsn-abc123\r\n=_tern-dsn-abc123-1\r\n';
  const d = buildDsn(input('failed', { original: bytes(sneaky) }, { dsnRet: 'FULL' }));
  const p = parse(d);
  assert.equal(p.boundary, '=_tern-dsn-abc123-2');
  assert.equal(p.parts[2].body, sneaky);
  // Without a seed the boundary and Message-ID are random, and differ between DSNs.
  const a = parse(buildDsn(input('failed', { messageIdSeed: undefined })));
  const b = parse(buildDsn(input('failed', { messageIdSeed: undefined })));
  assert.notEqual(a.boundary, b.boundary);
  assert.notEqual(one(a.top, 'Message-ID'), one(b.top, 'Message-ID'));
  assert.match(one(a.top, 'Message-ID'), /^<Q7XK2\.failed\.[0-9a-f]{18}@mx\.tern\.test>$/);
});

test('CR, LF and control characters in replies, addresses and ENVID cannot forge fields', () => {
  const d = buildDsn(input('failed', {
    recipients: [{
      address: 'bob@example.net\r\nAction: delivered',
      orcpt: null,
      status: 'not-a-status',
      remote: 'evil.example\r\nX-Evil: 1 [192.0.2.1]:25',
      diagnostic: '550 no\r\n\r\nAction: delivered\u0000\u001b[31m',
      diagnosticType: 'smtp',
      lastAttemptAt: null,
      willRetryUntil: null,
    }],
  }, { dsnEnvid: 'id\r\nReporting-MTA: dns; evil' }));
  const p = parse(d);
  assert.equal(p.groups.length, 2);
  const [msg, rcpt] = p.groups;
  assert.equal(all(msg, 'Reporting-MTA').length, 1);
  assert.equal(one(msg, 'Original-Envelope-Id'), 'id??Reporting-MTA: dns; evil');
  assert.equal(one(rcpt, 'Action'), 'failed');
  assert.equal(one(rcpt, 'Status'), '5.0.0', 'an unusable status becomes the generic one (RFC 3461 §6.3(g))');
  assert.equal(one(rcpt, 'Final-Recipient'), 'rfc822; bob@example.net??Action: delivered');
  assert.equal(all(rcpt, 'X-Evil').length, 0);
  // Each reply line on its own physical line; control characters gone.
  assert.deepEqual(all(rcpt, 'Diagnostic-Code')[0].lines, [
    'Diagnostic-Code: smtp; 550 no',
    ' Action: delivered??[31m',
  ]);
});

test('long diagnostics are folded at white space within 998 octets; words longer than that are cut', () => {
  const words = Array.from({ length: 300 }, (_, i) => `word${i}`).join(' ');
  const huge = 'z'.repeat(2500);
  const d = buildDsn(input('failed', {
    recipients: [{
      address: 'bob@example.net',
      orcpt: null,
      status: '4.4.7',
      remote: null,
      diagnostic: `${words}\n${huge}`,
      diagnosticType: 'x-tern',
      lastAttemptAt: null,
      willRetryUntil: null,
    }],
  }));
  const p = parse(d); // parse() checks every line <= 998 octets
  const f = all(p.groups[1], 'Diagnostic-Code')[0];
  assert.ok(f.lines.length >= 5);
  // Unfolding gives back the words exactly; the unbreakable run is intact apart from inserted spaces.
  assert.ok(f.value.startsWith(`x-tern; ${words} `));
  assert.equal(f.value.slice(`x-tern; ${words} `.length).replace(/ /g, ''), huge);
});

test('a DSN for a null sender or for no recipient is a bug', () => {
  assert.throws(() => buildDsn(input('failed', {}, { sender: '' })), /null reverse-path/);
  assert.throws(() => buildDsn(input('failed', { recipients: [] })), /at least one recipient/);
});

test('many recipients: one DSN lists them all', () => {
  const base = input('failed').recipients[0];
  const recipients = Array.from({ length: 50 }, (_, i) => ({ ...base, address: `user${i}@example.net`, orcpt: null }));
  const p = parse(buildDsn(input('failed', { recipients })));
  assert.equal(p.groups.length, 51);
  assert.deepEqual(
    p.groups.slice(1).map((g) => one(g, 'Final-Recipient')),
    recipients.map((r) => `rfc822; ${r.address}`),
  );
  for (const r of recipients) assert.ok(p.text.includes(`<${r.address}>`));
});
