// createPolicy: each check rejects a bad client and lets a good one pass; the allow-list; logging; failures.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { domainDefaults } from '../../../src/config/defaults.ts';
import type { Config } from '../../../src/config/schema.ts';
import { createPolicy } from '../../../src/policy/index.ts';
import type { Resolver } from '../../../src/dns/types.ts';
import type { Store } from '../../../src/store/open.ts';
import { abuseConfig, fakeClock, fakeResolver, lazyStore, mxConn, q, recordingLog, replyOf } from './fixtures.ts';

/** Creating a PGlite database takes a few seconds, more while other files do the same. */
const T = { timeout: 60_000 };

/** A store for tests that must not touch the database: any query fails loudly. */
const noStore = { query: () => Promise.reject(new Error('database down')) } as unknown as Store;
const noDns = fakeResolver({ a: {}, txt: {} });

function setUp(config: Config, opts: { store?: Store; resolver?: Resolver } = {}) {
  const { log, lines } = recordingLog();
  const clock = fakeClock();
  const policy = createPolicy({ config, store: opts.store ?? noStore, resolver: opts.resolver ?? noDns, log, now: clock.now });
  return { policy, lines, clock };
}

const policyLines = (lines: Array<Record<string, unknown>>) => lines.filter((l) => l.event === 'policy');

describe('createPolicy: connection rate (421 4.7.0 at connect)', () => {
  test('the N+1-th connection in a minute is refused and the refusal logged', async () => {
    const { policy, lines } = setUp(abuseConfig({ connectionRate: 3 }));
    try {
      for (let i = 0; i < 3; i++) assert.deepEqual(await policy.check(mxConn('198.51.100.7'), q.connect()), { action: 'accept' });
      const v = await policy.check(mxConn('198.51.100.7'), q.connect());
      assert.equal(replyOf(v), 'disconnect 421 4.7.0 Too many connections from your address, try again later');
      const [line] = policyLines(lines);
      assert.equal(line.stage, 'connect');
      assert.equal(line.check, 'connection-rate');
      assert.equal(line.ip, '198.51.100.7');
      assert.match(String(line.reason), /more than 3 connections per minute/);
    } finally {
      policy.close();
    }
  });

  test('a fresh client passes, and the limited one again after the refill', async () => {
    const { policy, clock } = setUp(abuseConfig({ connectionRate: 1 }));
    try {
      await policy.check(mxConn('198.51.100.7'), q.connect());
      assert.equal((await policy.check(mxConn('198.51.100.7'), q.connect())).action, 'disconnect');
      assert.equal((await policy.check(mxConn('198.51.100.8'), q.connect())).action, 'accept');
      clock.advance(60_000);
      assert.equal((await policy.check(mxConn('198.51.100.7'), q.connect())).action, 'accept');
    } finally {
      policy.close();
    }
  });
});

describe('createPolicy: message rate (451 4.7.1 at MAIL)', () => {
  test('the N+1-th MAIL in a minute is refused; the session goes on (reject, not disconnect)', async () => {
    const { policy, lines } = setUp(abuseConfig({ messageRate: 2 }));
    try {
      for (let i = 0; i < 2; i++) assert.equal((await policy.check(mxConn('198.51.100.7'), q.mail('a@x.example'))).action, 'accept');
      const v = await policy.check(mxConn('198.51.100.7'), q.mail('a@x.example'));
      assert.deepEqual(v, {
        action: 'reject',
        reply: { code: 451, status: '4.7.1', text: 'Too many messages from your address, try again later' },
      });
      assert.equal(policyLines(lines)[0].check, 'message-rate');
      assert.equal(policyLines(lines)[0].stage, 'mail');
    } finally {
      policy.close();
    }
  });

  test('another client is not limited', async () => {
    const { policy } = setUp(abuseConfig({ messageRate: 1 }));
    try {
      await policy.check(mxConn('198.51.100.7'), q.mail('a@x.example'));
      assert.equal((await policy.check(mxConn('198.51.100.7'), q.mail('a@x.example'))).action, 'reject');
      assert.equal((await policy.check(mxConn('203.0.113.9'), q.mail('a@x.example'))).action, 'accept');
    } finally {
      policy.close();
    }
  });
});

