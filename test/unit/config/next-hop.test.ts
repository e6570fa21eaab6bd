// The delivery address syntaxes, as tables: every accepted form with its meaning, every refused one with why.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NextHop } from '../../../src/delivery/types.ts';
import { parseDnsServer, parseLmtpTarget, parseNextHop, parseSmarthost } from '../../../src/config/next-hop.ts';

test('parseNextHop: every form of the transport map', () => {
  const cases: Array<[string, NextHop]> = [
    ['mx', { kind: 'mx', port: 25 }],
    ['MX', { kind: 'mx', port: 25 }],
    ['mx:2525', { kind: 'mx', port: 2525 }],
    ['smtp:[relay.example.net]:587', { kind: 'smtp', host: 'relay.example.net', port: 587, lookupMx: false }],
    ['smtp:[192.0.2.7]:25', { kind: 'smtp', host: '192.0.2.7', port: 25, lookupMx: false }],
    ['smtp:[2001:db8::7]:2525', { kind: 'smtp', host: '2001:db8::7', port: 2525, lookupMx: false }],
    ['smtp:[relay.example.net]', { kind: 'smtp', host: 'relay.example.net', port: 25, lookupMx: false }],
    ['smtp:example.net:2525', { kind: 'smtp', host: 'example.net', port: 2525, lookupMx: true }],
    ['smtp:example.net', { kind: 'smtp', host: 'example.net', port: 25, lookupMx: true }],
    ['lmtp:127.0.0.1:24', { kind: 'lmtp', host: '127.0.0.1', port: 24 }],
    ['lmtp:dovecot.internal:24', { kind: 'lmtp', host: 'dovecot.internal', port: 24 }],
    ['lmtp:[::1]:8024', { kind: 'lmtp', host: '::1', port: 8024 }],
    ['lmtp:unix:/var/run/dovecot/lmtp', { kind: 'lmtp-unix', path: '/var/run/dovecot/lmtp' }],
  ];
  for (const [text, want] of cases) assert.deepEqual(parseNextHop(text), { ok: true, value: want }, text);
});

test('parseNextHop: the default port (delivery.smtp_port) applies to "mx" and port-less "smtp:" only', () => {
  assert.deepEqual(parseNextHop('mx', 2525), { ok: true, value: { kind: 'mx', port: 2525 } });
  assert.deepEqual(parseNextHop('smtp:[h.example]', 2525), {
    ok: true,
    value: { kind: 'smtp', host: 'h.example', port: 2525, lookupMx: false },
  });
  assert.deepEqual(parseNextHop('mx:26', 2525), { ok: true, value: { kind: 'mx', port: 26 } });
});

test('parseNextHop: refusals say what is wrong', () => {
  const cases: Array<[string, RegExp]> = [
    ['', /^"" is not a next hop: use "mx", "mx:PORT", /],
    ['relay.example.net', /is not a next hop/],
    ['smtp:', /is not a next hop/],
    ['lmtp', /is not a next hop/],
    ['esmtp:[h]:25', /is not a next hop/],
    ['mx:0', /^"mx:0" has an invalid port "0" \(1 to 65535\)$/],
    ['mx:65536', /invalid port "65536"/],
    ['mx:x', /invalid port "x"/],
    ['smtp:[relay.example.net]:', /invalid port ""/],
    ['smtp:[relay.example.net', /must look like "\[HOST\]" or "\[HOST\]:PORT"/],
    ['smtp:[relay.example.net]25', /must look like/],
    ['smtp:[not a host]:25', /invalid host "not a host"/],
    ['smtp:bad_host:25', /invalid host "bad_host"/],
    ['smtp:192.0.2.7:25', /IP address without brackets: write "\[192\.0\.2\.7\]"/],
    ['smtp:2001:db8::7', /needs brackets around an IPv6 address/],
    ['lmtp:127.0.0.1', /needs a port: LMTP has no standard one/],
    ['lmtp:127.0.0.1:25', /port 25, which LMTP must not use \(RFC 2033 §5\)/],
    ['lmtp:unix:var/run/lmtp', /needs an absolute socket path/],
  ];
  for (const [text, re] of cases) {
    const r = parseNextHop(text);
    assert.equal(r.ok, false, text);
    if (!r.ok) assert.match(r.error, re, text);
  }
});

test('parseSmarthost: the "smtp:" syntax without the scheme', () => {
  assert.deepEqual(parseSmarthost('[smtp.provider.example]:587'), {
    ok: true,
    value: { kind: 'smtp', host: 'smtp.provider.example', port: 587, lookupMx: false },
  });
  assert.deepEqual(parseSmarthost('provider.example', 2525), {
    ok: true,
    value: { kind: 'smtp', host: 'provider.example', port: 2525, lookupMx: true },
  });
  const bad = parseSmarthost('192.0.2.1:25');
  assert.ok(!bad.ok && bad.error.startsWith('"192.0.2.1:25" names an IP address without brackets'));
  assert.equal(parseSmarthost('smtp:[h.example]:25').ok, false, 'no scheme here');
});

test("parseLmtpTarget: a domain's lmtp setting", () => {
  assert.deepEqual(parseLmtpTarget('unix:/run/dovecot/lmtp'), {
    ok: true,
    value: { kind: 'lmtp-unix', path: '/run/dovecot/lmtp' },
  });
  assert.deepEqual(parseLmtpTarget('10.0.0.5:24'), { ok: true, value: { kind: 'lmtp', host: '10.0.0.5', port: 24 } });
  for (const bad of ['10.0.0.5', 'unix:relative/lmtp', 'lmtp:10.0.0.5:24', '', 'unix:']) {
    assert.equal(parseLmtpTarget(bad).ok, false, bad);
  }
});

test('parseDnsServer: an IP, with or without a port', () => {
  const ok: Array<[string, string, number]> = [
    ['192.0.2.53', '192.0.2.53', 53],
    ['2001:db8::53', '2001:db8::53', 53],
    ['127.0.0.1:5353', '127.0.0.1', 5353],
    ['[::1]:5353', '::1', 5353],
  ];
  for (const [text, host, port] of ok) {
    assert.deepEqual(parseDnsServer(text), { ok: true, value: { host, port } }, text);
  }
  for (const bad of ['dns.example', 'dns.example:53', '127.0.0.1:0', '127.0.0.1:', '[::1]', '', '1.2.3']) {
    const r = parseDnsServer(bad);
    assert.equal(r.ok, false, bad);
  }
});
