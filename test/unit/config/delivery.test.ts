// Validation of [delivery] and [dns]: ranges, enums, the smarthost and its password, warnings, ca_file.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defaults } from '../../../src/config/defaults.ts';
import type { Config } from '../../../src/config/schema.ts';
import { checkFiles } from '../../../src/config/validate-delivery.ts';
import { configWarnings, validateConfig } from '../../../src/config/validate.ts';

const base = (): Config => structuredClone(defaults) as Config;
function errorsOf(change: (c: Config) => void): string[] {
  const c = base();
  change(c);
  return validateConfig(c);
}
const m = 60_000;

test('ranges and limits, each with the key, the rule and the value', () => {
  const cases: Array<[(c: Config) => void, string]> = [
    [(c) => (c.delivery.concurrency = 0), 'delivery.concurrency: must be at least 1, got 0'],
    [(c) => (c.delivery.destinationConcurrency = 0), 'delivery.destination_concurrency: must be at least 1, got 0'],
    [
      (c) => (c.delivery.destinationConcurrency = 101),
      'delivery.destination_concurrency: must not exceed delivery.concurrency (100), got 101',
    ],
    [
      (c) => (c.delivery.retrySchedule = []),
      'delivery.retry_schedule: must list at least one delay, e.g. ["5m", "1h"]',
    ],
    [
      (c) => (c.delivery.retrySchedule = [5 * m, 500]),
      'delivery.retry_schedule: must be at least 1s (RFC 5321 §4.5.4.1: retries must be delayed), got 500ms',
    ],
    [
      (c) => Object.assign(c.delivery, { maxQueueLifetime: 30 * m, delayWarning: 0 }),
      'delivery.max_queue_lifetime: must be at least 1h, got 30m',
    ],
    [
      (c) => (c.delivery.delayWarning = 5 * 24 * 60 * m),
      'delivery.delay_warning: must be 0 (never) or less than delivery.max_queue_lifetime (5d), got 5d',
    ],
    [(c) => (c.delivery.lease = 500), 'delivery.lease: must be at least 1s, got 500ms'],
    [(c) => (c.delivery.smtpPort = 0), 'delivery.smtp_port: must be 1 to 65535, got 0'],
    [(c) => (c.delivery.smtpPort = 70000), 'delivery.smtp_port: must be 1 to 65535, got 70000'],
    [(c) => (c.delivery.connectTimeout = 0), 'delivery.connect_timeout: must be at least 1s, got 0ms'],
    [(c) => (c.delivery.commandTimeout = 999), 'delivery.command_timeout: must be at least 1s, got 999ms'],
    [(c) => (c.delivery.dataTimeout = 0), 'delivery.data_timeout: must be at least 1s, got 0ms'],
    [(c) => (c.dns.timeout = 50), 'dns.timeout: must be at least 100ms, got 50ms'],
    [(c) => (c.dns.attempts = 0), 'dns.attempts: must be at least 1, got 0'],
  ];
  for (const [change, want] of cases) assert.deepEqual(errorsOf(change), [want]);
});

test('allowed edges: no delay warning, idle 0, one retry step, rate limits', () => {
  assert.deepEqual(
    errorsOf((c) => {
      c.delivery.delayWarning = 0;
      c.delivery.connectionIdle = 0;
      c.delivery.retrySchedule = [1000];
      c.delivery.maxQueueLifetime = 60 * m;
      c.delivery.lease = 1000;
      c.delivery.destinationRate = 5;
      c.delivery.concurrency = 1;
      c.delivery.destinationConcurrency = 1;
      c.delivery.enabled = false;
    }),
    [],
  );
});

test('types: retry_schedule is a list of durations', () => {
  const errs = errorsOf((c) => ((c.delivery as unknown as Record<string, unknown>).retrySchedule = ['5m']));
  assert.deepEqual(errs, ['delivery.retry_schedule: must be a list of durations (milliseconds), got ["5m"]']);
});

test('tls policies and helo_name', () => {
  const errs = errorsOf((c) => {
    (c.delivery as { tls: string }).tls = 'always';
    (c.delivery as { smarthostTls: string }).smarthostTls = 'yes';
    c.delivery.heloName = 'not a name';
  });
  assert.deepEqual(errs, [
    'delivery.helo_name: must be "" (hostname), a domain name or an address literal, got "not a name"',
    'delivery.tls: must be "none", "opportunistic", "require", "verify", got "always"',
    'delivery.smarthost_tls: must be "none", "opportunistic", "require", "verify", got "yes"',
  ]);
  for (const helo of ['mail.example.com', '[192.0.2.1]', '[IPv6:2001:db8::1]']) {
    assert.deepEqual(errorsOf((c) => (c.delivery.heloName = helo)), [], helo);
  }
  assert.equal(errorsOf((c) => (c.delivery.heloName = '[300.1.1.1]')).length, 1);
});

