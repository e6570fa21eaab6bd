// The defaults object and the key table generated from it: names, kinds and the dev default's validity.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaults } from '../../../src/config/defaults.ts';
import { CONFIG_KEYS, CONFIG_TABLES, ENV_VARS, keyByToml, snake, UNIT_KEYS } from '../../../src/config/keys.ts';
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

test('every leaf of the defaults is a key, and every name is unique', () => {
  let leaves = 0;
  const count = (o: object): void => {
    for (const v of Object.values(o)) {
      if (typeof v === 'object' && v !== null && !Array.isArray(v)) count(v);
      else leaves++;
    }
  };
  count(defaults);
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
    assert.equal(typeof v, 'number', camel);
  }
});
