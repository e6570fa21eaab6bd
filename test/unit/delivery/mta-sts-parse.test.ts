// MTA-STS syntax tables: the TXT record (RFC 8461 §3.1), the policy file (§3.2), MX patterns (§4.1) and the
// HTTP response reader of the policy fetch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { MAX_AGE_CAP, mxMatches, parseStsPolicy, parseStsTxt } from '../../../src/delivery/mta-sts-parse.ts';
import { parseResponse } from '../../../src/delivery/mta-sts-fetch.ts';

test('TXT records: valid ones give the id', () => {
  const table: Array<[string[], string]> = [
    [['v=STSv1; id=20160831085700Z;'], '20160831085700Z'],
    [['v=STSv1;id=abc'], 'abc'],
    [['v=STSv1 ; id=abc ;'], 'abc'],
    [['v=STSv1;\tid=abc;\text_1.x-y=some:value'], 'abc'],
    [['v=STSv1; ext=1; id=A1'], 'A1'], // order of fields after v is free
    [['v=STSv1; id=first; id=second'], 'first'],
    [['v=STSv1; id=' + 'a'.repeat(32)], 'a'.repeat(32)],
    [['some other record', 'v=spf1 -all', 'v=STSv1; id=x'], 'x'],
  ];
  for (const [records, id] of table) {
    assert.deepEqual(parseStsTxt(records), { ok: true, value: { id } }, records.join(' | '));
  }
});

test('TXT records: what means "no usable record"', () => {
  const table: Array<[string[], RegExp]> = [
    [[], /no v=STSv1 record/],
    [['v=STSv2; id=x'], /no v=STSv1 record/],
    [['V=STSv1; id=x'], /no v=STSv1 record/], // %s: case-sensitive
    [['id=x; v=STSv1;'], /no v=STSv1 record/], // must begin with the version
    [['v=STSv1'], /no v=STSv1 record/],
    [['v=STSv1; id=a', 'v=STSv1; id=b'], /2 v=STSv1 records/],
    [['v=STSv1;'], /no id field/],
    [['v=STSv1; ext=1'], /no id field/],
    [['v=STSv1; id='], /bad field/],
    [['v=STSv1; id=a-b'], /bad id/],
    [['v=STSv1; id=' + 'a'.repeat(33)], /bad id/],
    [['v=STSv1;; id=a'], /bad field/],
    [['v=STSv1; id=a; =x'], /bad field/],
    [['v=STSv1; id=a; e=x y'], /bad field/],
    [['v=STSv1; id=a; _e=x'], /bad field/],
  ];
  for (const [records, reason] of table) {
    const r = parseStsTxt(records);
    assert.equal(r.ok, false, records.join(' | '));
    if (!r.ok) assert.match(r.reason, reason, records.join(' | '));
  }
});

test('policy files: valid ones', () => {
  const table: Array<[string, { mode: string; mx: string[]; maxAge: number }]> = [
    [
      'version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmx: backupmx.example.com\r\nmax_age: 604800\r\n',
      { mode: 'enforce', mx: ['mail.example.com', '*.example.net', 'backupmx.example.com'], maxAge: 604800 },
    ],
    ['version: STSv1\nmode: testing\nmx: MX.Example.COM.\nmax_age: 0', {
      mode: 'testing',
      mx: ['mx.example.com'],
      maxAge: 0,
    }],
    ['version:STSv1\nmode:none\nmax_age:1\n', { mode: 'none', mx: [], maxAge: 1 }],
    ['version: STSv1  \nmode: none \t\nmax_age: 86400\n\n', { mode: 'none', mx: [], maxAge: 86400 }],
    [
      'version: STSv1\nmode: enforce\nmode: none\nmx: a.example\nmax_age: 60\nmax_age: 1\nfuture_key: ü value\n',
      { mode: 'enforce', mx: ['a.example'], maxAge: 60 }, // first of a repeated key counts; unknown keys ignored
    ],
    ['version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 9999999999\n', {
      mode: 'enforce',
      mx: ['a.example'],
      maxAge: MAX_AGE_CAP,
    }],
  ];
  for (const [text, policy] of table) assert.deepEqual(parseStsPolicy(text), { ok: true, value: policy }, text);
});

