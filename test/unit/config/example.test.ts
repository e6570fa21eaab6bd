// tern.example.toml must stay complete and valid: every key present, every value accepted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'smol-toml';
import { CONFIG_KEYS } from '../../../src/config/keys.ts';
import { loadConfig } from '../../../src/config/load.ts';

const file = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../tern.example.toml');

test('tern.example.toml loads and validates', () => {
  const { config, source, warnings } = loadConfig({ file, env: {} });
  assert.deepEqual(source, [`file ${file}`]);
  assert.deepEqual(warnings, []);
  assert.equal(config.listeners.mx.address, '0.0.0.0:25');
  assert.equal(config.listeners.submission.address, '0.0.0.0:587');
  assert.equal(config.listeners.submissions.address, '0.0.0.0:465');
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
