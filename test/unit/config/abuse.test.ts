// [abuse]: defaults (everything off but the HELO-as-us check), key names, validation and warnings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaults } from '../../../src/config/defaults.ts';
import { keyByToml } from '../../../src/config/keys.ts';
import type { Config } from '../../../src/config/schema.ts';
import { configWarnings, validateConfig } from '../../../src/config/validate.ts';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const base = (): Config => structuredClone(defaults) as Config;
function errorsOf(change: (c: Config) => void): string[] {
  const c = base();
  change(c);
  return validateConfig(c);
}
function warningsOf(change: (c: Config) => void): string[] {
  const c = base();
  change(c);
  assert.deepEqual(validateConfig(c), [], 'a warning is about a valid config');
  return configWarnings(c);
}

test('defaults: no rate limit, greeting delay, DNSBL or greylisting until the operator chooses', () => {
  assert.deepEqual(defaults.abuse, {
    connectionRate: 0,
    messageRate: 0,
    greetDelay: 0,
    dnsbl: [],
    allowNetworks: [],
    greylisting: false,
    greylistDelay: 5 * MINUTE,
    greylistWindow: 24 * HOUR,
    greylistExpiry: 35 * 24 * HOUR,
    greylistAllowDomains: [],
    rejectHeloAsUs: true,
    requireFqdnHelo: false,
  });
});

test('generated names and kinds of the abuse keys', () => {
  const expect: Array<[string, string, string]> = [
    ['abuse.connection_rate', 'TERN_ABUSE_CONNECTION_RATE', 'integer'],
    ['abuse.message_rate', 'TERN_ABUSE_MESSAGE_RATE', 'integer'],
    ['abuse.greet_delay', 'TERN_ABUSE_GREET_DELAY', 'duration'],
    ['abuse.dnsbl', 'TERN_ABUSE_DNSBL', 'list'],
    ['abuse.allow_networks', 'TERN_ABUSE_ALLOW_NETWORKS', 'list'],
    ['abuse.greylisting', 'TERN_ABUSE_GREYLISTING', 'boolean'],
    ['abuse.greylist_delay', 'TERN_ABUSE_GREYLIST_DELAY', 'duration'],
    ['abuse.greylist_window', 'TERN_ABUSE_GREYLIST_WINDOW', 'duration'],
    ['abuse.greylist_expiry', 'TERN_ABUSE_GREYLIST_EXPIRY', 'duration'],
    ['abuse.greylist_allow_domains', 'TERN_ABUSE_GREYLIST_ALLOW_DOMAINS', 'list'],
    ['abuse.reject_helo_as_us', 'TERN_ABUSE_REJECT_HELO_AS_US', 'boolean'],
    ['abuse.require_fqdn_helo', 'TERN_ABUSE_REQUIRE_FQDN_HELO', 'boolean'],
  ];
  for (const [toml, env, kind] of expect) {
    assert.deepEqual([keyByToml.get(toml)?.env, keyByToml.get(toml)?.kind], [env, kind], toml);
  }
});

test('production values from the example are valid', () => {
  const errs = errorsOf((c) => {
    Object.assign(c.abuse, {
      connectionRate: 60,
      messageRate: 120,
      greetDelay: 2 * SECOND,
      dnsbl: ['zen.spamhaus.org', 'bl.example'],
      allowNetworks: ['198.51.100.0/24', '2001:db8::/32'],
      greylisting: true,
      greylistAllowDomains: ['partner.example'],
      requireFqdnHelo: true,
    });
  });
  assert.deepEqual(errs, []);
});

test('greet_delay: under the 5 minutes a client waits for the greeting', () => {
  assert.deepEqual(errorsOf((c) => (c.abuse.greetDelay = 5 * MINUTE)), [
    'abuse.greet_delay: must be less than 5m (RFC 5321 §4.5.3.2.1: clients wait 5 minutes for the greeting), got 5m',
  ]);
  assert.deepEqual(errorsOf((c) => (c.abuse.greetDelay = 5 * MINUTE - 1)), []);
});

