// The resolver against a loopback DNS server: record types, every failure kind, CNAME chains, names; same on every runtime.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createResolver, type ResolverOptions } from '../../../src/dns/resolver.ts';
import { a, aaaa, cname, mx, startDnsServer, type TestDnsServer, txt } from '../../support/dns-server.ts';

describe('resolver: answers and failures', () => {
  let dns: TestDnsServer;
  const resolvers: Array<{ close(): void }> = [];
  const resolver = (extra: Partial<ResolverOptions> = {}) => {
    const r = createResolver({ servers: [dns.server], timeout: 300, attempts: 1, ...extra });
    resolvers.push(r);
    return r;
  };

  before(async () => {
    dns = await startDnsServer({
      'example.test': [
        mx(10, 'MX1.Example.TEST.'),
        mx(20, 'mx2.example.test'),
        a('192.0.2.1', 120),
        a('192.0.2.2', 60),
      ],
      'v6.example.test': [aaaa('2001:DB8:0:0:0:0:0:1'), aaaa('2001:db8::a:0:0:2')],
      'txt.example.test': [
        txt('v=spf1 ', 'ip4:192.0.2.0/24 ', '-all'),
        txt('second record'),
        // One multi-byte character split across two character-strings.
        txt(new Uint8Array([0x63, 0x61, 0x66, 0xc3]), new Uint8Array([0xa9])),
      ],
      'null.example.test': [mx(0, '.')],
      'nodata.example.test': [a('192.0.2.9')],
      'servfail.example.test': { behaviour: 'servfail' },
      'refused.example.test': { behaviour: 'refused' },
      'formerr.example.test': { behaviour: 'formerr' },
      'timeout.example.test': { behaviour: 'timeout' },
      'aaaa-servfail.example.test': { behaviour: 'servfail', types: ['AAAA'], records: [a('192.0.2.7')] },
      'www.example.test': [cname('alias1.example.test', 30)],
      'alias1.example.test': [cname('alias2.example.test', 200)],
      'alias2.example.test': [a('192.0.2.20', 100)],
      'dangling.example.test': [cname('missing.example.test')],
      'loop1.example.test': [cname('loop2.example.test')],
      'loop2.example.test': [cname('loop1.example.test')],
      'outside.example.test': { behaviour: 'cname-only', records: [cname('target.elsewhere.test', 50)] },
      'target.elsewhere.test': [a('198.51.100.7', 500)],
      'xn--bcher-kva.example.test': [a('192.0.2.44')],
      ...Object.fromEntries(
        Array.from({ length: 10 }, (_, i) => [`c${i}.example.test`, [cname(`c${i + 1}.example.test`)]]),
      ),
      'c10.example.test': [a('192.0.2.10')],
    });
  });
  after(async () => {
    for (const r of resolvers) r.close();
    await dns.close();
  });

  test('A, with the smallest TTL of the records', async () => {
    assert.deepEqual(await resolver().a('example.test'), { ok: true, records: ['192.0.2.1', '192.0.2.2'], ttl: 60 });
  });

  test('AAAA in compressed lower-case form', async () => {
    const r = await resolver().aaaa('v6.example.test');
    assert.deepEqual(r, { ok: true, records: ['2001:db8::1', '2001:db8::a:0:0:2'], ttl: 300 });
  });

  test('MX: exchange lower-case without trailing dot, preference kept', async () => {
    const r = await resolver().mx('example.test');
    assert.deepEqual(r, {
      ok: true,
      records: [{ preference: 10, exchange: 'mx1.example.test' }, { preference: 20, exchange: 'mx2.example.test' }],
      ttl: 300,
    });
  });

  test('null MX: the exchange "." becomes the empty string (RFC 7505)', async () => {
    assert.deepEqual(await resolver().mx('null.example.test'), {
      ok: true,
      records: [{ preference: 0, exchange: '' }],
      ttl: 300,
    });
  });

  test('TXT: the strings of one record are joined with nothing between, records stay apart', async () => {
    const r = await resolver().txt('txt.example.test');
    assert.equal(r.ok, true);
    assert.deepEqual(r.ok && r.records, ['v=spf1 ip4:192.0.2.0/24 -all', 'second record', 'café']);
  });

  test('names are case-insensitive and a trailing dot does not matter', async () => {
    const r = await resolver().a('EXAMPLE.Test.');
    assert.deepEqual(r.ok && r.records, ['192.0.2.1', '192.0.2.2']);
  });

  test('NXDOMAIN: the name does not exist', async () => {
    const r = await resolver().mx('nowhere.example.test');
    assert.equal(!r.ok && r.error, 'nxdomain');
  });

  test('NODATA: the name exists without that type (not NXDOMAIN: implicit MX depends on it)', async () => {
    const r = await resolver().mx('nodata.example.test');
    assert.equal(!r.ok && r.error, 'nodata');
    const v6 = await resolver().aaaa('example.test');
    assert.equal(!v6.ok && v6.error, 'nodata');
  });

  test('SERVFAIL, REFUSED and FORMERR are told apart and are never NXDOMAIN', async () => {
    const res = resolver();
    for (const [name, kind] of [['servfail', 'servfail'], ['refused', 'refused'], ['formerr', 'formerr']] as const) {
      const r = await res.mx(`${name}.example.test`);
      assert.equal(r.ok, false, name);
      assert.equal(!r.ok && r.error, kind, name);
      assert.match(!r.ok ? r.message : '', new RegExp(name.toUpperCase()));
    }
  });

  test('a failure of one type does not spoil another of the same name', async () => {
    const res = resolver();
    assert.equal((await res.aaaa('aaaa-servfail.example.test')).ok, false);
    assert.deepEqual(await res.a('aaaa-servfail.example.test'), { ok: true, records: ['192.0.2.7'], ttl: 300 });
  });

  test('timeout: no answer within timeout x attempts', async () => {
    const started = Date.now();
    const r = await resolver({ timeout: 150, attempts: 2 }).a('timeout.example.test');
    assert.equal(!r.ok && r.error, 'timeout');
    const took = Date.now() - started;
    assert.ok(took >= 280 && took < 2000, `took ${took} ms`);
    const asked = dns.queries.filter((q) => q.name === 'timeout.example.test');
    assert.equal(asked.length, 2);
  });

  test('CNAME chain inside the answer: records of the target, TTL the smallest along the chain', async () => {
    const r = await resolver().a('www.example.test');
    assert.deepEqual(r, { ok: true, records: ['192.0.2.20'], ttl: 30 });
  });

  test('an answer that stops at a CNAME: the target is asked for', async () => {
    const before = dns.queries.length;
    const r = await resolver().a('outside.example.test');
    assert.deepEqual(r, { ok: true, records: ['198.51.100.7'], ttl: 50 });
    assert.deepEqual(dns.queries.slice(before).map((q) => q.name), ['outside.example.test', 'target.elsewhere.test']);
  });

  test('CNAME to a name that does not exist: NXDOMAIN (RFC 6604), message names the chain', async () => {
    const r = await resolver().a('dangling.example.test');
    assert.equal(!r.ok && r.error, 'nxdomain');
    assert.match(!r.ok ? r.message : '', /missing\.example\.test.*dangling\.example\.test -> missing\.example\.test/);
  });

  test('CNAME loop: servfail (a broken zone that may be fixed), not a hang', async () => {
    const r = await resolver().a('loop1.example.test');
    assert.equal(!r.ok && r.error, 'servfail');
    assert.match(!r.ok ? r.message : '', /loop/);
  });

  test('CNAME chain longer than 8: servfail', async () => {
    const r = await resolver().a('c0.example.test');
    assert.equal(!r.ok && r.error, 'servfail');
    const ok = await resolver().a('c3.example.test'); // seven hops
    assert.deepEqual(ok.ok && ok.records, ['192.0.2.10']);
  });

  test('an internationalised name is asked for by its A-label (RFC 5890)', async () => {
    const r = await resolver().a('bücher.example.test');
    assert.deepEqual(r.ok && r.records, ['192.0.2.44']);
    assert.ok(dns.queries.some((q) => q.name === 'xn--bcher-kva.example.test'));
  });

  test('a name that cannot exist is NXDOMAIN without a query', async () => {
    const before = dns.queries.length;
    for (const bad of ['', '.', 'a..b', `${'x'.repeat(64)}.test`, `${'abcdefghi.'.repeat(26)}test`, 'sp ace.test']) {
      const r = await resolver().a(bad);
      assert.equal(!r.ok && r.error, 'nxdomain', JSON.stringify(bad));
    }
    assert.equal(dns.queries.length, before);
  });

  test('concurrent lookups of one name share one query', async () => {
    const res = resolver({ cacheSize: 0 });
    const before = dns.queries.length;
    const answers = await Promise.all([res.a('example.test'), res.a('example.test'), res.a('EXAMPLE.test')]);
    for (const r of answers) assert.deepEqual(r.ok && r.records, ['192.0.2.1', '192.0.2.2']);
    assert.equal(dns.queries.length - before, 1);
  });

  test('after close() every lookup is a network failure, not a throw', async () => {
    const res = resolver();
    res.close();
    const r = await res.a('example.test');
    assert.equal(!r.ok && r.error, 'network');
  });
});
