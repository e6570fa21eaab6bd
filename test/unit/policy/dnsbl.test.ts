// DNSBL lookups through a fake resolver: listed, not listed, refusal codes, DNS trouble, several zones.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createDnsbl } from '../../../src/policy/dnsbl.ts';
import { fakeResolver, recordingLog } from './fixtures.ts';

describe('createDnsbl', () => {
  test('a 127.0.0.x answer means listed; the TXT reason is kept for the log', async () => {
    const { log } = recordingLog();
    const r = fakeResolver({
      a: { '2.0.0.127.bl.example': ['127.0.0.2'] },
      txt: { '2.0.0.127.bl.example': ['Listed: see https://bl.example/127.0.0.2'] },
    });
    const hit = await createDnsbl(r, ['bl.example'], log).check('127.0.0.2');
    assert.deepEqual(hit, { zone: 'bl.example', codes: ['127.0.0.2'], reason: 'Listed: see https://bl.example/127.0.0.2' });
  });

  test('NXDOMAIN means not listed, silently (a legitimate client passes)', async () => {
    const { log, lines } = recordingLog();
    const r = fakeResolver({ a: {}, txt: {} });
    assert.equal(await createDnsbl(r, ['bl.example'], log).check('192.0.2.1'), null);
    assert.deepEqual(r.asked, ['1.2.0.192.bl.example']);
    assert.deepEqual(lines, []);
  });

  test('a listing without TXT has reason null', async () => {
    const { log } = recordingLog();
    const r = fakeResolver({ a: { '1.2.0.192.bl.example': ['127.0.0.4'] }, txt: {} });
    assert.deepEqual(await createDnsbl(r, ['bl.example'], log).check('192.0.2.1'), {
      zone: 'bl.example',
      codes: ['127.0.0.4'],
      reason: null,
    });
  });

  for (const failure of ['servfail', 'timeout', 'refused', 'network'] as const) {
    test(`${failure} means not listed, logged: DNS trouble never blocks mail`, async () => {
      const { log, lines } = recordingLog();
      const r = fakeResolver({ a: { '1.2.0.192.bl.example': failure }, txt: {} });
      assert.equal(await createDnsbl(r, ['bl.example'], log).check('192.0.2.1'), null);
      assert.equal(lines.length, 1);
      assert.equal(lines[0].event, 'dnsbl-lookup-failed');
      assert.equal(lines[0].error, failure);
      assert.equal(lines[0].zone, 'bl.example');
    });
  }

  test('Spamhaus 127.255.255.x "query refused" codes are no listing, logged at error level', async () => {
    const { log, lines } = recordingLog();
    const r = fakeResolver({ a: { '1.2.0.192.zen.example': ['127.255.255.254'] }, txt: {} });
    assert.equal(await createDnsbl(r, ['zen.example'], log).check('192.0.2.1'), null);
    assert.equal(lines.length, 1);
    assert.equal(lines[0].event, 'dnsbl-query-refused');
    assert.equal(lines[0].level, 'error');
  });

  test('answers outside 127/8 (NXDOMAIN rewriting resolvers) are no listing', async () => {
    const { log, lines } = recordingLog();
    const r = fakeResolver({ a: { '1.2.0.192.bl.example': ['198.51.100.7'] }, txt: {} });
    assert.equal(await createDnsbl(r, ['bl.example'], log).check('192.0.2.1'), null);
    assert.equal(lines[0].event, 'dnsbl-bogus-answer');
  });

  test('several zones: asked in parallel, the first zone in configuration order wins', async () => {
    const { log } = recordingLog();
    const r = fakeResolver({
      a: { '1.2.0.192.one.example': ['127.0.0.2'], '1.2.0.192.two.example': ['127.0.0.3'] },
      txt: {},
      delay: { '1.2.0.192.one.example': 50 }, // the first zone answers last
    });
    const started = Date.now();
    const hit = await createDnsbl(r, ['one.example', 'two.example', 'three.example'], log).check('192.0.2.1');
    assert.equal(hit?.zone, 'one.example');
    assert.deepEqual(r.asked.slice(0, 3), ['1.2.0.192.one.example', '1.2.0.192.two.example', '1.2.0.192.three.example']);
    assert.ok(Date.now() - started < 1000);
  });

  test('a later zone lists when the first does not', async () => {
    const { log } = recordingLog();
    const r = fakeResolver({ a: { '1.2.0.192.two.example': ['127.0.0.3'] }, txt: {} });
    const hit = await createDnsbl(r, ['one.example', 'two.example'], log).check('192.0.2.1');
    assert.equal(hit?.zone, 'two.example');
  });

  test('IPv6 clients are looked up by nibbles', async () => {
    const { log } = recordingLog();
    const r = fakeResolver({ a: {}, txt: {} });
    await createDnsbl(r, ['bl.example'], log).check('2001:db8::1');
    assert.equal(r.asked[0], '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.example');
  });

  test('a resolver that throws is still only a failed lookup', async () => {
    const { log, lines } = recordingLog();
    const r = fakeResolver({ a: {}, txt: {} });
    r.a = () => Promise.reject(new Error('boom'));
    assert.equal(await createDnsbl(r, ['bl.example'], log).check('192.0.2.1'), null);
    assert.equal(lines[0].event, 'dnsbl-lookup-failed');
  });
});
