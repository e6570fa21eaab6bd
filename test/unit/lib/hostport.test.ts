// Listen addresses and domain-name syntax used by configuration validation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseHostPort } from '../../../src/lib/hostport.ts';
import { isDomainName } from '../../../src/lib/domain.ts';

test('parseHostPort: the accepted forms', () => {
  const table: Array<[string, string, number]> = [
    ['127.0.0.1:2525', '127.0.0.1', 2525],
    ['0.0.0.0:25', '0.0.0.0', 25],
    ['[::]:465', '::', 465],
    ['[::1]:587', '::1', 587],
    ['localhost:8025', 'localhost', 8025],
    ['mail.example.com:25', 'mail.example.com', 25],
    ['127.0.0.1:0', '127.0.0.1', 0],
    ['[2001:db8::1]:65535', '2001:db8::1', 65535],
  ];
  for (const [text, host, port] of table) {
    assert.deepEqual(parseHostPort(text), { ok: true, value: { host, port } }, text);
  }
});

test('parseHostPort: mistakes get a message naming the value', () => {
  for (
    const bad of [
      '25',
      '127.0.0.1',
      '127.0.0.1:',
      '127.0.0.1:65536',
      '127.0.0.1:-1',
      '127.0.0.1:2x',
      '::1:25',
      '[::1]25',
      '[::1:25',
      '[1.2.3.4]:25',
      '300.1.1.1:25',
      'bad_host:25',
      ':25',
      '[::g]:25',
    ]
  ) {
    const r = parseHostPort(bad);
    assert.equal(r.ok, false, bad);
    if (!r.ok) assert.ok(r.error.includes(`"${bad}"`), r.error);
  }
});

test('isDomainName', () => {
  for (
    const ok of [
      'localhost',
      'example.com',
      'mail.example.org',
      'a-b.c0',
      'xn--bcher-kva.example',
      'x',
      'a'.repeat(63) + '.com',
    ]
  ) {
    assert.equal(isDomainName(ok), true, ok);
  }
  for (
    const bad of [
      '',
      '.',
      'example.com.',
      '-a.com',
      'a-.com',
      'a..b',
      'a_b.com',
      'bücher.example',
      'a'.repeat(64) + '.com',
      `${'a.'.repeat(127)}com`,
      '1.2.3.4',
      'host.123',
      'with space.com',
    ]
  ) {
    assert.equal(isDomainName(bad), false, bad);
  }
});
