// The SMTP/LMTP courier against scripted fake MX peers over real loopback sockets: MX fallback, per-recipient
// verdicts, TLS policies with a test CA, MTA-STS, AUTH, LMTP, connection reuse, timeouts and aborts.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createSmtpCourier, finalFailure, type SmtpCourierDeps } from '../../src/delivery/smtp/courier.ts';
import { asciiDomain } from '../../src/delivery/smtp/idna.ts';
import { literalIp, planTargets } from '../../src/delivery/smtp/targets.ts';
import { local } from '../../src/smtp/client/verdict.ts';
import type { MxResolution } from '../../src/delivery/mx.ts';
import type { DeliveryJob, MtaStsPolicy, Route } from '../../src/delivery/types.ts';
import { createLogger } from '../../src/lib/log.ts';
import { createQueueReader } from '../../src/queue/repo.ts';
import { startTestDaemon, type TestDaemon } from '../support/server.ts';
import { type FakeMx, type FakeMxOptions, makeTestPki, startFakeMx, startFakeMxGroup, type TestPki } from '../support/fake-mx.ts';

const BODY = 'Subject: hello\r\n\r\n.leading dot\r\nbody\r\n';
const enc = new TextEncoder();

function job(route: Partial<Route>, o: { rcpts?: string[]; body?: string; message?: Partial<DeliveryJob['message']> } = {}): DeliveryJob {
  const body = enc.encode(o.body ?? BODY);
  return {
    message: {
      id: 'Q1',
      sender: 'alice@src.example',
      size: body.length,
      bodyType: null,
      smtpUtf8: false,
      dsnRet: null,
      dsnEnvid: null,
      receivedAt: new Date(),
      ...o.message,
    },
    recipients: (o.rcpts ?? ['bob@dest.example']).map((address, i) => ({ id: i + 1, address, notify: null, orcpt: null })),
    route: { key: 'dest.example', domain: 'dest.example', nextHop: { kind: 'mx', port: 25 }, tls: 'opportunistic', auth: null, ...route },
    body,
  };
}

/** MX records for the fakes in order: mx1.dest.example at the first fake's address, and so on. */
function mxOf(fakes: Array<{ host: string }>): (domain: string) => Promise<MxResolution> {
  return () =>
    Promise.resolve({
      kind: 'hosts',
      hosts: fakes.map((f, i) => ({ name: `mx${i + 1}.dest.example`, preference: 10 * (i + 1), addresses: [f.host], implicit: false })),
    });
}

const logLines: string[] = [];
const quiet = createLogger({ format: 'text', level: 'debug', write: (l) => logLines.push(l) });

function courier(o: Partial<SmtpCourierDeps> = {}) {
  return createSmtpCourier({
    heloName: 'out.tern.test',
    resolveDestination: () => Promise.resolve({ kind: 'temporary', status: '4.4.3', reason: 'no resolver in this test' }),
    resolveHost: () => Promise.resolve({ kind: 'temporary', status: '4.4.3', reason: 'no resolver in this test' }),
    mtaSts: null,
    caFile: '',
    connectTimeout: 3000,
    commandTimeout: 3000,
    dataTimeout: 3000,
    connectionIdle: 0,
    log: quiet,
    ...o,
  });
}

const never = new AbortController().signal;
const fakes: FakeMx[] = [];
async function fake(o: FakeMxOptions = {}): Promise<FakeMx> {
  const f = await startFakeMx(o);
  fakes.push(f);
  return f;
}
async function group(...o: FakeMxOptions[]): Promise<FakeMx[]> {
  const g = await startFakeMxGroup(o);
  fakes.push(...g);
  return g;
}
const smtpTo = (f: FakeMx): Partial<Route> => ({ nextHop: { kind: 'smtp', host: `[${f.host}]`, port: f.port, lookupMx: false } });
const text = (b: Buffer): string => b.toString('utf8');

let pki: TestPki;
let dir: string;
let caFile: string;
before(async () => {
  pki = await makeTestPki();
  dir = await mkdtemp(path.join(tmpdir(), 'tern-courier-'));
  caFile = path.join(dir, 'ca.pem');
  await writeFile(caFile, pki.caCert);
});
after(async () => {
  await Promise.all(fakes.map((f) => f.close()));
  await rm(dir, { recursive: true, force: true });
});

