// DKIM interop with an independent implementation (dkimpy, Debian package python3-dkim, run by /usr/bin/python3):
// Tern's signatures verify there, dkimpy's verify in Tern through a loopback DNS server; and `tern dkim`
// offline and through a daemon's control socket, on PGlite or PostgreSQL (TERN_TEST_DATABASE_URL).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { createPublicKey } from 'node:crypto';
import { defaults } from '../../src/config/defaults.ts';
import { serveControl } from '../../src/control/server.ts';
import { lockDataDir } from '../../src/control/lock.ts';
import { dkimControlHandlers } from '../../src/dkim/control.ts';
import { type DkimAlgorithm, dnsRecord, generateKey, loadPrivateKey } from '../../src/dkim/keys.ts';
import { signMessage } from '../../src/dkim/signature.ts';
import { verifyDkim } from '../../src/dkim/verify.ts';
import { createResolver } from '../../src/dns/resolver.ts';
import { createLogger } from '../../src/lib/log.ts';
import { migrate } from '../../src/store/migrate.ts';
import { openStore } from '../../src/store/open.ts';
import { createTestDatabase, tempDir } from '../support/db.ts';
import { startDnsServer, type TestDnsServer, txt } from '../support/dns-server.ts';
import { runCli, testEnv } from '../support/server.ts';

const PYTHON = '/usr/bin/python3'; // python3-dkim installs for the system Python, not a pyenv one on PATH

function python(script: string, args: string[], stdin: Uint8Array): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, ['-c', script, ...args]);
    const out: Buffer[] = [];
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', reject);
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout: Buffer.concat(out), stderr });
    });
    child.stdin.end(stdin);
  });
}

// dkimpy's verifier with a dnsfunc that knows one record (argv: name, record text). Prints pass or fail.
const DKIMPY_VERIFY = `
import sys, dkim
name, record = sys.argv[1].encode(), sys.argv[2].encode()
def dnsfunc(qname, timeout=5):
    return record if qname.rstrip(b'.').lower() == name else None
d = dkim.DKIM(sys.stdin.buffer.read())
ok = d.verify(dnsfunc=dnsfunc)
print('pass' if ok else 'fail')
`;

// dkimpy's signer (argv: selector, domain, algorithm, key, canonicalisation). Writes the signed message.
const DKIMPY_SIGN = `
import sys, dkim
sel, dom, alg, key, canon = (a.encode() for a in sys.argv[1:6])
msg = sys.stdin.buffer.read()
sig = dkim.sign(msg, sel, dom, key, canonicalize=tuple(canon.split(b'/')), signature_algorithm=alg,
                include_headers=[b'from', b'to', b'subject', b'date'])
sys.stdout.buffer.write(sig + msg)
`;

const MESSAGE = Buffer.from(
  'From: "Alice A." <alice@example.com>\r\n' +
    'To: bob@example.org\r\n' +
    'Subject: interop\r\n   folded  line \r\n' +
    'Date: Sat, 28 Nov 2026 12:00:00 +0000\r\n' +
    'Message-ID: <interop@example.com>\r\n' +
    'MIME-Version: 1.0\r\n' +
    'Content-Type: text/plain; charset=utf-8\r\n' +
    '\r\n' +
    'Hello  Bob, \r\n\r\n. a dot line\r\ntrailing whitespace \t\r\n\r\n\r\n',
  'latin1',
);
const HEADERS = ['From', 'To', 'Cc', 'Subject', 'Date', 'Message-ID', 'MIME-Version', 'Content-Type'];

function key(algorithm: DkimAlgorithm, selector: string) {
  const g = generateKey(algorithm);
  const k = loadPrivateKey(g.privateKey, algorithm);
  assert.ok(k);
  return { g, signing: { domain: 'example.com', selector, algorithm, key: k }, record: dnsRecord('example.com', selector, algorithm, g.publicKey) };
}

