// MTA-STS policies fetched from a real HTTPS server on 127.0.0.1 with certificates from a test CA made here,
// through a hand-made Resolver: caching, refresh, the fallbacks of RFC 8461 §3.3 / §5.1, and refusals.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createMtaSts, FAILED_FETCH_BACKOFF, MAX_AGE_CAP, type MtaStsOptions } from '../../../src/delivery/mta-sts.ts';
import type { DnsAnswer, DnsFailure, MxRecord, Resolver } from '../../../src/dns/types.ts';
import type { LogFields, Logger } from '../../../src/lib/log.ts';
import { loadX509 } from '../../../src/server/x509.ts';

// --- a test CA and leaf certificates (ECDSA P-256: quick to make, accepted by OpenSSL and rustls) --------

const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const DAY = 86_400_000;

interface Issued {
  certPem: string;
  keyPem: string;
}

async function newKeys(): Promise<CryptoKeyPair> {
  return await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify']) as unknown as CryptoKeyPair;
}

async function pkcs8Pem(key: CryptoKey): Promise<string> {
  const x509 = await loadX509();
  const der = await webcrypto.subtle.exportKey('pkcs8', key as unknown as webcrypto.CryptoKey);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

async function makeCa(name: string) {
  const x509 = await loadX509();
  const keys = await newKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: `CN=${name}`,
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + 7 * DAY),
    signingAlgorithm: EC,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert, keys, pem: cert.toString('pem') + '\n' };
}

async function makeLeaf(ca: Awaited<ReturnType<typeof makeCa>>, names: string[]): Promise<Issued> {
  const x509 = await loadX509();
  const keys = await newKeys();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: String(10 + names.length),
    subject: `CN=${names[0]}`,
    issuer: ca.cert.subject,
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + 7 * DAY),
    signingAlgorithm: EC,
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(names.map((value) => ({ type: 'dns' as const, value }))),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
    ],
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: await pkcs8Pem(keys.privateKey) };
}

// --- the policy hosts --------------------------------------------------------------------------------------

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
const routes = new Map<string, Handler>(); // by Host (policy host name)
const hits = new Map<string, number>();
const hit = (host: string) => hits.get(host) ?? 0;

const policy = (body: string, type = 'text/plain; charset=utf-8'): Handler => (_req, res) => {
  res.writeHead(200, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
};

function listen(issued: Issued): Promise<{ server: https.Server; port: number }> {
  const server = https.createServer({ key: issued.keyPem, cert: issued.certPem }, (req, res) => {
    const host = (req.headers.host ?? '').replace(/:\d+$/, '');
    hits.set(host, hit(host) + 1);
    const route = req.url === '/.well-known/mta-sts.txt' ? routes.get(host) : undefined;
    if (route) return route(req, res);
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('not found\n');
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port }))
  );
}

const DOMAINS = [
  'good.test',
  'testing.test',
  'changing.test',
  'short.test',
  'gone.test',
  'bad.test',
  'missing.test',
  'moved.test',
  'html.test',
  'huge.test',
  'slow.test',
  'chunked.test',
  'capped.test',
  'none.test',
  'flaky.test',
  'shared.test',
  'noaddr.test',
  'rogue.test',
  'otherwise.test',
];

// --- a hand-made Resolver -----------------------------------------------------------------------------------

class FakeResolver implements Resolver {
  txtRecords = new Map<string, DnsAnswer<string>>();
  unresolvable = new Set<string>();
  txtQueries = 0;
  fail = (error: DnsFailure): DnsAnswer<never> => ({ ok: false, error, message: error });
  mx(): Promise<DnsAnswer<MxRecord>> {
    return Promise.resolve(this.fail('nodata'));
  }
  addresses = new Map<string, string[]>();
  a(name: string): Promise<DnsAnswer<string>> {
    if (name.startsWith('mta-sts.') && !this.unresolvable.has(name)) {
      return Promise.resolve({ ok: true, records: this.addresses.get(name) ?? ['127.0.0.1'], ttl: 300 });
    }
    return Promise.resolve(this.fail('nxdomain'));
  }
  aaaa(): Promise<DnsAnswer<string>> {
    return Promise.resolve(this.fail('nodata'));
  }
  txt(name: string): Promise<DnsAnswer<string>> {
    this.txtQueries++;
    return Promise.resolve(this.txtRecords.get(name) ?? this.fail('nxdomain'));
  }
  setTxt(domain: string, ...records: string[]) {
    this.txtRecords.set(`_mta-sts.${domain}`, { ok: true, records, ttl: 300 });
  }
}

