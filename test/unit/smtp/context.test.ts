// Tests for Context: reply batching, effect ordering, the error budget and enterState.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Context, pass, refuse, State } from '../../../src/smtp/context.ts';
import { R } from '../../../src/smtp/replies.ts';
import { testConnection, testSessionDeps, testSessionOptions } from '../../support/session-options.ts';

function ctx(maxBadCommands = 10): Context {
  return new Context(testConnection(), testSessionOptions({ maxBadCommands }), testSessionDeps());
}

describe('Context', () => {
  test('replies batch into one send; other effects flush first', () => {
    const c = ctx();
    c.reply(R.ok);
    c.reply(R.ok);
    c.emit({ kind: 'starttls' });
    c.reply(R.bye);
    assert.deepEqual(c.take(), [
      { kind: 'send', data: '250 2.0.0 Ok\r\n250 2.0.0 Ok\r\n' },
      { kind: 'starttls' },
      { kind: 'send', data: '221 2.0.0 Bye\r\n' },
    ]);
    assert.deepEqual(c.take(), []);
  });

  test('enterState logs from -> to once, and not for a non-change', () => {
    const c = ctx();
    c.enterState(State.Init);
    c.enterState(State.Ready);
    assert.deepEqual(c.take(), [{
      kind: 'log',
      event: 'state',
      level: 'debug',
      fields: { from: 'init', to: 'ready' },
    }]);
  });

  test('reject: reply + log; bad ones count; the budget ends the session', () => {
    const c = ctx(2);
    c.reject(R.tooManyRecipients, 'RCPT');
    assert.equal(c.badCommands, 0);
    c.reject(R.unknownCommand, 'FOO', 'detail');
    assert.equal(c.badCommands, 1);
    assert.equal(c.closed, false);
    c.reject(R.needMail, 'RCPT');
    assert.equal(c.closed, true);
    const effects = c.take();
    assert.deepEqual(effects.filter((e) => e.kind !== 'log'), [
      {
        kind: 'send',
        data: `${R.tooManyRecipients.text}${R.unknownCommand.text}${R.needMail.text}${R.tooManyErrors.text}`,
      },
      { kind: 'close' },
    ]);
    const rejects = effects.filter((e) => e.kind === 'log' && e.event === 'reject').map((e) =>
      (e as { fields: unknown }).fields
    );
    assert.deepEqual(rejects[1], { verb: 'FOO', code: 500, reason: 'unknown-command', detail: 'detail' });
  });

  test('close is idempotent and clears the transaction', () => {
    const c = ctx();
    c.close();
    c.close();
    assert.equal(c.take().filter((e) => e.kind === 'close').length, 1);
    assert.equal(c.state, State.Closed);
  });

  test('enhanced codes follow the switch', () => {
    const c = new Context(
      testConnection(),
      testSessionOptions({ extensions: { enhancedStatusCodes: false } }),
      testSessionDeps(),
    );
    c.reply(R.needMail);
    assert.deepEqual(c.take(), [{ kind: 'send', data: '503 Need MAIL command\r\n' }]);
  });

  test('verdict helpers', () => {
    assert.deepEqual(pass(1), { ok: true, value: 1 });
    assert.deepEqual(refuse(R.ok), { ok: false, reply: R.ok });
    assert.deepEqual(refuse(R.ok, 'x'), { ok: false, reply: R.ok, detail: 'x' });
  });

  test('the connection is copied', () => {
    const conn = testConnection();
    const c = new Context(conn, testSessionOptions(), testSessionDeps());
    c.conn.trusted = true;
    assert.equal(conn.trusted, false);
  });
});