describe('delivery to one peer', () => {
  test('accepted: delivered, envelope and data as sent, trace with exact replies, DSN relayed', async () => {
    const f = await fake({ name: 'mx.peer.test' });
    const c = courier();
    const j = job(smtpTo(f), { rcpts: ['bob@dest.example', 'carol@dest.example'] });
    j.recipients[0].notify = ['SUCCESS', 'FAILURE'];
    j.recipients[0].orcpt = { type: 'rfc822', address: 'bob@dest.example' };
    j.message.dsnRet = 'HDRS';
    j.message.dsnEnvid = 'env=1';
    const report = await c.deliver(j, never);
    await c.close();
    assert.deepEqual(report.results.get(1), {
      outcome: 'delivered',
      status: '2.0.0',
      reply: '250 2.0.0 Ok: queued',
      replyType: 'smtp',
      remote: `[${f.host}]:${f.port}`,
      dsnRelayed: true,
    });
    assert.equal(report.results.get(2)?.outcome, 'delivered');
    const t = f.transactions[0];
    assert.equal(t.helo, 'out.tern.test');
    assert.equal(t.mailFrom, 'alice@src.example');
    assert.deepEqual(t.mailParams, [`SIZE=${j.body.length}`, 'RET=HDRS', 'ENVID=env+3D1']);
    assert.deepEqual(t.rcpts[0], { address: 'bob@dest.example', params: ['NOTIFY=SUCCESS,FAILURE', 'ORCPT=rfc822;bob@dest.example'], accepted: true });
    assert.equal(t.mode, 'BDAT', 'CHUNKING is used where offered');
    assert.equal(text(t.data), BODY);
    assert.equal(report.attempts.length, 1);
    const a = report.attempts[0];
    assert.equal(a.ip, f.host);
    assert.equal(a.port, f.port);
    assert.equal(a.error, null);
    assert.equal(a.replies[0], '220 mx.peer.test ESMTP fake');
    assert.ok(a.replies.includes('250-PIPELINING'));
    assert.ok(a.replies.includes('250 2.0.0 Ok: queued'));
  });

  test('DATA with dot-stuffing when CHUNKING is not offered; the peer gets the exact message', async () => {
    const f = await fake({ caps: { chunking: false } });
    const c = courier();
    const report = await c.deliver(job(smtpTo(f), { body: '.\r\n..\r\n.x\r\nend\r\n' }), never);
    await c.close();
    assert.equal(report.results.get(1)?.outcome, 'delivered');
    assert.equal(f.transactions[0].mode, 'DATA');
    assert.equal(text(f.transactions[0].data), '.\r\n..\r\n.x\r\nend\r\n');
  });

  test('a peer without DSN: no DSN parameters, dsnRelayed false (the engine reports "relayed")', async () => {
    const f = await fake({ caps: { dsn: false } });
    const c = courier();
    const j = job(smtpTo(f));
    j.recipients[0].notify = ['SUCCESS'];
    j.message.dsnRet = 'FULL';
    const report = await c.deliver(j, never);
    await c.close();
    assert.equal(report.results.get(1)?.dsnRelayed, false);
    assert.deepEqual(f.transactions[0].rcpts[0].params, []);
    assert.ok(!f.transactions[0].mailParams.some((p) => p.startsWith('RET=')));
  });

  test('5xx for one recipient: that one permanent with the exact reply, the others delivered', async () => {
    const f = await fake({ rcpt: { 'nobody@dest.example': '550 5.1.1 <nobody@dest.example>: Recipient address rejected' } });
    const c = courier();
    const report = await c.deliver(job(smtpTo(f), { rcpts: ['bob@dest.example', 'nobody@dest.example'] }), never);
    await c.close();
    assert.equal(report.results.get(1)?.outcome, 'delivered');
    assert.deepEqual(report.results.get(2), {
      outcome: 'permanent',
      status: '5.1.1',
      reply: '550 5.1.1 <nobody@dest.example>: Recipient address rejected',
      replyType: 'smtp',
      remote: `[${f.host}]:${f.port}`,
      dsnRelayed: false,
    });
  });

  test('over the peer\'s recipient limit (452): the rest go in another transaction on the same connection', async () => {
    const f = await fake({ rcpt: { 'c@dest.example': ['452 4.5.3 Too many recipients', '250 2.1.5 ok'] } });
    const c = courier();
    const report = await c.deliver(job(smtpTo(f), { rcpts: ['b@dest.example', 'c@dest.example'] }), never);
    await c.close();
    assert.equal(report.results.get(1)?.outcome, 'delivered');
    assert.equal(report.results.get(2)?.outcome, 'delivered');
    assert.equal(f.connections, 1);
    assert.deepEqual(f.transactions.map((t) => t.rcpts.filter((r) => r.accepted).map((r) => r.address)), [['b@dest.example'], ['c@dest.example']]);
  });

  test('4xx then 2xx: the first attempt is temporary, the retry delivers', async () => {
    const f = await fake({ rcpt: { 'bob@dest.example': ['450 4.2.0 greylisted, come back later', '250 2.1.5 ok'] } });
    const c = courier();
    const first = await c.deliver(job(smtpTo(f)), never);
    assert.equal(first.results.get(1)?.outcome, 'temporary');
    assert.equal(first.results.get(1)?.status, '4.2.0');
    const second = await c.deliver(job(smtpTo(f)), never);
    await c.close();
    assert.equal(second.results.get(1)?.outcome, 'delivered');
  });

  test('connection dropped mid-DATA: temporary "lost connection ... message data", never delivered', async () => {
    const f = await fake({ dropMidData: 1, caps: { chunking: false } });
    const c = courier();
    const report = await c.deliver(job(smtpTo(f), { body: 'x'.repeat(200_000) + '\r\n' }), never);
    await c.close();
    const r = report.results.get(1);
    assert.equal(r?.outcome, 'temporary');
    assert.equal(r?.status, '4.4.2');
    assert.match(r?.reply ?? '', /lost connection with host while sending message data/);
    assert.equal(f.transactions.length, 0);
    assert.notEqual(report.attempts[0].error, null);
  });

  test('connection dropped in a BDAT chunk: the same', async () => {
    const f = await fake({ dropMidData: 1 });
    const c = courier();
    const report = await c.deliver(job(smtpTo(f)), never);
    await c.close();
    assert.match(report.results.get(1)?.reply ?? '', /while sending message data/);
  });

  test('MAIL refused permanently: every recipient permanent', async () => {
    const f = await fake({ replies: { MAIL: '553 5.7.1 sender blocked' } });
    const c = courier();
    const report = await c.deliver(job(smtpTo(f), { rcpts: ['a@dest.example', 'b@dest.example'] }), never);
    await c.close();
    for (const r of report.results.values()) assert.equal(r.status, '5.7.1');
  });

  test('HELO-only peer: EHLO refused, HELO used, no parameters', async () => {
    const f = await fake({ ehlo: false });
    const c = courier();
    const j = job(smtpTo(f));
    j.recipients[0].notify = ['SUCCESS'];
    const report = await c.deliver(j, never);
    await c.close();
    assert.equal(report.results.get(1)?.outcome, 'delivered');
    assert.deepEqual(f.transactions[0].mailParams, []);
    assert.equal(f.transactions[0].helo, 'out.tern.test');
    assert.equal(f.commands[0][1], 'HELO out.tern.test');
  });
});

