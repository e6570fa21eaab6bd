// Wire and transport behaviour: the query's shape, forged answers ignored, TC -> TCP, EDNS fallback, server failover.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import * as dnsPacket from 'dns-packet';
import type { DecodedPacket, Packet } from 'dns-packet';
import { createResolver, type ResolverOptions } from '../../../src/dns/resolver.ts';
import { EDNS_PAYLOAD } from '../../../src/dns/wire.ts';
import { a, startDnsServer, type TestDnsServer } from '../../support/dns-server.ts';

/** A scripted UDP peer: `script` sees each query and sends whatever it likes, from its own port or another. */
async function fakeServer(
  script: (
    q: DecodedPacket,
    send: (p: Packet | Uint8Array, fromOtherPort?: boolean) => void,
    raw: Buffer,
    from: dgram.RemoteInfo,
  ) => void,
) {
  const bind = async () => {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', () => resolve()));
    return s;
  };
  const main = await bind();
  const other = await bind();
  main.on('message', (raw: Buffer, from: dgram.RemoteInfo) => {
    const q = dnsPacket.decode(raw);
    const send = (p: Packet | Uint8Array, fromOtherPort?: boolean) =>
      (fromOtherPort ? other : main).send(p instanceof Uint8Array ? p : dnsPacket.encode(p), from.port, from.address);
    script(q, send, raw, from);
  });
  return {
    server: `127.0.0.1:${main.address().port}`,
    close: () => Promise.all([main, other].map((s) => new Promise<void>((r) => s.close(() => r())))),
  };
}

const response = (q: DecodedPacket, ip: string, over: Partial<Packet> = {}): Packet => ({
  type: 'response',
  id: q.id,
  flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
  questions: q.questions,
  answers: [{ type: 'A', name: q.questions?.[0]?.name ?? '', ttl: 60, data: ip }],
  ...over,
});

