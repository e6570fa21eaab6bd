// EHLO/HELO sanity: names claiming to be us, and names that are not fully qualified.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { checkHelo, type HeloCheckOptions, isFqdnHelo } from '../../../src/policy/helo.ts';

const conn = { remoteAddress: '198.51.100.9', localAddress: '192.0.2.25' };
const opts = (over: Partial<HeloCheckOptions> = {}): HeloCheckOptions => ({
  ourNames: new Set(['mx.example.net', 'example.net']),
  rejectHeloAsUs: true,
  requireFqdnHelo: true,
  ...over,
});

describe('isFqdnHelo', () => {
  test('fully qualified names and address literals pass', () => {
    for (const h of ['mail.example.org', 'mail.example.org.', 'a.b.c.example.co.uk', 'xn--80ak6aa92e.xn--p1ai', '[192.0.2.1]', '[IPv6:2001:db8::1]']) {
      assert.equal(isFqdnHelo(h), true, h);
    }
  });
  test('bare names, numeric TLDs, bad syntax fail', () => {
    for (const h of ['localhost', 'EXCHANGE01', 'host.123', '192.0.2.1', 'bad_name.example', '.example.org', 'a..example.org', '[not-an-ip]']) {
      assert.equal(isFqdnHelo(h), false, h);
    }
  });
});

describe('checkHelo', () => {
  test('our hostname, a local domain, or our listening IP literal: "is us"', () => {
    for (const h of ['mx.example.net', 'MX.Example.NET.', 'example.net', '[192.0.2.25]']) {
      assert.equal(checkHelo(h, conn, opts()), 'helo-is-us', h);
    }
  });
  test('a client on this host itself may call itself us', () => {
    assert.equal(checkHelo('[192.0.2.25]', { remoteAddress: '192.0.2.25', localAddress: '192.0.2.25' }, opts()), null);
  });
  test('not fully qualified', () => {
    assert.equal(checkHelo('EXCHANGE01', conn, opts()), 'helo-not-fqdn');
  });
  test('a legitimate client passes', () => {
    assert.equal(checkHelo('mail.example.org', conn, opts()), null);
    assert.equal(checkHelo('[198.51.100.9]', conn, opts()), null);
  });
  test('each check can be switched off', () => {
    assert.equal(checkHelo('mx.example.net', conn, opts({ rejectHeloAsUs: false })), null);
    assert.equal(checkHelo('EXCHANGE01', conn, opts({ requireFqdnHelo: false })), null);
  });
});
