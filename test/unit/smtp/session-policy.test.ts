// Policy hooks and the early-talker guard: queries carry the right facts, verdicts apply in order, and a
// session without stages never asks.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { PolicyStage, PolicyVerdict } from '../../../src/smtp/types.ts';
import { Driver, lines } from './harness.ts';

const accept: PolicyVerdict = { action: 'accept' };
const stages = (...s: PolicyStage[]) => ({ options: { policyStages: new Set(s) } });

describe('policy stages', () => {
  test('no stages: no policy effect at all', () => {
    const d = new Driver();
    d.greet();
    d.send('EHLO c.test\r\nMAIL FROM:<a@c.test>\r\nRCPT TO:<b@tern.test>\r\n');
    assert.deepEqual(d.policyQueries, []);
  });

  test('connect: the 220 waits for the verdict; talking meanwhile is early', () => {
    const d = new Driver(stages('connect'));
    assert.equal(d.greet(), '');
    assert.deepEqual(d.policyQueries, [{ stage: 'connect', helo: null, sender: null, recipient: null, authUser: null }]);
    assert.equal(d.session.waiting, true);
    assert.equal(d.send('EHLO c.test\r\n'), '554 5.7.0 Protocol error: talked before the greeting\r\n');
    assert.ok(d.closed);
    assert.equal(d.answerPolicy(accept), ''); // too late: ignored
  });

  test('connect accepted: 220', () => {
    const d = new Driver(stages('connect'));
    d.greet();
    assert.match(d.answerPolicy(accept), /^220 mx\.tern\.test ESMTP/);
  });

  test('queries carry HELO, sender, recipient as the stage knows them', () => {
    const d = new Driver({ ...stages('helo', 'mail', 'rcpt'), policy: () => accept });
    d.greet();
    d.send('EHLO c.test\r\nMAIL FROM:<A@C.TEST>\r\nRCPT TO:<b@tern.test>\r\n');
    assert.deepEqual(d.policyQueries, [
      { stage: 'helo', helo: 'c.test', sender: null, recipient: null, authUser: null },
      { stage: 'mail', helo: 'c.test', sender: 'A@c.test', recipient: null, authUser: null },
      { stage: 'rcpt', helo: 'c.test', sender: 'A@c.test', recipient: 'b@tern.test', authUser: null },
    ]);
  });

  test('the query only comes after the command passed its own checks', () => {
    const d = new Driver({ ...stages('rcpt'), policy: () => accept });
    d.greet();
    d.send('EHLO c.test\r\nMAIL FROM:<a@c.test>\r\nRCPT TO:<b@elsewhere.test>\r\n');
    assert.deepEqual(d.policyQueries, []);
  });

  test('pipelined commands wait behind a pending verdict, replies stay in order', () => {
    const d = new Driver(stages('rcpt'));
    d.greet();
    d.send('EHLO c.test\r\n');
    assert.equal(d.send('MAIL FROM:<a@c.test>\r\nRCPT TO:<b@tern.test>\r\nRCPT TO:<c@tern.test>\r\nDATA\r\n'), '250 2.1.0 Ok\r\n');
    assert.equal(d.policyQueries.length, 1);
    const reject: PolicyVerdict = { action: 'reject', reply: { code: 450, status: '4.7.1', text: 'Greylisted' } };
    assert.equal(d.answerPolicy(reject), '450 4.7.1 Greylisted\r\n'); // flushed before the next query
    assert.equal(d.policyQueries.length, 2);
    assert.deepEqual(lines(d.answerPolicy(accept)), ['250 2.1.5 Ok', '354 End data with <CR><LF>.<CR><LF>']);
  });

  test('reject is not charged to the error budget', () => {
    const reject: PolicyVerdict = { action: 'reject', reply: { code: 550, status: '5.7.1', text: 'No' } };
    const d = new Driver({ options: { policyStages: new Set(['helo']), maxBadCommands: 1 }, policy: () => reject });
    d.greet();
    assert.equal(d.send('EHLO a.test\r\nEHLO b.test\r\n'), '550 5.7.1 No\r\n550 5.7.1 No\r\n');
    assert.ok(!d.closed);
  });

  test('disconnect: reply, then close; later input is ignored', () => {
    const bye: PolicyVerdict = { action: 'disconnect', reply: { code: 421, status: '4.7.0', text: 'Bye' } };
    const d = new Driver({ ...stages('mail'), policy: () => bye });
    d.greet();
    d.send('EHLO c.test\r\n');
    assert.equal(d.send('MAIL FROM:<a@c.test>\r\nNOOP\r\n'), '421 4.7.0 Bye\r\n');
    assert.ok(d.closed);
  });
});

describe('early talker', () => {
  test('input before greet() gets 554 5.7.0 and the session closes; greet() then does nothing', () => {
    const d = new Driver();
    assert.equal(d.send('EHLO c.test\r\n'), '554 5.7.0 Protocol error: talked before the greeting\r\n');
    assert.ok(d.closed);
    assert.equal(d.greet(), '');
    assert.equal(d.logs('reject')[0].reason, 'early-talker');
  });

  test('greet() twice greets once', () => {
    const d = new Driver();
    d.greet();
    assert.equal(d.greet(), '');
  });
});
