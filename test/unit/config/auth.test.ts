// [auth], [submission], [dkim], [inbound] and a domain's dmarc: defaults, key names, validation and warnings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaults, domainDefaults } from '../../../src/config/defaults.ts';
import { keyByToml } from '../../../src/config/keys.ts';
import type { Config } from '../../../src/config/schema.ts';
import { configWarnings, validateConfig } from '../../../src/config/validate.ts';

const MINUTE = 60_000;
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

test('defaults: PLAIN and LOGIN on submission only, TLS required, 10/5 failures per 15 minutes', () => {
  assert.deepEqual(defaults.auth, {
    mechanisms: ['PLAIN', 'LOGIN'],
    listeners: ['submission', 'submissions'],
    iKnowPasswordsTravelInClear: false,
    maxFailuresPerIp: 10,
    maxFailuresPerUser: 5,
    failureWindow: 15 * MINUTE,
    lockout: 15 * MINUTE,
  });
  assert.deepEqual(defaults.submission, { addMissingHeaders: true });
  assert.equal(defaults.dkim.sign, true);
  assert.equal(defaults.dkim.signedHeaders[0], 'From');
  assert.equal(defaults.dkim.signedHeaders.length, 14);
  assert.ok(defaults.dkim.signedHeaders.includes('List-Unsubscribe-Post'));
  assert.deepEqual(defaults.inbound, { checks: true, authservId: '', dmarc: 'record' });
  assert.equal(domainDefaults.dmarc, '');
  assert.ok(Object.isFrozen(defaults.dkim.signedHeaders) && Object.isFrozen(defaults.auth.mechanisms));
  assert.deepEqual(configWarnings(base()), [], 'the defaults warn about nothing');
});

test('generated names and kinds of the new keys', () => {
  const expect: Array<[string, string, string]> = [
    ['auth.mechanisms', 'TERN_AUTH_MECHANISMS', 'list'],
    ['auth.listeners', 'TERN_AUTH_LISTENERS', 'list'],
    ['auth.i_know_passwords_travel_in_clear', 'TERN_AUTH_I_KNOW_PASSWORDS_TRAVEL_IN_CLEAR', 'boolean'],
    ['auth.max_failures_per_ip', 'TERN_AUTH_MAX_FAILURES_PER_IP', 'integer'],
    ['auth.max_failures_per_user', 'TERN_AUTH_MAX_FAILURES_PER_USER', 'integer'],
    ['auth.failure_window', 'TERN_AUTH_FAILURE_WINDOW', 'duration'],
    ['auth.lockout', 'TERN_AUTH_LOCKOUT', 'duration'],
    ['submission.add_missing_headers', 'TERN_SUBMISSION_ADD_MISSING_HEADERS', 'boolean'],
    ['dkim.sign', 'TERN_DKIM_SIGN', 'boolean'],
    ['dkim.signed_headers', 'TERN_DKIM_SIGNED_HEADERS', 'list'],
    ['inbound.checks', 'TERN_INBOUND_CHECKS', 'boolean'],
    ['inbound.authserv_id', 'TERN_INBOUND_AUTHSERV_ID', 'string'],
    ['inbound.dmarc', 'TERN_INBOUND_DMARC', 'string'],
  ];
  for (const [toml, env, kind] of expect) {
    assert.deepEqual([keyByToml.get(toml)?.env, keyByToml.get(toml)?.kind], [env, kind], toml);
  }
});

test('auth.mechanisms: PLAIN and LOGIN only; SCRAM is refused with the reason', () => {
  assert.deepEqual(errorsOf((c) => (c.auth.mechanisms = ['LOGIN'])), []);
  const [scram, ...rest] = errorsOf((c) => (c.auth.mechanisms = ['PLAIN', 'SCRAM-SHA-256' as 'PLAIN']));
  assert.deepEqual(rest, []);
  assert.match(scram, /^auth\.mechanisms: "SCRAM-SHA-256" is not offered: SCRAM would need PBKDF2-derived keys/);
  assert.deepEqual(errorsOf((c) => (c.auth.mechanisms = ['CRAM-MD5' as 'PLAIN'])), [
    'auth.mechanisms: "CRAM-MD5" is not one of "PLAIN", "LOGIN"',
  ]);
  assert.deepEqual(errorsOf((c) => (c.auth.mechanisms = ['PLAIN', 'PLAIN'])), [
    'auth.mechanisms: "PLAIN" is given twice',
  ]);
});

test('auth.mechanisms may be empty only when no listener offers AUTH', () => {
  assert.deepEqual(errorsOf((c) => (c.auth.mechanisms = [])), [
    'auth.mechanisms: must name at least one mechanism while auth.listeners offers AUTH ' +
    '(auth.listeners = [] turns AUTH off)',
  ]);
  assert.deepEqual(errorsOf((c) => ((c.auth.mechanisms = []), (c.auth.listeners = []))), []);
});

test('auth.listeners: the three listener kinds, each once', () => {
  assert.deepEqual(errorsOf((c) => (c.auth.listeners = ['submissions'])), []);
  assert.deepEqual(errorsOf((c) => (c.auth.listeners = ['console' as 'mx', 'submission', 'submission'])), [
    'auth.listeners: "console" is not one of "mx", "submission", "submissions"',
    'auth.listeners: "submission" is given twice',
  ]);
});