describe('checks against the peer capabilities', () => {
  test('SIZE smaller than the message: permanent 5.3.4, nothing sent', async () => {
    const f = await fake({ caps: { size: 10 } });
    const c = courier();
    const report = await c.deliver(job(smtpTo(f)), never);
    await c.close();
    assert.equal(report.results.get(1)?.status, '5.3.4');
    assert.equal(report.results.get(1)?.outcome, 'permanent');
    assert.ok(!f.commands[0].some((l) => l.startsWith('MAIL')));
  });

  test('8-bit message to a peer without 8BITMIME: permanent 5.6.3', async () => {
    const f = await fake({ caps: { eightBitMime: false } });
    const c = courier();
    const report = await c.deliver(job(smtpTo(f), { body: 'Subject: x\r\n\r\nGrüße\r\n', message: { bodyType: '8BITMIME' } }), never);
    await c.close();
    assert.equal(report.results.get(1)?.status, '5.6.3');
  });

  test('UTF-8 address to a peer without SMTPUTF8: permanent 5.6.7 for it', async () => {
    const f = await fake({ caps: { smtpUtf8: false } });
    const c = courier();
    const report = await c.deliver(job(smtpTo(f), { rcpts: ['jörg@dest.example', 'bob@dest.example'], message: { smtpUtf8: true } }), never);
    await c.close();
    assert.equal(report.results.get(1)?.status, '5.6.7');
    assert.equal(report.results.get(2)?.outcome, 'delivered');
  });

  test('an internationalised domain with an ASCII local part goes as A-labels to a peer without SMTPUTF8', async () => {
    const f = await fake({ caps: { smtpUtf8: false } });
    const c = courier();
    const report = await c.deliver(job(smtpTo(f), { rcpts: ['info@bücher.example'], message: { smtpUtf8: true } }), never);
    await c.close();
    assert.equal(report.results.get(1)?.outcome, 'delivered');
    assert.equal(f.transactions[0].rcpts[0].address, 'info@xn--bcher-kva.example');
    assert.ok(!f.transactions[0].mailParams.includes('SMTPUTF8'));
  });

  test('SMTPUTF8 passed on to a peer that has it', async () => {
    const f = await fake();
    const c = courier();
    const report = await c.deliver(job(smtpTo(f), { rcpts: ['jörg@dest.example'], message: { smtpUtf8: true } }), never);
    await c.close();
    assert.equal(report.results.get(1)?.outcome, 'delivered');
    assert.ok(f.transactions[0].mailParams.includes('SMTPUTF8'));
    assert.equal(f.transactions[0].rcpts[0].address, 'jörg@dest.example');
  });
});