describe('createPolicy: DNSBL (554 5.7.1 at connect)', () => {
  const resolver = fakeResolver({
    a: { '7.100.51.198.bl.example': ['127.0.0.2'] },
    txt: { '7.100.51.198.bl.example': ['spam source'] },
  });

  test('a listed client is refused with the list named; the TXT reason goes to the log only', async () => {
    const { policy, lines } = setUp(abuseConfig({ dnsbl: ['bl.example'] }), { resolver });
    try {
      const v = await policy.check(mxConn('198.51.100.7'), q.connect());
      assert.deepEqual(v, {
        action: 'disconnect',
        reply: { code: 554, status: '5.7.1', text: 'Service unavailable; client [198.51.100.7] blocked using bl.example' },
      });
      const [line] = policyLines(lines);
      assert.equal(line.check, 'dnsbl');
      assert.equal(line.zone, 'bl.example');
      assert.equal(line.listReason, 'spam source');
      assert.deepEqual(line.codes, ['127.0.0.2']);
    } finally {
      policy.close();
    }
  });

  test('an unlisted client passes', async () => {
    const { policy, lines } = setUp(abuseConfig({ dnsbl: ['bl.example'] }), { resolver });
    try {
      assert.deepEqual(await policy.check(mxConn('198.51.100.8'), q.connect()), { action: 'accept' });
      assert.deepEqual(policyLines(lines), []);
    } finally {
      policy.close();
    }
  });

  test('the connection rate is checked first: a limited client costs no DNS query', async () => {
    const r = fakeResolver({ a: {}, txt: {} });
    const { policy } = setUp(abuseConfig({ dnsbl: ['bl.example'], connectionRate: 1 }), { resolver: r });
    try {
      await policy.check(mxConn('198.51.100.8'), q.connect());
      assert.equal((await policy.check(mxConn('198.51.100.8'), q.connect())).action, 'disconnect');
      assert.equal(r.asked.length, 1);
    } finally {
      policy.close();
    }
  });
});

describe('createPolicy: HELO checks (550 5.7.1)', () => {
  test('a foreign client calling itself us, or a bare name, is refused; a real name passes', async () => {
    const { policy, lines } = setUp(abuseConfig({ rejectHeloAsUs: true, requireFqdnHelo: true }));
    try {
      const us = await policy.check(mxConn('198.51.100.7'), q.helo('mx.example.net'));
      assert.deepEqual(us, { action: 'reject', reply: { code: 550, status: '5.7.1', text: 'Helo command rejected: that name is us' } });
      const bare = await policy.check(mxConn('198.51.100.7'), q.helo('EXCHANGE01'));
      assert.equal(replyOf(bare), 'reject 550 5.7.1 Helo command rejected: need fully-qualified hostname');
      assert.deepEqual(await policy.check(mxConn('198.51.100.7'), q.helo('mail.example.org')), { action: 'accept' });
      assert.deepEqual(policyLines(lines).map((l) => [l.check, l.helo]), [['helo-is-us', 'mx.example.net'], ['helo-not-fqdn', 'EXCHANGE01']]);
    } finally {
      policy.close();
    }
  });
});