test('policy files: what is refused', () => {
  const table: Array<[string, RegExp]> = [
    ['', /version/],
    ['mode: enforce\nmx: a.example\nmax_age: 60\n', /version/],
    ['version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 60\n', /version/],
    ['Version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 60\n', /version/], // keys are case-sensitive
    ['version: STSv1\nmode: Enforce\nmx: a.example\nmax_age: 60\n', /bad mode/],
    ['version: STSv1\nmx: a.example\nmax_age: 60\n', /bad mode/],
    ['version: STSv1\nmode: enforce\nmx: a.example\n', /bad max_age/],
    ['version: STSv1\nmode: enforce\nmx: a.example\nmax_age: -1\n', /bad max_age/],
    ['version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 12345678901\n', /bad max_age/], // 1*10DIGIT
    ['version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1d\n', /bad max_age/],
    ['version: STSv1\nmode: enforce\nmax_age: 60\n', /no mx/],
    ['version: STSv1\nmode: testing\nmax_age: 60\n', /no mx/],
    ['version: STSv1\nmode: enforce\nmx: *.*.example\nmax_age: 60\n', /bad mx/],
    ['version: STSv1\nmode: enforce\nmx: mail.*.example\nmax_age: 60\n', /bad mx/],
    ['version: STSv1\nmode: enforce\nmx: bad_host.example\nmax_age: 60\n', /bad mx/],
    ['version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 60\nthis is not a field\n', /bad line/],
    ['version: STSv1\nmode: enforce\nmx:\nmax_age: 60\n', /bad line/],
    ['<html><body>hello</body></html>', /bad line/],
    ['version: STSv1\rmode: enforce\nmx: a.example\nmax_age: 60\n', /bad line/],
    ['version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 60\nx: a\u0001b\n', /control character/],
  ];
  for (const [text, reason] of table) {
    const r = parseStsPolicy(text);
    assert.equal(r.ok, false, text);
    if (!r.ok) assert.match(r.reason, reason, text);
  }
});

test('MX patterns (§4.1): exact names, and "*." for exactly one leftmost label', () => {
  const table: Array<[string, string, boolean]> = [
    ['mail.example.com', 'mail.example.com', true],
    ['mail.example.com', 'MAIL.Example.com.', true],
    ['mail.example.com', 'mail2.example.com', false],
    ['mail.example.com', 'example.com', false],
    ['*.example.com', 'mail.example.com', true],
    ['*.EXAMPLE.com', 'Mail.example.COM', true],
    ['*.example.com', 'example.com', false],
    ['*.example.com', 'foo.bar.example.com', false],
    ['*.example.com', 'mailexample.com', false],
    ['*.example.com', '*.example.com', false],
    ['*.example.com', '.example.com', false],
    ['example.com', 'x.example.com', false],
  ];
  for (const [pattern, host, match] of table) assert.equal(mxMatches(pattern, host), match, `${pattern} ~ ${host}`);
});

test('the HTTP response reader: lengths, chunks, incomplete answers and refusals', () => {
  const r = (text: string, ended = false, max = 100) => parseResponse(Buffer.from(text, 'latin1'), max, ended);
  const ok = (body: string) => ({ ok: true, body });
  const head = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n';
  assert.deepEqual(r(`${head}Content-Length: 5\r\n\r\nhello`), ok('hello'));
  assert.equal(r(`${head}Content-Length: 5\r\n\r\nhel`), null, 'more to come');
  assert.deepEqual(r(`${head}Content-Length: 5\r\n\r\nhel`, true), { ok: false, reason: 'truncated body' });
  assert.deepEqual(r(`${head}Transfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2;x=y\r\nlo\r\n0\r\n\r\n`), ok('hello'));
  assert.equal(r(`${head}Transfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n`), null);
  assert.match(JSON.stringify(r(`${head}Transfer-Encoding: chunked\r\n\r\nzz\r\n`)), /bad chunk size/);
  assert.match(JSON.stringify(r(`${head}Transfer-Encoding: chunked\r\n\r\n65\r\n`)), /larger than 100/);
  assert.equal(r(`${head}\r\nhello`), null, 'no length: the body ends with the connection');
  assert.deepEqual(r(`${head}\r\nhello`, true), ok('hello'));
  assert.match(JSON.stringify(r(`${head}Content-Length: 101\r\n\r\n`)), /larger than 100/);
  assert.match(JSON.stringify(r(`${head}Content-Length: x\r\n\r\n`)), /bad Content-Length/);
  assert.deepEqual(r('HTTP/1.1 302 Found\r\nLocation: https://elsewhere/\r\n\r\n'), {
    ok: false,
    reason: 'HTTP 302: redirect refused (RFC 8461 §3.3)',
  });
  assert.deepEqual(r('HTTP/1.0 500 Oops\r\n\r\n'), { ok: false, reason: 'HTTP 500' });
  assert.match(JSON.stringify(r('SSH-2.0-OpenSSH\r\n\r\n')), /not an HTTP response/);
  assert.deepEqual(r('HTTP/1.1 200 OK\r\n\r\nx', true), { ok: false, reason: 'media type "" is not text/plain' });
  assert.equal(r('HTTP/1.1 200 OK\r\nX: y'), null);
  assert.match(JSON.stringify(r('HTTP/1.1 200 OK\r\n' + 'X: y\r\n'.repeat(4000))), /header too large/);
  const utf8 = Buffer.concat([
    Buffer.from('HTTP/1.1 200 OK\r\ncontent-type: TEXT/PLAIN\r\ncontent-length: 3\r\n\r\n'),
    Buffer.from('üb'),
  ]);
  assert.deepEqual(parseResponse(utf8, 100, false), ok('üb'), 'a UTF-8 body, header names in any case');
});