let dir = '';
let caFile = '';
let good: { server: https.Server; port: number };
let rogue: { server: https.Server; port: number };

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'tern-mta-sts-'));
  const ca = await makeCa('Tern Test CA');
  const otherCa = await makeCa('Someone Else CA');
  caFile = path.join(dir, 'ca.pem');
  // Two certificates in the file, ours second: every PEM block of delivery.caFile must count.
  writeFileSync(caFile, (await makeCa('Unrelated CA')).pem + ca.pem);
  good = await listen(await makeLeaf(ca, DOMAINS.map((d) => `mta-sts.${d}`)));
  rogue = await listen(await makeLeaf(otherCa, ['mta-sts.rogue.test']));
});

after(async () => {
  await Promise.all([good, rogue].map((s) => new Promise((r) => s?.server.close(r))));
  rmSync(dir, { recursive: true, force: true });
});

function setup(over: Partial<MtaStsOptions> = {}) {
  const resolver = new FakeResolver();
  let clock = Date.UTC(2026, 2, 10);
  const lines: Array<{ event: string; fields: LogFields }> = [];
  const record = (event: string, fields: LogFields = {}) => void lines.push({ event, fields });
  const log: Logger = {
    debug: record,
    info: record,
    warn: record,
    error: record,
    child: () => log,
    enabled: () => true,
  };
  const sts = createMtaSts({ resolver, caFile, port: good.port, timeoutMs: 3000, now: () => clock, log, ...over });
  /** Why fetches for a domain failed, from the warnings an operator would see (§3.3). */
  const reasons = (domain: string) =>
    lines.filter((l) => l.event === 'mta-sts.fetch-failed' && l.fields.domain === domain).map((l) =>
      String(l.fields.reason)
    );
  return { resolver, sts, advance: (ms: number) => (clock += ms), reasons };
}

const ENFORCE = 'version: STSv1\r\nmode: enforce\r\nmx: mail.good.test\r\nmx: *.backup.good.test\r\nmax_age: 86400\r\n';

// --- tests --------------------------------------------------------------------------------------------------

test('a valid policy is fetched once and then served from the cache', async () => {
  routes.set('mta-sts.good.test', policy(ENFORCE));
  const { resolver, sts } = setup();
  resolver.setTxt('good.test', 'v=STSv1; id=20260310T1;');
  const expected = { mode: 'enforce', mx: ['mail.good.test', '*.backup.good.test'], maxAge: 86400, id: '20260310T1' };
  assert.deepEqual(await sts.policyFor('good.test'), expected);
  const before = hit('mta-sts.good.test');
  assert.deepEqual(await sts.policyFor('GOOD.test.'), expected, 'the domain is matched case-insensitively');
  assert.equal(hit('mta-sts.good.test'), before, 'no second fetch while the id is unchanged');
  assert.equal(resolver.txtQueries, 2, 'the TXT id is checked on every call (§5.1)');
});

test('testing mode, and mode none without mx lines', async () => {
  routes.set('mta-sts.testing.test', policy('version: STSv1\nmode: testing\nmx: mx.testing.test\nmax_age: 600\n'));
  routes.set('mta-sts.none.test', policy('version: STSv1\nmode: none\nmax_age: 60\n'));
  const { resolver, sts } = setup();
  resolver.setTxt('testing.test', 'v=STSv1; id=t1');
  resolver.setTxt('none.test', 'v=STSv1; id=n1');
  assert.deepEqual(await sts.policyFor('testing.test'), {
    mode: 'testing',
    mx: ['mx.testing.test'],
    maxAge: 600,
    id: 't1',
  });
  assert.deepEqual(await sts.policyFor('none.test'), { mode: 'none', mx: [], maxAge: 60, id: 'n1' });
});

