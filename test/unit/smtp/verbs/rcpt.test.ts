// checkRcpt / proceedRcpt and the relay rule, tested as separate halves.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Context } from '../../../../src/smtp/context.ts';
import { State } from '../../../../src/smtp/context.ts';
import { R } from '../../../../src/smtp/replies.ts';
import { checkMail, proceedMail } from '../../../../src/smtp/verbs/mail.ts';
import { checkRcpt, mayReceive, proceedRcpt } from '../../../../src/smtp/verbs/rcpt.ts';
import { testSessionOptions } from '../../../support/session-options.ts';
import { command, context, greeted, output } from './support.ts';

const rcpt = (line: string) => command('RCPT', line);

function inTransaction(o: Parameters<typeof greeted>[0] = {}, mailLine = 'MAIL FROM:<a@client.test>'): Context {
  const c = greeted(o);
  const m = command('MAIL', mailLine);
  const v = checkMail(c, m);
  assert.ok(v.ok);
  proceedMail(c, m, v.value);
  c.take();
  return c;
}

function accept(c: Context, line: string): void {
  const r = rcpt(line);
  const v = checkRcpt(c, r);
  assert.ok(v.ok, line);
  proceedRcpt(c, r, v.value);
}

describe('checkRcpt', () => {
  test('sequence', () => {
    assert.deepEqual(checkRcpt(context(), rcpt('RCPT TO:<b@tern.test>')), { ok: false, reply: R.needHelo });
    assert.deepEqual(checkRcpt(greeted(), rcpt('RCPT TO:<b@tern.test>')), { ok: false, reply: R.needMail });
  });
  test('plans the recipient with its DSN parameters', () => {
    const v = checkRcpt(inTransaction(), rcpt('RCPT TO:<B@Tern.Test> NOTIFY=DELAY ORCPT=rfc822;x@y'));
    assert.deepEqual(v, {
      ok: true,
      value: {
        recipient: { address: 'B@tern.test', notify: ['DELAY'], orcpt: { type: 'rfc822', address: 'x@y' } },
        duplicate: false,
      },
    });
  });
  test('relay denied names the domain for the log', () => {
    assert.deepEqual(checkRcpt(inTransaction(), rcpt('RCPT TO:<b@else.test>')), {
      ok: false,
      reply: R.relayDenied,
      detail: 'else.test',
    });
  });
  test('non-ASCII recipient needs SMTPUTF8 on MAIL (RFC 6531 §3.5)', () => {
    assert.deepEqual(checkRcpt(inTransaction(), rcpt('RCPT TO:<δ@tern.test>')), {
      ok: false,
      reply: R.nonAsciiRecipient,
    });
    assert.ok(checkRcpt(inTransaction({}, 'MAIL FROM:<a@client.test> SMTPUTF8'), rcpt('RCPT TO:<δ@tern.test>')).ok);
  });
  test('limit: 452 past maxRecipients; duplicates still pass', () => {
    const c = inTransaction({ options: { maxRecipients: 2 } });
    accept(c, 'RCPT TO:<a@tern.test>');
    accept(c, 'RCPT TO:<b@tern.test>');
    assert.deepEqual(checkRcpt(c, rcpt('RCPT TO:<c@tern.test>')), { ok: false, reply: R.tooManyRecipients });
    const dup = checkRcpt(c, rcpt('RCPT TO:<a@TERN.TEST>'));
    assert.ok(dup.ok && dup.value.duplicate);
  });
  test('DSN parameters after a DSN-less EHLO are unsupported', () => {
    const c = inTransaction({ options: { extensions: { dsn: false } } });
    assert.deepEqual(checkRcpt(c, rcpt('RCPT TO:<b@tern.test> NOTIFY=NEVER')), {
      ok: false,
      reply: R.paramUnsupported,
      detail: 'NOTIFY',
    });
  });
});

describe('mayReceive (relay control)', () => {
  const options = testSessionOptions();
  const box = (domain: string, literal = false) => ({ local: 'x', domain, literal, utf8: false });
  test('bare Postmaster always', () => assert.ok(mayReceive(box(''), options, false)));
  test('local and relay domains for anyone', () => {
    assert.ok(mayReceive(box('tern.test'), options, false));
    assert.ok(mayReceive(box('relay.test'), options, false));
  });
  test('anything else only when trusted', () => {
    assert.ok(!mayReceive(box('other.test'), options, false));
    assert.ok(mayReceive(box('other.test'), options, true));
  });
  test('address literals are never local', () => {
    const o = testSessionOptions({ localDomains: new Set(['[192.0.2.25]']) });
    assert.ok(!mayReceive(box('[192.0.2.25]', true), o, false));
    assert.ok(mayReceive(box('[192.0.2.25]', true), o, true));
  });
});

describe('proceedRcpt', () => {
  test('stores new recipients once, replies 250 2.1.5 every time, enters RCPT', () => {
    const c = inTransaction();
    accept(c, 'RCPT TO:<a@tern.test>');
    accept(c, 'RCPT TO:<a@tern.test>');
    assert.equal(c.state, State.Rcpt);
    assert.deepEqual(c.tx?.recipients.map((r) => r.address), ['a@tern.test']);
    assert.equal(output(c).sent, '250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n');
  });
});
