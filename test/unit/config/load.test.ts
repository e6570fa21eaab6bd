// loadConfig: file discovery, TOML and TERN_* parsing, the override order, and errors an operator can act on.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defaults } from '../../../src/config/defaults.ts';
import { ConfigError } from '../../../src/config/errors.ts';
import { loadConfig, type LoadOptions } from '../../../src/config/load.ts';

const root = mkdtempSync(path.join(os.tmpdir(), 'tern-config-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
/** A fresh directory, optionally with a tern.toml in it. */
function dir(toml?: string): string {
  const d = path.join(root, String(n++));
  mkdirSync(d);
  if (toml !== undefined) writeFileSync(path.join(d, 'tern.toml'), toml);
  return d;
}

const load = (opts: Partial<LoadOptions> & { cwd: string }) => loadConfig({ env: {}, ...opts });
function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return [...e.problems, ...(e.problems.length ? [] : [e.message])];
  }
  assert.fail('expected a ConfigError');
}

test('no file anywhere: the dev defaults, nothing read', () => {
  const { config, source, warnings } = load({ cwd: dir() });
  assert.deepEqual(config, structuredClone(defaults));
  assert.deepEqual(source, []);
  assert.deepEqual(warnings, []);
});

test('./tern.toml is found in the working directory', () => {
  const cwd = dir('hostname = "mx.example.net"\n');
  const { config, source } = load({ cwd });
  assert.equal(config.hostname, 'mx.example.net');
  assert.deepEqual(source, [`file ${path.join(cwd, 'tern.toml')}`]);
});

test('TERN_CONFIG beats ./tern.toml; an explicit file beats both', () => {
  const cwd = dir('hostname = "local.example"\n');
  writeFileSync(path.join(cwd, 'env.toml'), 'hostname = "env.example"\n');
  writeFileSync(path.join(cwd, 'flag.toml'), 'hostname = "flag.example"\n');
  assert.equal(load({ cwd, env: { TERN_CONFIG: 'env.toml' } }).config.hostname, 'env.example');
  assert.equal(load({ cwd, env: { TERN_CONFIG: 'env.toml' }, file: 'flag.toml' }).config.hostname, 'flag.example');
  assert.equal(load({ cwd, env: { TERN_CONFIG: '' } }).config.hostname, 'local.example', 'empty TERN_CONFIG = unset');
});

test('a named file that does not exist is an error, not the defaults', () => {
  const cwd = dir();
  assert.match(
    problems(() => load({ cwd, file: 'nope.toml' }))[0],
    /nope\.toml \(named on the command line\) does not exist/,
  );
  assert.match(
    problems(() => load({ cwd, env: { TERN_CONFIG: '/no/such.toml' } }))[0],
    /\/no\/such\.toml \(named by TERN_CONFIG\) does not exist/,
  );
});

test('TOML: every kind of value, snake_case keys, units', () => {
  const cwd = dir(`
hostname = "mail.example.com"
data_dir = "/var/lib/tern"
[database]
url = "postgres://tern@db/tern"
pool_size = 5
[listeners.mx]
address = "0.0.0.0:25"
[listeners.submissions]
address = ""
[smtp]
max_message_size = "10MB"
command_timeout = "10m"
data_timeout = 120
[smtp.extensions]
eight_bit_mime = false
smtp_utf8 = false
[relay]
local_domains = ["Example.COM", "example.org"]
trusted_networks = ["10.0.0.0/8"]
[limits]
shutdown_grace = "1500ms"
max_inflight_bytes = 104857600
[log]
format = "json"
`);
  const { config } = load({ cwd });
  assert.equal(config.dataDir, '/var/lib/tern');
  assert.deepEqual(config.database, { url: 'postgres://tern@db/tern', poolSize: 5 });
  assert.equal(config.listeners.mx.address, '0.0.0.0:25');
  assert.equal(config.listeners.submission.address, '127.0.0.1:2587', 'untouched keys keep their default');
  assert.equal(config.listeners.submissions.address, '');
  assert.equal(config.smtp.maxMessageSize, 10_000_000);
  assert.equal(config.smtp.commandTimeout, 600_000);
  assert.equal(config.smtp.dataTimeout, 120_000, 'a bare integer duration is seconds');
  assert.equal(config.smtp.extensions.eightBitMime, false);
  assert.equal(config.smtp.extensions.smtpUtf8, false);
  assert.equal(config.smtp.extensions.pipelining, true);
  assert.deepEqual(config.relay.localDomains, ['example.com', 'example.org'], 'domains lower-cased on load');
  assert.equal(config.limits.shutdownGrace, 1500);
  assert.equal(config.limits.maxInflightBytes, 104_857_600);
  assert.equal(config.log.format, 'json');
});

