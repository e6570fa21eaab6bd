// Pure parts of the resolver: reading replies, following CNAMEs, negative TTLs, server entries and resolv.conf.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as dnsPacket from 'dns-packet';
import type { Answer, Packet } from 'dns-packet';
import { chooseServers, parseResolvConf, parseServer } from '../../../src/dns/resolv-conf.ts';
import { encodeQuery, followChain, negativeTtl, readReply } from '../../../src/dns/wire.ts';

const reply = (p: Partial<Packet>, flags = 0): Uint8Array =>
  dnsPacket.encode({ type: 'response', id: 7, flags, questions: [{ type: 'MX', name: 'example.test' }], ...p });

test('readReply: RCODEs map to answer, NXDOMAIN, and the three server failures', () => {
  assert.equal(readReply(reply({}), 7, 'example.test', 'MX').kind, 'answer');
  const nx = readReply(reply({}, 3), 7, 'example.test', 'MX');
  assert.ok(nx.kind === 'answer' && nx.nxdomain);
  for (
    const [rcode, error] of [[1, 'formerr'], [2, 'servfail'], [4, 'servfail'], [5, 'refused'], [9, 'servfail']] as const
  ) {
    const r = readReply(reply({}, rcode), 7, 'example.test', 'MX');
    assert.ok(r.kind === 'failure' && r.error === error, `rcode ${rcode}`);
  }
  assert.equal(readReply(reply({}, dnsPacket.TRUNCATED_RESPONSE), 7, 'example.test', 'MX').kind, 'truncated');
});

test('readReply: anything that is not the answer to our question is ignored', () => {
  const ignored = (bytes: Uint8Array, id = 7, name = 'example.test') =>
    readReply(bytes, id, name, 'MX').kind === 'ignore';
  assert.ok(ignored(reply({}), 8));
  assert.ok(ignored(reply({}), 7, 'other.test'));
  assert.ok(ignored(reply({ questions: [{ type: 'A', name: 'example.test' }] })));
  assert.ok(ignored(reply({ questions: [{ type: 'MX', name: 'example.test', class: 'CH' }] })));
  assert.ok(ignored(reply({ questions: [] }))); // NOERROR without a question: not ours to trust
  assert.ok(ignored(dnsPacket.encode({ type: 'query', id: 7, questions: [{ type: 'MX', name: 'example.test' }] })));
  assert.ok(ignored(new Uint8Array([0, 7, 0x81])));
  assert.ok(ignored(new Uint8Array(0)));
  // An error without a question is taken (RFC 6891 §7 servers do that), so EDNS can be turned off.
  const formerr = readReply(reply({ questions: [] }, 1), 7, 'example.test', 'MX');
  assert.ok(formerr.kind === 'failure' && formerr.error === 'formerr');
});

test('encodeQuery: with and without the OPT record', () => {
  const withOpt = dnsPacket.decode(Buffer.from(encodeQuery(42, 'example.test', 'TXT', true)));
  assert.equal(withOpt.id, 42);
  assert.equal(withOpt.flag_rd, true);
  assert.equal(withOpt.additionals?.length, 1);
  const plain = dnsPacket.decode(Buffer.from(encodeQuery(43, 'example.test', 'TXT', false)));
  assert.equal(plain.additionals?.length, 0);
});

const rr = (name: string, type: 'A' | 'CNAME', data: string, ttl = 100): Answer => ({ name, type, data, ttl });

test('followChain: direct records, chains, case, loops, dangling ends', () => {
  const direct = followChain([rr('a.test', 'A', '192.0.2.1', 50), rr('a.test', 'A', '192.0.2.2', 70)], 'a.test', 'A');
  assert.equal(direct.records.length, 2);
  assert.equal(direct.ttl, 50);
  assert.deepEqual(direct.names, ['a.test']);

  const chain = followChain(
    [rr('WWW.a.test', 'CNAME', 'B.test', 30), rr('b.test', 'A', '192.0.2.3', 90)],
    'www.a.test',
    'A',
  );
  assert.deepEqual(chain.names, ['www.a.test', 'b.test']);
  assert.equal(chain.ttl, 30);
  assert.equal(chain.records.length, 1);

  const dangling = followChain([rr('www.a.test', 'CNAME', 'c.test')], 'www.a.test', 'A');
  assert.deepEqual(dangling.names, ['www.a.test', 'c.test']);
  assert.equal(dangling.records.length, 0);
  assert.equal(dangling.broken, false);

  const loop = followChain([rr('x.test', 'CNAME', 'y.test'), rr('y.test', 'CNAME', 'x.test')], 'x.test', 'A');
  assert.equal(loop.broken, true);

  // Records for names outside the chain do not count (a server vouching for names it was not asked about).
  const stray = followChain([rr('evil.test', 'A', '6.6.6.6')], 'a.test', 'A');
  assert.equal(stray.records.length, 0);
});

test('negativeTtl: min(SOA TTL, MINIMUM), capped at 300, 60 without an SOA', () => {
  const packet = (ttl: number, minimum: number) =>
    dnsPacket.decode(
      Buffer.from(
        reply({
          authorities: [{ type: 'SOA', name: 'test', ttl, data: { mname: 'ns.test', rname: 'h.test', minimum } }],
        }, 3),
      ),
    );
  assert.equal(negativeTtl(packet(3600, 15)), 15);
  assert.equal(negativeTtl(packet(20, 900)), 20);
  assert.equal(negativeTtl(packet(86400, 86400)), 300);
  assert.equal(negativeTtl(dnsPacket.decode(Buffer.from(reply({}, 3)))), 60);
});

test('parseServer: "IP", "IP:PORT", "[v6]:PORT", bare IPv6; names and nonsense refused', () => {
  assert.deepEqual(parseServer('192.0.2.53'), { host: '192.0.2.53', port: 53, family: 4 });
  assert.deepEqual(parseServer('127.0.0.1:5353'), { host: '127.0.0.1', port: 5353, family: 4 });
  assert.deepEqual(parseServer('[::1]:5353'), { host: '::1', port: 5353, family: 6 });
  assert.deepEqual(parseServer('[2001:db8::53]'), { host: '2001:db8::53', port: 53, family: 6 });
  assert.deepEqual(parseServer('2001:db8::53'), { host: '2001:db8::53', port: 53, family: 6 });
  for (const bad of ['', 'dns.google', '1.2.3.4:0', '1.2.3.4:70000', '[::1]:x', '300.1.1.1', 'fe80::1%eth0']) {
    assert.equal(parseServer(bad), null, bad);
  }
});

test('parseResolvConf: nameserver lines in order, comments and other options ignored', () => {
  const text = [
    '# generated',
    'search example.test',
    'nameserver 192.0.2.1',
    'nameserver   2001:db8::1 ; trailing comment',
    ';nameserver 192.0.2.9',
    'nameserver bogus',
    'options timeout:2 attempts:3',
    'nameserver 192.0.2.2',
  ].join('\n');
  assert.deepEqual(parseResolvConf(text).map((s) => s.host), ['192.0.2.1', '2001:db8::1', '192.0.2.2']);
});

test('chooseServers: configured entries win; else resolv.conf; else 127.0.0.1', () => {
  assert.deepEqual(chooseServers(['192.0.2.1:5300', 'junk']).map((s) => `${s.host}:${s.port}`), ['192.0.2.1:5300']);
  assert.deepEqual(chooseServers([], '/nonexistent/resolv.conf'), [{ host: '127.0.0.1', port: 53, family: 4 }]);
});
