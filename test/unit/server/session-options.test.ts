// SessionOptions per listener from configuration: AUTH where configured, policy stages on MX only, per feature.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../../src/config/load.ts';
import { authOptionsFrom, listenerSessionOptions, policyStagesFrom } from '../../../src/server/session-options.ts';

const load = (env: Record<string, string> = {}) => loadConfig({ env: { TERN_DATA_DIR: '/tmp/tern-unused', ...env } }).config;

test('defaults: AUTH PLAIN LOGIN on the submission listeners, TLS required; only the HELO stage on MX', () => {
  const c = load();
  assert.deepEqual(authOptionsFrom(c), { mechanisms: ['PLAIN', 'LOGIN'], listeners: new Set(['submission', 'submissions']), allowPlaintext: false });
  assert.deepEqual([...policyStagesFrom(c)], ['helo']); // abuse.reject_helo_as_us is on by default
  const per = listenerSessionOptions(c, true);
  assert.deepEqual([...(per.mx.policyStages ?? [])], ['helo']);
  assert.equal(per.submission.policyStages, undefined);
  assert.equal(per.submissions.policyStages, undefined);
  assert.equal(per.submission.fixSubmissions, true);
});

test('each anti-abuse feature turns on the stage it needs, and only that', () => {
  const stages = (env: Record<string, string>) =>
    [...policyStagesFrom(load({ TERN_ABUSE_REJECT_HELO_AS_US: 'false', ...env }))].sort();
  assert.deepEqual(stages({}), []);
  assert.deepEqual(stages({ TERN_ABUSE_CONNECTION_RATE: '60' }), ['connect']);
  assert.deepEqual(stages({ TERN_ABUSE_DNSBL: 'zen.example' }), ['connect']);
  assert.deepEqual(stages({ TERN_ABUSE_REQUIRE_FQDN_HELO: 'true' }), ['helo']);
  assert.deepEqual(stages({ TERN_ABUSE_MESSAGE_RATE: '120' }), ['mail']);
  assert.deepEqual(stages({ TERN_ABUSE_GREYLISTING: 'true' }), ['rcpt']);
});

test('AUTH off with no listeners; plaintext only with the loudly named switch; extra options merged per listener', () => {
  assert.equal(authOptionsFrom(load({ TERN_AUTH_LISTENERS: '' })), undefined);
  assert.equal(authOptionsFrom(load({ TERN_AUTH_I_KNOW_PASSWORDS_TRAVEL_IN_CLEAR: 'true' }))?.allowPlaintext, true);
  const accepts = () => true;
  const per = listenerSessionOptions(load(), false, { localRecipient: accepts });
  for (const kind of ['mx', 'submission', 'submissions'] as const) {
    assert.equal(per[kind].localRecipient, accepts);
    assert.equal(per[kind].startTls, false);
  }
});