describe('createPolicy: HELO "is us" names', () => {
  test('config names count as us, except "localhost", which every host calls itself', async () => {
    const cfg = abuseConfig({ rejectHeloAsUs: true });
    cfg.relay.localDomains = ['localhost', 'example.net'];
    cfg.domains = { 'hosted.example': structuredClone(domainDefaults) };
    const { policy } = setUp(cfg);
    try {
      assert.equal((await policy.check(mxConn('198.51.100.7'), q.helo('localhost'))).action, 'accept');
      assert.equal((await policy.check(mxConn('198.51.100.7'), q.helo('example.net'))).action, 'reject');
      assert.equal((await policy.check(mxConn('198.51.100.7'), q.helo('hosted.example'))).action, 'reject');
      assert.equal((await policy.check(mxConn('198.51.100.7'), q.helo('[192.0.2.25]'))).action, 'reject');
    } finally {
      policy.close();
    }
  });
});

describe('createPolicy: greylisting (450 4.7.1 at RCPT)', () => {
  const stores = lazyStore();
  after(() => stores.cleanup());

  const config = () =>
    abuseConfig({ greylisting: true, greylistDelay: 60_000, greylistAllowDomains: ['friends.example'], allowNetworks: ['10.0.0.0/8'] });

  test('first attempt and an early retry are deferred; a retry after the delay is accepted', T, async () => {
    const db = await stores.get();
    await db.store.query('delete from greylist', []);
    const { policy, lines, clock } = setUp(config(), { store: db.store });
    try {
      const grey = { action: 'reject', reply: { code: 450, status: '4.7.1', text: 'Greylisted, please try again later' } };
      assert.deepEqual(await policy.check(mxConn('198.51.100.7'), q.rcpt('a@sender.example', 'b@example.net')), grey);
      clock.advance(10_000);
      assert.deepEqual(await policy.check(mxConn('198.51.100.7'), q.rcpt('a@sender.example', 'b@example.net')), grey);
      clock.advance(60_000);
      assert.deepEqual(await policy.check(mxConn('198.51.100.7'), q.rcpt('a@sender.example', 'b@example.net')), { action: 'accept' });
      const logged = policyLines(lines);
      assert.deepEqual(logged.map((l) => [l.stage, l.check, l.reason]), [
        ['rcpt', 'greylist', 'unknown triplet'],
        ['rcpt', 'greylist', 'retried too early'],
      ]);
      assert.equal(lines.filter((l) => l.event === 'greylist-passed').length, 1);
    } finally {
      policy.close();
    }
  });

  test('legitimate clients pass at once: allow-listed sender domain, allowed network, trusted, authenticated, submission', T, async () => {
    const db = await stores.get();
    await db.store.query('delete from greylist', []);
    const { policy } = setUp(config(), { store: db.store });
    try {
      const rcpt = q.rcpt('a@sender.example', 'b@example.net');
      assert.equal((await policy.check(mxConn('198.51.100.7'), q.rcpt('a@friends.example', 'b@example.net'))).action, 'accept');
      assert.equal((await policy.check(mxConn('10.1.2.3'), rcpt)).action, 'accept');
      assert.equal((await policy.check(mxConn('198.51.100.7', { trusted: true }), rcpt)).action, 'accept');
      assert.equal((await policy.check(mxConn('198.51.100.7'), q.rcpt('a@sender.example', 'b@example.net', 'alice'))).action, 'accept');
      assert.equal((await policy.check(mxConn('198.51.100.7', { listener: 'submission', localPort: 587 }), rcpt)).action, 'accept');
      const rows = await db.store.query<{ key: string }>('select key from greylist', []);
      assert.equal(rows.length, 0);
      // And a stranger is still greylisted.
      assert.equal((await policy.check(mxConn('198.51.100.7'), rcpt)).action, 'reject');
    } finally {
      policy.close();
    }
  });
});

