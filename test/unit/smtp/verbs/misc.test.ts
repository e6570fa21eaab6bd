// EHLO/HELO, RSET, NOOP, QUIT, VRFY, EXPN, HELP and STARTTLS halves.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { State } from '../../../../src/smtp/context.ts';
import { NO_PARAMS } from '../../../../src/smtp/extensions.ts';
import { helpTopic, R } from '../../../../src/smtp/replies.ts';
import { checkEhlo, proceedEhlo } from '../../../../src/smtp/verbs/ehlo.ts';
import { checkExpn } from '../../../../src/smtp/verbs/expn.ts';
import { checkHelp, proceedHelp } from '../../../../src/smtp/verbs/help.ts';
import { checkMail, proceedMail } from '../../../../src/smtp/verbs/mail.ts';
import { checkNoop, proceedNoop } from '../../../../src/smtp/verbs/noop.ts';
import { checkQuit, proceedQuit } from '../../../../src/smtp/verbs/quit.ts';
import { checkRset, proceedRset } from '../../../../src/smtp/verbs/rset.ts';
import { checkStartTls, proceedStartTls } from '../../../../src/smtp/verbs/starttls.ts';
import { checkVrfy, proceedVrfy } from '../../../../src/smtp/verbs/vrfy.ts';
import { command, context, greeted, output } from './support.ts';

describe('EHLO / HELO', () => {
  test('always allowed', () => {
    assert.ok(checkEhlo(context(), command('EHLO', 'EHLO x')).ok);
    assert.ok(checkEhlo(greeted(), command('HELO', 'HELO x')).ok);
  });
  test('EHLO: keyword list, parameter tables, READY', () => {
    const c = context();
    proceedEhlo(c, command('EHLO', 'EHLO client.test'));
    assert.equal(c.state, State.Ready);
    assert.deepEqual(c.greeting, { verb: 'EHLO', name: 'client.test' });
    assert.ok(c.tables.mail.has('SIZE'));
    assert.match(output(c).sent, /^250-mx\.tern\.test\r\n250-PIPELINING\r\n[\s\S]*250 STARTTLS\r\n$/);
  });
  test('HELO: one line, no parameters', () => {
    const c = context();
    proceedEhlo(c, command('HELO', 'HELO [192.0.2.1]'));
    assert.equal(c.tables, NO_PARAMS);
    assert.equal(c.greeting?.name, '[192.0.2.1]');
    assert.equal(output(c).sent, '250 mx.tern.test\r\n');
  });
  test('a new greeting drops the transaction (RFC 5321 §4.1.4)', () => {
    const c = greeted();
    const m = command('MAIL', 'MAIL FROM:<>');
    const v = checkMail(c, m);
    assert.ok(v.ok);
    proceedMail(c, m, v.value);
    proceedEhlo(c, command('EHLO', 'EHLO again.test'));
    assert.equal(c.tx, null);
    assert.equal(c.state, State.Ready);
  });
});

describe('RSET / NOOP / QUIT', () => {
  test('RSET keeps the greeting, drops the transaction', () => {
    const c = greeted();
    const m = command('MAIL', 'MAIL FROM:<>');
    const v = checkMail(c, m);
    assert.ok(v.ok);
    proceedMail(c, m, v.value);
    assert.ok(checkRset(c, command('RSET', 'RSET')).ok);
    proceedRset(c, command('RSET', 'RSET'));
    assert.equal(c.tx, null);
    assert.equal(c.state, State.Ready);
    assert.match(output(c).sent, /250 2\.0\.0 Ok\r\n$/);
  });
  test('RSET before any greeting stays in INIT', () => {
    const c = context();
    proceedRset(c, command('RSET', 'RSET'));
    assert.equal(c.state, State.Init);
  });
  test('NOOP', () => {
    const c = context();
    assert.ok(checkNoop(c, command('NOOP', 'NOOP x')).ok);
    proceedNoop(c, command('NOOP', 'NOOP'));
    assert.equal(output(c).sent, '250 2.0.0 Ok\r\n');
    assert.equal(c.state, State.Init);
  });
  test('QUIT: 221 then close', () => {
    const c = greeted();
    assert.ok(checkQuit(c, command('QUIT', 'QUIT')).ok);
    proceedQuit(c, command('QUIT', 'QUIT'));
    const { sent, effects } = output(c);
    assert.equal(sent, '221 2.0.0 Bye\r\n');
    assert.deepEqual(effects, [{ kind: 'close' }]);
    assert.equal(c.closed, true);
    assert.equal(c.state, State.Closed);
  });
});

describe('VRFY / EXPN / HELP', () => {
  test('VRFY ambiguous or disabled', () => {
    const c = context();
    assert.ok(checkVrfy(c, command('VRFY', 'VRFY bob')).ok);
    proceedVrfy(c, command('VRFY', 'VRFY bob'));
    assert.equal(output(c).sent, R.vrfyAmbiguous.text);
    assert.deepEqual(checkVrfy(context({ options: { vrfy: 'disabled' } }), command('VRFY', 'VRFY bob')), {
      ok: false,
      reply: R.vrfyDisabled,
    });
  });
  test('EXPN always refused', () => {
    assert.deepEqual(checkExpn(greeted(), command('EXPN', 'EXPN list')), { ok: false, reply: R.expnDisabled });
  });
  test('HELP with and without a topic', () => {
    const c = context();
    const all = checkHelp(c, command('HELP', 'HELP'));
    assert.deepEqual(all, { ok: true, value: R.help });
    proceedHelp(c, command('HELP', 'HELP'), R.help);
    assert.equal(output(c).sent, R.help.text);
    assert.deepEqual(checkHelp(c, command('HELP', 'HELP rcpt')), { ok: true, value: helpTopic('RCPT') });
    assert.deepEqual(checkHelp(c, command('HELP', 'HELP me')), { ok: false, reply: R.helpUnknownTopic });
  });
});

describe('STARTTLS', () => {
  const cmd = command('STARTTLS', 'STARTTLS');
  test('refusals', () => {
    assert.deepEqual(checkStartTls(greeted({ conn: { tls: { protocol: 'TLSv1.3', cipher: 'x' } } }), cmd), {
      ok: false,
      reply: R.tlsActive,
    });
    assert.deepEqual(checkStartTls(greeted({ options: { startTls: false } }), cmd), {
      ok: false,
      reply: R.startTlsUnavailable,
    });
    const c = greeted();
    const m = command('MAIL', 'MAIL FROM:<>');
    const v = checkMail(c, m);
    assert.ok(v.ok);
    proceedMail(c, m, v.value);
    assert.deepEqual(checkStartTls(c, cmd), { ok: false, reply: R.tlsInTransaction });
  });
  test('allowed before EHLO too', () => assert.ok(checkStartTls(context(), cmd).ok));
  test('220 before the starttls effect; waits in STARTTLS', () => {
    const c = greeted();
    proceedStartTls(c, cmd);
    assert.equal(c.state, State.StartTls);
    const all = c.take().filter((e) => e.kind !== 'log');
    assert.deepEqual(all, [{ kind: 'send', data: '220 2.0.0 Ready to start TLS\r\n' }, { kind: 'starttls' }]);
  });
});