test('TOML: unknown keys are errors naming the key and the file, with a suggestion', () => {
  const cwd = dir(`
hostnme = "x.example"
[smtp]
max_mesage_size = "10MB"
maxRecipients = 200
[smtp.extension]
dsn = false
[relay]
open_relay = true
[bogus]
a = 1
`);
  const file = path.join(cwd, 'tern.toml');
  assert.deepEqual(problems(() => load({ cwd })), [
    `${file}: unknown key hostnme (did you mean hostname?)`,
    `${file}: unknown key smtp.max_mesage_size (did you mean smtp.max_message_size?)`,
    `${file}: unknown key smtp.maxRecipients (did you mean smtp.max_recipients?)`,
    `${file}: unknown key smtp.extension (did you mean smtp.extensions?)`,
    `${file}: unknown key relay.open_relay`,
    `${file}: unknown key bogus`,
  ]);
});

test('TOML: wrong types and units are errors naming the key', () => {
  const cwd = dir(`
hostname = 42
[database]
pool_size = "ten"
[smtp]
max_message_size = "lots"
command_timeout = true
max_recipients = 1.5
[smtp.extensions]
dsn = "yes"
[relay]
local_domains = "example.com"
[log]
level = ["info"]
`);
  const file = path.join(cwd, 'tern.toml');
  assert.deepEqual(problems(() => load({ cwd })), [
    `${file}: hostname: expected a string, got 42`,
    `${file}: database.pool_size: expected a whole number, got "ten"`,
    `${file}: smtp.max_message_size: expected a size like "35MiB", "10MB", "512k" or a whole number of octets, got "lots"`,
    `${file}: smtp.command_timeout: expected a duration like "300s", "5m", "1h", "250ms" or a whole number of seconds, got true`,
    `${file}: smtp.max_recipients: expected a whole number, got 1.5`,
    `${file}: smtp.extensions.dsn: expected true or false, got "yes"`,
    `${file}: relay.local_domains: expected a list of strings, got "example.com"`,
    `${file}: log.level: expected a string, got a list`,
  ]);
});

test('TOML: a value where a table belongs, and a table where a value belongs', () => {
  const cwd = dir('smtp = 5\n[hostname]\nx = 1\n');
  const file = path.join(cwd, 'tern.toml');
  assert.deepEqual(problems(() => load({ cwd })), [
    `${file}: smtp: must be a table ([smtp])`,
    `${file}: hostname: expected a string, got a table`,
  ]);
});

test("TOML syntax errors give file, line and column, without the library's excerpt", () => {
  const cwd = dir('hostname = "a"\n[smtp\nmax_recipients = 1\n');
  const [msg] = problems(() => load({ cwd }));
  assert.match(
    msg,
    new RegExp(`^${path.join(cwd, 'tern.toml').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2:\\d+: invalid TOML: `),
  );
  assert.doesNotMatch(msg, /\n/);
});

test('environment: TERN_<PATH> overrides the file, lists are comma-separated', () => {
  const cwd = dir('hostname = "file.example"\n[log]\nlevel = "warn"\n');
  const { config, source } = load({
    cwd,
    env: {
      TERN_HOSTNAME: 'env.example',
      TERN_DATA_DIR: '/srv/tern',
      TERN_DATABASE_URL: 'postgres://x@y/z',
      TERN_DATABASE_POOL_SIZE: '3',
      TERN_LISTENERS_MX_ADDRESS: '[::]:25',
      TERN_SMTP_MAX_MESSAGE_SIZE: '20MiB',
      TERN_SMTP_DATA_TIMEOUT: '90',
      TERN_SMTP_EXTENSIONS_CHUNKING: 'off',
      TERN_SMTP_EXTENSIONS_DSN: 'FALSE',
      TERN_RELAY_LOCAL_DOMAINS: 'A.example, b.example,,',
      TERN_RELAY_RELAY_DOMAINS: '',
      TERN_LOG_FORMAT: 'json',
      TERN_CONFIG: undefined,
      TERN_TEST_WHATEVER: 'ignored',
      PATH: '/usr/bin',
    },
  });
  assert.equal(config.hostname, 'env.example');
  assert.equal(config.dataDir, '/srv/tern');
  assert.equal(config.database.url, 'postgres://x@y/z');
  assert.equal(config.database.poolSize, 3);
  assert.equal(config.listeners.mx.address, '[::]:25');
  assert.equal(config.smtp.maxMessageSize, 20 * 1024 * 1024);
  assert.equal(config.smtp.dataTimeout, 90_000);
  assert.equal(config.smtp.extensions.chunking, false);
  assert.equal(config.smtp.extensions.dsn, false);
  assert.deepEqual(config.relay.localDomains, ['a.example', 'b.example']);
  assert.deepEqual(config.relay.relayDomains, []);
  assert.equal(config.log.format, 'json');
  assert.equal(config.log.level, 'warn', 'from the file');
  assert.equal(source[0], `file ${path.join(cwd, 'tern.toml')}`);
  assert.ok(source.includes('env TERN_HOSTNAME') && source.includes('env TERN_LOG_FORMAT'));
  assert.ok(!source.some((s) => s.includes('TERN_TEST_') || s.includes('PATH')));
});

