// Caching: positive answers for their TTL, negative ones for the SOA minimum (RFC 2308), failures never; time is injected.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TtlCache } from '../../../src/dns/cache.ts';
import { createResolver } from '../../../src/dns/resolver.ts';
import { a, cname, mx, soa, startDnsServer, type TestDnsServer, type Zone } from '../../support/dns-server.ts';

const ZONE: Zone = {
  'example.test': [soa(10, 3600), mx(10, 'mx.example.test', 60)],
  'mx.example.test': [a('192.0.2.1', 60)],
  'long.example.test': [a('192.0.2.2', 86400)],
  'zero.example.test': [a('192.0.2.3', 0)],
  'alias.example.test': [cname('mx.example.test', 20)],
  'flaky.example.test': { behaviour: 'servfail' },
  'silent.example.test': { behaviour: 'timeout' },
  'capped.test': [soa(86400, 86400)],
};

describe('resolver: cache', () => {
  let dns: TestDnsServer;
  let bare: TestDnsServer; // no SOA anywhere in its negative answers
  let clock = 0;
  const resolvers: Array<{ close(): void }> = [];
  const resolver = (server = dns.server, cacheSize?: number) => {
    const r = createResolver({ servers: [server], timeout: 100, attempts: 1, cacheSize, now: () => clock });
    resolvers.push(r);
    return r;
  };
  const asked = (server: TestDnsServer, name: string) => server.queries.filter((q) => q.name === name).length;

  before(async () => {
    dns = await startDnsServer(ZONE);
    bare = await startDnsServer({}, { defaultSoa: false });
  });
  after(async () => {
    for (const r of resolvers) r.close();
    await dns.close();
    await bare.close();
  });

  test('a positive answer is served from the cache until its TTL runs out, with the TTL counting down', async () => {
    clock = 1_000_000;
    const r = resolver();
    assert.deepEqual(await r.a('mx.example.test'), { ok: true, records: ['192.0.2.1'], ttl: 60 });
    clock += 20_000;
    assert.deepEqual(await r.a('MX.example.test.'), { ok: true, records: ['192.0.2.1'], ttl: 40 });
    assert.equal(asked(dns, 'mx.example.test'), 1);
    clock += 40_001;
    assert.deepEqual(await r.a('mx.example.test'), { ok: true, records: ['192.0.2.1'], ttl: 60 });
    assert.equal(asked(dns, 'mx.example.test'), 2);
  });

  test('the cache sees a changed zone only after the TTL', async () => {
    clock = 2_000_000;
    const r = resolver();
    await r.mx('example.test');
    dns.setZone({ ...ZONE, 'example.test': [soa(10), mx(5, 'new.example.test', 60)] });
    const cached = await r.mx('example.test');
    assert.deepEqual(cached.ok && cached.records, [{ preference: 10, exchange: 'mx.example.test' }]);
    clock += 61_000;
    const fresh = await r.mx('example.test');
    assert.deepEqual(fresh.ok && fresh.records, [{ preference: 5, exchange: 'new.example.test' }]);
    dns.setZone(ZONE);
  });

  test('TTLs are capped at an hour; a TTL of zero is not cached', async () => {
    clock = 3_000_000;
    const r = resolver();
    const long = await r.a('long.example.test');
    assert.equal(long.ok && long.ttl, 3600);
    clock += 3_600_001;
    await r.a('long.example.test');
    assert.equal(asked(dns, 'long.example.test'), 2);
    await r.a('zero.example.test');
    await r.a('zero.example.test');
    assert.equal(asked(dns, 'zero.example.test'), 2);
  });

  test('a CNAME answer is cached for the smallest TTL along the chain', async () => {
    clock = 4_000_000;
    const r = resolver();
    assert.equal((await r.a('alias.example.test')).ok, true);
    clock += 19_000;
    await r.a('alias.example.test');
    assert.equal(asked(dns, 'alias.example.test'), 1);
    clock += 2_000;
    await r.a('alias.example.test');
    assert.equal(asked(dns, 'alias.example.test'), 2);
  });

  test('NXDOMAIN is cached for min(SOA TTL, SOA MINIMUM) (RFC 2308 §5)', async () => {
    clock = 5_000_000;
    const r = resolver();
    for (let i = 0; i < 3; i++) assert.equal((await r.a('gone.example.test')).ok, false);
    assert.equal(asked(dns, 'gone.example.test'), 1);
    clock += 10_001;
    const again = await r.a('gone.example.test');
    assert.equal(!again.ok && again.error, 'nxdomain');
    assert.equal(asked(dns, 'gone.example.test'), 2);
  });

  test('NODATA is cached like NXDOMAIN, per type', async () => {
    clock = 6_000_000;
    const r = resolver();
    assert.equal((await r.aaaa('mx.example.test')).ok, false);
    assert.equal((await r.aaaa('mx.example.test')).ok, false);
    assert.equal(dns.queries.filter((q) => q.name === 'mx.example.test' && q.type === 'AAAA').length, 1);
  });

  test('negative caching is capped at 5 minutes, and is 60 s without an SOA', async () => {
    clock = 7_000_000;
    const r = resolver();
    await r.a('x.capped.test');
    clock += 299_000;
    await r.a('x.capped.test');
    assert.equal(asked(dns, 'x.capped.test'), 1);
    clock += 2_000;
    await r.a('x.capped.test');
    assert.equal(asked(dns, 'x.capped.test'), 2);

    const b = resolver(bare.server);
    await b.a('nothing.test');
    clock += 59_000;
    await b.a('nothing.test');
    assert.equal(asked(bare, 'nothing.test'), 1);
    clock += 2_000;
    await b.a('nothing.test');
    assert.equal(asked(bare, 'nothing.test'), 2);
  });

  test('SERVFAIL and timeouts are never cached', async () => {
    clock = 8_000_000;
    const r = resolver();
    await r.a('flaky.example.test');
    await r.a('flaky.example.test');
    assert.equal(asked(dns, 'flaky.example.test'), 2);
    await r.a('silent.example.test');
    await r.a('silent.example.test');
    assert.equal(asked(dns, 'silent.example.test'), 2);
  });

  test('cacheSize bounds the entries; 0 turns the cache off', async () => {
    clock = 9_000_000;
    const small = resolver(dns.server, 1);
    await small.a('mx.example.test');
    await small.a('long.example.test'); // evicts mx.example.test
    const before = asked(dns, 'mx.example.test');
    await small.a('mx.example.test');
    assert.equal(asked(dns, 'mx.example.test'), before + 1);
    const none = resolver(dns.server, 0);
    await none.a('long.example.test');
    await none.a('long.example.test');
    assert.equal(asked(dns, 'long.example.test') >= 4, true);
  });
});

test('TtlCache: expiry on the injected clock, least recently used evicted first', () => {
  let now = 0;
  const c = new TtlCache<string>(2, () => now);
  c.set('a', 'A', 10);
  c.set('b', 'B', 10);
  assert.deepEqual(c.get('a'), { value: 'A', remaining: 10 }); // a is now the most recent
  c.set('c', 'C', 10);
  assert.equal(c.get('b'), null);
  assert.equal(c.entries, 2);
  now = 9_500;
  assert.deepEqual(c.get('c'), { value: 'C', remaining: 1 });
  now = 10_000;
  assert.equal(c.get('c'), null);
  c.set('z', 'Z', 0);
  assert.equal(c.get('z'), null);
});