describe('MX hosts and addresses', () => {
  test('first MX refuses the connection, second 421s, third delivers; every attempt traced', async () => {
    const [mx2, mx3] = await group({ refuseFirst: 1 }, {});
    const closed = { host: '127.0.0.9' }; // nothing listens there on this port
    const c = courier({ resolveDestination: mxOf([closed, mx2, mx3]) });
    const report = await c.deliver(job({ nextHop: { kind: 'mx', port: mx2.port } }), never);
    await c.close();
    assert.equal(report.results.get(1)?.outcome, 'delivered');
    assert.equal(report.results.get(1)?.remote, `mx3.dest.example [${mx3.host}]:${mx3.port}`);
    assert.deepEqual(report.attempts.map((a) => a.host), ['mx1.dest.example', 'mx2.dest.example', 'mx3.dest.example']);
    assert.match(report.attempts[0].error ?? '', /ECONNREFUSED/);
    assert.deepEqual(report.attempts[1].replies, ['421 4.3.2 busy, try again later']);
    assert.equal(mx3.transactions.length, 1);
  });

  test('every address of a host, IPv6 and IPv4, before the next host', async () => {
    const [v6, v4] = await group({ host: '::1', refuseFirst: 1 }, { host: '127.0.0.2' });
    const c = courier({
      resolveDestination: () =>
        Promise.resolve({ kind: 'hosts', hosts: [{ name: 'mx.dest.example', preference: 0, addresses: ['::1', '127.0.0.2'], implicit: true }] }),
    });
    const report = await c.deliver(job({ nextHop: { kind: 'mx', port: v6.port } }), never);
    await c.close();
    assert.equal(report.results.get(1)?.outcome, 'delivered');
    assert.deepEqual(report.attempts.map((a) => a.ip), ['::1', '127.0.0.2']);
    assert.equal(v4.transactions.length, 1);
  });

  test('every host down: temporary, "no answer" style, no remote', async () => {
    const c = courier({ resolveDestination: mxOf([{ host: '127.0.0.9' }, { host: '127.0.0.10' }]) });
    const report = await c.deliver(job({ nextHop: { kind: 'mx', port: 1 } }), never);
    await c.close();
    const r = report.results.get(1);
    assert.equal(r?.outcome, 'temporary');
    assert.equal(r?.status, '4.4.1');
    assert.equal(r?.replyType, 'x-tern');
    assert.equal(r?.remote, null);
    assert.match(r?.reply ?? '', /connect to mx2.dest.example \[127.0.0.10\]:1: ECONNREFUSED/);
    assert.equal(report.attempts.length, 2);
  });

  test('every host greets 554: permanent with the last reply (RFC 5321 §3.1), QUIT sent', async () => {
    const g = await group({ greeting: '554 5.7.1 you are not welcome' }, { greeting: '554 5.7.1 nor here' });
    const c = courier({ resolveDestination: mxOf(g) });
    const report = await c.deliver(job({ nextHop: { kind: 'mx', port: g[0].port } }), never);
    await c.close();
    const r = report.results.get(1);
    assert.equal(r?.outcome, 'permanent');
    assert.equal(r?.reply, '554 5.7.1 nor here');
    assert.equal(r?.remote, `mx2.dest.example [${g[1].host}]:${g[1].port}`);
    await new Promise((res) => setTimeout(res, 50));
    assert.deepEqual(g[0].commands[0], ['QUIT']);
  });

  test('one host greets 554, another is down: temporary', async () => {
    const [g] = await group({ greeting: '554 5.7.1 go away' });
    const c = courier({ resolveDestination: mxOf([g, { host: '127.0.0.9' }]) });
    const report = await c.deliver(job({ nextHop: { kind: 'mx', port: g.port } }), never);
    await c.close();
    assert.equal(report.results.get(1)?.outcome, 'temporary');
  });

  test('a 421 mid-transaction: the recipients not yet decided go to the next MX', async () => {
    const g = await group({ rcpt: { 'b@dest.example': '421 4.3.2 shutting down' }, caps: { pipelining: false } }, {});
    const c = courier({ resolveDestination: mxOf(g) });
    const report = await c.deliver(job({ nextHop: { kind: 'mx', port: g[0].port } }, { rcpts: ['a@dest.example', 'b@dest.example'] }), never);
    await c.close();
    assert.equal(report.results.get(1)?.outcome, 'delivered');
    assert.equal(report.results.get(2)?.outcome, 'delivered');
    assert.equal(g[1].transactions.length, 1);
    assert.deepEqual(g[1].transactions[0].rcpts.map((r) => r.address), ['a@dest.example', 'b@dest.example']);
  });

  test('DNS verdicts pass straight through: null MX is permanent 5.1.10 without a connection', async () => {
    const c = courier({ resolveDestination: () => Promise.resolve({ kind: 'permanent', status: '5.1.10', reason: 'null MX' }) });
    const report = await c.deliver(job({}), never);
    await c.close();
    assert.deepEqual(report.results.get(1), { outcome: 'permanent', status: '5.1.10', reply: 'null MX', replyType: 'x-tern', remote: null, dsnRelayed: false });
    assert.equal(report.attempts.length, 0);
  });

  test('a host whose address lookup failed counts as a temporary failure', async () => {
    const c = courier({
      resolveDestination: () =>
        Promise.resolve({ kind: 'hosts', hosts: [{ name: 'mx.dest.example', preference: 0, addresses: [], implicit: false, lookupError: 'SERVFAIL' }] }),
    });
    const report = await c.deliver(job({}), never);
    await c.close();
    assert.equal(report.results.get(1)?.status, '4.4.3');
  });

  test('smtp next hop by name (resolveHost) and with lookupMx (resolveDestination of that host)', async () => {
    const f = await fake();
    const asked: string[] = [];
    const hosts = (name: string): Promise<MxResolution> => {
      asked.push(name);
      return Promise.resolve({ kind: 'hosts', hosts: [{ name, preference: 0, addresses: [f.host], implicit: true }] });
    };
    const c = courier({ resolveHost: hosts, resolveDestination: hosts });
    const a = await c.deliver(job({ nextHop: { kind: 'smtp', host: 'relay.example', port: f.port, lookupMx: false } }), never);
    const b = await c.deliver(job({ nextHop: { kind: 'smtp', host: 'relay-mx.example', port: f.port, lookupMx: true } }), never);
    await c.close();
    assert.equal(a.results.get(1)?.outcome, 'delivered');
    assert.equal(b.results.get(1)?.outcome, 'delivered');
    assert.deepEqual(asked, ['relay.example', 'relay-mx.example']);
  });
});