describe('Tern signs, dkimpy verifies', () => {
  for (const algorithm of ['rsa-sha256', 'ed25519-sha256'] as const) {
    test(algorithm, async () => {
      const { signing, record } = key(algorithm, 'tern1');
      const cases = [MESSAGE, Buffer.from('From: a@example.com\r\nSubject: empty body\r\n\r\n'), Buffer.from('From: a@example.com\r\nSubject: no body\r\n')];
      for (const m of cases) {
        const signed = signMessage(m, signing, { signedHeaders: HEADERS, now: new Date() });
        const r = await python(DKIMPY_VERIFY, [record.name, record.value], signed);
        assert.equal(r.stdout.toString().trim(), 'pass', `${m.toString().split('\r\n')[1]}: ${r.stderr}`);
        // And a tampered copy fails there too, so "pass" means something.
        const bad = await python(DKIMPY_VERIFY, [record.name, record.value], Buffer.from(Buffer.from(signed).toString('latin1').replace('Subject: ', 'Subject: X'), 'latin1'));
        assert.equal(bad.stdout.toString().trim(), 'fail');
      }
    });
  }
});

// Every header of the default signed set present, so h= is long enough to be folded (FWS between names).
const FULL = Buffer.from(
  'From: alice@example.com\r\nTo: bob@example.org\r\nCc: carol@example.org\r\nSubject: all of them\r\n' +
    'Date: Sat, 28 Nov 2026 12:00:00 +0000\r\nMessage-ID: <full@example.com>\r\nReply-To: alice@example.com\r\n' +
    'In-Reply-To: <0@example.org>\r\nReferences: <0@example.org>\r\nMIME-Version: 1.0\r\n' +
    'Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n' +
    'List-Unsubscribe: <https://example.com/u/1>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n\r\nbody\r\n',
);

test('the default signed-header set, every field present: dkimpy and mailauth verify', async () => {
  const { signing, record } = key('ed25519-sha256', 'full');
  const signed = signMessage(FULL, signing, { signedHeaders: defaults.dkim.signedHeaders, now: new Date() });
  const field = Buffer.from(signed).toString('latin1').split('\r\nFrom:')[0];
  assert.match(field, /h=from:from:to:cc:subject:date:message-id:[^;]*\r\n\t[^;]*;/); // folded inside h=
  assert.match(field.replace(/\r\n\s+/g, ' '), /list-unsubscribe:\s?list-unsubscribe-post;/);
  const r = await python(DKIMPY_VERIFY, [record.name, record.value], signed);
  assert.equal(r.stdout.toString().trim(), 'pass', r.stderr);
  const lookup = async () => [record.strings];
  assert.equal((await verifyDkim(signed, lookup))[0].result, 'pass');
});