test('a new id in the TXT record triggers a new fetch', async () => {
  let version = 1;
  routes.set(
    'mta-sts.changing.test',
    (req, res) => policy(`version: STSv1\nmode: enforce\nmx: mx${version}.changing.test\nmax_age: 86400\n`)(req, res),
  );
  const { resolver, sts } = setup();
  resolver.setTxt('changing.test', 'v=STSv1; id=one');
  assert.deepEqual((await sts.policyFor('changing.test'))?.mx, ['mx1.changing.test']);
  version = 2;
  assert.deepEqual((await sts.policyFor('changing.test'))?.mx, ['mx1.changing.test'], 'same id: cached');
  resolver.setTxt('changing.test', 'v=STSv1; id=two');
  const p = await sts.policyFor('changing.test');
  assert.deepEqual(p?.mx, ['mx2.changing.test']);
  assert.equal(p?.id, 'two');
});

test('max_age ends the cached policy; a daily refresh renews it', async () => {
  let available = true;
  routes.set('mta-sts.short.test', (req, res) => {
    if (!available) {
      res.writeHead(500, { 'Content-Type': 'text/plain' });
      return res.end('oops');
    }
    policy('version: STSv1\nmode: enforce\nmx: mx.short.test\nmax_age: 172800\n')(req, res);
  });
  const { resolver, sts, advance } = setup();
  resolver.setTxt('short.test', 'v=STSv1; id=s1');
  assert.equal((await sts.policyFor('short.test'))?.mode, 'enforce');
  const n = hit('mta-sts.short.test');
  advance(DAY + 1000); // past the daily refresh point: fetched again, the same id
  assert.equal((await sts.policyFor('short.test'))?.mode, 'enforce');
  assert.equal(hit('mta-sts.short.test'), n + 1);
  // The refresh renewed max_age from its own time; now the host fails.
  available = false;
  advance(DAY + 1000); // refresh due; it fails; the policy is still within max_age (2 days from the refresh)
  assert.equal((await sts.policyFor('short.test'))?.mode, 'enforce', 'a failed refresh keeps a valid policy (§5.1)');
  advance(DAY); // beyond max_age: nothing valid remains
  assert.equal(await sts.policyFor('short.test'), null);
});

test('TXT record gone, unusable or unresolvable: a valid cached policy still applies', async () => {
  routes.set('mta-sts.gone.test', policy('version: STSv1\nmode: enforce\nmx: mx.gone.test\nmax_age: 3600\n'));
  const { resolver, sts, advance } = setup();
  resolver.setTxt('gone.test', 'v=STSv1; id=g1');
  assert.equal((await sts.policyFor('gone.test'))?.id, 'g1');
  resolver.txtRecords.delete('_mta-sts.gone.test'); // NXDOMAIN
  assert.equal((await sts.policyFor('gone.test'))?.id, 'g1');
  resolver.txtRecords.set('_mta-sts.gone.test', { ok: false, error: 'servfail', message: 'SERVFAIL' });
  assert.equal((await sts.policyFor('gone.test'))?.id, 'g1');
  resolver.setTxt('gone.test', 'v=STSv1; id=bad id!');
  assert.equal((await sts.policyFor('gone.test'))?.id, 'g1');
  advance(3600_000); // max_age over
  assert.equal(await sts.policyFor('gone.test'), null);
});

test('no TXT record and nothing cached: no policy, no fetch', async () => {
  const { sts } = setup();
  const n = hit('mta-sts.otherwise.test');
  assert.equal(await sts.policyFor('otherwise.test'), null);
  assert.equal(hit('mta-sts.otherwise.test'), n);
});

test('malformed TXT records mean no policy (§3.1)', async () => {
  routes.set('mta-sts.bad.test', policy(ENFORCE));
  const { resolver, sts } = setup();
  for (
    const records of [
      ['v=STSv1;'],
      ['v=STSv1; id='],
      ['v=STSv1; id=toolong0123456789012345678901234567'],
      ['v=STSv2; id=x1'],
      ['id=x1; v=STSv1'],
      ['v=STSv1; id=x1', 'v=STSv1; id=x2'], // two records: no policy
    ]
  ) {
    resolver.setTxt('bad.test', ...records);
    assert.equal(await sts.policyFor('bad.test'), null, JSON.stringify(records));
  }
  // Unrelated TXT records beside the one valid record are ignored.
  resolver.setTxt('bad.test', 'google-site-verification=abc', 'v=STSv1; id=ok1');
  assert.equal((await sts.policyFor('bad.test'))?.id, 'ok1');
});

