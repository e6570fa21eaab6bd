// mailauthResolver: Tern's resolver in mailauth's node:dns-like shape, every failure with the code mailauth expects.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createResolver } from '../../../src/dns/resolver.ts';
import { DnsLookupError, mailauthResolver } from '../../../src/dkim/resolver-adapter.ts';
import { a, aaaa, mx, startDnsServer, type TestDnsServer, txt } from '../../support/dns-server.ts';

describe('mailauthResolver', () => {
  let dns: TestDnsServer;
  let resolver: ReturnType<typeof createResolver>;
  let lookup: ReturnType<typeof mailauthResolver>;

  before(async () => {
    dns = await startDnsServer({
      'example.test': [mx(10, 'mx1.example.test'), a('192.0.2.1'), aaaa('2001:db8::1'), txt('v=spf1 ', '-all'), txt('other')],
      'nodata.example.test': [a('192.0.2.9')],
      'servfail.example.test': { behaviour: 'servfail' },
      'refused.example.test': { behaviour: 'refused' },
      'timeout.example.test': { behaviour: 'timeout' },
    });
    resolver = createResolver({ servers: [dns.server], timeout: 200, attempts: 1 });
    lookup = mailauthResolver(resolver);
  });
  after(async () => {
    resolver.close();
    await dns.close();
  });

  test('TXT: one array per record, character-strings joined', async () => {
    const records = (await lookup('example.test', 'TXT')) as string[][];
    assert.deepEqual(records.map((r) => r.join('')).sort(), ['other', 'v=spf1 -all']);
    assert.ok(records.every((r) => Array.isArray(r)));
  });

  test('MX, A, AAAA in node:dns shapes; a trailing dot and any case of the type are accepted', async () => {
    assert.deepEqual(await lookup('example.test.', 'mx'), [{ exchange: 'mx1.example.test', priority: 10 }]);
    assert.deepEqual(await lookup('example.test', 'A'), ['192.0.2.1']);
    assert.deepEqual(await lookup('example.test', 'AAAA'), ['2001:db8::1']);
  });

  const failures: Array<[string, string, string]> = [
    ['missing.example.test', 'TXT', 'ENOTFOUND'],
    ['nodata.example.test', 'TXT', 'ENODATA'],
    ['servfail.example.test', 'TXT', 'ESERVFAIL'],
    ['refused.example.test', 'MX', 'EREFUSED'],
    ['timeout.example.test', 'A', 'ETIMEOUT'],
  ];
  for (const [name, type, code] of failures) {
    test(`${type} ${name} rejects with ${code}`, async () => {
      await assert.rejects(lookup(name, type), (err: unknown) => {
        assert.ok(err instanceof DnsLookupError);
        assert.equal(err.code, code);
        assert.equal(err.hostname, name);
        return true;
      });
    });
  }

  test('PTR answers nothing (SPF "ptr" then fails to match, RFC 7208 §5.5); other types are refused', async () => {
    assert.deepEqual(await lookup('1.2.0.192.in-addr.arpa', 'PTR'), []);
    await assert.rejects(lookup('example.test', 'SRV'), (err: unknown) => err instanceof DnsLookupError && err.code === 'ENOTIMP');
  });
});
