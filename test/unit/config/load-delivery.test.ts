// loadConfig for the delivery keys: [delivery], [dns], [[routes]], [domains."…"], env:NAME secrets, flags.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { domainDefaults } from '../../../src/config/defaults.ts';
import { ConfigError } from '../../../src/config/errors.ts';
import { loadConfig, type LoadOptions } from '../../../src/config/load.ts';

const root = mkdtempSync(path.join(os.tmpdir(), 'tern-config-delivery-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
/** A fresh directory with this tern.toml; returns it and the file's path. */
function dir(toml: string): { cwd: string; file: string } {
  const cwd = path.join(root, String(n++));
  mkdirSync(cwd);
  writeFileSync(path.join(cwd, 'tern.toml'), toml);
  return { cwd, file: path.join(cwd, 'tern.toml') };
}
const load = (opts: Partial<LoadOptions> & { cwd: string }) => loadConfig({ env: {}, ...opts });
function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return [...e.problems];
  }
  assert.fail('expected a ConfigError');
}

test('[delivery] and [dns] from TOML, with units and a list of durations', () => {
  const { cwd } = dir(`
[delivery]
enabled = false
concurrency = 50
retry_schedule = ["1m", 120, "1h"]
max_queue_lifetime = "3d"
delay_warning = "0s"
lease = "2m"
smtp_port = 2525
tls = "verify"
mta_sts = false
smarthost = "[relay.example.net]:587"
connect_timeout = "10s"
[dns]
servers = ["127.0.0.1:5353"]
timeout = "500ms"
attempts = 3
`);
  const { config } = load({ cwd });
  const d = config.delivery;
  assert.equal(d.enabled, false);
  assert.equal(d.concurrency, 50);
  assert.deepEqual(d.retrySchedule, [60_000, 120_000, 3_600_000]);
  assert.equal(d.maxQueueLifetime, 3 * 86_400_000);
  assert.equal(d.delayWarning, 0);
  assert.equal(d.lease, 120_000);
  assert.equal(d.smtpPort, 2525);
  assert.equal(d.tls, 'verify');
  assert.equal(d.mtaSts, false);
  assert.equal(d.smarthost, '[relay.example.net]:587');
  assert.equal(d.connectTimeout, 10_000);
  assert.equal(d.dataTimeout, 600_000, 'untouched keys keep their default');
  assert.deepEqual(config.dns, { servers: ['127.0.0.1:5353'], timeout: 500, attempts: 3 });
});

test('environment: TERN_DELIVERY_* and TERN_DNS_*, retry schedule comma-separated', () => {
  const { config } = loadConfig({
    cwd: root,
    file: dir('').file,
    env: {
      TERN_DELIVERY_RETRY_SCHEDULE: '1m, 5m,,1h',
      TERN_DELIVERY_SMTP_PORT: '2525',
      TERN_DELIVERY_IPV6: 'off',
      TERN_DELIVERY_SMARTHOST: '[127.0.0.1]:2526',
      TERN_DELIVERY_SMARTHOST_USER: 'tern',
      TERN_DELIVERY_SMARTHOST_PASSWORD: 'pw',
      TERN_DNS_SERVERS: '127.0.0.1:5353,[::1]:5353',
      TERN_DNS_TIMEOUT: '250ms',
    },
  });
  assert.deepEqual(config.delivery.retrySchedule, [60_000, 300_000, 3_600_000]);
  assert.equal(config.delivery.smtpPort, 2525);
  assert.equal(config.delivery.ipv6, false);
  assert.equal(config.delivery.smarthostPassword, 'pw');
  assert.deepEqual(config.dns.servers, ['127.0.0.1:5353', '[::1]:5353']);
  assert.equal(config.dns.timeout, 250);
});

