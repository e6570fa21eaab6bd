// MX routing (RFC 5321 §5.1, RFC 7505) through the real resolver and a loopback DNS server: order, implicit MX, every failure.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createResolver } from '../../../src/dns/resolver.ts';
import type { Resolver } from '../../../src/dns/types.ts';
import { type MxHost, type MxResolution, resolveDestination, resolveHostAddresses } from '../../../src/delivery/mx.ts';
import { a, aaaa, cname, mx, startDnsServer, type TestDnsServer } from '../../support/dns-server.ts';

const hostsOf = (r: MxResolution): MxHost[] => {
  assert.equal(r.kind, 'hosts', JSON.stringify(r));
  return r.kind === 'hosts' ? r.hosts : [];
};
const names = (r: MxResolution) => hostsOf(r).map((h) => h.name);

describe('resolveDestination', () => {
  let dns: TestDnsServer;
  let resolver: Resolver & { close(): void };
  const v4 = { ipv6: false };
  const v6 = { ipv6: true };

  before(async () => {
    dns = await startDnsServer({
      'prefs.test': [mx(30, 'c.prefs.test'), mx(10, 'a.prefs.test'), mx(20, 'b.prefs.test')],
      'a.prefs.test': [a('192.0.2.10')],
      'b.prefs.test': [a('192.0.2.20')],
      'c.prefs.test': [a('192.0.2.30')],
      'equal.test': [mx(10, 'x.equal.test'), mx(10, 'y.equal.test'), mx(10, 'z.equal.test'), mx(5, 'first.equal.test')],
      'first.equal.test': [a('192.0.2.1')],
      'x.equal.test': [a('192.0.2.11')],
      'y.equal.test': [a('192.0.2.12')],
      'z.equal.test': [a('192.0.2.13')],
      'implicit.test': [a('192.0.2.40'), aaaa('2001:db8::40')],
      'bare.test': [{ type: 'TXT', data: ['no mail here'] }],
      'implicit-servfail.test': { behaviour: 'servfail', types: ['A', 'AAAA'] },
      'nullmx.test': [mx(0, '.')],
      'mixednull.test': [mx(0, '.'), mx(10, 'mx.mixednull.test')],
      'mx.mixednull.test': [a('192.0.2.50')],
      'servfail.test': { behaviour: 'servfail' },
      'refused.test': { behaviour: 'refused' },
      'timeout.test': { behaviour: 'timeout' },
      'tocname.test': [mx(10, 'alias.tocname.test')],
      'alias.tocname.test': [cname('real.tocname.test')],
      'real.tocname.test': [a('192.0.2.60'), aaaa('2001:db8::60')],
      'deadmx.test': [mx(10, 'gone.deadmx.test'), mx(20, 'noaddr.deadmx.test')],
      'noaddr.deadmx.test': [{ type: 'TXT', data: ['x'] }],
      'partial.test': [mx(10, 'gone.partial.test'), mx(20, 'ok.partial.test')],
      'ok.partial.test': [a('192.0.2.70')],
      'mixed.test': [mx(10, 'gone.mixed.test'), mx(20, 'flaky.mixed.test')],
      'flaky.mixed.test': { behaviour: 'servfail' },
      'flakyfirst.test': [mx(10, 'flaky.mixed.test'), mx(20, 'ok.partial.test')],
      'dual.test': [mx(10, 'mx.dual.test')],
      'mx.dual.test': [
        a('192.0.2.80'),
        a('192.0.2.81'),
        aaaa('2001:db8::80'),
        aaaa('2001:db8::81'),
        aaaa('2001:db8::82'),
      ],
      'v6only.test': [mx(10, 'mx.v6only.test')],
      'mx.v6only.test': [aaaa('2001:db8::90')],
      'aaaa-broken.test': [mx(10, 'mx.aaaa-broken.test')],
      'mx.aaaa-broken.test': { behaviour: 'servfail', types: ['AAAA'], records: [a('192.0.2.95')] },
      'shared.test': [mx(10, 'one.shared.test'), mx(20, 'two.shared.test'), mx(30, 'three.shared.test')],
      'one.shared.test': [a('192.0.2.100'), a('192.0.2.100')],
      'two.shared.test': [a('192.0.2.100'), a('192.0.2.101')],
      'three.shared.test': [a('192.0.2.100')],
      'literal.test': [mx(10, '192.0.2.110')],
      'dupmx.test': [mx(20, 'one.shared.test'), mx(10, 'one.shared.test')],
      'self.test': [mx(10, 'backup.self.test'), mx(20, 'mx.tern.test'), mx(30, 'other.self.test')],
      'backup.self.test': [a('192.0.2.120')],
      'onlyself.test': [mx(10, 'mx.tern.test'), mx(20, 'b.prefs.test')],
    });
    resolver = createResolver({ servers: [dns.server], timeout: 150, attempts: 1 });
  });
  after(async () => {
    resolver.close();
    await dns.close();
  });

  test('several preferences: lowest first, each with its addresses', async () => {
    const r = await resolveDestination(resolver, 'prefs.test', v4);
    assert.deepEqual(hostsOf(r), [
      { name: 'a.prefs.test', preference: 10, addresses: ['192.0.2.10'], implicit: false },
      { name: 'b.prefs.test', preference: 20, addresses: ['192.0.2.20'], implicit: false },
      { name: 'c.prefs.test', preference: 30, addresses: ['192.0.2.30'], implicit: false },
    ]);
  });

  test('equal preferences are shuffled by the injected random source, lower preferences stay first', async () => {
    assert.deepEqual(names(await resolveDestination(resolver, 'equal.test', { ipv6: false, random: () => 0.999 })), [
      'first.equal.test',
      'x.equal.test',
      'y.equal.test',
      'z.equal.test',
    ]);
    assert.deepEqual(names(await resolveDestination(resolver, 'equal.test', { ipv6: false, random: () => 0 })), [
      'first.equal.test',
      'y.equal.test',
      'z.equal.test',
      'x.equal.test',
    ]);
    const firstSeen = new Set<string>();
    for (let i = 0; i < 60; i++) firstSeen.add(names(await resolveDestination(resolver, 'EQUAL.test.', v4))[1]);
    assert.deepEqual([...firstSeen].sort(), ['x.equal.test', 'y.equal.test', 'z.equal.test']);
  });

  test('no MX (NODATA): the domain itself, preference 0, implicit (RFC 5321 §5.1)', async () => {
    const r = await resolveDestination(resolver, 'implicit.test', v6);
    assert.deepEqual(hostsOf(r), [
      { name: 'implicit.test', preference: 0, addresses: ['2001:db8::40', '192.0.2.40'], implicit: true },
    ]);
  });

  test('no MX and no address: permanent 5.1.2', async () => {
    const r = await resolveDestination(resolver, 'bare.test', v6);
    assert.deepEqual(r.kind !== 'hosts' && [r.kind, r.status], ['permanent', '5.1.2']);
  });

  test('no MX and the address lookup fails temporarily: temporary 4.4.3', async () => {
    const r = await resolveDestination(resolver, 'implicit-servfail.test', v4);
    assert.deepEqual(r.kind !== 'hosts' && [r.kind, r.status], ['temporary', '4.4.3']);
  });

  test('null MX: permanent 5.1.10 at once, no address lookups (RFC 7505)', async () => {
    const before = dns.queries.length;
    const r = await resolveDestination(resolver, 'nullmx.test', v6);
    assert.deepEqual(r.kind !== 'hosts' && [r.kind, r.status], ['permanent', '5.1.10']);
    assert.match(r.kind !== 'hosts' ? r.reason : '', /null MX/);
    assert.deepEqual(dns.queries.slice(before).map((q) => q.type), ['MX']);
  });

  test('"." beside real MX records: the real ones are used', async () => {
    assert.deepEqual(names(await resolveDestination(resolver, 'mixednull.test', v4)), ['mx.mixednull.test']);
  });

  test('NXDOMAIN: permanent 5.1.2', async () => {
    const r = await resolveDestination(resolver, 'nonexistent.test', v4);
    assert.deepEqual(r.kind !== 'hosts' && [r.kind, r.status], ['permanent', '5.1.2']);
  });

  test('SERVFAIL, REFUSED, timeout on the MX lookup: temporary 4.4.3, never a bounce', async () => {
    for (const d of ['servfail.test', 'refused.test', 'timeout.test']) {
      const r = await resolveDestination(resolver, d, v4);
      assert.deepEqual(r.kind !== 'hosts' && [r.kind, r.status], ['temporary', '4.4.3'], d);
    }
  });

  test('an MX pointing at a CNAME is followed (liberal: RFC 5321 §5.1 forbids it)', async () => {
    const r = await resolveDestination(resolver, 'tocname.test', v6);
    assert.deepEqual(hostsOf(r), [
      { name: 'alias.tocname.test', preference: 10, addresses: ['2001:db8::60', '192.0.2.60'], implicit: false },
    ]);
  });

  test('MX hosts that do not resolve are skipped; if none resolves: permanent 5.1.2', async () => {
    assert.deepEqual(names(await resolveDestination(resolver, 'partial.test', v4)), ['ok.partial.test']);
    const r = await resolveDestination(resolver, 'deadmx.test', v6);
    assert.deepEqual(r.kind !== 'hosts' && [r.kind, r.status], ['permanent', '5.1.2']);
    assert.match(r.kind !== 'hosts' ? r.reason : '', /do not resolve.*gone\.deadmx\.test.*noaddr\.deadmx\.test/);
  });

  test('one host gone for good, another failing temporarily: temporary 4.4.3, not a bounce', async () => {
    const r = await resolveDestination(resolver, 'mixed.test', v4);
    assert.deepEqual(r.kind !== 'hosts' && [r.kind, r.status], ['temporary', '4.4.3']);
  });

  test('a host failing temporarily keeps its place without addresses when another host resolves', async () => {
    const hosts = hostsOf(await resolveDestination(resolver, 'flakyfirst.test', v4));
    assert.deepEqual(hosts.map((h) => [h.name, h.addresses]), [['flaky.mixed.test', []], ['ok.partial.test', [
      '192.0.2.70',
    ]]]);
    assert.match(hosts[0].lookupError ?? '', /SERVFAIL/);
  });

  test('IPv6 on: AAAA and A interleaved, IPv6 first (RFC 8305 §4); IPv6 off: A only, no AAAA query', async () => {
    const on = hostsOf(await resolveDestination(resolver, 'dual.test', v6));
    assert.deepEqual(on[0].addresses, ['2001:db8::80', '192.0.2.80', '2001:db8::81', '192.0.2.81', '2001:db8::82']);
    const before = dns.queries.length;
    const off = hostsOf(await resolveDestination(resolver, 'dual.test', v4));
    assert.deepEqual(off[0].addresses, ['192.0.2.80', '192.0.2.81']);
    assert.ok(!dns.queries.slice(before).some((q) => q.type === 'AAAA'));
  });

  test('an IPv6-only MX host: used with IPv6 on, a permanent failure with it off', async () => {
    assert.deepEqual(hostsOf(await resolveDestination(resolver, 'v6only.test', v6))[0].addresses, ['2001:db8::90']);
    const r = await resolveDestination(resolver, 'v6only.test', v4);
    assert.deepEqual(r.kind !== 'hosts' && [r.kind, r.status], ['permanent', '5.1.2']);
  });

  test('AAAA failing while A answers: deliver over IPv4 now', async () => {
    assert.deepEqual(hostsOf(await resolveDestination(resolver, 'aaaa-broken.test', v6))[0].addresses, ['192.0.2.95']);
  });

  test('addresses are deduplicated within and across hosts; duplicate MX names keep the best preference', async () => {
    const hosts = hostsOf(await resolveDestination(resolver, 'shared.test', v4));
    assert.deepEqual(hosts.map((h) => [h.name, h.addresses]), [
      ['one.shared.test', ['192.0.2.100']],
      ['two.shared.test', ['192.0.2.101']],
    ]);
    assert.deepEqual(hostsOf(await resolveDestination(resolver, 'dupmx.test', v4)).map((h) => [h.name, h.preference]), [
      ['one.shared.test', 10],
    ]);
  });

  test('an MX target that is an IP address is used as such', async () => {
    assert.deepEqual(hostsOf(await resolveDestination(resolver, 'literal.test', v4))[0].addresses, ['192.0.2.110']);
  });

  test('an address-literal domain needs no lookup (RFC 5321 §4.1.3)', async () => {
    assert.deepEqual(hostsOf(await resolveDestination(resolver, '[192.0.2.7]', v4)), [
      { name: '[192.0.2.7]', preference: 0, addresses: ['192.0.2.7'], implicit: true },
    ]);
    assert.deepEqual(hostsOf(await resolveDestination(resolver, '[IPv6:2001:DB8::7]', v6))[0].addresses, [
      '2001:db8::7',
    ]);
    const off = await resolveDestination(resolver, '[IPv6:2001:db8::7]', v4);
    assert.deepEqual(off.kind !== 'hosts' && [off.kind, off.status], ['permanent', '5.4.4']);
    const bad = await resolveDestination(resolver, '[not.an.ip]', v4);
    assert.deepEqual(bad.kind !== 'hosts' && [bad.kind, bad.status], ['permanent', '5.4.4']);
  });

  test('when we are one of the MX hosts, only more preferred hosts are used; if none: 5.4.6 (RFC 5321 §5.1)', async () => {
    const opts = { ipv6: false, localNames: ['MX.tern.test.'] };
    assert.deepEqual(names(await resolveDestination(resolver, 'self.test', opts)), ['backup.self.test']);
    const r = await resolveDestination(resolver, 'onlyself.test', opts);
    assert.deepEqual(r.kind !== 'hosts' && [r.kind, r.status], ['permanent', '5.4.6']);
  });
});

