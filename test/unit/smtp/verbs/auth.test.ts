// checkAuth / proceedAuth (RFC 4954 §4): every refusal of the check half, and what proceed emits.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { State } from '../../../../src/smtp/context.ts';
import { R } from '../../../../src/smtp/replies.ts';
import type { AuthOptions, ListenerKind } from '../../../../src/smtp/types.ts';
import { checkAuth, proceedAuth } from '../../../../src/smtp/verbs/auth.ts';
import { proceedMail } from '../../../../src/smtp/verbs/mail.ts';
import { emptyMailParams } from '../../../../src/smtp/params.ts';
import { command, context, greeted, output } from './support.ts';

const TLS = { protocol: 'TLSv1.3', cipher: 'TEST' };
const auth = (o: Partial<AuthOptions> = {}): AuthOptions => ({
  mechanisms: ['PLAIN', 'LOGIN'],
  listeners: new Set<ListenerKind>(['submission', 'submissions']),
  allowPlaintext: false,
  ...o,
});
const on = (o: Partial<AuthOptions> = {}, tls: typeof TLS | null = TLS, listener: ListenerKind = 'submission') => ({
  options: { auth: auth(o) },
  conn: { tls, listener },
});
const refusal = (v: ReturnType<typeof checkAuth>) => (v.ok ? null : v.reply);

describe('checkAuth', () => {
  test('not configured, or not on this listener: 502 as before AUTH existed', () => {
    assert.equal(refusal(checkAuth(greeted(), command('AUTH', 'AUTH PLAIN'))), R.notImplemented);
    assert.equal(refusal(checkAuth(greeted(on({}, TLS, 'mx')), command('AUTH', 'AUTH PLAIN'))), R.notImplemented);
  });

  test('before EHLO, and after HELO: 503', () => {
    assert.equal(refusal(checkAuth(context(on()), command('AUTH', 'AUTH PLAIN'))), R.authNeedsEhlo);
    assert.equal(refusal(checkAuth(greeted(on(), 'HELO'), command('AUTH', 'AUTH PLAIN'))), R.authNeedsEhlo);
  });

  test('already authenticated, or in a transaction: 503', () => {
    const c = greeted(on());
    c.identity = { user: 'a', addresses: [], domains: [], any: true };
    assert.equal(refusal(checkAuth(c, command('AUTH', 'AUTH PLAIN'))), R.authAlready);
    const t = greeted(on());
    t.identity = { user: 'a', addresses: [], domains: [], any: true };
    proceedMail(t, command('MAIL', 'MAIL FROM:<>'), { sender: '', params: emptyMailParams() });
    t.identity = null;
    assert.equal(refusal(checkAuth(t, command('AUTH', 'AUTH PLAIN'))), R.authInTransaction);
  });

  test('plaintext: 538 5.7.11 unless explicitly allowed', () => {
    assert.equal(refusal(checkAuth(greeted(on({}, null)), command('AUTH', 'AUTH PLAIN'))), R.authNeedsTls);
    assert.ok(checkAuth(greeted(on({ allowPlaintext: true }, null)), command('AUTH', 'AUTH PLAIN')).ok);
  });

  test('a mechanism not offered: 504; bad base64: 501 5.5.2', () => {
    assert.equal(refusal(checkAuth(greeted(on({ mechanisms: ['PLAIN'] })), command('AUTH', 'AUTH LOGIN'))), R.authUnknownMechanism);
    assert.equal(refusal(checkAuth(greeted(on()), command('AUTH', 'AUTH PLAIN @@@@'))), R.authBadBase64);
  });

  test('the plan: upper-cased mechanism, decoded response, "=" is empty', () => {
    assert.deepEqual(checkAuth(greeted(on()), command('AUTH', 'AUTH plain')), { ok: true, value: { mechanism: 'PLAIN', response: null } });
    assert.deepEqual(checkAuth(greeted(on()), command('AUTH', 'AUTH PLAIN =')), { ok: true, value: { mechanism: 'PLAIN', response: new Uint8Array(0) } });
  });
});

describe('proceedAuth', () => {
  test('waits for the host with one auth effect; nothing is sent yet', () => {
    const c = greeted(on());
    const cmd = command('AUTH', 'AUTH LOGIN');
    proceedAuth(c, cmd, { mechanism: 'LOGIN', response: null });
    assert.equal(c.state, State.Auth);
    const { sent, effects } = output(c);
    assert.equal(sent, '');
    assert.deepEqual(effects, [{ kind: 'auth', mechanism: 'LOGIN', response: null, tls: true }]);
  });
});