describe('resolver: transport', () => {
  let dns: TestDnsServer;
  let broken: TestDnsServer;
  const closers: Array<() => unknown> = [];
  const resolver = (opts: Partial<ResolverOptions>) => {
    const r = createResolver({ servers: [dns.server], timeout: 300, attempts: 1, ...opts });
    closers.push(() => r.close());
    return r;
  };

  before(async () => {
    dns = await startDnsServer({
      'ok.test': [a('192.0.2.1')],
      'big.test': { behaviour: 'truncate-udp', records: Array.from({ length: 5 }, (_, i) => a(`192.0.2.${100 + i}`)) },
      'old.test': { behaviour: 'no-edns', records: [a('192.0.2.3')] },
    });
    broken = await startDnsServer({
      'ok.test': { behaviour: 'servfail' },
      'refused.test': { behaviour: 'refused' },
    });
  });
  after(async () => {
    for (const c of closers) await c();
    await dns.close();
    await broken.close();
  });

  test(`the query: random id, RD set, EDNS0 with a ${EDNS_PAYLOAD}-octet payload, a fresh source port each time`, async () => {
    const seen: Array<{ q: DecodedPacket; port: number }> = [];
    const fake = await fakeServer((q, send, _raw, from) => {
      seen.push({ q, port: from.port });
      send(response(q, '192.0.2.1'));
    });
    closers.push(fake.close);
    const r = resolver({ servers: [fake.server], cacheSize: 0 });
    for (let i = 0; i < 4; i++) assert.equal((await r.a('ok.test')).ok, true);
    for (const { q } of seen) {
      assert.equal(q.flag_rd, true);
      assert.deepEqual(q.questions, [{ name: 'ok.test', type: 'A', class: 'IN' }]);
      const opt = (q.additionals ?? []).find((x) => x.type === 'OPT');
      assert.ok(opt && opt.type === 'OPT' && opt.udpPayloadSize === EDNS_PAYLOAD);
    }
    assert.ok(new Set(seen.map((s) => s.q.id)).size >= 3, 'ids vary');
    assert.ok(new Set(seen.map((s) => s.port)).size >= 3, 'source ports vary');
  });

  test('forged answers (wrong id, wrong question, wrong source port, not a response, garbage) are ignored', async () => {
    const fake = await fakeServer((q, send) => {
      const name = q.questions?.[0]?.name ?? '';
      send(response(q, '6.6.6.1', { id: (q.id! + 1) & 0xffff }));
      send(response(q, '6.6.6.2', { questions: [{ type: 'A', name: 'other.test' }] }));
      send(response(q, '6.6.6.3', { questions: [{ type: 'AAAA', name }] }));
      send(response(q, '6.6.6.4'), true);
      send({ ...response(q, '6.6.6.5'), type: 'query' });
      send(new Uint8Array([(q.id! >> 8) & 0xff, q.id! & 0xff, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 0xff])); // our id, then garbage
      setTimeout(() => send(response(q, '192.0.2.55')), 30);
    });
    closers.push(fake.close);
    const r = await resolver({ servers: [fake.server] }).a('ok.test');
    assert.deepEqual(r, { ok: true, records: ['192.0.2.55'], ttl: 60 });
  });

  test('only forged answers: the query times out instead of accepting one', async () => {
    const fake = await fakeServer((q, send) => {
      send(response(q, '6.6.6.1', { id: (q.id! + 7) & 0xffff }));
      send(response(q, '6.6.6.4'), true);
    });
    closers.push(fake.close);
    const r = await resolver({ servers: [fake.server], timeout: 150 }).a('ok.test');
    assert.equal(!r.ok && r.error, 'timeout');
  });

  test('the question is compared case-insensitively (servers may echo it in another case)', async () => {
    const fake = await fakeServer((q, send) =>
      send(response(q, '192.0.2.8', { questions: [{ type: 'A', name: 'OK.Test' }] }))
    );
    closers.push(fake.close);
    const r = await resolver({ servers: [fake.server] }).a('ok.test');
    assert.deepEqual(r.ok && r.records, ['192.0.2.8']);
  });

  test('a truncated UDP answer is asked again over TCP (RFC 7766 §5)', async () => {
    const before = dns.queries.length;
    const r = await resolver({}).a('big.test');
    assert.deepEqual(r.ok && r.records, ['192.0.2.100', '192.0.2.101', '192.0.2.102', '192.0.2.103', '192.0.2.104']);
    assert.deepEqual(dns.queries.slice(before).map((q) => q.transport), ['udp', 'tcp']);
  });

  test('TC set but nobody listens on TCP: a network failure (temporary), not an empty answer', async () => {
    const fake = await fakeServer((q, send) =>
      send(response(q, '192.0.2.1', { flags: dnsPacket.TRUNCATED_RESPONSE, answers: [] }))
    );
    closers.push(fake.close);
    const r = await resolver({ servers: [fake.server] }).a('ok.test');
    assert.equal(!r.ok && r.error, 'network');
  });

  test('a server without EDNS (FORMERR, no question) is asked again without OPT (RFC 6891 §7)', async () => {
    const r = await resolver({}).a('old.test');
    assert.deepEqual(r.ok && r.records, ['192.0.2.3']);
  });

  test('a silent server gets its attempts, then the next server answers', async () => {
    const asked: number[] = [];
    const silent = await fakeServer((q) => asked.push(q.id!));
    closers.push(silent.close);
    const started = Date.now();
    const r = await resolver({ servers: [silent.server, dns.server], timeout: 100, attempts: 2 }).a('ok.test');
    assert.deepEqual(r.ok && r.records, ['192.0.2.1']);
    assert.equal(asked.length, 2);
    assert.ok(Date.now() - started >= 190);
  });

  test('a server that drops the first query is answered by the second attempt', async () => {
    let n = 0;
    const flaky = await fakeServer((q, send) => {
      if (n++ > 0) send(response(q, '192.0.2.77'));
    });
    closers.push(flaky.close);
    const once = await resolver({ servers: [flaky.server], timeout: 100, attempts: 1 }).a('ok.test');
    assert.equal(!once.ok && once.error, 'timeout');
    const twice = await resolver({ servers: [flaky.server], timeout: 100, attempts: 2 }).a('ok.test');
    assert.deepEqual(twice.ok && twice.records, ['192.0.2.77']);
  });

  test('SERVFAIL from the first server: the next server is asked', async () => {
    const r = await resolver({ servers: [broken.server, dns.server] }).a('ok.test');
    assert.deepEqual(r.ok && r.records, ['192.0.2.1']);
  });

  test('every server fails: a server verdict is reported before silence', async () => {
    const silent = await fakeServer(() => {});
    closers.push(silent.close);
    const r = await resolver({ servers: [broken.server, silent.server], timeout: 100 }).a('refused.test');
    assert.equal(!r.ok && r.error, 'refused');
    const t = await resolver({ servers: [silent.server], timeout: 100 }).a('ok.test');
    assert.equal(!t.ok && t.error, 'timeout');
  });

  test('servers given as "[v6]:port" are used over IPv6', async (t) => {
    const probe = dgram.createSocket('udp6');
    const bound = await new Promise<boolean>((resolve) => {
      probe.once('error', () => resolve(false));
      probe.bind(0, '::1', () => resolve(true));
    });
    if (!bound) {
      probe.close();
      t.skip('no IPv6 loopback here');
      return;
    }
    probe.on('message', (raw: Buffer, from: dgram.RemoteInfo) => {
      const q = dnsPacket.decode(raw);
      probe.send(dnsPacket.encode(response(q, '192.0.2.66')), from.port, from.address);
    });
    closers.push(() => new Promise<void>((r) => probe.close(() => r())));
    const r = await resolver({ servers: [`[::1]:${probe.address().port}`] }).a('ok.test');
    assert.deepEqual(r.ok && r.records, ['192.0.2.66']);
  });

  test('no usable server configured: every lookup is a network failure', async () => {
    const r = await resolver({ servers: ['not-an-ip'] }).a('ok.test');
    assert.equal(!r.ok && r.error, 'network');
  });
});
