// Anti-abuse on the MX port with real parts: a loopback DNS server as DNSBL, the real resolver and store, real
// clocks; then each feature over TCP, through an SmtpServer holding createPolicy's object and (once the lead
// has wired createPolicy into it) through the daemon configured by TERN_ABUSE_* variables.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createResolver } from '../../src/dns/resolver.ts';
import { createPolicy, type Policy } from '../../src/policy/index.ts';
import type { Config } from '../../src/config/schema.ts';
import type { Resolver } from '../../src/dns/types.ts';
import type { Store } from '../../src/store/open.ts';
import { a, startDnsServer, type TestDnsServer, txt } from '../support/dns-server.ts';
import { startTestDaemon } from '../support/server.ts';
import { TestSmtpClient } from '../support/smtp-client.ts';
import { testSessionOptions } from '../support/session-options.ts';
import { createLogger } from '../../src/lib/log.ts';
import { newQueueId } from '../../src/smtp/queue-id.ts';
import { SmtpServer } from '../../src/server/smtp-server.ts';
import { InflightBudget } from '../../src/server/limits.ts';
import { policyStagesFrom } from '../../src/server/session-options.ts';
import { abuseConfig, lazyStore, mxConn, q, recordingLog, replyOf } from '../unit/policy/fixtures.ts';

/** Creating a PGlite database takes a few seconds, more while other files do the same. */
const T = { timeout: 60_000 };

/**
 * Flip to true once src/server/daemon.ts passes createPolicy(...) to SmtpServer as its `policy` hook and the
 * session emits the policy stages (core helper, issue 4): the daemon tests below are written for that wiring.
 */
const DAEMON_WIRED = true;

// The DNSBL zone: 127.0.0.1 is listed (with a reason), 127.0.0.2 is not.
const ZONE = 'bl.tern.test';
const zone = {
  [`1.0.0.127.${ZONE}`]: [a('127.0.0.2'), txt('listed for testing')],
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// One store for the file (opening PGlite is the slow part), only for the tests that greylist.
const stores = lazyStore();
after(() => stores.cleanup());
/** The store, with an empty greylist, when greylisting is on; otherwise a stand-in that is never called. */
async function storeFor(config: Config): Promise<Store> {
  if (!config.abuse.greylisting) return { query: () => Promise.reject(new Error('no store in this test')) } as unknown as Store;
  const { store } = await stores.get();
  await store.query('delete from greylist', []);
  return store;
}

describe('abuse policy with a real resolver, DNS server and store', () => {
  let dns: TestDnsServer;
  let resolver: Resolver & { close(): void };
  const policies: Policy[] = [];
  const make = async (config: Config) => {
    const { log, lines } = recordingLog();
    const policy = createPolicy({ config, store: await storeFor(config), resolver, log });
    policies.push(policy);
    return { policy, lines };
  };

  before(async () => {
    dns = await startDnsServer(zone);
    resolver = createResolver({ servers: [dns.server], timeout: 300, attempts: 1 });
  });
  after(async () => {
    for (const p of policies) p.close();
    resolver.close();
    await dns.close();
  });

  test('DNSBL: a listed client gets 554 5.7.1 naming the zone; an unlisted one passes', T, async () => {
    const { policy, lines } = await make(abuseConfig({ dnsbl: [ZONE] }));
    const bad = await policy.check(mxConn('127.0.0.1'), q.connect());
    assert.equal(replyOf(bad), `disconnect 554 5.7.1 Service unavailable; client [127.0.0.1] blocked using ${ZONE}`);
    assert.equal(lines.find((l) => l.event === 'policy')?.listReason, 'listed for testing');
    assert.deepEqual(await policy.check(mxConn('127.0.0.2'), q.connect()), { action: 'accept' });
  });

  test('DNSBL: a list that does not answer lets the client in', T, async () => {
    // 127.0.0.3: an address the resolver has no cached answer for.
    dns.setZone({ ...zone, [`3.0.0.127.${ZONE}`]: { behaviour: 'timeout' } });
    try {
      const { policy, lines } = await make(abuseConfig({ dnsbl: [ZONE] }));
      assert.deepEqual(await policy.check(mxConn('127.0.0.3'), q.connect()), { action: 'accept' });
      assert.equal(lines.find((l) => l.event === 'dnsbl-lookup-failed')?.error, 'timeout');
    } finally {
      dns.setZone(zone);
    }
  });

  test('rate limits: the N+1-th connection and message are refused, a fresh address passes', T, async () => {
    const { policy } = await make(abuseConfig({ connectionRate: 2, messageRate: 2 }));
    const conn = mxConn('127.0.0.1');
    assert.equal((await policy.check(conn, q.connect())).action, 'accept');
    assert.equal((await policy.check(conn, q.connect())).action, 'accept');
    assert.equal((await policy.check(conn, q.connect())).action, 'disconnect');
    assert.equal((await policy.check(mxConn('127.0.0.2'), q.connect())).action, 'accept');
    assert.equal((await policy.check(conn, q.mail('a@x.test'))).action, 'accept');
    assert.equal((await policy.check(conn, q.mail('a@x.test'))).action, 'accept');
    assert.equal((await policy.check(conn, q.mail('a@x.test'))).action, 'reject');
    assert.equal((await policy.check(mxConn('127.0.0.2'), q.mail('a@x.test'))).action, 'accept');
  });

  test('greylisting: deferred, deferred on an immediate retry, accepted after the delay; allow-listed at once', T, async () => {
    const { policy } = await make(abuseConfig({ greylisting: true, greylistDelay: 1000, greylistAllowDomains: ['friends.test'] }));
    const conn = mxConn('192.0.2.10');
    const rcpt = q.rcpt('someone@sender.test', 'user@tern.test');
    assert.equal((await policy.check(conn, q.rcpt('x@friends.test', 'user@tern.test'))).action, 'accept');
    const first = await policy.check(conn, rcpt);
    assert.equal(replyOf(first), 'reject 450 4.7.1 Greylisted, please try again later');
    assert.equal((await policy.check(conn, rcpt)).action, 'reject');
    await sleep(1100);
    assert.deepEqual(await policy.check(conn, rcpt), { action: 'accept' });
  });
});

/** A running MX listener with some abuse settings: its port, its log lines, and how to stop it. */
interface Mx {
  port: number;
  logs: string[];
  stop(): Promise<void>;
}
type StartMx = (abuse: Partial<Config['abuse']>) => Promise<Mx>;

/** The abuse settings as the daemon reads them from the environment (durations in ms, lists comma-separated). */
function abuseEnv(abuse: Partial<Config['abuse']>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(abuse)) {
    const name = 'TERN_ABUSE_' + key.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase();
    env[name] = Array.isArray(value)
      ? value.join(',')
      : /Delay|Window|Expiry/.test(key)
      ? `${value}ms`
      : String(value);
  }
  return env;
}