test('environment: unknown TERN_* variables and bad values are errors', () => {
  assert.deepEqual(
    problems(() =>
      load({
        cwd: dir(),
        env: {
          TERN_HOSTNAM: 'x',
          TERN_SMTP_MAX_RECIPIENTS: 'many',
          TERN_SMTP_EXTENSIONS_DSN: 'maybe',
          TERN_LOG_LEVELS: 'x',
          TERN_FOO: '1',
        },
      })
    ),
    [
      'TERN_HOSTNAM: unknown environment variable (did you mean TERN_HOSTNAME?)',
      'TERN_SMTP_MAX_RECIPIENTS: expected a whole number, got "many"',
      'TERN_SMTP_EXTENSIONS_DSN: expected true or false, got "maybe"',
      'TERN_LOG_LEVELS: unknown environment variable (did you mean TERN_LOG_LEVEL?)',
      'TERN_FOO: unknown environment variable',
    ],
  );
});

test('flags come last and win', () => {
  const cwd = dir('[log]\nlevel = "warn"\n');
  const { config, source } = load({
    cwd,
    env: { TERN_LOG_LEVEL: 'error' },
    flags: {
      log: { level: 'debug' },
      listeners: { mx: { address: '127.0.0.1:0' } },
      relay: { localDomains: ['X.example'] },
    },
  });
  assert.equal(config.log.level, 'debug');
  assert.equal(config.listeners.mx.address, '127.0.0.1:0');
  assert.deepEqual(config.relay.localDomains, ['x.example']);
  assert.deepEqual(source.slice(-3), ['flag log.level', 'flag listeners.mx.address', 'flag relay.local_domains']);
});

test('unknown flags are errors too', () => {
  const flags = { smtp: { maxRecipents: 5 } } as unknown as LoadOptions['flags'];
  assert.deepEqual(problems(() => load({ cwd: dir(), flags })), ['flag smtp.max_recipents: unknown configuration key']);
});

test('validation runs after merging and says where the bad value came from', () => {
  const cwd = dir('[smtp]\nmax_recipients = 10\n');
  const file = path.join(cwd, 'tern.toml');
  assert.deepEqual(
    problems(() =>
      load({ cwd, env: { TERN_SMTP_MAX_COMMAND_LINE: '100' }, flags: { log: { level: 'loud' as 'info' } } })
    ),
    [
      `smtp.max_recipients: must be at least 100 (RFC 5321 §4.5.3.1.8), got 10 (set in ${file})`,
      'smtp.max_command_line: must be at least 512 (RFC 5321 §4.5.3.1.4), got 100 (set in TERN_SMTP_MAX_COMMAND_LINE)',
      'log.level: must be one of "debug", "info", "warn", "error", got "loud" (set in flag log.level)',
    ],
  );
});

test('parse problems and validation problems are reported together, once', () => {
  const cwd = dir('hostnme = "x"\n[relay]\ntrusted_networks = ["0.0.0.0/0"]\n');
  const errs = problems(() => load({ cwd }));
  assert.equal(errs.length, 2);
  assert.match(errs[0], /unknown key hostnme/);
  assert.match(errs[1], /^relay\.trusted_networks: "0\.0\.0\.0\/0" lets most of the Internet relay/);
});

test('the open relay switch works from the environment, and is warned about', () => {
  const { warnings } = load({
    cwd: dir(),
    env: { TERN_RELAY_TRUSTED_NETWORKS: '0.0.0.0/0,::/0', TERN_RELAY_I_KNOW_THIS_IS_AN_OPEN_RELAY: 'true' },
  });
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /OPEN RELAY: 0\.0\.0\.0\/0, ::\/0/);
});

test('ConfigError is printable: a summary and one line per problem, no stack needed', () => {
  try {
    load({ cwd: dir(), env: { TERN_SMTP_MAX_RECIPIENTS: '5', TERN_LOG_FORMAT: 'xml' } });
    assert.fail('should throw');
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    assert.equal(e.name, 'ConfigError');
    assert.equal(
      e.message,
      [
        '2 problems:',
        '  - smtp.max_recipients: must be at least 100 (RFC 5321 §4.5.3.1.8), got 5 (set in TERN_SMTP_MAX_RECIPIENTS)',
        '  - log.format: must be "text" or "json", got "xml" (set in TERN_LOG_FORMAT)',
      ].join('\n'),
    );
  }
});

test('the loaded config is a copy: changing it never touches the defaults', () => {
  const { config } = load({ cwd: dir() });
  config.relay.localDomains.push('x.example');
  config.smtp.maxRecipients = 5000;
  assert.deepEqual(defaults.relay.localDomains, ['localhost']);
  assert.equal(defaults.smtp.maxRecipients, 1000);
});