describe('createPolicy: allow-list, features off, failures', () => {
  test('allowNetworks exempts a client from every check', async () => {
    const r = fakeResolver({ a: { '3.2.1.10.bl.example': ['127.0.0.2'] }, txt: {} });
    const cfg = abuseConfig({ connectionRate: 1, messageRate: 1, dnsbl: ['bl.example'], allowNetworks: ['10.0.0.0/8'], requireFqdnHelo: true });
    const { policy } = setUp(cfg, { resolver: r });
    try {
      for (let i = 0; i < 3; i++) {
        assert.equal((await policy.check(mxConn('10.1.2.3'), q.connect())).action, 'accept');
        assert.equal((await policy.check(mxConn('10.1.2.3'), q.helo('box'))).action, 'accept');
        assert.equal((await policy.check(mxConn('10.1.2.3'), q.mail('a@x.example'))).action, 'accept');
      }
      assert.deepEqual(r.asked, []);
    } finally {
      policy.close();
    }
  });

  test('exemptions are logged at debug level with the reason', async () => {
    const { policy, lines } = setUp(abuseConfig({ connectionRate: 1, allowNetworks: ['10.0.0.0/8'] }));
    try {
      await policy.check(mxConn('10.1.2.3'), q.connect());
      await policy.check(mxConn('198.51.100.7', { trusted: true }), q.connect());
      await policy.check(mxConn('198.51.100.7', { listener: 'submission' }), q.connect());
      await policy.check(mxConn('198.51.100.7'), q.mail('a@x.example', 'alice'));
      const why = lines.filter((l) => l.event === 'policy-exempt').map((l) => [l.level, l.why]);
      assert.deepEqual(why, [
        ['debug', 'abuse.allow_networks'],
        ['debug', 'relay.trusted_networks'],
        ['debug', 'submission listener'],
        ['debug', 'authenticated'],
      ]);
    } finally {
      policy.close();
    }
  });

  test('with every feature off (the defaults), nothing is asked and everything accepted', async () => {
    const r = fakeResolver({ a: {}, txt: {} });
    const { policy } = setUp(abuseConfig({ rejectHeloAsUs: false }), { resolver: r });
    try {
      for (const query of [q.connect(), q.helo('x'), q.mail('a@b.example'), q.rcpt('a@b.example', 'c@example.net')]) {
        assert.deepEqual(await policy.check(mxConn('198.51.100.7'), query), { action: 'accept' });
      }
      assert.deepEqual(r.asked, []);
    } finally {
      policy.close();
    }
  });

  test('an internal failure (greylist database down) at RCPT: logged, 451 4.3.0, never thrown', async () => {
    const { policy, lines } = setUp(abuseConfig({ greylisting: true }), { store: noStore });
    try {
      const v = await policy.check(mxConn('198.51.100.7'), q.rcpt('a@x.example', 'b@example.net'));
      assert.equal(replyOf(v), 'reject 451 4.3.0 Temporary policy failure, please try again later');
      const failed = lines.filter((l) => l.event === 'policy-failed');
      assert.equal(failed.length, 1);
      assert.equal(failed[0].level, 'error');
      assert.equal(failed[0].stage, 'rcpt');
      assert.equal(failed[0].action, 'reject');
    } finally {
      policy.close();
    }
  });

  test('an internal failure at connect or HELO is logged and accepted: the later stages still check', async () => {
    const { log, lines } = recordingLog();
    const broken = abuseConfig({ connectionRate: 1, requireFqdnHelo: true });
    const policy = createPolicy({ config: broken, store: noStore, resolver: noDns, log });
    try {
      // A connection whose address field is not a string stands in for a bug deep inside a check.
      const odd = mxConn('198.51.100.7', { remoteAddress: null as unknown as string });
      assert.deepEqual(await policy.check(odd, q.connect()), { action: 'accept' });
      assert.deepEqual(await policy.check(odd, { ...q.helo('mail.example.org'), helo: 42 as unknown as string }), { action: 'accept' });
      assert.deepEqual(lines.filter((l) => l.event === 'policy-failed').map((l) => [l.stage, l.action]), [
        ['connect', 'accept'],
        ['helo', 'accept'],
      ]);
    } finally {
      policy.close();
    }
  });

  test('close() is idempotent', () => {
    const { policy } = setUp(abuseConfig({ connectionRate: 5, greylisting: true }));
    policy.close();
    policy.close();
  });
});
