// The defaults object and the key table generated from it: names, kinds and the dev default's validity.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaults } from '../../../src/config/defaults.ts';
import {
  CONFIG_KEYS,
  CONFIG_TABLES,
  ENV_VARS,
  keyByToml,
  snake,
  STRUCTURED_KEYS,
  UNIT_KEYS,
} from '../../../src/config/keys.ts';
import { ENV_VARS as EXPORTED_ENV } from '../../../src/config/load.ts';
import { validateConfig } from '../../../src/config/validate.ts';

test('the dev default is valid on its own', () => {
  assert.deepEqual(validateConfig(structuredClone(defaults)), []);
});

test('dev defaults: loopback high ports, embedded database, self-signed TLS', () => {
  assert.equal(defaults.listeners.mx.address, '127.0.0.1:2525');
  assert.equal(defaults.listeners.submission.address, '127.0.0.1:2587');
  assert.equal(defaults.listeners.submissions.address, '127.0.0.1:2465');
  assert.equal(defaults.console.address, '127.0.0.1:8025');
  assert.equal(defaults.database.url, '');
  assert.equal(defaults.tls.certFile, '');
  assert.equal(defaults.smtp.maxMessageSize, 36_700_160);
  assert.equal(defaults.smtp.commandTimeout, 300_000);
  assert.equal(defaults.limits.maxInflightBytes, 512 * 1024 * 1024);
  assert.equal(defaults.relay.iKnowThisIsAnOpenRelay, false);
  assert.ok(Object.values(defaults.smtp.extensions).every((on) => on === true));
  assert.ok(defaults.hostname.length > 0);
});

test('defaults are frozen: nobody changes them by accident', () => {
  assert.ok(Object.isFrozen(defaults));
  assert.ok(Object.isFrozen(defaults.smtp.extensions));
  assert.ok(Object.isFrozen(defaults.relay.trustedNetworks));
});

test('snake_case and TERN_ names are generated from the schema', () => {
  assert.equal(snake('maxMessageSize'), 'max_message_size');
  assert.equal(snake('smtpUtf8'), 'smtp_utf8');
  assert.equal(snake('iKnowThisIsAnOpenRelay'), 'i_know_this_is_an_open_relay');
  const byToml = (t: string) => keyByToml.get(t);
  assert.equal(byToml('data_dir')?.env, 'TERN_DATA_DIR');
  assert.equal(byToml('database.url')?.env, 'TERN_DATABASE_URL');
  assert.equal(byToml('listeners.mx.address')?.env, 'TERN_LISTENERS_MX_ADDRESS');
  assert.equal(byToml('smtp.max_message_size')?.kind, 'size');
  assert.equal(byToml('smtp.extensions.eight_bit_mime')?.env, 'TERN_SMTP_EXTENSIONS_EIGHT_BIT_MIME');
  assert.equal(byToml('relay.local_domains')?.kind, 'list');
  assert.equal(byToml('limits.shutdown_grace')?.kind, 'duration');
  assert.equal(byToml('database.pool_size')?.kind, 'integer');
  assert.equal(byToml('log.format')?.kind, 'string');
  assert.ok(CONFIG_TABLES.has('smtp.extensions') && CONFIG_TABLES.has('listeners.mx'));
});

test('every leaf of the defaults is a key (routes and domains aside), and every name is unique', () => {
  let leaves = 0;
  const count = (o: object, top: boolean): void => {
    for (const [k, v] of Object.entries(o)) {
      if (top && STRUCTURED_KEYS.has(k)) continue;
      if (typeof v === 'object' && v !== null && !Array.isArray(v)) count(v, false);
      else leaves++;
    }
  };
  count(defaults, true);
  assert.equal(CONFIG_KEYS.length, leaves);
  assert.equal(new Set(ENV_VARS).size, ENV_VARS.length, 'two keys map to one TERN_ name');
  assert.equal(new Set(CONFIG_KEYS.map((k) => k.toml)).size, CONFIG_KEYS.length);
  assert.ok(ENV_VARS.every((n) => /^TERN_[A-Z0-9_]+$/.test(n)));
  assert.ok(!ENV_VARS.includes('TERN_CONFIG'));
  assert.deepEqual(EXPORTED_ENV, ENV_VARS);
});

