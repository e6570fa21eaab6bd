// Maildir delivery: path templates that cannot be escaped, unique names, the tmp -> new dance, failures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  classifyFsError,
  deliverToMaildir,
  maildirPath,
  sanitiseComponent,
  uniqueName,
} from '../../../../src/delivery/local/maildir.ts';

const tmpRoot = () => fs.mkdtempSync(path.join(os.tmpdir(), 'tern-maildir-'));
const message = new TextEncoder().encode('Subject: hi\r\n\r\nline one\r\nline two\r\n');

test('sanitiseComponent: one-to-one, never a separator, never hidden or relative', () => {
  const table: Array<[string, string]> = [
    ['alice', 'alice'],
    ['a.b', 'a.b'],
    ['..', '%2E.'],
    ['.ssh', '%2Essh'],
    ['../../etc/passwd', '%2E.%2F..%2Fetc%2Fpasswd'],
    ['a/b', 'a%2Fb'],
    ['a\\b', 'a%5Cb'],
    ['a%2Fb', 'a%252Fb'], // '%' itself is encoded, so "a%2Fb" and "a/b" stay apart
    ['a\u0000b', 'a%00b'],
    ['"john smith"', '"john smith"'],
    ['jörg', 'jörg'],
  ];
  for (const [value, want] of table) {
    assert.equal(sanitiseComponent(value), want, value);
    assert.ok(!sanitiseComponent(value).includes('/'));
  }
});

test('maildirPath: %d %u %a %% substituted, each value sanitised', () => {
  const table: Array<[string, string, string]> = [
    ['/var/mail/%d/%u', 'alice@example.com', '/var/mail/example.com/alice'],
    ['/var/mail/%a/', 'alice@example.com', '/var/mail/alice@example.com/'],
    ['/srv/%d/%u/Maildir', '../../root@example.com', '/srv/example.com/%2E.%2F..%2Froot/Maildir'],
    ['/srv/%u', '.@example.com', '/srv/%2E'],
    ['/srv/100%%/%u', 'a@b.test', '/srv/100%/a'],
    ['/srv/%u', '"a@b"@c.test', '/srv/"a@b"'],
  ];
  for (const [template, address, want] of table) {
    assert.deepEqual(maildirPath(template, address), { ok: true, path: want }, `${template} ${address}`);
  }
});

test('maildirPath: misconfiguration is temporary 4.3.5', () => {
  for (const template of ['', 'mail/%u', '/srv/../%u', '/srv/%x']) {
    const r = maildirPath(template, 'a@b.test');
    assert.equal(r.ok, false, template);
    if (!r.ok) assert.deepEqual([r.outcome.outcome, r.outcome.status], ['temporary', '4.3.5'], template);
  }
  // A literal dot beside a value cannot make "..": the value's own leading dot is encoded.
  assert.deepEqual(maildirPath('/srv/.%u', '.@b.test'), { ok: true, path: '/srv/.%2E' });
});

test('uniqueName: time, pid, counter, random and host; never twice', () => {
  const a = uniqueName(123, 1_700_000_000_123);
  assert.match(a, /^1700000000\.M123000P\d+Q\d+R[0-9a-f]{16}\.[^/:]+,S=123$/);
  const names = new Set(Array.from({ length: 1000 }, () => uniqueName(1)));
  assert.equal(names.size, 1000);
});

test('deliverToMaildir: creates cur/new/tmp with 0700, one file in new/, LF line ends, trace headers', async () => {
  const root = tmpRoot();
  try {
    const r = await deliverToMaildir({
      template: `${root}/%d/%u`,
      address: 'alice@example.com',
      sender: 's@x.example',
      body: message,
    });
    assert.equal(r.outcome, 'delivered', r.detail ?? '');
    assert.equal(r.status, '2.0.0');
    const md = path.join(root, 'example.com', 'alice');
    for (const sub of ['cur', 'new', 'tmp']) {
      assert.equal(fs.statSync(path.join(md, sub)).mode & 0o777, 0o700, sub);
    }
    assert.deepEqual(fs.readdirSync(path.join(md, 'tmp')), []);
    const files = fs.readdirSync(path.join(md, 'new'));
    assert.equal(files.length, 1);
    const file = path.join(md, 'new', files[0]);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    const content = fs.readFileSync(file, 'utf8');
    assert.equal(
      content,
      'Return-Path: <s@x.example>\nDelivered-To: alice@example.com\nSubject: hi\n\nline one\nline two\n',
    );
    assert.ok(files[0].endsWith(`,S=${Buffer.byteLength(content)}`));
    // The reply may reach the sender in a DSN: no path in it.
    assert.ok(!r.reply.includes(root));

    const again = await deliverToMaildir({
      template: `${root}/%d/%u`,
      address: 'alice@example.com',
      sender: '',
      body: message,
    });
    assert.equal(again.outcome, 'delivered');
    assert.equal(fs.readdirSync(path.join(md, 'new')).length, 2);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('deliverToMaildir: a traversal attempt stays under the base directory', async () => {
  const root = tmpRoot();
  try {
    const r = await deliverToMaildir({
      template: `${root}/box/%u`,
      address: '../../escape@example.com',
      sender: '',
      body: message,
    });
    assert.equal(r.outcome, 'delivered');
    assert.deepEqual(fs.readdirSync(root), ['box']);
    assert.deepEqual(fs.readdirSync(path.join(root, 'box')), ['%2E.%2F..%2Fescape']);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('deliverToMaildir: a file where the Maildir should be is temporary 4.3.0, nothing left behind', async () => {
  const root = tmpRoot();
  try {
    fs.writeFileSync(path.join(root, 'alice'), 'not a directory');
    const r = await deliverToMaildir({
      template: `${root}/%u/Maildir`,
      address: 'alice@example.com',
      sender: '',
      body: message,
    });
    assert.deepEqual([r.outcome, r.status, r.reply], ['temporary', '4.3.0', 'mailbox unavailable']);
    assert.ok(r.detail?.includes(root), r.detail ?? '');
    assert.deepEqual(fs.readdirSync(root), ['alice']);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('classifyFsError: quota, full disk, permissions, names', () => {
  const err = (code: string) => Object.assign(new Error(code), { code });
  const table: Array<[string, string, string]> = [
    ['EDQUOT', 'temporary', '4.2.2'],
    ['ENOSPC', 'temporary', '4.3.1'],
    ['EACCES', 'temporary', '4.3.0'],
    ['EPERM', 'temporary', '4.3.0'],
    ['EROFS', 'temporary', '4.3.0'],
    ['EIO', 'temporary', '4.3.0'],
    ['ENAMETOOLONG', 'permanent', '5.1.3'],
  ];
  for (const [code, outcome, status] of table) {
    const r = classifyFsError(err(code), '/m');
    assert.deepEqual([r.outcome, r.status], [outcome, status], code);
  }
  assert.equal(classifyFsError(new Error('no code'), '/m').outcome, 'temporary');
});
