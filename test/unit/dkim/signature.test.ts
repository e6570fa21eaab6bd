// DKIM-Signature fields made by signature.ts, checked with mailauth through verify.ts (relaxed/relaxed,
// rsa-sha256 and ed25519-sha256, From over-signed).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { splitMessage } from '../../../src/dkim/canon.ts';
import { type DkimAlgorithm, dnsRecord, generateKey, loadPrivateKey } from '../../../src/dkim/keys.ts';
import { dkimSignatureField, headerList, signMessage, type SigningKey } from '../../../src/dkim/signature.ts';
import { verifyDkim } from '../../../src/dkim/verify.ts';
import { DnsLookupError } from '../../../src/dkim/resolver-adapter.ts';

const HEADERS = ['From', 'To', 'Cc', 'Subject', 'Date', 'Message-ID', 'MIME-Version', 'Content-Type'];
const NOW = new Date('2026-11-28T12:00:00Z');

function keyPair(algorithm: DkimAlgorithm, domain = 'example.com', selector = 'sel') {
  const g = generateKey(algorithm);
  const key = loadPrivateKey(g.privateKey, algorithm);
  assert.ok(key);
  const signing: SigningKey = { domain, selector, algorithm, key };
  const record = dnsRecord(domain, selector, algorithm, g.publicKey);
  // A mailauth-style lookup serving just this record; every other name does not exist.
  const resolver = async (name: string, rrtype: string): Promise<unknown> => {
    if (name === record.name && rrtype === 'TXT') return [record.strings];
    throw new DnsLookupError(`${name} not found`, 'ENOTFOUND', name);
  };
  return { signing, record, resolver };
}

const msg = (s: string) => Buffer.from(s, 'latin1');
const MESSAGE =
  'From: "Alice A." <alice@example.com>\r\n' +
  'To: bob@example.org\r\n' +
  'Subject: a subject\r\n  folded   with   spaces  \r\n' +
  'Date: Sat, 28 Nov 2026 12:00:00 +0000\r\n' +
  'Message-ID: <1@example.com>\r\n' +
  'X-Not-Signed: yes\r\n' +
  '\r\n' +
  'Hello  Bob, \r\n\r\ntrailing lines follow\r\n\r\n\r\n';

describe('headerList', () => {
  const headers = splitMessage(msg('From: a@x\r\nReceived: 1\r\nTo: b@x\r\nTo: c@x\r\nSubject: s\r\n\r\n')).headers;
  test('each configured name once per instance, From twice (over-signed, RFC 6376 §8.15)', () => {
    assert.deepEqual(headerList(headers, ['From', 'To', 'Subject', 'Date']), ['from', 'from', 'to', 'to', 'subject']);
  });
  test('From is signed even when the configuration forgets it (RFC 6376 §5.4)', () => {
    assert.deepEqual(headerList(headers, ['subject', 'SUBJECT']), ['from', 'from', 'subject']);
  });
  test('names that cannot be field names are ignored', () => {
    assert.deepEqual(headerList(headers, ['from', 'to:subject', '', 'sub ject', 'to']), ['from', 'from', 'to', 'to']);
  });
});