test('dnsbl and greylist_allow_domains hold lower-case domain names, each once', () => {
  assert.deepEqual(
    errorsOf((c) => {
      c.abuse.dnsbl = ['zen.spamhaus.org', 'not a zone', 'Bl.Example', 'zen.spamhaus.org'];
      c.abuse.greylistAllowDomains = ['-bad.example'];
    }),
    [
      'abuse.dnsbl: "not a zone" is not a domain name (use the xn-- form for IDNs)',
      'abuse.dnsbl: "Bl.Example" must be lower-case',
      'abuse.dnsbl: "zen.spamhaus.org" is given twice',
      'abuse.greylist_allow_domains: "-bad.example" is not a domain name (use the xn-- form for IDNs)',
    ],
  );
});

test('allow_networks holds CIDR blocks, as relay.trusted_networks does', () => {
  const errs = errorsOf((c) => (c.abuse.allowNetworks = ['192.0.2.0/24', '192.0.2.0/33', 'example.com']));
  assert.equal(errs.length, 2, errs.join('\n'));
  assert.ok(errs.every((e) => e.startsWith('abuse.allow_networks: ')), errs.join('\n'));
  const trusted = errorsOf((c) => (c.relay.trustedNetworks = ['192.0.2.0/33']));
  assert.equal(errs[0].replace('abuse.allow_networks', ''), trusted[0].replace('relay.trusted_networks', ''));
});

test('greylist timing: delay >= 1s < window <= expiry, checked even while greylisting is off', () => {
  assert.deepEqual(errorsOf((c) => (c.abuse.greylistDelay = 0)), [
    'abuse.greylist_delay: must be at least 1s, got 0ms',
  ]);
  assert.deepEqual(errorsOf((c) => (c.abuse.greylistWindow = 5 * MINUTE)), [
    'abuse.greylist_window: must be longer than abuse.greylist_delay (5m), or no retry could ever pass, got 5m',
  ]);
  assert.deepEqual(errorsOf((c) => (c.abuse.greylistExpiry = HOUR)), [
    'abuse.greylist_expiry: must be at least abuse.greylist_window (1d), got 1h',
  ]);
  assert.deepEqual(errorsOf((c) => (c.abuse.greylistExpiry = 24 * HOUR)), []);
});

test('rates are whole numbers, 0 = off', () => {
  assert.deepEqual(errorsOf((c) => ((c.abuse.connectionRate = 0), (c.abuse.messageRate = 100_000))), []);
  assert.deepEqual(errorsOf((c) => (c.abuse.connectionRate = 1.5)), [
    'abuse.connection_rate: must be a whole number, got 1.5',
  ]);
});

test('warnings: a long greeting delay, a huge allow_networks block, DNSBLs through public resolvers', () => {
  const [slow] = warningsOf((c) => (c.abuse.greetDelay = MINUTE));
  assert.match(slow, /^abuse\.greet_delay: 1m holds every MX connection/);
  assert.deepEqual(warningsOf((c) => (c.abuse.greetDelay = 30 * SECOND)), []);

  const [wide] = warningsOf((c) => (c.abuse.allowNetworks = ['10.0.0.0/8', '0.0.0.0/0', '::/0']));
  assert.equal(
    wide,
    'abuse.allow_networks: 0.0.0.0/0, ::/0 exempts most of the Internet from rate limits, DNSBLs and greylisting',
  );

  const [pub] = warningsOf((c) => {
    c.abuse.dnsbl = ['zen.spamhaus.org'];
    c.dns.servers = ['127.0.0.1', '8.8.8.8', '[2606:4700:4700::1111]:53'];
  });
  assert.match(pub, /^abuse\.dnsbl: dns\.servers names public resolvers \(8\.8\.8\.8, \[2606:4700:4700::1111\]:53\)/);
  // Public resolvers without a DNSBL are fine, and so is a DNSBL through a local resolver.
  assert.deepEqual(warningsOf((c) => (c.dns.servers = ['1.1.1.1'])), []);
  assert.deepEqual(warningsOf((c) => ((c.abuse.dnsbl = ['zen.spamhaus.org']), (c.dns.servers = ['127.0.0.1']))), []);
});
