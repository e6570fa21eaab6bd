// Validation: every rule, the message format, and the open-relay guard.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaults } from '../../../src/config/defaults.ts';
import type { Config } from '../../../src/config/schema.ts';
import { configWarnings, validateConfig } from '../../../src/config/validate.ts';

const base = (): Config => structuredClone(defaults) as Config;
function errorsOf(change: (c: Config) => void): string[] {
  const c = base();
  change(c);
  return validateConfig(c);
}

test('messages name the TOML key, the rule and the value', () => {
  assert.deepEqual(errorsOf((c) => (c.smtp.maxRecipients = 10)), [
    'smtp.max_recipients: must be at least 100 (RFC 5321 §4.5.3.1.8), got 10',
  ]);
  assert.deepEqual(errorsOf((c) => (c.smtp.maxCommandLine = 100)), [
    'smtp.max_command_line: must be at least 512 (RFC 5321 §4.5.3.1.4), got 100',
  ]);
});

test('ranges', () => {
  const cases: Array<[(c: Config) => void, RegExp]> = [
    [
      (c) => (c.smtp.maxMessageSize = 1000),
      /^smtp\.max_message_size: must be at least 64KiB \(RFC 5321 §4\.5\.3\.1\.7\), got 1000$/,
    ],
    [(c) => (c.smtp.maxReceivedHeaders = 0), /^smtp\.max_received_headers: must be at least 1/],
    [(c) => (c.smtp.maxBadCommands = 0), /^smtp\.max_bad_commands: must be at least 1/],
    [(c) => (c.smtp.commandTimeout = 0), /^smtp\.command_timeout: must be at least 1s, got 0ms$/],
    [(c) => (c.smtp.dataTimeout = 10), /^smtp\.data_timeout/],
    [(c) => (c.database.poolSize = 0), /^database\.pool_size/],
    [(c) => (c.limits.maxConnections = 0), /^limits\.max_connections: /],
    [
      (c) => (c.limits.maxConnectionsPerIp = 2000),
      /^limits\.max_connections_per_ip: must not exceed limits\.max_connections \(1000\)/,
    ],
    [
      (c) => (c.limits.maxInflightBytes = 1024 * 1024),
      /^limits\.max_inflight_bytes: must be at least smtp\.max_message_size \(35MiB\), got 1MiB$/,
    ],
  ];
  for (const [change, re] of cases) {
    const errs = errorsOf(change);
    assert.equal(errs.length, 1, errs.join('\n'));
    assert.match(errs[0], re);
  }
});

test('types are checked first (the wizard and flags can produce anything)', () => {
  const errs = errorsOf((c) => {
    (c.smtp as unknown as Record<string, unknown>).maxRecipients = '100';
    (c.relay as unknown as Record<string, unknown>).localDomains = 'example.com';
    (c.smtp.extensions as unknown as Record<string, unknown>).dsn = 'yes';
    c.limits.shutdownGrace = -1;
    c.database.poolSize = 1.5;
  });
  assert.deepEqual(errs, [
    'database.pool_size: must be a whole number, got 1.5',
    'smtp.max_recipients: must be a whole number, got "100"',
    'smtp.extensions.dsn: must be a boolean, got "yes"',
    'relay.local_domains: must be a list of strings, got "example.com"',
    'limits.shutdown_grace: must be a duration, got -1',
  ]);
});

test('hostname, data_dir, database.url', () => {
  assert.match(errorsOf((c) => (c.hostname = 'not a host'))[0], /^hostname: must be a domain name/);
  assert.match(errorsOf((c) => (c.hostname = ''))[0], /^hostname: /);
  assert.match(errorsOf((c) => (c.dataDir = ''))[0], /^data_dir: must not be empty/);
  assert.deepEqual(errorsOf((c) => (c.database.url = 'postgres://u:p@db/tern')), []);
  assert.deepEqual(errorsOf((c) => (c.database.url = 'postgresql://db/tern')), []);
  const bad = errorsOf((c) => (c.database.url = 'mysql://u:secret@db/tern'));
  assert.match(bad[0], /^database\.url: must be empty/);
  assert.doesNotMatch(bad[0], /secret/, 'a password in the URL is not echoed');
});

