// checkMail / proceedMail, tested as separate halves.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { State } from '../../../../src/smtp/context.ts';
import { R } from '../../../../src/smtp/replies.ts';
import type { AuthIdentity, ListenerKind } from '../../../../src/smtp/types.ts';
import { checkMail, ownsSender, proceedMail } from '../../../../src/smtp/verbs/mail.ts';
import { command, context, greeted, output } from './support.ts';

const mail = (line: string) => command('MAIL', line);

describe('checkMail', () => {
  test('needs a greeting first', () => {
    assert.deepEqual(checkMail(context(), mail('MAIL FROM:<a@b.test>')), { ok: false, reply: R.needHelo });
  });
  test('refuses a second MAIL in a transaction', () => {
    const c = greeted();
    const v = checkMail(c, mail('MAIL FROM:<a@b.test>'));
    assert.ok(v.ok);
    proceedMail(c, mail('MAIL FROM:<a@b.test>'), v.value);
    assert.deepEqual(checkMail(c, mail('MAIL FROM:<a@b.test>')), { ok: false, reply: R.nestedMail });
  });
  test('plans the sender and parameters', () => {
    const v = checkMail(greeted(), mail('MAIL FROM:<A@B.TEST> SIZE=5 BODY=7BIT SMTPUTF8 RET=FULL ENVID=e'));
    assert.deepEqual(v, {
      ok: true,
      value: { sender: 'A@b.test', params: { size: 5, body: '7BIT', smtpUtf8: true, ret: 'FULL', envid: 'e' } },
    });
  });
  test('null sender', () => {
    const v = checkMail(greeted(), mail('MAIL FROM:<>'));
    assert.ok(v.ok && v.value.sender === '');
  });
  test('parameter refusals carry the keyword as detail', () => {
    assert.deepEqual(checkMail(greeted(), mail('MAIL FROM:<a@b.test> FOO=1')), {
      ok: false,
      reply: R.paramUnsupported,
      detail: 'FOO',
    });
    assert.deepEqual(checkMail(greeted(), mail('MAIL FROM:<a@b.test> SIZE=99999')), {
      ok: false,
      reply: R.sizeExceeded,
      detail: 'SIZE',
    });
  });
  test('after HELO any parameter is unsupported', () => {
    const c = greeted({}, 'HELO');
    assert.equal((checkMail(c, mail('MAIL FROM:<a@b.test> SIZE=1')) as { reply: unknown }).reply, R.paramUnsupported);
    assert.equal((checkMail(c, mail('MAIL FROM:<a@b.test> AUTH=<>')) as { reply: unknown }).reply, R.paramUnsupported);
  });
  test('non-ASCII sender needs SMTPUTF8 (RFC 6531 §3.5)', () => {
    assert.deepEqual(checkMail(greeted(), mail('MAIL FROM:<δ@b.test>')), { ok: false, reply: R.nonAsciiSender });
    assert.ok(checkMail(greeted(), mail('MAIL FROM:<δ@b.test> SMTPUTF8')).ok);
    const off = greeted({ options: { extensions: { smtpUtf8: false } } });
    assert.equal(
      (checkMail(off, mail('MAIL FROM:<δ@b.test> SMTPUTF8')) as { reply: unknown }).reply,
      R.paramUnsupported,
    );
  });
  test('has no side effects', () => {
    const c = greeted();
    checkMail(c, mail('MAIL FROM:<a@b.test>'));
    assert.equal(c.tx, null);
    assert.deepEqual(c.take(), []);
  });
});

describe('proceedMail', () => {
  test('opens the transaction, replies 250 2.1.0, enters MAIL', () => {
    const c = greeted();
    proceedMail(c, mail('MAIL FROM:<a@b.test>'), {
      sender: 'a@b.test',
      params: { size: null, body: null, smtpUtf8: false, ret: null, envid: null },
    });
    assert.equal(c.state, State.Mail);
    assert.equal(c.tx?.sender, 'a@b.test');
    assert.deepEqual(c.tx?.recipients, []);
    assert.equal(c.tx?.mode, 'none');
    assert.equal(output(c).sent, '250 2.1.0 Ok\r\n');
  });
});

describe('checkMail with AUTH (RFC 4954 §6, RFC 6409 §8.1)', () => {
  const AUTH = { mechanisms: ['PLAIN'], listeners: new Set<ListenerKind>(['submission', 'submissions']), allowPlaintext: false };
  const TLS = { protocol: 'TLSv1.3', cipher: 'TEST' };
  const identity = (o: Partial<AuthIdentity> = {}): AuthIdentity => ({ user: 'alice', addresses: ['alice@tern.test'], domains: [], any: false, ...o });

  test('530 on a submission listener without AUTH; not on mx, nor where AUTH is not configured', () => {
    const sub = greeted({ options: { auth: AUTH }, conn: { listener: 'submission', tls: TLS } });
    assert.deepEqual(checkMail(sub, mail('MAIL FROM:<alice@tern.test>')), { ok: false, reply: R.authRequired });
    assert.ok(checkMail(greeted({ options: { auth: AUTH }, conn: { listener: 'mx' } }), mail('MAIL FROM:<a@b.test>')).ok);
    assert.ok(checkMail(greeted({ conn: { listener: 'submission' } }), mail('MAIL FROM:<a@b.test>')).ok);
  });

  test('553 5.7.1 for a sender the user does not own, with the address as detail', () => {
    const c = greeted({ options: { auth: AUTH }, conn: { listener: 'submission', tls: TLS } });
    c.identity = identity();
    const v = checkMail(c, mail('MAIL FROM:<bob@tern.test>'));
    assert.ok(!v.ok && v.reply.text === '553 5.7.1 Sender address rejected: not owned by user alice\r\n' && v.detail === 'bob@tern.test');
    assert.ok(checkMail(c, mail('MAIL FROM:<Alice@Tern.Test>')).ok);
  });

  test('ownsSender: addresses, domains, any; <> and literals only with any', () => {
    const alice = identity({ domains: ['example.test'] });
    const box = (local: string, domain: string, literal = false) => ({ local, domain, literal, utf8: false });
    assert.ok(ownsSender(alice, box('ALICE', 'tern.test')));
    assert.ok(ownsSender(alice, box('whoever', 'example.test')));
    assert.ok(!ownsSender(alice, box('x', 'sub.example.test')));
    assert.ok(!ownsSender(alice, null));
    assert.ok(!ownsSender(alice, box('alice', '[192.0.2.1]', true)));
    assert.ok(ownsSender(identity({ any: true }), null));
    assert.ok(ownsSender(identity({ addresses: ['Bob@tern.test'] }), box('bob', 'tern.test')));
  });
});