test('refused fetches: malformed policy, 404, redirect, wrong media type, oversized body, no address', async () => {
  routes.set('mta-sts.bad.test', policy('version: STSv1\nmode: enforce\nmax_age: 600\n')); // no mx
  routes.set('mta-sts.moved.test', (_req, res) => {
    res.writeHead(301, { Location: 'https://mta-sts.good.test/.well-known/mta-sts.txt', 'Content-Type': 'text/plain' });
    res.end();
  });
  routes.set('mta-sts.html.test', policy(ENFORCE, 'text/html'));
  routes.set('mta-sts.huge.test', policy(ENFORCE + `x-pad: ${'p'.repeat(70_000)}\n`));
  const { resolver, sts, reasons } = setup();
  for (const d of ['bad.test', 'missing.test', 'moved.test', 'html.test', 'huge.test', 'noaddr.test']) {
    resolver.setTxt(d, 'v=STSv1; id=r1');
  }
  resolver.unresolvable.add('mta-sts.noaddr.test');
  const goodHits = hit('mta-sts.good.test');
  const expected: Record<string, RegExp> = {
    'bad.test': /^no mx$/,
    'missing.test': /^HTTP 404$/,
    'moved.test': /^HTTP 301: redirect refused/,
    'html.test': /media type "text\/html" is not text\/plain/,
    'huge.test': /larger than 65536 octets/,
    'noaddr.test': /mta-sts\.noaddr\.test: no address \(nxdomain, nodata\)/,
  };
  for (const [d, reason] of Object.entries(expected)) {
    assert.equal(await sts.policyFor(d), null, d);
    assert.equal(reasons(d).length, 1, d);
    assert.match(reasons(d)[0], reason, d);
  }
  assert.equal(hit('mta-sts.good.test'), goodHits, 'the redirect was not followed');
});

test('a certificate from an untrusted CA, or for another name, gives no policy', async () => {
  routes.set('mta-sts.rogue.test', policy(ENFORCE));
  const untrusted = setup({ port: rogue.port });
  untrusted.resolver.setTxt('rogue.test', 'v=STSv1; id=r1');
  assert.equal(await untrusted.sts.policyFor('rogue.test'), null);
  assert.equal(hit('mta-sts.rogue.test'), 0, 'no request was sent over the unverified connection');
  assert.match(untrusted.reasons('rogue.test')[0], /127\.0\.0\.1: .*(verify|certificate|issuer)/i);
  // The trusted server's certificate does not name mta-sts.elsewhere.test.
  const wrongName = setup();
  wrongName.resolver.setTxt('elsewhere.test', 'v=STSv1; id=e1');
  routes.set('mta-sts.elsewhere.test', policy(ENFORCE));
  assert.equal(await wrongName.sts.policyFor('elsewhere.test'), null);
  assert.equal(hit('mta-sts.elsewhere.test'), 0);
  assert.match(wrongName.reasons('elsewhere.test')[0], /ALTNAME|not in the cert|name/i);
  // Without the test CA file only the system's roots are trusted.
  const noCa = setup({ caFile: '' });
  noCa.resolver.setTxt('good.test', 'v=STSv1; id=c1');
  routes.set('mta-sts.good.test', policy(ENFORCE));
  assert.equal(await noCa.sts.policyFor('good.test'), null);
});

test('a policy host that does not answer in time gives no policy', async () => {
  routes.set('mta-sts.slow.test', () => {/* never answers */});
  const { resolver, sts, reasons } = setup({ timeoutMs: 300 });
  resolver.setTxt('slow.test', 'v=STSv1; id=s1');
  const t0 = Date.now();
  assert.equal(await sts.policyFor('slow.test'), null);
  assert.match(reasons('slow.test')[0], /no complete answer within 300 ms/);
  assert.ok(Date.now() - t0 < 2500, `took ${Date.now() - t0} ms`);
});

test('chunked bodies, LF or CRLF lines, unknown keys, max_age capped at a year', async () => {
  routes.set('mta-sts.chunked.test', (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain' }); // no length: chunked
    res.write('version: STSv1\r\nmode: enforce\n');
    res.write('mx: MX.Chunked.Test\r\nx-future: whatever\nmode: testing\n');
    res.end('max_age: 604800\n');
  });
  routes.set('mta-sts.capped.test', policy('version: STSv1\nmode: testing\nmx: mx.capped.test\nmax_age: 9999999999\n'));
  const { resolver, sts } = setup();
  resolver.setTxt('chunked.test', 'v=STSv1; id=c1');
  resolver.setTxt('capped.test', 'v=STSv1;id=c2;ext=1');
  assert.deepEqual(await sts.policyFor('chunked.test'), {
    mode: 'enforce',
    mx: ['mx.chunked.test'],
    maxAge: 604800,
    id: 'c1',
  });
  assert.equal((await sts.policyFor('capped.test'))?.maxAge, MAX_AGE_CAP);
});