for (const algorithm of ['rsa-sha256', 'ed25519-sha256'] as const) {
  describe(`sign and verify: ${algorithm}`, () => {
    const { signing, resolver } = keyPair(algorithm);
    const signed = signMessage(msg(MESSAGE), signing, { signedHeaders: HEADERS, now: NOW });
    const text = Buffer.from(signed).toString('latin1');

    test('the field has the expected tags and lines of at most 78 octets', () => {
      const field = text.slice(0, text.indexOf('\r\nFrom:'));
      const flat = field.replace(/\r\n[ \t]+/g, ' ');
      assert.match(flat, new RegExp(`^DKIM-Signature: v=1; a=${algorithm}; c=relaxed/relaxed; d=example.com; s=sel; t=${NOW.getTime() / 1000}; h=from:from:to:subject:date:message-id; bh=[^;]+; b=`));
      assert.doesNotMatch(flat, /x=/); // no expiry by default
      for (const line of field.split('\r\n')) assert.ok(line.length <= 78, line);
      assert.ok(text.endsWith(MESSAGE)); // prepended, the message itself untouched
    });

    test('mailauth verifies it', async () => {
      const [r] = await verifyDkim(signed, resolver, { now: NOW });
      assert.equal(r.result, 'pass', r.comment);
      assert.equal(r.domain, 'example.com');
      assert.equal(r.selector, 'sel');
      assert.equal(r.algorithm, algorithm);
    });

    test('relaxed: refolding, whitespace changes and trailing empty lines still pass', async () => {
      const changed = text
        .replace('Subject: a subject\r\n  folded   with   spaces  ', 'SUBJECT:a subject folded\twith spaces')
        .replace('Hello  Bob, \r\n', 'Hello Bob,\r\n')
        .concat('\r\n\r\n');
      const [r] = await verifyDkim(msg(changed), resolver, { now: NOW });
      assert.equal(r.result, 'pass', r.comment);
    });

    test('a changed body does not pass', async () => {
      // mailauth, like OpenDKIM, says neutral "body hash did not verify" (RFC 6376 §6.1.3 is a PERMFAIL).
      const [r] = await verifyDkim(msg(text.replace('Hello', 'Jello')), resolver, { now: NOW });
      assert.notEqual(r.result, 'pass');
      assert.match(r.comment, /body hash/);
    });

    test('a changed signed field fails; an unsigned one does not matter', async () => {
      assert.equal((await verifyDkim(msg(text.replace('a subject', 'another')), resolver, { now: NOW }))[0].result, 'fail');
      assert.equal((await verifyDkim(msg(text.replace('X-Not-Signed: yes', 'X-Not-Signed: no')), resolver, { now: NOW }))[0].result, 'pass');
    });

    test('a second From added anywhere breaks it (over-signing)', async () => {
      const top = text.replace('\r\nFrom:', '\r\nFrom: mallory@evil.example\r\nFrom:');
      assert.equal((await verifyDkim(msg(top), resolver, { now: NOW }))[0].result, 'fail');
      const bottom = text.replace('X-Not-Signed: yes\r\n', 'X-Not-Signed: yes\r\nFrom: mallory@evil.example\r\n');
      assert.equal((await verifyDkim(msg(bottom), resolver, { now: NOW }))[0].result, 'fail');
    });

    // A message with no blank line at all is left to the dkimpy interop test: mailauth finds no header end in it.
    test('an empty body', async () => {
      for (const m of ['From: a@example.com\r\nSubject: empty\r\n\r\n', 'From: a@example.com\r\nSubject: empty\r\n\r\n\r\n\r\n']) {
        const s = signMessage(msg(m), signing, { signedHeaders: HEADERS, now: NOW });
        const [r] = await verifyDkim(s, resolver, { now: NOW });
        assert.equal(r.result, 'pass', `${JSON.stringify(m)}: ${r.comment}`);
      }
    });

    test('a key that is not in DNS is "no key" (neutral), not a pass', async () => {
      const other = keyPair(algorithm, 'example.com', 'other');
      const [r] = await verifyDkim(signed, other.resolver, { now: NOW });
      assert.equal(r.result, 'neutral');
    });
  });
}

test('x= when asked: expireAfter seconds after t=', () => {
  const { signing } = keyPair('ed25519-sha256');
  const field = dkimSignatureField(msg(MESSAGE), signing, { signedHeaders: HEADERS, now: NOW, expireAfter: 3600 });
  const t = NOW.getTime() / 1000;
  assert.match(field.replace(/\r\n\s+/g, ' '), new RegExp(`t=${t}; x=${t + 3600};`));
});

test('8-bit header octets (RFC 6532) are signed as they are', async () => {
  const { signing, resolver } = keyPair('rsa-sha256');
  const m = Buffer.concat([msg('From: a@example.com\r\nSubject: '), Buffer.from('café ☕', 'utf8'), msg('\r\n\r\nbody\r\n')]);
  const [r] = await verifyDkim(signMessage(m, signing, { signedHeaders: HEADERS, now: NOW }), resolver, { now: NOW });
  assert.equal(r.result, 'pass', r.comment);
});

test('verifyDkim: a message without signature gives no entries', async () => {
  const { resolver } = keyPair('ed25519-sha256');
  assert.deepEqual(await verifyDkim(msg(MESSAGE), resolver), []);
});