test('bad durations in a list name the item, from the file and from the environment', () => {
  const { cwd, file } = dir('[delivery]\nretry_schedule = ["5m", "soon"]\n');
  assert.deepEqual(problems(() => load({ cwd })), [
    `${file}: delivery.retry_schedule: expected a list of durations like ["5m", "10m", "1h"], got "soon" in the list`,
  ]);
  const other = dir('[delivery]\nretry_schedule = "5m"\n');
  assert.deepEqual(problems(() => load({ cwd: other.cwd })), [
    `${other.file}: delivery.retry_schedule: expected a list of durations like ["5m", "10m", "1h"], got "5m"`,
  ]);
  assert.deepEqual(problems(() => load({ cwd: dir('').cwd, env: { TERN_DELIVERY_RETRY_SCHEDULE: '5m,x' } })), [
    'TERN_DELIVERY_RETRY_SCHEDULE: expected a list of durations like ["5m", "10m", "1h"], got "x" in the list',
  ]);
  assert.deepEqual(problems(() => load({ cwd: dir('').cwd, env: { TERN_DELIVERY_RETRY_SCHEDULE: '' } })), [
    'delivery.retry_schedule: must list at least one delay, e.g. ["5m", "1h"] (set in TERN_DELIVERY_RETRY_SCHEDULE)',
  ]);
});

test('[[routes]]: left-out keys default, domains lower-cased, order kept', () => {
  const { cwd } = dir(`
[[routes]]
domain = "Corp.Example"
next_hop = "smtp:[10.0.0.25]:25"
tls = "require"

[[routes]]
domain = ".example.org"
`);
  const { config } = load({ cwd });
  assert.deepEqual(config.routes, [
    { domain: 'corp.example', nextHop: 'smtp:[10.0.0.25]:25', tls: 'require', authUser: '', authPassword: '' },
    { domain: '.example.org', nextHop: 'mx', tls: '', authUser: '', authPassword: '' },
  ]);
});

test('[[routes]]: unknown keys, wrong types and wrong shapes are errors naming the entry', () => {
  const { cwd, file } = dir(`
[[routes]]
domain = "a.example"
nexthop = "mx"
tls = 1

[[routes]]
domain = "b.example"
password = "x"
`);
  assert.deepEqual(problems(() => load({ cwd })), [
    `${file}: routes[1]: unknown key nexthop (did you mean next_hop?)`,
    `${file}: routes[1].tls: expected a string, got 1`,
    `${file}: routes[2]: unknown key password`,
  ]);
  const table = dir('[routes]\ndomain = "a.example"\n');
  assert.deepEqual(problems(() => load({ cwd: table.cwd })), [
    `${table.file}: routes: must be a list of tables, written [[routes]]`,
  ]);
  const typo = dir('[[route]]\ndomain = "a.example"\n');
  assert.deepEqual(problems(() => load({ cwd: typo.cwd })), [`${typo.file}: unknown key route (did you mean routes?)`]);
});

test('[[routes]]: validation problems say which file they came from', () => {
  const { cwd, file } = dir(`
[[routes]]
domain = "*"
next_hop = "smtp:[relay.example.net]:587"
auth_user = "me"
auth_password = "hunter2"
`);
  const errs = problems(() => load({ cwd }));
  assert.equal(errs.length, 1);
  assert.match(errs[0], /^routes\[1\]\.tls: a route with auth_user\/auth_password needs tls = "verify" or "require"/);
  assert.ok(errs[0].endsWith(`(set in ${file})`), errs[0]);
  assert.ok(!errs[0].includes('hunter2'));
});

test('[domains."…"]: defaults, aliases as string or list, lower-cased, and local without being listed', () => {
  const { cwd } = dir(`
[relay]
local_domains = ["example.com"]

[domains."Example.ORG"]
recipients = ["Alice", "bob"]
catch_all = "bob"

[domains."Example.ORG".aliases]
postmaster = "alice"
"Sales.Team" = ["alice", "carol@Partner.Example"]

[domains."example.net"]
delivery = "maildir"
maildir = "/var/mail/%d/%u/Maildir"
`);
  const { config } = load({ cwd });
  assert.deepEqual(Object.keys(config.domains), ['example.org', 'example.net']);
  assert.deepEqual(config.domains['example.org'], {
    ...domainDefaults,
    recipients: ['alice', 'bob'],
    aliases: { postmaster: ['alice'], 'sales.team': ['alice', 'carol@partner.example'] },
    catchAll: 'bob',
  });
  assert.equal(config.domains['example.net'].delivery, 'maildir');
  assert.deepEqual(config.relay.localDomains, ['example.com', 'example.org', 'example.net']);
});