test('smarthost: syntax like a next hop', () => {
  for (const ok of ['[smtp.provider.example]:587', 'provider.example:2525', '[192.0.2.9]', 'provider.example']) {
    assert.deepEqual(errorsOf((c) => (c.delivery.smarthost = ok)), [], ok);
  }
  assert.deepEqual(errorsOf((c) => (c.delivery.smarthost = '192.0.2.9:25')), [
    'delivery.smarthost: "192.0.2.9:25" names an IP address without brackets: write "[192.0.2.9]" (brackets = no MX lookup)',
  ]);
  assert.match(errorsOf((c) => (c.delivery.smarthost = 'smtp:[x.example]:25'))[0], /^delivery\.smarthost: /);
});

test('smarthost AUTH: both or neither, a smarthost to send to, and TLS that is required', () => {
  const withAuth = (c: Config) => {
    c.delivery.smarthost = '[smtp.provider.example]:587';
    c.delivery.smarthostUser = 'me';
    c.delivery.smarthostPassword = 'pw';
  };
  assert.deepEqual(errorsOf(withAuth), [], 'default smarthost_tls "require" is fine');
  assert.deepEqual(errorsOf((c) => (withAuth(c), (c.delivery.smarthostTls = 'verify'))), []);
  for (const weak of ['none', 'opportunistic'] as const) {
    const errs = errorsOf((c) => (withAuth(c), (c.delivery.smarthostTls = weak)));
    assert.equal(errs.length, 1);
    assert.match(errs[0], new RegExp(`^delivery\\.smarthost_tls: must be "verify" or "require" .*got "${weak}"`));
  }
  assert.deepEqual(errorsOf((c) => (withAuth(c), (c.delivery.smarthostPassword = ''))), [
    'delivery.smarthost_password: delivery.smarthost_user and delivery.smarthost_password must be set together',
  ]);
  assert.deepEqual(errorsOf((c) => (withAuth(c), (c.delivery.smarthostUser = ''))), [
    'delivery.smarthost_user: delivery.smarthost_user and delivery.smarthost_password must be set together',
  ]);
  const noHost = errorsOf((c) => (withAuth(c), (c.delivery.smarthost = '')));
  assert.deepEqual(noHost, ['delivery.smarthost_user: is set but delivery.smarthost is empty']);
  assert.ok(
    !errorsOf((c) => (withAuth(c), (c.delivery.smarthostTls = 'none'))).join().includes('pw'),
    'no password echoed',
  );
});

test('dns.servers parse', () => {
  assert.deepEqual(errorsOf((c) => (c.dns.servers = ['192.0.2.53', '[2001:db8::53]:5353', '127.0.0.1:5353'])), []);
  assert.deepEqual(errorsOf((c) => (c.dns.servers = ['dns.example', '127.0.0.1:0'])), [
    'dns.servers: "dns.example" must be an IP address, "IP:PORT" or "[IPv6]:PORT"',
    'dns.servers: has an invalid port "0" (1 to 65535)',
  ]);
});

test('warnings: client timeouts below RFC 5321 §4.5.3.2, a password over unverified TLS', () => {
  assert.deepEqual(configWarnings(base()), []);
  const c = base();
  c.delivery.commandTimeout = 30_000;
  c.delivery.dataTimeout = 2 * m;
  c.delivery.smarthost = '[smtp.provider.example]:587';
  c.delivery.smarthostUser = 'me';
  c.delivery.smarthostPassword = 'pw';
  const w = configWarnings(c);
  assert.equal(w.length, 3, w.join('\n'));
  assert.match(w[0], /^delivery\.command_timeout: 30s is below the 5 minutes RFC 5321 §4\.5\.3\.2 asks for$/);
  assert.match(w[1], /^delivery\.data_timeout: 2m is below the 10 minutes RFC 5321 §4\.5\.3\.2\.6/);
  assert.match(w[2], /^delivery\.smarthost_tls: "require" does not check the certificate/);
  c.delivery.smarthostTls = 'verify';
  assert.equal(configWarnings(c).length, 2);
});

const dir = mkdtempSync(path.join(os.tmpdir(), 'tern-cafile-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('ca_file: checked at load time, must exist and hold a PEM certificate', () => {
  const c = base();
  assert.deepEqual(checkFiles(c), [], 'empty = none');
  c.delivery.caFile = path.join(dir, 'missing.pem');
  assert.deepEqual(checkFiles(c), [{
    key: 'delivery.ca_file',
    message: `cannot read "${c.delivery.caFile}" (ENOENT)`,
  }]);
  c.delivery.caFile = path.join(dir, 'junk.pem');
  writeFileSync(c.delivery.caFile, 'not a certificate\n');
  assert.match(checkFiles(c)[0].message, /holds no PEM certificate/);
  c.delivery.caFile = path.join(dir, 'ca.pem');
  writeFileSync(c.delivery.caFile, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
  assert.deepEqual(checkFiles(c), []);
  assert.deepEqual(validateConfig({ ...base(), delivery: { ...base().delivery, caFile: '/no/such' } }), [], 'pure');
});
