// CIDR parsing and matching: IPv4, IPv6, IPv4-mapped, and the mistakes that must be refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ipv4PrefixOf, matcher, parseCidr, parseIp } from '../../../src/lib/cidr.ts';

test('parseIp: IPv4 lands in ::ffff:0:0/96', () => {
  assert.deepEqual(parseIp('127.0.0.1'), [0, 0, 0xffff, 0x7f000001]);
  assert.deepEqual(parseIp('::ffff:127.0.0.1'), [0, 0, 0xffff, 0x7f000001]);
  assert.deepEqual(parseIp('::FFFF:7f00:1'), [0, 0, 0xffff, 0x7f000001]);
  assert.deepEqual(parseIp('255.255.255.255'), [0, 0, 0xffff, 0xffffffff]);
});

test('parseIp: IPv6 forms', () => {
  assert.deepEqual(parseIp('::'), [0, 0, 0, 0]);
  assert.deepEqual(parseIp('::1'), [0, 0, 0, 1]);
  assert.deepEqual(parseIp('2001:db8::1'), [0x20010db8, 0, 0, 1]);
  assert.deepEqual(parseIp('2001:db8:0:0:0:0:0:1'), [0x20010db8, 0, 0, 1]);
  assert.deepEqual(parseIp('fe80::1%eth0'), [0xfe800000, 0, 0, 1]);
  assert.deepEqual(parseIp('1::'), [0x00010000, 0, 0, 0]);
  assert.deepEqual(parseIp('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'), [
    0xffffffff,
    0xffffffff,
    0xffffffff,
    0xffffffff,
  ]);
});

test('parseIp: rejects', () => {
  for (
    const bad of [
      '',
      '1.2.3',
      '1.2.3.4.5',
      '256.0.0.1',
      '01.2.3.4',
      '1.2.3.04',
      '1.2.3.-1',
      'a.b.c.d',
      ' 1.2.3.4',
      '1.2.3.4 ',
      ':::',
      '1:2:3:4:5:6:7:8:9',
      '1::2::3',
      '12345::',
      'g::1',
      '1:2:3:4:5:6:7',
      '::1.2.3',
      '::256.1.1.1',
      '1.2.3.4::',
      'localhost',
    ]
  ) assert.equal(parseIp(bad), null, bad);
});

test('parseCidr: valid blocks', () => {
  const p = (t: string) => {
    const r = parseCidr(t);
    assert.ok(r.ok, t);
    return r.value;
  };
  assert.equal(p('10.0.0.0/8').prefix, 104);
  assert.equal(p('10.1.2.3').prefix, 128);
  assert.equal(p('::1/128').prefix, 128);
  assert.equal(p('2001:db8::/32').prefix, 32);
  assert.equal(p('::ffff:10.0.0.0/104').prefix, 104);
  assert.equal(p('0.0.0.0/0').prefix, 96);
  assert.equal(p('::/0').prefix, 0);
});

test('parseCidr: host bits, bad lengths and zones are refused with a message', () => {
  for (
    const bad of [
      '10.0.0.1/8',
      '10.0.0.0/33',
      '10.0.0.0/',
      '10.0.0.0/08',
      '::1/129',
      '2001:db8::1/32',
      'fe80::%eth0/64',
      'nonsense/8',
      '10.0.0.0/8/8',
      '10.0.0.0/-1',
    ]
  ) {
    const r = parseCidr(bad);
    assert.equal(r.ok, false, bad);
    if (!r.ok) assert.ok(r.error.includes(bad), r.error);
  }
});

test('matcher: v4, v6 and IPv4-mapped in both directions', () => {
  const m = matcher(['127.0.0.0/8', '::1/128', '192.168.0.0/16', '2001:db8::/32', '::ffff:10.0.0.0/104']);
  for (
    const ip of [
      '127.0.0.1',
      '127.255.255.255',
      '::ffff:127.0.0.1',
      '::1',
      '192.168.44.3',
      '2001:db8:1::5',
      '10.9.8.7',
      '::ffff:10.0.0.1',
    ]
  ) {
    assert.equal(m(ip), true, ip);
  }
  for (
    const ip of [
      '128.0.0.1',
      '::2',
      '192.169.0.1',
      '2001:db9::1',
      '11.0.0.1',
      '8.8.8.8',
      '',
      'garbage',
      '::ffff:8.8.8.8',
    ]
  ) {
    assert.equal(m(ip), false, ip);
  }
});

test('matcher: edges of a block and the empty list', () => {
  const m = matcher(['198.51.100.0/24']);
  assert.equal(m('198.51.99.255'), false);
  assert.equal(m('198.51.100.0'), true);
  assert.equal(m('198.51.100.255'), true);
  assert.equal(m('198.51.101.0'), false);
  assert.equal(matcher([])('127.0.0.1'), false);
  const all = matcher(['0.0.0.0/0']);
  assert.equal(all('1.2.3.4'), true);
  assert.equal(all('2001:db8::1'), false, '0.0.0.0/0 is all of IPv4, not IPv6');
  assert.equal(matcher(['::/0'])('1.2.3.4'), true, '::/0 includes the IPv4-mapped range');
  assert.equal(matcher(['8000::/1'])('ffff::1'), true, 'top bit (sign bit of a 32-bit int) handled');
  assert.equal(matcher(['255.255.255.255/32'])('255.255.255.255'), true);
});

test('matcher: a bad block is a bug and throws', () => {
  assert.throws(() => matcher(['10.0.0.1/8']), /bits set/);
});

test('matcher: fast enough to call per connection', () => {
  const m = matcher(['127.0.0.0/8', '::1/128', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7']);
  const start = performance.now();
  let hits = 0;
  for (let i = 0; i < 100_000; i++) if (m(i % 2 ? '192.168.1.20' : '2001:db8::20')) hits++;
  assert.equal(hits, 50_000);
  assert.ok(performance.now() - start < 2000, 'should take well under 20 µs per call');
});

test('ipv4PrefixOf: how much of IPv4 a block covers', () => {
  const v = (t: string) => {
    const r = parseCidr(t);
    assert.ok(r.ok);
    return ipv4PrefixOf(r.value);
  };
  assert.equal(v('10.0.0.0/8'), 8);
  assert.equal(v('0.0.0.0/0'), 0);
  assert.equal(v('::/0'), 0);
  assert.equal(v('::ffff:0:0/96'), 0);
  assert.equal(v('::/64'), 0);
  assert.equal(v('::ffff:10.0.0.0/104'), 8);
  assert.equal(v('2001:db8::/32'), null);
  assert.equal(v('::1/128'), null);
});
