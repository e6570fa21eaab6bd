// Reply -> verdict: outcome by reply class (RFC 5321 §4.2.1), status by RFC 3463 with x.0.0 fallback.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fromReply, isClosing, local, outcomeOf, softened, statusOf } from '../../../../src/smtp/client/verdict.ts';
import { reply } from './support.ts';

describe('verdicts', () => {
  test('outcome by class', () => {
    assert.equal(outcomeOf(250), 'delivered');
    assert.equal(outcomeOf(251), 'delivered');
    assert.equal(outcomeOf(450), 'temporary');
    assert.equal(outcomeOf(554), 'permanent');
    assert.equal(outcomeOf(354), 'temporary');
    assert.equal(outcomeOf(199), 'temporary');
  });

  test('status: the peer\'s, else the class, else 4.5.0 for codes no command here expects', () => {
    assert.equal(statusOf(reply('550 5.2.2 full')), '5.2.2');
    assert.equal(statusOf(reply('550 mailbox full')), '5.0.0');
    assert.equal(statusOf(reply('451 later')), '4.0.0');
    assert.equal(statusOf(reply('250 ok')), '2.0.0');
    assert.equal(statusOf(reply('354 go')), '4.5.0');
  });

  test('fromReply keeps every line', () => {
    assert.deepEqual(fromReply(reply('550-5.7.1 first\n550 5.7.1 second')), {
      outcome: 'permanent',
      status: '5.7.1',
      reply: '550-5.7.1 first\n550 5.7.1 second',
      replyType: 'smtp',
    });
  });

  test('an unexpected 3yz becomes temporary with a class-4 status', () => {
    assert.deepEqual(fromReply(reply('354 go')), { outcome: 'temporary', status: '4.5.0', reply: '354 go', replyType: 'smtp' });
  });

  test('local verdicts are x-tern', () => {
    assert.deepEqual(local('temporary', '4.4.1', 'no answer'), { outcome: 'temporary', status: '4.4.1', reply: 'no answer', replyType: 'x-tern' });
  });

  test('softened lowers a permanent refusal to temporary, keeping the detail', () => {
    assert.deepEqual(softened(reply('535 5.7.8 bad')), { outcome: 'temporary', status: '4.7.8', reply: '535 5.7.8 bad', replyType: 'smtp' });
    assert.equal(softened(reply('454 4.7.0 later')).status, '4.7.0');
  });

  test('421 is the closing code', () => {
    assert.equal(isClosing(reply('421 bye')), true);
    assert.equal(isClosing(reply('450 no')), false);
  });
});
