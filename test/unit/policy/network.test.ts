// Client address grouping for the abuse checks: canonical spellings, /64 and /24 keys, DNSBL names, literals.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalIp, dnsblQueryName, greylistNetwork, literalAddress, rateKey } from '../../../src/policy/network.ts';

describe('canonicalIp', () => {
  test('one spelling per address', () => {
    assert.equal(canonicalIp('192.0.2.1'), '192.0.2.1');
    assert.equal(canonicalIp('::ffff:192.0.2.1'), '192.0.2.1');
    assert.equal(canonicalIp('2001:DB8::1'), '2001:0db8:0000:0000:0000:0000:0000:0001');
    assert.equal(canonicalIp('2001:db8:0:0::1'), canonicalIp('2001:db8::0:1'));
    assert.equal(canonicalIp('not-an-ip'), 'not-an-ip');
  });
});

describe('rateKey', () => {
  test('IPv4 per address', () => {
    assert.equal(rateKey('192.0.2.1'), '192.0.2.1');
    assert.notEqual(rateKey('192.0.2.1'), rateKey('192.0.2.2'));
  });
  test('IPv6 per /64: every address of one host counts together', () => {
    assert.equal(rateKey('2001:db8:1:2::1'), '2001:0db8:0001:0002::/64');
    assert.equal(rateKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd'), rateKey('2001:db8:1:2::1'));
    assert.notEqual(rateKey('2001:db8:1:3::1'), rateKey('2001:db8:1:2::1'));
  });
});

describe('greylistNetwork', () => {
  test('IPv4 /24, IPv6 /64 (RFC 6647 §5 (5))', () => {
    assert.equal(greylistNetwork('192.0.2.77'), '192.0.2.0/24');
    assert.equal(greylistNetwork('192.0.2.1'), greylistNetwork('192.0.2.254'));
    assert.notEqual(greylistNetwork('192.0.3.1'), greylistNetwork('192.0.2.1'));
    assert.equal(greylistNetwork('2001:db8::5'), '2001:0db8:0000:0000::/64');
  });
});

describe('dnsblQueryName (RFC 5782 §2.1, §2.4)', () => {
  test('IPv4 octets reversed', () => {
    assert.equal(dnsblQueryName('192.0.2.99', 'bl.example'), '99.2.0.192.bl.example');
    assert.equal(dnsblQueryName('::ffff:127.0.0.2', 'bl.example.'), '2.0.0.127.bl.example');
  });
  test('IPv6: the 32 nibbles of the full address reversed', () => {
    // RFC 5782 §2.4's example: 2001:db8:1:2:3:4:567:89ab
    assert.equal(
      dnsblQueryName('2001:db8:1:2:3:4:567:89ab', 'ugly.example.com'),
      'b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ugly.example.com',
    );
  });
  test('not an address: null', () => {
    assert.equal(dnsblQueryName('localhost', 'bl.example'), null);
  });
});

describe('literalAddress (RFC 5321 §4.1.3)', () => {
  test('well-formed literals', () => {
    assert.equal(literalAddress('[192.0.2.1]'), '192.0.2.1');
    assert.equal(literalAddress('[IPv6:2001:db8::1]'), '2001:db8::1');
    assert.equal(literalAddress('[ipv6:::1]'), '::1');
  });
  test('malformed or not literals: null', () => {
    for (const s of ['192.0.2.1', '[192.0.2.1', '[::1]', '[IPv6:192.0.2.1]', '[300.1.1.1]', '[fe80::1%eth0]', '[]']) {
      assert.equal(literalAddress(s), null, s);
    }
  });
});