describe('TLS', () => {
  test('opportunistic: STARTTLS when offered, recorded in the trace', async () => {
    const cert = await pki.issue(['mx.peer.test']);
    const f = await fake({ tls: cert });
    const c = courier();
    const report = await c.deliver(job(smtpTo(f)), never);
    await c.close();
    assert.equal(report.results.get(1)?.outcome, 'delivered');
    assert.ok(f.transactions[0].tls !== null);
    assert.match(report.attempts[0].tls?.protocol ?? '', /^TLSv1\.[23]$/);
    assert.equal(report.attempts[0].tls?.cipher, f.transactions[0].tls?.cipher);
  });

  test('opportunistic: a broken TLS handshake is retried once in plaintext', async () => {
    const f = await fake({ brokenTls: true });
    const c = courier();
    const report = await c.deliver(job(smtpTo(f)), never);
    await c.close();
    assert.equal(report.results.get(1)?.outcome, 'delivered');
    assert.equal(f.connections, 2);
    assert.equal(f.transactions[0].tls, null);
    assert.equal(report.attempts.length, 2);
    assert.match(report.attempts[0].error ?? '', /TLS/);
  });

  test('none: no STARTTLS even when offered', async () => {
    const f = await fake({ tls: await pki.issue(['mx.peer.test']) });
    const c = courier();
    await c.deliver(job({ ...smtpTo(f), tls: 'none' }), never);
    await c.close();
    assert.equal(f.transactions[0].tls, null);
  });

  test('require: no STARTTLS offered -> temporary 4.7.5, nothing sent', async () => {
    const f = await fake();
    const c = courier();
    const report = await c.deliver(job({ ...smtpTo(f), tls: 'require' }), never);
    await c.close();
    assert.equal(report.results.get(1)?.outcome, 'temporary');
    assert.equal(report.results.get(1)?.status, '4.7.5');
    assert.equal(f.transactions.length, 0);
  });

  test('require: any certificate will do (self-signed)', async () => {
    const f = await fake({ tls: await pki.selfSigned(['whatever.test']) });
    const c = courier();
    const report = await c.deliver(job({ ...smtpTo(f), tls: 'require' }), never);
    await c.close();
    assert.equal(report.results.get(1)?.outcome, 'delivered');
  });

  test('verify: a certificate from a trusted CA (caFile) for the MX name -> delivered', async () => {
    const [f] = await group({ tls: await pki.issue(['mx1.dest.example']) });
    const c = courier({ caFile, resolveDestination: mxOf([f]) });
    const report = await c.deliver(job({ nextHop: { kind: 'mx', port: f.port }, tls: 'verify' }), never);
    await c.close();
    assert.equal(report.results.get(1)?.outcome, 'delivered');
    assert.ok(f.transactions[0].tls !== null);
  });

  test('verify: wrong name, untrusted CA or self-signed -> 4.7.5, next address tried', async () => {
    const g = await group(
      { tls: await pki.issue(['other.dest.example']) },
      { tls: await pki.selfSigned(['mx2.dest.example']) },
      { tls: await pki.issue(['mx3.dest.example']) },
    );
    const c = courier({ caFile, resolveDestination: mxOf(g) });
    const report = await c.deliver(job({ nextHop: { kind: 'mx', port: g[0].port }, tls: 'verify' }), never);
    assert.equal(report.results.get(1)?.outcome, 'delivered');
    assert.equal(g[2].transactions.length, 1);
    assert.match(report.attempts[0].error ?? '', /certificate verification failed for mx1.dest.example/);
    assert.match(report.attempts[1].error ?? '', /certificate verification failed/);
    assert.equal(g[0].transactions.length + g[1].transactions.length, 0);
    await c.close();
    const c2 = courier({ resolveDestination: mxOf([g[2]]) }); // no caFile: the test CA is unknown
    const untrusted = await c2.deliver(job({ nextHop: { kind: 'mx', port: g[0].port }, tls: 'verify' }), never);
    await c2.close();
    assert.equal(untrusted.results.get(1)?.status, '4.7.5');
    assert.equal(untrusted.results.get(1)?.outcome, 'temporary');
  });

  test('verify against an address literal checks the IP in the certificate', async () => {
    const f = await fake({ tls: await pki.issue([], ['127.0.0.1']) });
    const c = courier({ caFile });
    const report = await c.deliver(job({ ...smtpTo(f), tls: 'verify' }), never);
    await c.close();
    assert.equal(report.results.get(1)?.outcome, 'delivered');
  });
});