test('[domains."…"]: unknown keys, wrong types, a domain that is not a table, a domain also relayed', () => {
  const { cwd, file } = dir(`
[relay]
relay_domains = ["relayed.example"]
[domains."a.example"]
delivery = "mailbox"
catchall = "x"
recipients = "alice"
aliases = { info = 5 }
[domains."relayed.example"]
[domains]
"b.example" = "mailbox"
`);
  assert.deepEqual(problems(() => load({ cwd })), [
    `${file}: domains."a.example": unknown key catchall (did you mean catch_all?)`,
    `${file}: domains."a.example".recipients: expected a list of strings, got "alice"`,
    `${file}: domains."a.example".aliases.info: expected "target" or a list of targets, got 5`,
    `${file}: domains."b.example": must be a table, written [domains."b.example"]`,
    'domains."relayed.example": "relayed.example" is also in relay.relay_domains: a domain is either delivered ' +
    `here or relayed, not both (set in ${file})`,
  ]);
  const badName = dir('[domains."bad_name.example"]\n');
  assert.deepEqual(problems(() => load({ cwd: badName.cwd })), [
    `domains."bad_name.example": "bad_name.example" is not a domain name (use the xn-- form for IDNs) (set in ${badName.file})`,
  ]);
  const scalar = dir('domains = 5\n');
  assert.deepEqual(problems(() => load({ cwd: scalar.cwd })), [
    `${scalar.file}: domains: must be a table of domains, written [domains."example.com"]`,
  ]);
});

test('routes and domains cannot come from the environment, and the error says what to do', () => {
  const errs = problems(() =>
    load({ cwd: dir('').cwd, env: { TERN_ROUTES: '*=smtp:[x]:25', TERN_DOMAINS_EXAMPLE_COM_DELIVERY: 'maildir' } })
  );
  assert.deepEqual(errs, [
    'TERN_ROUTES: routes cannot be set from the environment (a table does not fit in a variable): write ' +
    '[[routes]] in the config file; a password there can stay in the environment as "env:NAME"',
    'TERN_DOMAINS_EXAMPLE_COM_DELIVERY: domains cannot be set from the environment (a table does not fit in a ' +
    'variable): write [domains."example.com"] in the config file; a password there can stay in the environment ' +
    'as "env:NAME"',
  ]);
});

test('env:NAME reads a password from the environment given to loadConfig', () => {
  const { cwd } = dir(`
[delivery]
tls = "verify"
smarthost = "[smtp.provider.example]:587"
smarthost_user = "me"
smarthost_password = "env:PROVIDER_PASSWORD"
[[routes]]
domain = "partner.example"
next_hop = "smtp:[mx.partner.example]:587"
auth_user = "tern"
auth_password = "env:TERN_PARTNER_PASSWORD"
[domains."hooks.example"]
delivery = "webhook"
webhook = "https://app.example/hook"
webhook_secret = "env:HOOK_SECRET"
`);
  const env = { PROVIDER_PASSWORD: 'p1', TERN_PARTNER_PASSWORD: 'p2', HOOK_SECRET: 'k' };
  const { config, source } = load({ cwd, env });
  assert.equal(config.delivery.smarthostPassword, 'p1');
  assert.equal(config.routes[0].authPassword, 'p2');
  assert.equal(config.domains['hooks.example'].webhookSecret, 'k');
  assert.ok(!source.includes('env TERN_PARTNER_PASSWORD'), 'a referenced TERN_ variable is not a setting');
});