describe('dkimpy signs, Tern verifies (loopback DNS)', () => {
  let dns: TestDnsServer;
  let resolver: ReturnType<typeof createResolver>;
  const keys = {
    rsa: key('rsa-sha256', 'py-rsa'),
    ed: key('ed25519-sha256', 'py-ed'),
  };
  before(async () => {
    dns = await startDnsServer({
      [keys.rsa.record.name]: [txt(...keys.rsa.record.strings)], // 2048-bit: several character-strings
      [keys.ed.record.name]: [txt(...keys.ed.record.strings)],
      'broken._domainkey.example.com': { behaviour: 'servfail' },
    });
    resolver = createResolver({ servers: [dns.server], timeout: 500, attempts: 2 });
  });
  after(async () => {
    resolver.close();
    await dns?.close();
  });

  const variants: Array<['rsa' | 'ed', string]> = [
    ['rsa', 'relaxed/relaxed'],
    ['rsa', 'simple/simple'],
    ['ed', 'relaxed/relaxed'],
    ['ed', 'simple/simple'],
  ];
  for (const [which, canon] of variants) {
    test(`${which} ${canon}`, async () => {
      const k = keys[which];
      // dkimpy takes RSA keys as PEM (PKCS#8 since 1.1) and Ed25519 keys as the base64 32-octet seed.
      const privateKey =
        which === 'rsa'
          ? k.g.privateKey
          : Buffer.from(String(k.signing.key.export({ format: 'jwk' }).d), 'base64url').toString('base64');
      const r = await python(DKIMPY_SIGN, [k.signing.selector, 'example.com', k.signing.algorithm, privateKey, canon], MESSAGE);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout.toString('latin1'), /^DKIM-Signature:/);
      const [result] = await verifyDkim(r.stdout, resolver);
      assert.equal(result.result, 'pass', result.comment);
      assert.equal(result.domain, 'example.com');
      assert.equal(result.selector, k.signing.selector);
      // The key came through Tern's resolver from the loopback server.
      assert.ok(dns.queries.some((q) => q.name === k.record.name && q.type === 'TXT'));
    });
  }

  test('a key not published is "no key", a SERVFAIL a temperror, a tampered message does not pass', async () => {
    const stray = key('ed25519-sha256', 'unpublished');
    const privateKey = Buffer.from(String(stray.signing.key.export({ format: 'jwk' }).d), 'base64url').toString('base64');
    const r = await python(DKIMPY_SIGN, ['unpublished', 'example.com', 'ed25519-sha256', privateKey, 'relaxed/relaxed'], MESSAGE);
    const [noKey] = await verifyDkim(r.stdout, resolver);
    assert.equal(noKey.result, 'neutral');
    assert.match(noKey.comment, /no key/);
    // The key's name answers SERVFAIL: a temporary error, so a receiver may try again later (RFC 6376 §6.1.2).
    const broken = await python(DKIMPY_SIGN, ['broken', 'example.com', 'ed25519-sha256', privateKey, 'relaxed/relaxed'], MESSAGE);
    const [temp] = await verifyDkim(broken.stdout, resolver);
    assert.equal(temp.result, 'temperror');
    assert.match(temp.comment, /ESERVFAIL/);
    const ok = await python(DKIMPY_SIGN, ['py-rsa', 'example.com', 'rsa-sha256', keys.rsa.g.privateKey, 'relaxed/relaxed'], MESSAGE);
    const tampered = Buffer.from(ok.stdout.toString('latin1').replace('Hello', 'Jello'), 'latin1');
    assert.notEqual((await verifyDkim(tampered, resolver))[0].result, 'pass');
  });
});