describe('resolveHostAddresses (static routes)', () => {
  let dns: TestDnsServer;
  let resolver: Resolver & { close(): void };
  before(async () => {
    dns = await startDnsServer({
      'relay.test': [a('192.0.2.1'), aaaa('2001:db8::1')],
      'flaky.test': { behaviour: 'timeout' },
      'noaddr.test': [mx(10, 'relay.test')],
    });
    resolver = createResolver({ servers: [dns.server], timeout: 100, attempts: 1 });
  });
  after(async () => {
    resolver.close();
    await dns.close();
  });

  test('names, literals, and the three outcomes', async () => {
    assert.deepEqual(await resolveHostAddresses(resolver, 'relay.test', true), {
      kind: 'ok',
      addresses: ['2001:db8::1', '192.0.2.1'],
    });
    assert.deepEqual(await resolveHostAddresses(resolver, 'relay.test', false), {
      kind: 'ok',
      addresses: ['192.0.2.1'],
    });
    assert.deepEqual(await resolveHostAddresses(resolver, '[192.0.2.9]', false), {
      kind: 'ok',
      addresses: ['192.0.2.9'],
    });
    assert.deepEqual(await resolveHostAddresses(resolver, '::1', true), { kind: 'ok', addresses: ['::1'] });
    assert.equal((await resolveHostAddresses(resolver, '::1', false)).kind, 'permanent');
    assert.equal((await resolveHostAddresses(resolver, 'flaky.test', true)).kind, 'temporary');
    assert.equal((await resolveHostAddresses(resolver, 'noaddr.test', true)).kind, 'permanent');
    const gone = await resolveHostAddresses(resolver, 'gone.test', false);
    assert.deepEqual(gone, { kind: 'permanent', reason: 'gone.test: no such host (NXDOMAIN)' });
  });
});