describe('MTA-STS (RFC 8461)', () => {
  const sts = (policy: MtaStsPolicy | null) => ({ policyFor: () => Promise.resolve(policy) });

  test('enforce: MX hosts outside the policy are skipped; TLS must verify', async () => {
    const g = await group({}, { tls: await pki.issue(['mx2.dest.example']) });
    const policy: MtaStsPolicy = { mode: 'enforce', mx: ['mx2.dest.example'], maxAge: 86400, id: '1' };
    const c = courier({ caFile, resolveDestination: mxOf(g), mtaSts: sts(policy) });
    const report = await c.deliver(job({ nextHop: { kind: 'mx', port: g[0].port }, tls: 'none' }), never);
    await c.close();
    assert.equal(report.results.get(1)?.outcome, 'delivered');
    assert.equal(g[0].connections, 0, 'the host outside the policy is never contacted');
    assert.ok(g[1].transactions[0].tls !== null, 'TLS despite route tls=none');
  });

  test('enforce: wildcard patterns match one label; no usable MX -> temporary, never a bounce', async () => {
    const g = await group({ tls: await pki.selfSigned(['mx1.dest.example']) });
    const policy: MtaStsPolicy = { mode: 'enforce', mx: ['*.dest.example'], maxAge: 86400, id: '1' };
    const c = courier({ caFile, resolveDestination: mxOf(g), mtaSts: sts(policy) });
    const report = await c.deliver(job({ nextHop: { kind: 'mx', port: g[0].port } }), never);
    assert.equal(report.results.get(1)?.outcome, 'temporary');
    assert.equal(report.results.get(1)?.status, '4.7.5');
    const none = courier({ resolveDestination: mxOf(g), mtaSts: sts({ ...policy, mx: ['mail.other.example'] }) });
    const skipped = await none.deliver(job({ nextHop: { kind: 'mx', port: g[0].port } }), never);
    await Promise.all([c.close(), none.close()]);
    assert.equal(skipped.results.get(1)?.outcome, 'temporary');
    assert.match(skipped.results.get(1)?.reply ?? '', /not allowed by the MTA-STS policy/);
  });

  test('testing: delivers as usual and logs what would have failed', async () => {
    const g = await group({ tls: await pki.selfSigned(['mx1.dest.example']) });
    const policy: MtaStsPolicy = { mode: 'testing', mx: ['mail.other.example'], maxAge: 86400, id: '1' };
    const c = courier({ resolveDestination: mxOf(g), mtaSts: sts(policy) });
    logLines.length = 0;
    const report = await c.deliver(job({ nextHop: { kind: 'mx', port: g[0].port } }), never);
    await c.close();
    assert.equal(report.results.get(1)?.outcome, 'delivered');
    const testing = logLines.filter((l) => l.includes('mta-sts-testing'));
    assert.ok(testing.some((l) => l.includes('skip MX host not in policy')), testing.join('\n'));
    assert.ok(testing.some((l) => l.includes('fail certificate verification')), testing.join('\n'));
  });

  test('policies apply to MX delivery only, not to a static relay', async () => {
    const f = await fake();
    const asked: string[] = [];
    const c = courier({ mtaSts: { policyFor: (d) => (asked.push(d), Promise.resolve(null)) } });
    await c.deliver(job(smtpTo(f)), never);
    await c.close();
    assert.deepEqual(asked, []);
  });
});

describe('SMTP AUTH', () => {
  test('PLAIN after STARTTLS with the route credentials', async () => {
    const f = await fake({ tls: await pki.issue(['relay.test']), auth: { user: 'tern', password: 's3cret' } });
    const c = courier();
    const report = await c.deliver(job({ ...smtpTo(f), tls: 'require', auth: { user: 'tern', password: 's3cret' } }), never);
    await c.close();
    assert.equal(report.results.get(1)?.outcome, 'delivered');
    assert.equal(f.transactions[0].auth, 'tern');
  });

  test('wrong password: temporary (soft), nothing sent', async () => {
    const f = await fake({ tls: await pki.issue(['relay.test']), auth: { user: 'tern', password: 's3cret' } });
    const c = courier();
    const report = await c.deliver(job({ ...smtpTo(f), tls: 'require', auth: { user: 'tern', password: 'nope' } }), never);
    await c.close();
    assert.equal(report.results.get(1)?.outcome, 'temporary');
    assert.equal(report.results.get(1)?.status, '4.7.8');
    assert.equal(f.transactions.length, 0);
  });

  test('credentials never go over plaintext', async () => {
    const f = await fake({ auth: { user: 'tern', password: 's3cret' } });
    const c = courier();
    const report = await c.deliver(job({ ...smtpTo(f), auth: { user: 'tern', password: 's3cret' } }), never);
    await c.close();
    assert.equal(report.results.get(1)?.status, '4.7.11');
    assert.ok(!f.commands[0].some((l) => l.startsWith('AUTH')));
  });
});

describe('LMTP (RFC 2033)', () => {
  test('over TCP: LHLO, one reply per recipient after the data', async () => {
    const f = await fake({ lmtp: true, lmtpEnd: { 'full@local.test': '452 4.2.2 mailbox full' } });
    const c = courier();
    const route: Partial<Route> = { nextHop: { kind: 'lmtp', host: f.host, port: f.port }, tls: 'none' };
    const report = await c.deliver(job(route, { rcpts: ['a@local.test', 'full@local.test'] }), never);
    await c.close();
    assert.equal(report.results.get(1)?.outcome, 'delivered');
    assert.deepEqual(report.results.get(2), {
      outcome: 'temporary',
      status: '4.2.2',
      reply: '452 4.2.2 mailbox full',
      replyType: 'smtp',
      remote: `[${f.host}]:${f.port}`,
      dsnRelayed: false,
    });
    assert.match(f.commands[0][0], /^LHLO /);
  });

  test('over a Unix socket', async () => {
    const sock = path.join(dir, 'lmtp.sock');
    const f = await fake({ lmtp: true, path: sock, caps: { chunking: false } });
    const c = courier();
    const report = await c.deliver(job({ nextHop: { kind: 'lmtp-unix', path: sock }, tls: 'opportunistic' }), never);
    await c.close();
    assert.equal(report.results.get(1)?.outcome, 'delivered');
    assert.equal(report.results.get(1)?.remote, `unix:${sock}`);
    assert.equal(report.attempts[0].host, `unix:${sock}`);
    assert.ok(!f.commands[0].includes('STARTTLS'), 'no TLS on a local socket');
  });
});

