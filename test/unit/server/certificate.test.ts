// The TLS certificate: self-signed creation, reuse and renewal, operator files, and a real handshake on both runtimes.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { ConfigError } from '../../../src/config/errors.ts';
import { type LoadedCertificate, loadOrCreateCertificate } from '../../../src/server/certificate.ts';

const root = mkdtempSync(path.join(os.tmpdir(), 'tern-cert-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => path.join(root, String(n++));
const selfSigned = (dataDir: string, hostname = 'mx.test.example', now?: () => Date) =>
  loadOrCreateCertificate({ certFile: '', keyFile: '', dataDir, hostname, now });

/** A TLS server with the certificate on 127.0.0.1 and a client that verifies it against itself. */
async function handshake(
  c: LoadedCertificate,
  servername: string,
): Promise<{ authorized: boolean; fingerprint: string; protocol: string | null }> {
  tls.createSecureContext({ key: c.key, cert: c.cert }); // must not throw
  const server = tls.createServer({ key: c.key, cert: c.cert }, (s) => s.end('220 ok\r\n'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  try {
    return await new Promise((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port, servername, ca: [c.cert] }, () => {
        const result = {
          authorized: socket.authorized,
          fingerprint: socket.getPeerCertificate().fingerprint256,
          protocol: socket.getProtocol(),
        };
        socket.on('data', () => {
          socket.end();
          resolve(result);
        });
      });
      socket.on('error', reject);
    });
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

test('first start makes a self-signed pair under dataDir/tls, key mode 0600', async () => {
  const dataDir = fresh();
  const c = await selfSigned(dataDir);
  assert.equal(c.selfSigned, true);
  assert.equal(c.path, path.join(dataDir, 'tls', 'self-signed.crt'));
  assert.equal(readFileSync(c.path, 'utf8'), c.cert);
  const keyPath = path.join(dataDir, 'tls', 'self-signed.key');
  assert.equal(readFileSync(keyPath, 'utf8'), c.key);
  assert.equal(statSync(keyPath).mode & 0o777, 0o600);
  assert.match(c.key, /^-----BEGIN PRIVATE KEY-----\n/);
  assert.match(c.cert, /^-----BEGIN CERTIFICATE-----\n/);
  assert.match(c.fingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);

  const x = new X509Certificate(c.cert);
  assert.equal(c.fingerprint, x.fingerprint256);
  assert.match(x.subject, /CN=mx\.test\.example/);
  const san = x.subjectAltName ?? '';
  for (const name of ['DNS:mx.test.example', 'DNS:localhost', 'IP Address:127.0.0.1']) {
    assert.ok(san.includes(name), san);
  }
  assert.match(san, /IP Address:(::1|0:0:0:0:0:0:0:1)/);
  assert.equal(x.ca, false);
  const days = (new Date(x.validTo).getTime() - Date.now()) / 86_400_000;
  assert.ok(days > 360 && days < 370, `valid for ${days} days`);
  assert.equal(c.notAfter.getTime(), new Date(x.validTo).getTime());
});

test('a real TLS handshake on 127.0.0.1 verifies against the certificate (by name and by localhost)', async () => {
  const c = await selfSigned(fresh());
  for (const servername of ['mx.test.example', 'localhost']) {
    const r = await handshake(c, servername);
    assert.equal(r.authorized, true, servername);
    assert.equal(r.fingerprint, c.fingerprint);
    assert.match(r.protocol ?? '', /^TLSv1\.[23]$/);
  }
});

test('later starts reuse the stored pair', async () => {
  const dataDir = fresh();
  const first = await selfSigned(dataDir);
  const again = await selfSigned(dataDir);
  assert.equal(again.fingerprint, first.fingerprint);
  assert.equal(again.key, first.key);
});

test('near expiry or after a hostname change: a new certificate, the same key', async () => {
  const dataDir = fresh();
  const first = await selfSigned(dataDir);
  const spki = (pem: string) =>
    new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' }).toString('hex');

  const later = () => new Date(Date.now() + 340 * 86_400_000); // within 30 days of expiry
  const renewed = await selfSigned(dataDir, 'mx.test.example', later);
  assert.notEqual(renewed.fingerprint, first.fingerprint);
  assert.equal(renewed.key, first.key, 'the key is kept so SPKI pins (DANE 3 1 1) survive');
  assert.equal(spki(renewed.cert), spki(first.cert));
  assert.ok(renewed.notAfter.getTime() > first.notAfter.getTime());

  const renamed = await selfSigned(dataDir, 'new-name.test.example');
  assert.notEqual(renamed.fingerprint, renewed.fingerprint);
  assert.ok((new X509Certificate(renamed.cert).subjectAltName ?? '').includes('DNS:new-name.test.example'));
  assert.equal((await handshake(renamed, 'new-name.test.example')).authorized, true);
});

test('a damaged key or certificate file is replaced, and a loosened key mode is tightened', async () => {
  const dataDir = fresh();
  const first = await selfSigned(dataDir);
  const keyPath = path.join(dataDir, 'tls', 'self-signed.key');
  writeFileSync(first.path, 'garbage');
  chmodSync(keyPath, 0o644);
  const fixed = await selfSigned(dataDir);
  assert.equal(fixed.key, first.key);
  assert.notEqual(fixed.fingerprint, first.fingerprint);
  assert.equal(statSync(keyPath).mode & 0o777, 0o600);

  writeFileSync(keyPath, 'not a key');
  const rekeyed = await selfSigned(dataDir);
  assert.notEqual(rekeyed.key, first.key);
  assert.equal((await handshake(rekeyed, 'localhost')).authorized, true);
});

test("operator's PEM files are used as they are", async () => {
  const made = await selfSigned(fresh(), 'files.test.example');
  const dir = fresh();
  rmSync(dir, { recursive: true, force: true });
  const certFile = `${dir}-fullchain.pem`;
  const keyFile = `${dir}-privkey.pem`;
  const other = await selfSigned(fresh(), 'intermediate.test.example');
  writeFileSync(certFile, made.cert + other.cert); // leaf first, then a chain certificate
  writeFileSync(keyFile, made.key);
  const c = await loadOrCreateCertificate({ certFile, keyFile, dataDir: fresh(), hostname: 'ignored.example' });
  assert.equal(c.selfSigned, false);
  assert.equal(c.path, certFile);
  assert.equal(c.fingerprint, made.fingerprint, 'fingerprint of the leaf');
  assert.equal(c.key, made.key);
  assert.equal(c.cert, made.cert + other.cert);
  assert.equal((await handshake(c, 'files.test.example')).authorized, true);
});

test('unreadable, malformed or mismatched operator files are ConfigErrors naming the file', async () => {
  const a = await selfSigned(fresh());
  const b = await selfSigned(fresh());
  const dir = fresh();
  const certFile = `${dir}.crt`;
  const keyFile = `${dir}.key`;
  const junk = `${dir}.junk`;
  writeFileSync(certFile, a.cert);
  writeFileSync(keyFile, b.key);
  writeFileSync(junk, 'hello');
  const load = (c: string, k: string) =>
    loadOrCreateCertificate({ certFile: c, keyFile: k, dataDir: fresh(), hostname: 'x.example' });
  const cases: Array<[string, string, RegExp]> = [
    ['/no/such.crt', keyFile, /^tls\.cert_file \/no\/such\.crt: cannot read: /],
    [certFile, '/no/such.key', /^tls\.key_file \/no\/such\.key: cannot read: /],
    [junk, keyFile, /^tls\.cert_file .*\.junk: not a PEM certificate$/],
    [certFile, junk, /^tls\.key_file .*\.junk: not an unencrypted PEM private key$/],
    [certFile, keyFile, /^tls\.key_file .*\.key is not the key of the certificate in .*\.crt$/],
    [certFile, '', /^tls\.cert_file and tls\.key_file must be set together/],
  ];
  for (const [c, k, re] of cases) {
    await assert.rejects(load(c, k), (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.match(e.message, re);
      return true;
    });
  }
});