test('UNIT_KEYS names existing numeric keys (no stale entries)', () => {
  for (const camel of Object.keys(UNIT_KEYS)) {
    const key = CONFIG_KEYS.find((k) => k.path.join('.') === camel);
    assert.ok(key, `${camel} is not a key`);
    let v: unknown = defaults;
    for (const p of key.path) v = (v as Record<string, unknown>)[p];
    if (UNIT_KEYS[camel] === 'durations') assert.ok(Array.isArray(v) && v.every((x) => typeof x === 'number'), camel);
    else assert.equal(typeof v, 'number', camel);
  }
});

test('delivery defaults: RFC 5321 retry schedule and timeouts, opportunistic TLS, nothing routed', () => {
  const m = 60_000;
  const d = defaults.delivery;
  assert.deepEqual(d.retrySchedule, [5 * m, 10 * m, 20 * m, 40 * m, 60 * m]);
  assert.equal(d.maxQueueLifetime, 5 * 24 * 60 * m);
  assert.equal(d.delayWarning, 4 * 60 * m);
  assert.equal(d.lease, 10 * m);
  assert.equal(d.commandTimeout, 5 * m);
  assert.equal(d.dataTimeout, 10 * m);
  assert.equal(d.connectTimeout, 30_000);
  assert.equal(d.connectionIdle, 5000);
  assert.deepEqual([d.enabled, d.concurrency, d.destinationConcurrency, d.destinationRate], [true, 100, 10, 0]);
  assert.deepEqual([d.smtpPort, d.heloName, d.tls, d.caFile, d.mtaSts, d.ipv6], [
    25,
    '',
    'opportunistic',
    '',
    true,
    true,
  ]);
  assert.deepEqual([d.smarthost, d.smarthostTls, d.smarthostUser, d.smarthostPassword], ['', 'require', '', '']);
  assert.deepEqual(defaults.dns, { servers: [], timeout: 3000, attempts: 2 });
  assert.deepEqual(defaults.routes, []);
  assert.deepEqual(defaults.domains, {});
  assert.ok(Object.isFrozen(defaults.delivery.retrySchedule));
});

test('the new keys get generated names and kinds; routes and domains get none', () => {
  const kind = (t: string) => keyByToml.get(t)?.kind;
  assert.equal(keyByToml.get('delivery.retry_schedule')?.env, 'TERN_DELIVERY_RETRY_SCHEDULE');
  assert.equal(kind('delivery.retry_schedule'), 'durations');
  for (
    const t of [
      'max_queue_lifetime',
      'delay_warning',
      'lease',
      'connect_timeout',
      'command_timeout',
      'data_timeout',
      'connection_idle',
    ]
  ) {
    assert.equal(kind(`delivery.${t}`), 'duration', t);
  }
  assert.equal(kind('dns.timeout'), 'duration');
  assert.equal(kind('dns.servers'), 'list');
  assert.equal(kind('delivery.smtp_port'), 'integer');
  assert.equal(keyByToml.get('delivery.smarthost_password')?.env, 'TERN_DELIVERY_SMARTHOST_PASSWORD');
  assert.equal(keyByToml.get('delivery.mta_sts')?.env, 'TERN_DELIVERY_MTA_STS');
  assert.ok(!ENV_VARS.some((n) => n.startsWith('TERN_ROUTES') || n.startsWith('TERN_DOMAINS')));
  assert.ok(!CONFIG_TABLES.has('domains') && !CONFIG_TABLES.has('routes'));
  assert.ok(CONFIG_TABLES.has('delivery') && CONFIG_TABLES.has('dns'));
});