/** Each feature refuses a bad client and lets a good one in (127.0.0.2: another loopback source address). */
function scenarios(name: string, startMx: () => StartMx, opts: { skip: string | false }) {
  describe(name, { skip: opts.skip }, () => {
    let clients: TestSmtpClient[] = [];
    const connect = async (mx: Mx, from = '127.0.0.1') => {
      const c = await TestSmtpClient.connect(mx.port, { from });
      clients.push(c);
      return c;
    };
    const ready = async (mx: Mx, from = '127.0.0.1') => {
      const c = await connect(mx, from);
      assert.equal((await c.reply()).code, 220);
      assert.equal((await c.command('EHLO client.example.org')).code, 250);
      return c;
    };
    /** A listener with these settings, stopped (with its clients) when body ends, inside the test's time. */
    const withMx = async (abuse: Partial<Config['abuse']>, body: (mx: Mx) => Promise<void>) => {
      const mx = await startMx()(abuse);
      try {
        await body(mx);
      } finally {
        for (const c of clients) c.close();
        clients = [];
        await mx.stop();
      }
    };

    test('connection rate: the third connection in a minute gets 421 4.7.0 and is closed; 127.0.0.2 is greeted', T, () =>
      withMx({ connectionRate: 2 }, async (mx) => {
        for (let i = 0; i < 2; i++) assert.equal((await (await connect(mx)).reply()).code, 220);
        const third = await connect(mx);
        assert.equal((await third.reply()).text, '421 4.7.0 Too many connections from your address, try again later');
        await third.waitClosed();
        assert.equal((await (await connect(mx, '127.0.0.2')).reply()).code, 220);
        assert.ok(mx.logs.some((l) => l.includes('"event":"policy"') && l.includes('"check":"connection-rate"')));
      }));

    test('message rate: the second MAIL in a minute gets 451 4.7.1; 127.0.0.2 may send', T, () =>
      withMx({ messageRate: 1 }, async (mx) => {
        const c = await ready(mx);
        assert.equal((await c.command('MAIL FROM:<a@sender.test>')).code, 250);
        assert.equal((await c.command('RSET')).code, 250);
        assert.equal((await c.command('MAIL FROM:<a@sender.test>')).text, '451 4.7.1 Too many messages from your address, try again later');
        const other = await ready(mx, '127.0.0.2');
        assert.equal((await other.command('MAIL FROM:<a@sender.test>')).code, 250);
      }));

    test('early talker: a client writing before the greeting gets 554 and is dropped; a patient one is greeted', T, () =>
      withMx({ greetDelay: 300 }, async (mx) => {
        const rude = await connect(mx);
        rude.write('EHLO spam.example\r\n');
        assert.match((await rude.reply()).text, /^554 /);
        await rude.waitClosed();
        const patient = await connect(mx, '127.0.0.2');
        assert.equal((await patient.reply(5000)).code, 220);
        assert.equal((await patient.command('EHLO client.example.org')).code, 250);
      }));

    test('DNSBL: 127.0.0.1 is listed (554 5.7.1 naming the zone, then closed), 127.0.0.2 is greeted', T, () =>
      withMx({ dnsbl: [ZONE] }, async (mx) => {
        const listed = await connect(mx);
        assert.equal((await listed.reply()).text, `554 5.7.1 Service unavailable; client [127.0.0.1] blocked using ${ZONE}`);
        await listed.waitClosed();
        assert.equal((await (await connect(mx, '127.0.0.2')).reply()).code, 220);
        assert.ok(mx.logs.some((l) => l.includes('"event":"policy"') && l.includes('"check":"dnsbl"')));
      }));

    test('greylisting: 450 4.7.1, again on an immediate retry, 250 after the delay; an allow-listed domain at once', T, () =>
      withMx({ greylisting: true, greylistDelay: 1000, greylistAllowDomains: ['friends.test'] }, async (mx) => {
        const c = await ready(mx);
        assert.equal((await c.command('MAIL FROM:<a@friends.test>')).code, 250);
        assert.equal((await c.command('RCPT TO:<user@tern.test>')).code, 250);
        assert.equal((await c.command('RSET')).code, 250);
        for (let i = 0; i < 2; i++) {
          assert.equal((await c.command('MAIL FROM:<a@sender.test>')).code, 250);
          assert.equal((await c.command('RCPT TO:<user@tern.test>')).text, '450 4.7.1 Greylisted, please try again later');
          assert.equal((await c.command('RSET')).code, 250);
        }
        await sleep(1100);
        assert.equal((await c.command('MAIL FROM:<a@sender.test>')).code, 250);
        assert.equal((await c.command('RCPT TO:<user@tern.test>')).code, 250);
      }));

    test('HELO: our own name and a bare name get 550 5.7.1; a real name passes', T, () =>
      withMx({ rejectHeloAsUs: true, requireFqdnHelo: true }, async (mx) => {
        // From 127.0.0.2: a client on the listening address itself may truthfully call itself us.
        const c = await connect(mx, '127.0.0.2');
        assert.equal((await c.reply()).code, 220);
        assert.match((await c.command('EHLO mx.tern.test')).text, /^550 5\.7\.1 /);
        assert.match((await c.command('EHLO box')).text, /^550 5\.7\.1 /);
        assert.equal((await c.command('EHLO client.example.org')).code, 250);
      }));
  });
}