describe('connection reuse', () => {
  test('the next job to the same destination reuses the connection; QUIT when idle time runs out', async () => {
    const f = await fake();
    const c = courier({ connectionIdle: 300 });
    const a = await c.deliver(job(smtpTo(f)), never);
    const b = await c.deliver(job(smtpTo(f), { rcpts: ['x@dest.example'] }), never);
    assert.equal(a.results.get(1)?.outcome, 'delivered');
    assert.equal(b.results.get(1)?.outcome, 'delivered');
    assert.equal(f.connections, 1);
    assert.equal(f.transactions.length, 2);
    assert.equal(b.attempts.length, 1);
    assert.ok(!b.attempts[0].replies.some((l) => l.startsWith('220 ')), 'the reused trace starts at this job');
    await new Promise((res) => setTimeout(res, 600));
    assert.equal(f.commands[0].at(-1), 'QUIT');
    await c.close();
  });

  test('close() QUITs idle connections', async () => {
    const f = await fake();
    const c = courier({ connectionIdle: 60_000 });
    await c.deliver(job(smtpTo(f)), never);
    await c.close();
    await new Promise((res) => setTimeout(res, 50));
    assert.equal(f.commands[0].at(-1), 'QUIT');
  });

  test('after a refused transaction the connection is reset (RSET) and reused', async () => {
    const f = await fake({ rcpt: { 'no@dest.example': '550 5.1.1 no' } });
    const c = courier({ connectionIdle: 5000 });
    await c.deliver(job(smtpTo(f), { rcpts: ['no@dest.example'] }), never);
    const b = await c.deliver(job(smtpTo(f)), never);
    await c.close();
    assert.equal(b.results.get(1)?.outcome, 'delivered');
    assert.equal(f.connections, 1);
    assert.ok(f.commands[0].includes('RSET'));
  });

  test('a pooled connection the peer closed is not used', async () => {
    const f = await fake();
    const c = courier({ connectionIdle: 5000 });
    await c.deliver(job(smtpTo(f)), never);
    await f.close();
    const g = await fake({ host: f.host, port: f.port });
    const b = await c.deliver(job(smtpTo(g)), never);
    await c.close();
    assert.equal(b.results.get(1)?.outcome, 'delivered');
    assert.equal(g.transactions.length, 1);
  });
});

describe('timeouts and aborts', () => {
  test('no greeting within commandTimeout: next address', async () => {
    const g = await group({ greetingDelay: 2000 }, {});
    const c = courier({ resolveDestination: mxOf(g), commandTimeout: 200 });
    const report = await c.deliver(job({ nextHop: { kind: 'mx', port: g[0].port } }), never);
    await c.close();
    assert.equal(report.results.get(1)?.outcome, 'delivered');
    assert.match(report.attempts[0].error ?? '', /no reply within 200 ms/);
  });

  test('no reply to the end of data within dataTimeout: temporary, not tried elsewhere', async () => {
    const g = await group({ endDelay: 2000 }, {});
    const c = courier({ resolveDestination: mxOf(g), dataTimeout: 200 });
    const report = await c.deliver(job({ nextHop: { kind: 'mx', port: g[0].port } }), never);
    await c.close();
    assert.equal(report.results.get(1)?.outcome, 'temporary');
    assert.match(report.results.get(1)?.reply ?? '', /timeout with host while sending message data/);
    assert.equal(g[1].connections, 0, 'the message may have arrived: no second copy now');
  });

  test('abort: the delivery ends at once, temporary for everyone', async () => {
    const f = await fake({ greetingDelay: 2000 });
    const c = courier();
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const started = Date.now();
    const report = await c.deliver(job(smtpTo(f)), ac.signal);
    await c.close();
    assert.ok(Date.now() - started < 1500);
    assert.equal(report.results.get(1)?.outcome, 'temporary');
    assert.match(report.results.get(1)?.reply ?? '', /aborted/);
  });
});