test('a failed fetch is not repeated within five minutes for the same id; a new id or invalidate() retries', async () => {
  let up = false;
  routes.set('mta-sts.flaky.test', (req, res) => {
    if (up) return policy('version: STSv1\nmode: enforce\nmx: mx.flaky.test\nmax_age: 86400\n')(req, res);
    res.writeHead(503, { 'Content-Type': 'text/plain' });
    res.end();
  });
  const { resolver, sts, advance } = setup();
  resolver.setTxt('flaky.test', 'v=STSv1; id=f1');
  const n = hit('mta-sts.flaky.test');
  assert.equal(await sts.policyFor('flaky.test'), null);
  up = true;
  assert.equal(await sts.policyFor('flaky.test'), null, 'within the back-off');
  assert.equal(hit('mta-sts.flaky.test'), n + 1);
  advance(FAILED_FETCH_BACKOFF);
  assert.equal((await sts.policyFor('flaky.test'))?.id, 'f1');
  assert.equal(hit('mta-sts.flaky.test'), n + 2);

  // invalidate(): fetched again at once, and a failure then keeps the cached policy.
  up = false;
  sts.invalidate('flaky.test');
  assert.equal((await sts.policyFor('flaky.test'))?.id, 'f1');
  assert.equal(hit('mta-sts.flaky.test'), n + 3);
  // A new id is tried at once even right after a failure.
  up = true;
  resolver.setTxt('flaky.test', 'v=STSv1; id=f2');
  assert.equal((await sts.policyFor('flaky.test'))?.id, 'f2');
});

test('concurrent lookups for one domain share one fetch', async () => {
  routes.set('mta-sts.shared.test', policy('version: STSv1\nmode: enforce\nmx: mx.shared.test\nmax_age: 600\n'));
  const { resolver, sts } = setup();
  resolver.setTxt('shared.test', 'v=STSv1; id=sh1');
  const n = hit('mta-sts.shared.test');
  const all = await Promise.all(Array.from({ length: 8 }, () => sts.policyFor('shared.test')));
  assert.ok(all.every((p) => p?.id === 'sh1'));
  assert.equal(hit('mta-sts.shared.test'), n + 1);
});

test('fetchImpl replaces the HTTPS step', async () => {
  const asked: string[] = [];
  const { resolver, sts } = setup({
    fetchImpl: (domain) => {
      asked.push(domain);
      return Promise.resolve({ ok: true, body: 'version: STSv1\nmode: testing\nmx: *.example.test\nmax_age: 60\n' });
    },
  });
  resolver.setTxt('example.test', 'v=STSv1; id=x');
  assert.deepEqual(await sts.policyFor('example.test'), {
    mode: 'testing',
    mx: ['*.example.test'],
    maxAge: 60,
    id: 'x',
  });
  assert.deepEqual(asked, ['example.test']);
});

test('every address of the policy host is tried in turn', async () => {
  routes.set('mta-sts.good.test', policy(ENFORCE));
  const { resolver, sts } = setup();
  resolver.setTxt('good.test', 'v=STSv1; id=m1');
  // Nothing listens on 127.0.0.2 (loopback, refused at once); the second address answers.
  resolver.addresses.set('mta-sts.good.test', ['127.0.0.2', '127.0.0.1']);
  assert.equal((await sts.policyFor('good.test'))?.id, 'm1');
});

test('an unreadable caFile is logged and leaves the system roots only', async () => {
  routes.set('mta-sts.good.test', policy(ENFORCE));
  const lines: string[] = [];
  const record = (event: string) => void lines.push(event);
  const log: Logger = {
    debug: record,
    info: record,
    warn: record,
    error: record,
    child: () => log,
    enabled: () => true,
  };
  const { resolver, sts } = setup({ caFile: path.join(dir, 'missing.pem'), log });
  resolver.setTxt('good.test', 'v=STSv1; id=u1');
  assert.equal(await sts.policyFor('good.test'), null);
  assert.deepEqual(lines, ['mta-sts.ca-file', 'mta-sts.fetch-failed']);
});