describe('tern dkim (CLI)', () => {
  let dataDir: string;
  let env: Record<string, string>;
  let drop: () => Promise<void>;
  const cli = async (...args: string[]) => {
    const r = await runCli(['dkim', ...args], env);
    return { ...r, out: r.stdout.trim() };
  };

  before(async () => {
    dataDir = tempDir();
    const db = await createTestDatabase();
    drop = db.drop;
    env = testEnv(dataDir, db.url);
  });
  after(async () => {
    await drop?.();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  test('offline: generate, list, activate, dns, retire', async () => {
    const gen = await cli('generate', 'example.com', '--selector', 'one', '--algorithm', 'ed25519');
    assert.equal(gen.code, 0, gen.stderr);
    assert.match(gen.out, /generated ed25519-sha256 key for example.com, selector one \(ready\)/);
    assert.match(gen.out, /one\._domainkey\.example\.com\. IN TXT \( "v=DKIM1; k=ed25519; p=[A-Za-z0-9+/=]+" \)/);
    assert.match(gen.out, /tern dkim activate example.com one/);

    const json = await cli('generate', 'example.com', '--json');
    assert.equal(json.code, 0, json.stderr);
    const rsa = JSON.parse(json.out) as { selector: string; algorithm: string; record: { strings: string[]; value: string } };
    assert.match(rsa.selector, /^tern\d{6}$/);
    assert.equal(rsa.algorithm, 'rsa-sha256');
    assert.ok(rsa.record.strings.length > 1 && rsa.record.strings.every((s) => s.length <= 255));
    // The published p= is a usable RSA public key.
    const p = /p=([^;]+)$/.exec(rsa.record.value)?.[1] ?? '';
    assert.equal(createPublicKey({ key: Buffer.from(p, 'base64'), format: 'der', type: 'spki' }).asymmetricKeyDetails?.modulusLength, 2048);

    assert.equal((await cli('activate', 'example.com', 'one')).out, 'example.com selector one: active');
    const list = await cli('list');
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.out, /^domain\s+selector\s+algorithm\s+state\s+created$/m);
    assert.match(list.out, /^example\.com\s+one\s+ed25519-sha256\s+active\s+\d{4}-\d\d-\d\d$/m);
    assert.match(list.out, new RegExp(`^example\\.com\\s+${rsa.selector}\\s+rsa-sha256\\s+ready`, 'm'));

    const dnsOut = await cli('dns', 'example.com');
    assert.match(dnsOut.out, /^; example.com selector one \(ed25519-sha256, active\)$/m);
    assert.match(dnsOut.out, new RegExp(`name:  ${rsa.selector}\\._domainkey\\.example\\.com`));

    // Rotation: activate the RSA key, retire the old one; it stays listed so its record can be removed later.
    assert.equal((await cli('activate', 'example.com', rsa.selector)).code, 0);
    const retired = await cli('retire', 'example.com', 'one');
    assert.match(retired.out, /one: retired \d{4}-\d\d-\d\d/);
    assert.match((await cli('list', 'example.com')).out, /one\s+ed25519-sha256\s+retired/);
    assert.doesNotMatch((await cli('dns', 'example.com')).out, /selector one/);
  });

  test('usage and operator errors: exit codes and one-line messages', async () => {
    const none = await cli();
    assert.equal(none.code, 64);
    assert.match(none.stdout, /usage: tern dkim/);
    assert.equal((await cli('help')).code, 0);
    const missing = await cli('activate', 'example.com');
    assert.equal(missing.code, 64);
    assert.match(missing.stderr, /usage: tern dkim activate DOMAIN SELECTOR/);
    const unknown = await cli('activate', 'example.com', 'nope');
    assert.equal(unknown.code, 65);
    assert.match(unknown.stderr, /^tern: example.com has no key with selector nope$/m);
    assert.equal((await cli('generate', 'example.com', '--algorithm', 'dsa')).code, 65);
    assert.equal((await cli('frobnicate')).code, 64);
    assert.equal((await cli('list', '--selector', 'x')).code, 64);
  });

  test('through a daemon: requests go over the control socket while it holds the data directory', async () => {
    // What `tern serve` does for the dkim module: hold the lock, open the store, serve dkim.* on the socket.
    const lock = await lockDataDir(dataDir);
    const store = await openStore({ url: env.TERN_DATABASE_URL, dataDir, poolSize: 2 });
    await migrate(store);
    let invalidated = 0;
    const handlers = dkimControlHandlers(store, () => invalidated++);
    const seen: string[] = [];
    serveControl(
      lock.server,
      (req) => {
        seen.push(req.cmd);
        const h = handlers[req.cmd];
        return h ? h(req as unknown as Record<string, unknown>) : Promise.reject(new Error(`unknown control command ${req.cmd}`));
      },
      createLogger({ format: 'json', level: 'error', write: () => {} }),
    );
    try {
      const gen = await cli('generate', 'example.net', '--selector', 'd1', '--algorithm', 'ed25519', '--activate');
      assert.equal(gen.code, 0, gen.stderr);
      assert.match(gen.out, /selector d1 \(active\)/);
      assert.match((await cli('list', 'example.net')).out, /d1\s+ed25519-sha256\s+active/);
      assert.match((await cli('dns', 'example.net', 'd1')).out, /d1\._domainkey\.example\.net\. IN TXT/);
      const bad = await cli('retire', 'example.net', 'nope');
      assert.equal(bad.code, 65);
      assert.match(bad.stderr, /no key with selector nope/);
      assert.deepEqual(seen, ['dkim.generate', 'dkim.list', 'dkim.dns', 'dkim.retire']);
      assert.equal(invalidated, 1); // the activating generate; the signer reloads at its next message
    } finally {
      await store.close();
      await lock.release();
    }
  });
});