describe('targets and final verdicts (no sockets)', () => {
  const deps = {
    resolveDestination: mxOf([{ host: '192.0.2.1' }, { host: '192.0.2.2' }]),
    resolveHost: () => Promise.resolve<MxResolution>({ kind: 'permanent', status: '5.1.2', reason: 'no such host' }),
    mtaSts: null,
    log: quiet,
  };
  const route = (nextHop: Route['nextHop'], tls: Route['tls'] = 'opportunistic'): Route => ({ key: 'k', domain: 'dest.example', nextHop, tls, auth: null });

  test('MX: every address of every host in order, on the route port, named for verification', async () => {
    const plan = await planTargets(route({ kind: 'mx', port: 2525 }), deps);
    assert.ok(plan.ok);
    if (!plan.ok) return;
    assert.deepEqual(plan.targets.map((t) => [t.endpoint, t.tlsName, t.lmtp]), [
      [{ kind: 'tcp', host: 'mx1.dest.example', ip: '192.0.2.1', port: 2525 }, 'mx1.dest.example', false],
      [{ kind: 'tcp', host: 'mx2.dest.example', ip: '192.0.2.2', port: 2525 }, 'mx2.dest.example', false],
    ]);
  });

  test('address literals need no lookup; a failed lookup is the verdict', async () => {
    const lit = await planTargets(route({ kind: 'smtp', host: '[IPv6:2001:db8::1]', port: 587, lookupMx: false }), deps);
    assert.ok(lit.ok && lit.targets[0].endpoint.kind === 'tcp' && lit.targets[0].endpoint.ip === '2001:db8::1');
    const named = await planTargets(route({ kind: 'smtp', host: 'relay.example', port: 587, lookupMx: false }), deps);
    assert.deepEqual(named, { ok: false, verdict: local('permanent', '5.1.2', 'no such host') });
  });

  test('LMTP over a socket never uses TLS; a local route here is a bug, temporary', async () => {
    const unix = await planTargets(route({ kind: 'lmtp-unix', path: '/run/dovecot/lmtp' }, 'verify'), deps);
    assert.ok(unix.ok && unix.targets[0].tls === 'none' && unix.targets[0].lmtp);
    const bad = await planTargets(route({ kind: 'local' }), deps);
    assert.equal(!bad.ok && bad.verdict.outcome, 'temporary');
  });

  test('literalIp', () => {
    assert.equal(literalIp('[192.0.2.1]'), '192.0.2.1');
    assert.equal(literalIp('192.0.2.1'), '192.0.2.1');
    assert.equal(literalIp('[IPv6:2001:DB8::1]'), '2001:db8::1');
    assert.equal(literalIp('::1'), '::1');
    assert.equal(literalIp('mx.example'), null);
    assert.equal(literalIp('[mx.example]'), null);
  });

  test('asciiDomain: A-labels for an ASCII local part only', () => {
    assert.equal(asciiDomain('a@bücher.example'), 'a@xn--bcher-kva.example');
    assert.equal(asciiDomain('jörg@bücher.example'), 'jörg@bücher.example');
    assert.equal(asciiDomain('a@b.example'), 'a@b.example');
    assert.equal(asciiDomain(''), '');
    assert.equal(asciiDomain('Postmaster'), 'Postmaster');
  });

  test('finalFailure: permanent only when every failure was; else the last temporary one', () => {
    const p1 = { verdict: local('permanent', '5.7.1', 'a'), remote: 'x' };
    const p2 = { verdict: local('permanent', '5.7.1', 'b'), remote: 'y' };
    const t1 = { verdict: local('temporary', '4.4.1', 'c'), remote: null };
    assert.equal(finalFailure([p1, p2]), p2);
    assert.equal(finalFailure([t1, p1]), t1);
    assert.equal(finalFailure([p1, t1, p2]), t1);
    assert.equal(finalFailure([]).verdict.status, '4.4.1');
  });
});

// One daemon per block (starting one takes seconds; Bun holds every hook to its 5 s default): one offers
// CHUNKING, so the client uses BDAT; the other does not, so it uses DATA with dot-stuffing.
for (const chunking of [true, false]) {
  describe(`interoperation with Tern's own server (${chunking ? 'BDAT' : 'DATA'})`, () => {
    let srv: TestDaemon;
    before(async () => {
      srv = await startTestDaemon(chunking ? {} : { TERN_SMTP_EXTENSIONS_CHUNKING: 'false' });
    });
    after(() => srv?.stop());

    test('the message arrives byte for byte with its parameters', async () => {
      const c = courier();
      const route: Partial<Route> = { nextHop: { kind: 'smtp', host: '[127.0.0.1]', port: srv.port('mx'), lookupMx: false } };
      const body = 'Subject: interop\r\n\r\n.\r\n..two\r\n.\r\nGrüße\r\n';
      const j = job(route, { rcpts: ['bob@tern.test', 'carol@tern.test'], body, message: { bodyType: '8BITMIME', dsnEnvid: 'E1' } });
      j.recipients[0].notify = ['SUCCESS'];
      const report = await c.deliver(j, never);
      await c.close();
      const r = report.results.get(1);
      assert.equal(r?.outcome, 'delivered', r?.reply ?? 'no result');
      assert.equal(r?.dsnRelayed, true);
      const id = /queued as (\S+)/.exec(r?.reply ?? '')?.[1];
      assert.ok(id, r?.reply);
      const stored = await createQueueReader(srv.daemon.store).get(id, { withBody: true });
      const text = new TextDecoder().decode(stored!.body!);
      assert.ok(text.endsWith('\r\n' + body), text);
      assert.equal(stored!.envelope.bodyType, '8BITMIME');
      assert.equal(stored!.envelope.dsnEnvid, 'E1');
      assert.deepEqual(stored!.envelope.recipients.map((x) => x.address), ['bob@tern.test', 'carol@tern.test']);
      assert.deepEqual(stored!.envelope.recipients[0].notify, ['SUCCESS']);
      assert.match(stored!.envelope.protocol, /^ESMTPS/, 'opportunistic STARTTLS with the self-signed certificate');
    });
  });
}