test('listen addresses parse, may be empty, must not collide', () => {
  assert.deepEqual(errorsOf((c) => (c.listeners.mx.address = '')), []);
  assert.deepEqual(errorsOf((c) => (c.listeners.mx.address = '[::]:25')), []);
  assert.match(
    errorsOf((c) => (c.listeners.mx.address = '0.0.0.0'))[0],
    /^listeners\.mx\.address: "0\.0\.0\.0" must look like/,
  );
  assert.match(errorsOf((c) => (c.console.address = '127.0.0.1:99999'))[0], /^console\.address: .*invalid port/);
  assert.deepEqual(errorsOf((c) => (c.listeners.submission.address = '127.0.0.1:2525')), [
    'listeners.submission.address: "127.0.0.1:2525" is already used by listeners.mx.address',
  ]);
  assert.deepEqual(
    errorsOf((c) => {
      c.listeners.mx.address = '127.0.0.1:0';
      c.listeners.submission.address = '127.0.0.1:0';
    }),
    [],
    'port 0 = any free port, never a clash',
  );
});

test('tls files are set together', () => {
  assert.match(
    errorsOf((c) => (c.tls.certFile = '/x.pem'))[0],
    /^tls\.key_file: tls\.cert_file and tls\.key_file must be set together/,
  );
  assert.match(errorsOf((c) => (c.tls.keyFile = '/x.key'))[0], /^tls\.cert_file: /);
  assert.deepEqual(errorsOf((c) => Object.assign(c.tls, { certFile: '/a', keyFile: '/b' })), []);
});

test('domains: syntax and lower case', () => {
  assert.deepEqual(errorsOf((c) => (c.relay.localDomains = ['example.com', 'xn--bcher-kva.example'])), []);
  assert.deepEqual(errorsOf((c) => (c.relay.relayDomains = ['bad_domain.com', 'Example.COM', 'bücher.example'])), [
    'relay.relay_domains: "bad_domain.com" is not a domain name (use the xn-- form for IDNs)',
    'relay.relay_domains: "Example.COM" must be lower-case',
    'relay.relay_domains: "bücher.example" is not a domain name (use the xn-- form for IDNs)',
  ]);
});

test('enums: vrfy, log.format, log.level', () => {
  const errs = errorsOf((c) => {
    (c.smtp as { vrfy: string }).vrfy = 'yes';
    (c.log as { format: string }).format = 'xml';
    (c.log as { level: string }).level = 'verbose';
  });
  assert.deepEqual(errs, [
    'smtp.vrfy: must be "ambiguous" or "disabled", got "yes"',
    'log.format: must be "text" or "json", got "xml"',
    'log.level: must be one of "debug", "info", "warn", "error", got "verbose"',
  ]);
});

test('trusted networks parse', () => {
  assert.deepEqual(errorsOf((c) => (c.relay.trustedNetworks = ['10.0.0.0/8', 'fd00::/8', '::ffff:192.0.2.0/120'])), []);
  assert.deepEqual(errorsOf((c) => (c.relay.trustedNetworks = ['10.0.0.1/8', 'lan'])), [
    'relay.trusted_networks: "10.0.0.1/8" has bits set after the /8 prefix',
    'relay.trusted_networks: "lan" is not an IPv4 or IPv6 address or CIDR block',
  ]);
});

test('open relay: refused unless the loudly named switch is on, then warned about', () => {
  for (const open of ['0.0.0.0/0', '::/0', '0.0.0.0/1', '128.0.0.0/7', '::ffff:0:0/96', '::/64', '2000::/3']) {
    const errs = errorsOf((c) => (c.relay.trustedNetworks = ['127.0.0.0/8', open]));
    assert.equal(errs.length, 1, open);
    assert.match(errs[0], /open relay.*relay\.i_know_this_is_an_open_relay = true/, open);
    const c = base();
    c.relay.trustedNetworks = [open];
    c.relay.iKnowThisIsAnOpenRelay = true;
    assert.deepEqual(validateConfig(c), [], open);
    assert.match(configWarnings(c).join('\n'), /OPEN RELAY/);
  }
  // Wide but plausible private and office networks stay allowed.
  assert.deepEqual(errorsOf((c) => (c.relay.trustedNetworks = ['10.0.0.0/8', 'fc00::/7', '2001:db8::/32'])), []);
});

test('warnings: none for the defaults; short timeouts are named', () => {
  assert.deepEqual(configWarnings(base()), []);
  const c = base();
  c.smtp.commandTimeout = 30_000;
  c.smtp.dataTimeout = 60_000;
  const w = configWarnings(c);
  assert.equal(w.length, 2);
  assert.match(w[0], /^smtp\.command_timeout: 30s is below the 5 minutes RFC 5321 §4\.5\.3\.2\.7/);
  assert.match(w[1], /^smtp\.data_timeout: 1m /);
});
