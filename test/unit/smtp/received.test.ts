// Tests for the Received trace header (RFC 5321 §4.4), protocol names (RFC 3848, RFC 6531) and dates.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { addressLiteral, formatDate, protocolName, receivedHeader, sanitiseHelo } from '../../../src/smtp/received.ts';

const base = {
  helo: 'client.test',
  remoteAddress: '192.0.2.1',
  tls: null,
  hostname: 'mx.tern.test',
  protocol: 'ESMTP',
  queueId: 'Q0001',
  recipient: 'bob@tern.test',
  date: new Date('2026-01-02T03:04:05Z'),
};

describe('receivedHeader', () => {
  test('one recipient, plaintext', () => {
    assert.equal(
      receivedHeader(base),
      'Received: from client.test ([192.0.2.1])\r\n' +
        '\tby mx.tern.test (Tern) with ESMTP id Q0001\r\n' +
        '\tfor <bob@tern.test>;\r\n' +
        '\tFri, 02 Jan 2026 03:04:05 +0000\r\n',
    );
  });

  test('several recipients: no FOR clause (RFC 5321 §7.6)', () => {
    assert.equal(
      receivedHeader({ ...base, recipient: null }),
      'Received: from client.test ([192.0.2.1])\r\n' +
        '\tby mx.tern.test (Tern) with ESMTP id Q0001;\r\n' +
        '\tFri, 02 Jan 2026 03:04:05 +0000\r\n',
    );
  });

  test('TLS adds a comment line; IPv6 clients get an IPv6 literal', () => {
    const h = receivedHeader({
      ...base,
      remoteAddress: '2001:db8::7',
      tls: { protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' },
      protocol: 'ESMTPS',
    });
    assert.equal(
      h,
      'Received: from client.test ([IPv6:2001:db8::7])\r\n' +
        '\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384)\r\n' +
        '\tby mx.tern.test (Tern) with ESMTPS id Q0001\r\n' +
        '\tfor <bob@tern.test>;\r\n' +
        '\tFri, 02 Jan 2026 03:04:05 +0000\r\n',
    );
  });

  test('every line but the first is folded with a tab and all end in CRLF', () => {
    const h = receivedHeader({ ...base, tls: { protocol: 'TLSv1.2', cipher: 'X' } });
    const lines = h.split('\r\n');
    assert.equal(lines.pop(), '');
    assert.ok(lines[0].startsWith('Received: '));
    for (const l of lines.slice(1)) assert.ok(l.startsWith('\t'), l);
    assert.ok(!/[\r\n]/.test(lines.join('')));
  });

  test('attacker-controlled parts cannot break the header', () => {
    const h = receivedHeader({
      ...base,
      helo: 'evil)\r\nX-Injected: yes (',
      tls: { protocol: 'TLS)\r\n', cipher: 'a (b' },
    });
    assert.equal(h.split('\r\n').length, 6); // 5 lines + trailing empty
    assert.ok(!h.includes('X-Injected: yes'));
    const opens = (h.match(/\(/g) ?? []).length;
    const closes = (h.match(/\)/g) ?? []).length;
    assert.equal(opens, closes);
  });
});

describe('protocolName (RFC 3848, RFC 6531 §4.3)', () => {
  const table: Array<[boolean, boolean, boolean, boolean, string]> = [
    [false, false, false, false, 'SMTP'],
    [false, true, false, false, 'SMTP'],
    [true, false, false, false, 'ESMTP'],
    [true, true, false, false, 'ESMTPS'],
    [true, false, true, false, 'ESMTPA'],
    [true, true, true, false, 'ESMTPSA'],
    [true, false, false, true, 'UTF8SMTP'],
    [true, true, false, true, 'UTF8SMTPS'],
    [true, false, true, true, 'UTF8SMTPA'],
    [true, true, true, true, 'UTF8SMTPSA'],
  ];
  for (const [ehlo, tls, auth, utf8, name] of table) {
    test(
      name + (ehlo ? '' : ` (HELO${tls ? ', TLS' : ''})`),
      () => assert.equal(protocolName(ehlo, tls, auth, utf8), name),
    );
  }
});

describe('helpers', () => {
  test('addressLiteral', () => {
    assert.equal(addressLiteral('192.0.2.1'), '[192.0.2.1]');
    assert.equal(addressLiteral('::1'), '[IPv6:::1]');
    assert.equal(addressLiteral('fe80::1%eth0'), '[IPv6:fe80::1_eth0]');
  });
  test('sanitiseHelo keeps domains and literals, replaces the rest', () => {
    assert.equal(sanitiseHelo('client.test'), 'client.test');
    assert.equal(sanitiseHelo('[IPv6:2001:db8::1]'), '[IPv6:2001:db8::1]');
    assert.equal(sanitiseHelo('my_pc'), 'my_pc');
    assert.equal(sanitiseHelo('a b(c)'), 'a_b_c_');
    assert.equal(sanitiseHelo(''), 'unknown');
    assert.equal(sanitiseHelo('x'.repeat(1000)).length, 255);
  });
  test('formatDate: RFC 5322 §3.3 with a numeric offset', () => {
    assert.equal(formatDate(new Date('2026-01-02T03:04:05Z')), 'Fri, 02 Jan 2026 03:04:05 +0000');
    assert.equal(formatDate(new Date('1999-12-31T23:59:59Z')), 'Fri, 31 Dec 1999 23:59:59 +0000');
    assert.equal(formatDate(new Date('2024-02-29T12:00:00Z')), 'Thu, 29 Feb 2024 12:00:00 +0000');
  });
});