test('auth failure limits and windows', () => {
  assert.deepEqual(
    errorsOf((c) => {
      c.auth.maxFailuresPerIp = 0;
      c.auth.maxFailuresPerUser = 0;
      c.auth.failureWindow = 500;
      c.auth.lockout = 0;
    }),
    [
      'auth.max_failures_per_ip: must be at least 1, got 0',
      'auth.max_failures_per_user: must be at least 1, got 0',
      'auth.failure_window: must be at least 1s, got 500ms',
      'auth.lockout: must be at least 1s, got 0ms',
    ],
  );
});

test('dkim.signed_headers: must hold From, field names only, no duplicates whatever their case', () => {
  assert.deepEqual(errorsOf((c) => (c.dkim.signedHeaders = ['from', 'Subject'])), []);
  assert.deepEqual(errorsOf((c) => (c.dkim.signedHeaders = ['Subject', 'To'])), [
    'dkim.signed_headers: must contain "From" (RFC 6376 §5.4: the From header field MUST be signed)',
  ]);
  assert.deepEqual(errorsOf((c) => (c.dkim.signedHeaders = ['From', 'Subject:', 'X Mailer', 'to', 'To'])), [
    'dkim.signed_headers: "Subject:" is not a header field name (RFC 5322 §3.6.8: printable ASCII, no space or ":")',
    'dkim.signed_headers: "X Mailer" is not a header field name (RFC 5322 §3.6.8: printable ASCII, no space or ":")',
    'dkim.signed_headers: "To" and "to" are the same (case does not matter)',
  ]);
  // Even with signing off the list is checked: turning signing on later must not reveal an old mistake.
  assert.equal(errorsOf((c) => ((c.dkim.sign = false), (c.dkim.signedHeaders = []))).length, 1);
});

test('inbound.authserv_id is "" or a lower-case domain name; inbound.dmarc is record or enforce', () => {
  assert.deepEqual(errorsOf((c) => (c.inbound.authservId = 'example.com')), []);
  assert.deepEqual(errorsOf((c) => (c.inbound.authservId = 'mx 1')), [
    'inbound.authserv_id: must be "" (= hostname) or a domain name such as "example.com", got "mx 1"',
  ]);
  assert.deepEqual(errorsOf((c) => (c.inbound.authservId = 'Example.com')), [
    'inbound.authserv_id: "Example.com" must be lower-case',
  ]);
  assert.deepEqual(errorsOf((c) => (c.inbound.dmarc = 'quarantine' as 'record')), [
    'inbound.dmarc: must be "record" or "enforce", got "quarantine"',
  ]);
  assert.deepEqual(errorsOf((c) => (c.inbound.dmarc = '' as 'record')), [
    'inbound.dmarc: must be "record" or "enforce", got ""',
  ]);
});

test('a domain\'s dmarc: "", "record" or "enforce"', () => {
  const withDomain = (dmarc: string) => (c: Config) => {
    c.domains['example.com'] = { ...structuredClone(domainDefaults), dmarc: dmarc as '' };
  };
  for (const ok of ['', 'record', 'enforce']) assert.deepEqual(errorsOf(withDomain(ok)), [], ok);
  assert.deepEqual(errorsOf(withDomain('reject')), [
    'domains."example.com".dmarc: must be "" (inbound.dmarc), "record" or "enforce", got "reject"',
  ]);
});

test('types of the new keys are checked first', () => {
  assert.deepEqual(
    errorsOf((c) => {
      (c.auth as unknown as Record<string, unknown>).mechanisms = 'PLAIN';
      (c.inbound as unknown as Record<string, unknown>).checks = 'yes';
      c.auth.lockout = -1;
    }),
    [
      'auth.mechanisms: must be a list of strings, got "PLAIN"',
      'auth.lockout: must be a duration, got -1',
      'inbound.checks: must be a boolean, got "yes"',
    ],
  );
});

test('warnings: passwords in clear, AUTH on port 25, DMARC enforcement without checks', () => {
  const [clear] = warningsOf((c) => (c.auth.iKnowPasswordsTravelInClear = true));
  assert.match(clear, /^auth\.i_know_passwords_travel_in_clear: PASSWORDS IN CLEAR: .*RFC 4954 §4/);
  assert.deepEqual(warningsOf((c) => (c.auth.listeners = ['mx', 'submission'])), [
    'auth.listeners: AUTH is offered on the MX listener (port 25), where the whole Internet can guess ' +
    'passwords; users belong on submission (587) and submissions (465)',
  ]);
  assert.deepEqual(warningsOf((c) => ((c.inbound.checks = false), (c.inbound.dmarc = 'enforce'))), [
    'inbound.dmarc: "enforce" has no effect while inbound.checks = false (no DMARC check is made)',
  ]);
  assert.deepEqual(
    warningsOf((c) => {
      c.inbound.checks = false;
      c.domains['example.com'] = { ...structuredClone(domainDefaults), dmarc: 'enforce' };
    }),
    ['domains."example.com".dmarc: "enforce" has no effect while inbound.checks = false'],
  );
  assert.deepEqual(warningsOf((c) => (c.inbound.dmarc = 'enforce')), []);
});