test("env:NAME may name a TERN_ setting's variable, which still sets that setting", () => {
  const { cwd } = dir(`
[[routes]]
domain = "partner.example"
next_hop = "smtp:[mx.partner.example]:587"
tls = "verify"
auth_user = "tern"
auth_password = "env:TERN_DELIVERY_SMARTHOST_PASSWORD"
`);
  const env = {
    TERN_DELIVERY_SMARTHOST: '[smtp.provider.example]:587',
    TERN_DELIVERY_SMARTHOST_USER: 'tern',
    TERN_DELIVERY_SMARTHOST_PASSWORD: 'shared',
  };
  const { config } = load({ cwd, env });
  assert.equal(config.routes[0].authPassword, 'shared');
  assert.equal(config.delivery.smarthostPassword, 'shared');
});

test('env:NAME: an unset variable or a bad name is an error naming the key, never a literal password', () => {
  const { cwd, file } = dir(`
[[routes]]
domain = "partner.example"
next_hop = "smtp:[mx.partner.example]:587"
tls = "verify"
auth_user = "tern"
auth_password = "env:PARTNER_PASSWORD"
[[routes]]
domain = "other.example"
tls = "verify"
auth_user = "tern"
auth_password = "env:not-a-name"
`);
  assert.deepEqual(problems(() => load({ cwd, env: { PARTNER_PASSWORD: '' } })), [
    `routes[1].auth_password: "env:PARTNER_PASSWORD": the environment variable PARTNER_PASSWORD is not set (set in ${file})`,
    `routes[2].auth_password: "env:not-a-name" must name an environment variable, as "env:NAME" (set in ${file})`,
  ]);
  assert.deepEqual(
    problems(() => load({ cwd: dir('').cwd, env: { TERN_DELIVERY_SMARTHOST_PASSWORD: 'env:NOPE' } })),
    [
      'delivery.smarthost_password: "env:NOPE": the environment variable NOPE is not set (set in TERN_DELIVERY_SMARTHOST_PASSWORD)',
      'delivery.smarthost_user: delivery.smarthost_user and delivery.smarthost_password must be set together',
    ],
  );
});

test('flags set routes and domains whole, filled with the same defaults as the file', () => {
  const { cwd } = dir('[[routes]]\ndomain = "file.example"\n');
  const { config, source } = load({
    cwd,
    flags: {
      routes: [{ domain: 'Flag.Example', nextHop: 'mx:2525' } as never],
      domains: { 'Local.Example': { delivery: 'maildir', maildir: '/tmp/%u' } },
      delivery: { smtpPort: 2526 },
    },
  });
  assert.deepEqual(config.routes, [{
    domain: 'flag.example',
    nextHop: 'mx:2525',
    tls: '',
    authUser: '',
    authPassword: '',
  }]);
  assert.deepEqual(config.domains, { 'local.example': { ...domainDefaults, delivery: 'maildir', maildir: '/tmp/%u' } });
  assert.ok(config.relay.localDomains.includes('local.example'));
  assert.equal(config.delivery.smtpPort, 2526);
  assert.deepEqual(source.slice(1), ['flag routes', 'flag domains', 'flag delivery.smtp_port']);
  const errs = problems(() => load({ cwd, flags: { routes: [{ domain: '' } as never] } }));
  assert.deepEqual(errs, [
    'routes[1].domain: is required: "example.org", ".example.org" (its subdomains) or "*" (all other mail) ' +
    '(set in flag routes)',
  ]);
});

test('delivery.ca_file must exist when the config is loaded', () => {
  const { cwd } = dir('[delivery]\nca_file = "/no/such/ca.pem"\n');
  const errs = problems(() => load({ cwd }));
  assert.equal(errs.length, 1);
  assert.match(errs[0], /^delivery\.ca_file: cannot read "\/no\/such\/ca\.pem" \(ENOENT\) \(set in .*tern\.toml\)$/);
});