// Shared by both variants: the loopback DNS server that serves the DNSBL zone.
let dnsbl: TestDnsServer | null = null;
const dnsServer = async () => (dnsbl ??= await startDnsServer(zone));
after(async () => {
  await dnsbl?.close();
});

/** The server the daemon would build, by hand: SmtpServer on the MX listener with createPolicy as its hook. */
scenarios('abuse over TCP: SmtpServer with createPolicy', () => async (abuse) => {
  const dns = await dnsServer();
  const config = abuseConfig({ rejectHeloAsUs: false, ...abuse });
  config.hostname = 'mx.tern.test';
  config.relay.localDomains = ['tern.test'];
  const logs: string[] = [];
  const log = createLogger({ format: 'json', level: 'info', write: (l) => logs.push(l) });
  const resolver = createResolver({ servers: [dns.server], timeout: 300, attempts: 1 });
  const policy = createPolicy({ config, store: await storeFor(config), resolver, log });
  const stages = policyStagesFrom(config);
  const server = new SmtpServer({
    listeners: [{ kind: 'mx', host: '127.0.0.1', port: 0 }],
    context: {
      options: testSessionOptions({ startTls: false, ...(stages.size > 0 ? { policyStages: stages } : {}) }),
      policy,
      greetDelay: config.abuse.greetDelay,
      deps: { now: () => new Date(), newQueueId },
      queue: { enqueue: () => Promise.resolve() },
      log,
      commandTimeout: 10_000,
      dataTimeout: 10_000,
      secureContext: null,
      budget: new InflightBudget(16 * 1024 * 1024),
      isTrusted: () => false,
    },
    maxConnections: 50,
    maxConnectionsPerIp: 50,
    tlsKeyCert: null,
    log,
  });
  const [bound] = await server.start();
  return {
    port: bound.port,
    logs,
    async stop() {
      await server.stop(1000);
      policy.close();
      resolver.close();
    },
  };
}, { skip: false });

scenarios('abuse end to end through the daemon (TERN_ABUSE_* settings)', () => async (abuse) => {
  const dns = await dnsServer();
  const d = await startTestDaemon({ TERN_DNS_SERVERS: dns.server, TERN_DNS_TIMEOUT: '300ms', ...abuseEnv(abuse) });
  return { port: d.port('mx'), logs: d.logs, stop: () => d.stop() };
}, { skip: !DAEMON_WIRED && 'waiting for the daemon to pass createPolicy to the server' });
