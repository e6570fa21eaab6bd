// tern.example.toml must stay complete and valid: every key present, every value accepted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'smol-toml';
import { CONFIG_KEYS } from '../../../src/config/keys.ts';
import { loadConfig } from '../../../src/config/load.ts';
import { parseNextHop } from '../../../src/config/next-hop.ts';

const file = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../tern.example.toml');

// The example keeps its passwords in the environment ("env:NAME"), as it recommends.
const env = { SMARTHOST_PASSWORD: 'secret', INBOUND_WEBHOOK_SECRET: 'hmac-key' };

test('tern.example.toml loads and validates', () => {
  const { config, source, warnings } = loadConfig({ file, env });
  assert.deepEqual(source, [`file ${file}`]);
  assert.deepEqual(warnings, []);
  assert.equal(config.listeners.mx.address, '0.0.0.0:25');
  assert.equal(config.listeners.submission.address, '0.0.0.0:587');
  assert.equal(config.listeners.submissions.address, '0.0.0.0:465');
});

test('tern.example.toml shows the routes and domains the README promises', () => {
  const { config } = loadConfig({ file, env });
  const hops = config.routes.map((r) => parseNextHop(r.nextHop, config.delivery.smtpPort));
  assert.ok(hops.every((h) => h.ok));
  const kinds = hops.map((h) => (h.ok ? h.value.kind : ''));
  assert.ok(config.routes.some((r) => r.authUser !== '' && r.authPassword === 'secret'), 'a smarthost with AUTH');
  assert.ok(kinds.includes('smtp') && kinds.includes('lmtp'), 'an internal relay host and an LMTP route');
  assert.ok(config.routes.some((r) => config.relay.relayDomains.includes(r.domain)), 'a relay domain routed');
  const deliveries = Object.values(config.domains).map((d) => d.delivery).sort();
  assert.deepEqual(deliveries, ['lmtp', 'mailbox', 'maildir', 'webhook']);
  const mailbox = Object.values(config.domains).find((d) => d.delivery === 'mailbox')!;
  assert.ok(Object.keys(mailbox.aliases).length > 0 && mailbox.catchAll !== '');
  assert.equal(Object.values(config.domains).find((d) => d.delivery === 'webhook')?.webhookSecret, 'hmac-key');
  for (const d of Object.keys(config.domains)) assert.ok(config.relay.localDomains.includes(d), d);
});

test('tern.example.toml documents every key of a route and of a domain', () => {
  const text = readFileSync(file, 'utf8');
  for (const k of ['domain', 'next_hop', 'tls', 'auth_user', 'auth_password']) {
    assert.match(text, new RegExp(`^#   ${k} `, 'm'), `routes key ${k}`);
  }
  const domainKeys = ['delivery', 'maildir', 'lmtp', 'webhook', 'webhook_secret', 'recipients', 'aliases', 'catch_all'];
  for (const k of [...domainKeys, 'dmarc']) {
    assert.match(text, new RegExp(`^#   ${k} `, 'm'), `domains key ${k}`);
  }
  assert.match(text, /Env: none \(file only; TERN_ROUTES is an error\)/);
});

test('tern.example.toml shows production anti-abuse values and a domain enforcing DMARC', () => {
  const { config } = loadConfig({ file, env });
  const a = config.abuse;
  assert.deepEqual([a.connectionRate, a.messageRate, a.greetDelay], [60, 120, 2000]);
  assert.deepEqual(a.dnsbl, ['zen.spamhaus.org']);
  const text = readFileSync(file, 'utf8');
  assert.match(text, /usage terms/, 'the DNSBL example carries the usage-terms caveat');
  assert.match(text, /SCRAM-SHA-256 is not offered/);
  assert.ok(Object.values(config.domains).some((d) => d.dmarc === 'enforce'));
  assert.deepEqual(config.auth.listeners, ['submission', 'submissions'], 'no AUTH on port 25');
  assert.equal(config.auth.iKnowPasswordsTravelInClear, false);
});

test('tern.example.toml sets every key of the defaults object', () => {
  const doc = parse(readFileSync(file, 'utf8'));
  const missing = CONFIG_KEYS.filter((k) => {
    let v: unknown = doc;
    for (const part of k.toml.split('.')) v = (v as Record<string, unknown> | undefined)?.[part];
    return v === undefined;
  });
  assert.deepEqual(missing.map((k) => k.toml), []);
});

test('tern.example.toml names every TERN_ variable and a default for every key', () => {
  const text = readFileSync(file, 'utf8');
  for (const k of CONFIG_KEYS) assert.ok(text.includes(`Env: ${k.env}`), `${k.env} not documented`);
  const defaultsShown = text.match(/Default: /g)?.length ?? 0;
  assert.ok(defaultsShown >= CONFIG_KEYS.length, `${defaultsShown} "Default:" lines for ${CONFIG_KEYS.length} keys`);
});
