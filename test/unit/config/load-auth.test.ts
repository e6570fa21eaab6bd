// loadConfig with [auth], [submission], [dkim], [inbound], [abuse] and a domain's dmarc: TOML, TERN_*, case folding.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../../src/config/errors.ts';
import { loadConfig } from '../../../src/config/load.ts';

const root = mkdtempSync(path.join(os.tmpdir(), 'tern-config-auth-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
/** Loads `toml` (as the file named on the command line) with `env`. */
function load(toml: string, env: Record<string, string> = {}) {
  const file = path.join(root, `${n++}.toml`);
  writeFileSync(file, toml);
  return loadConfig({ file, env, cwd: root });
}
function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return [...e.problems];
  }
  assert.fail('expected a ConfigError');
}

test('TOML: durations, lists and booleans of the new sections', () => {
  const { config, warnings } = load(`
[auth]
mechanisms = ["PLAIN"]
listeners = ["submissions"]
failure_window = "1h"
lockout = 600
[submission]
add_missing_headers = false
[dkim]
sign = false
signed_headers = ["From", "Subject"]
[inbound]
checks = true
authserv_id = "example.com"
dmarc = "enforce"
[abuse]
connection_rate = 60
greet_delay = "2s"
greylisting = true
greylist_window = "2d"
`);
  assert.deepEqual(warnings, []);
  assert.deepEqual(config.auth.mechanisms, ['PLAIN']);
  assert.deepEqual(config.auth.listeners, ['submissions']);
  assert.equal(config.auth.failureWindow, 3_600_000);
  assert.equal(config.auth.lockout, 600_000, 'a bare integer is seconds');
  assert.equal(config.submission.addMissingHeaders, false);
  assert.deepEqual([config.dkim.sign, config.dkim.signedHeaders], [false, ['From', 'Subject']]);
  assert.deepEqual(config.inbound, { checks: true, authservId: 'example.com', dmarc: 'enforce' });
  assert.deepEqual(
    [config.abuse.connectionRate, config.abuse.greetDelay, config.abuse.greylisting, config.abuse.greylistWindow],
    [60, 2000, true, 2 * 86_400_000],
  );
});

test('environment: every kind of the new keys, overriding the file', () => {
  const { config, source } = load('[abuse]\ndnsbl = ["bl.example"]\n', {
    TERN_AUTH_MECHANISMS: 'PLAIN, LOGIN',
    TERN_AUTH_MAX_FAILURES_PER_USER: '3',
    TERN_AUTH_I_KNOW_PASSWORDS_TRAVEL_IN_CLEAR: 'no',
    TERN_DKIM_SIGNED_HEADERS: 'From,To,Subject',
    TERN_INBOUND_CHECKS: 'off',
    TERN_ABUSE_DNSBL: 'zen.spamhaus.org',
    TERN_ABUSE_ALLOW_NETWORKS: '192.0.2.0/24,2001:db8::/32',
    TERN_ABUSE_GREYLIST_DELAY: '90s',
    TERN_ABUSE_REQUIRE_FQDN_HELO: 'yes',
  });
  assert.deepEqual(config.auth.mechanisms, ['PLAIN', 'LOGIN']);
  assert.equal(config.auth.maxFailuresPerUser, 3);
  assert.equal(config.auth.iKnowPasswordsTravelInClear, false);
  assert.deepEqual(config.dkim.signedHeaders, ['From', 'To', 'Subject']);
  assert.equal(config.inbound.checks, false);
  assert.deepEqual(config.abuse.dnsbl, ['zen.spamhaus.org']);
  assert.deepEqual(config.abuse.allowNetworks, ['192.0.2.0/24', '2001:db8::/32']);
  assert.equal(config.abuse.greylistDelay, 90_000);
  assert.equal(config.abuse.requireFqdnHelo, true);
  assert.ok(source.includes('env TERN_ABUSE_DNSBL'));
});

test('case is folded on load: mechanisms upper-case, zones, domains and the authserv-id lower-case', () => {
  const { config } = load(`
[auth]
mechanisms = ["plain", "Login"]
[inbound]
authserv_id = "MX.Example.COM"
[abuse]
dnsbl = ["Zen.Spamhaus.ORG"]
greylist_allow_domains = ["Partner.Example"]
`);
  assert.deepEqual(config.auth.mechanisms, ['PLAIN', 'LOGIN']);
  assert.equal(config.inbound.authservId, 'mx.example.com');
  assert.deepEqual(config.abuse.dnsbl, ['zen.spamhaus.org']);
  assert.deepEqual(config.abuse.greylistAllowDomains, ['partner.example']);
  // Folding happens before the duplicate check, so two spellings of one mechanism are still caught.
  assert.deepEqual(problems(() => load('[auth]\nmechanisms = ["plain", "PLAIN"]\n')).length, 1);
});

test('unknown keys and variables in the new sections get a suggestion', () => {
  const file = path.join(root, `${n}.toml`);
  assert.deepEqual(problems(() => load('[auth]\nmechanism = ["PLAIN"]\n[abuse]\ngreylist_dely = "5m"\n')), [
    `${file}: unknown key auth.mechanism (did you mean auth.mechanisms?)`,
    `${file}: unknown key abuse.greylist_dely (did you mean abuse.greylist_delay?)`,
  ]);
  assert.deepEqual(problems(() => load('', { TERN_ABUSE_DNSBLS: 'x.example' })), [
    'TERN_ABUSE_DNSBLS: unknown environment variable (did you mean TERN_ABUSE_DNSBL?)',
  ]);
});

test('bad values name the key and where they came from', () => {
  const file = path.join(root, `${n}.toml`);
  assert.deepEqual(problems(() => load('[auth]\nlisteners = ["smtp"]\n', { TERN_INBOUND_DMARC: 'reject' })), [
    `auth.listeners: "smtp" is not one of "mx", "submission", "submissions" (set in ${file})`,
    'inbound.dmarc: must be "record" or "enforce", got "reject" (set in TERN_INBOUND_DMARC)',
  ]);
  assert.deepEqual(problems(() => load('', { TERN_ABUSE_GREET_DELAY: 'soon' })).length, 1);
});

test('the unsafe switch loads, with its warning', () => {
  const { warnings } = load('[auth]\ni_know_passwords_travel_in_clear = true\nlisteners = ["mx"]\n');
  assert.equal(warnings.length, 2);
  assert.match(warnings[0], /^auth\.i_know_passwords_travel_in_clear: PASSWORDS IN CLEAR/);
  assert.match(warnings[1], /^auth\.listeners: AUTH is offered on the MX listener/);
});

test("a domain's dmarc from the file", () => {
  const { config } = load('[domains."Example.com"]\ndmarc = "enforce"\n[domains."example.org"]\n');
  assert.equal(config.domains['example.com'].dmarc, 'enforce');
  assert.equal(config.domains['example.org'].dmarc, '');
  const file = path.join(root, `${n}.toml`);
  assert.deepEqual(problems(() => load('[domains."example.com"]\ndmarc = true\n')), [
    `${file}: domains."example.com".dmarc: expected a string, got true`,
  ]);
});
