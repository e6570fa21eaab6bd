// The transaction state machine: pipelined groups (RFC 2920), per-recipient verdicts, DATA/BDAT, LMTP
// (RFC 2033), 421 and broken connections, and the checks made before anything is sent.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { NO_CAPABILITIES } from '../../../../src/smtp/client/capabilities.ts';
import { bytes, ESMTP, message, play, rcpts, reply, sent, transaction } from './support.ts';

const OK_MAIL = '250 2.1.0 ok';
const OK_RCPT = '250 2.1.5 ok';
const QUEUED = '250 2.0.0 queued as X';
const PLAIN = { ...NO_CAPABILITIES, esmtp: true };

describe('SMTP with PIPELINING', () => {
  test('MAIL, every RCPT and DATA go as one group; 354 -> stuffed data; 250 -> delivered; reusable', () => {
    const tx = transaction(message('.dot\r\n'), rcpts('b@x.example', 'c@x.example'), ESMTP);
    const groups: string[] = [];
    const { wire, result } = play(tx, (out) => {
      groups.push(out);
      if (out.startsWith('MAIL')) return [OK_MAIL, OK_RCPT, OK_RCPT, '354 go'];
      return [QUEUED];
    });
    assert.equal(groups[0], 'MAIL FROM:<a@example.org> SIZE=6\r\nRCPT TO:<b@x.example>\r\nRCPT TO:<c@x.example>\r\nDATA\r\n');
    assert.equal(groups[1], '..dot\r\n.\r\n');
    assert.ok(wire.endsWith('.\r\n'));
    assert.equal(result.reusable, true);
    assert.equal(result.interruption, null);
    assert.deepEqual([...result.verdicts.values()].map((v) => v.outcome), ['delivered', 'delivered']);
    assert.deepEqual(result.verdicts.get(1), { outcome: 'delivered', status: '2.0.0', reply: QUEUED, replyType: 'smtp' });
  });

  test('one recipient refused: its own verdict; the others delivered', () => {
    const tx = transaction(message(), rcpts('b@x', 'bad@x', 'c@x'), ESMTP);
    const { result } = play(tx, (out) =>
      out.startsWith('MAIL') ? [OK_MAIL, OK_RCPT, '550 5.1.1 <bad@x>: no such user', OK_RCPT, '354 go'] : [QUEUED]
    );
    assert.equal(result.verdicts.get(1)?.outcome, 'delivered');
    assert.deepEqual(result.verdicts.get(2), { outcome: 'permanent', status: '5.1.1', reply: '550 5.1.1 <bad@x>: no such user', replyType: 'smtp' });
    assert.equal(result.verdicts.get(3)?.outcome, 'delivered');
  });

  test('452 after an accepted recipient is the recipient limit: left undecided for the next transaction', () => {
    const tx = transaction(message(), rcpts('b@x', 'c@x', 'd@x'), ESMTP);
    const { result } = play(tx, (out) =>
      out.startsWith('MAIL') ? [OK_MAIL, OK_RCPT, '452 4.5.3 Too many recipients', '452 4.5.3 Too many recipients', '354 go'] : [QUEUED]
    );
    assert.deepEqual([...result.verdicts.keys()], [1]);
    assert.equal(result.interruption, null);
    assert.equal(result.reusable, true);
  });

  test('452 with nobody accepted is a temporary verdict (insufficient storage)', () => {
    const tx = transaction(message(), rcpts('b@x'), ESMTP);
    const { result } = play(tx, (out) => out.startsWith('MAIL') ? [OK_MAIL, '452 4.3.1 Insufficient system storage', '503 no'] : ['250 ok']);
    assert.equal(result.verdicts.get(1)?.status, '4.3.1');
  });

  test('a 4yz RCPT is temporary for that recipient only', () => {
    const tx = transaction(message(), rcpts('b@x', 'grey@x'), ESMTP);
    const { result } = play(tx, (out) => out.startsWith('MAIL') ? [OK_MAIL, OK_RCPT, '450 4.2.0 greylisted', '354 go'] : [QUEUED]);
    assert.equal(result.verdicts.get(2)?.outcome, 'temporary');
    assert.equal(result.verdicts.get(2)?.status, '4.2.0');
    assert.equal(result.verdicts.get(1)?.outcome, 'delivered');
  });

  test('MAIL refused: every recipient gets that verdict, pipelined 503s are read, no RSET', () => {
    const tx = transaction(message(), rcpts('b@x', 'c@x'), ESMTP);
    const { wire, result } = play(tx, () => ['550 5.7.1 sender rejected', '503 5.5.1 no MAIL', '503 5.5.1 no MAIL', '503 5.5.1 no valid rcpt']);
    assert.doesNotMatch(wire, /RSET/);
    assert.equal(result.reusable, true);
    for (const v of result.verdicts.values()) assert.deepEqual(v, { outcome: 'permanent', status: '5.7.1', reply: '550 5.7.1 sender rejected', replyType: 'smtp' });
  });

  test('MAIL 4yz: every recipient temporary', () => {
    const tx = transaction(message(), rcpts('b@x'), ESMTP);
    const { result } = play(tx, () => ['451 4.3.0 try later', '503 no', '503 no']);
    assert.equal(result.verdicts.get(1)?.outcome, 'temporary');
  });

  test('every RCPT refused and DATA refused: RSET closes the open transaction', () => {
    const tx = transaction(message(), rcpts('b@x'), ESMTP);
    const { wire, result } = play(tx, (out) => out.startsWith('MAIL') ? [OK_MAIL, '550 5.1.1 no', '554 5.5.1 no valid recipients'] : ['250 2.0.0 ok']);
    assert.ok(wire.endsWith('RSET\r\n'));
    assert.equal(result.reusable, true);
    assert.equal(result.verdicts.get(1)?.outcome, 'permanent');
  });

  test('every RCPT refused but DATA answered 354: a lone "." (RFC 2920 §3.1), its reply changes nothing', () => {
    const tx = transaction(message(), rcpts('b@x'), ESMTP);
    const { wire, result } = play(tx, (out) => out.startsWith('MAIL') ? [OK_MAIL, '550 5.1.1 no', '354 go'] : ['554 5.5.1 no recipients']);
    assert.ok(wire.endsWith('DATA\r\n.\r\n'));
    assert.doesNotMatch(wire, /hello/, 'no message data sent');
    assert.equal(result.verdicts.get(1)?.status, '5.1.1');
    assert.equal(result.reusable, true);
  });

  test('DATA refused: accepted recipients get that verdict, then RSET', () => {
    const tx = transaction(message(), rcpts('b@x'), ESMTP);
    const { wire, result } = play(tx, (out) => out.startsWith('MAIL') ? [OK_MAIL, OK_RCPT, '451 4.3.0 not now'] : ['250 ok']);
    assert.ok(wire.endsWith('RSET\r\n'));
    assert.equal(result.verdicts.get(1)?.status, '4.3.0');
  });

  test('the reply after the data applies to every accepted recipient (SMTP)', () => {
    const tx = transaction(message(), rcpts('b@x', 'c@x'), ESMTP);
    const { result } = play(tx, (out) => out.startsWith('MAIL') ? [OK_MAIL, OK_RCPT, OK_RCPT, '354 go'] : ['552 5.3.4 too big']);
    for (const v of result.verdicts.values()) assert.equal(v.status, '5.3.4');
    assert.equal(result.reusable, true);
  });

  test('a failed RSET leaves the connection unfit for reuse', () => {
    const tx = transaction(message(), rcpts('b@x'), ESMTP);
    const { result } = play(tx, (out) => out.startsWith('MAIL') ? [OK_MAIL, '550 no', '503 no'] : ['500 what']);
    assert.equal(result.reusable, false);
  });
});

describe('SMTP without PIPELINING', () => {
  test('one command at a time, in order', () => {
    const tx = transaction(message(), rcpts('b@x', 'c@x'), { ...PLAIN, size: 0 });
    const sends: string[] = [];
    const { result } = play(tx, (out) => {
      sends.push(out);
      if (out.startsWith('MAIL')) return [OK_MAIL];
      if (out.startsWith('RCPT')) return [OK_RCPT];
      if (out === 'DATA\r\n') return ['354 go'];
      return [QUEUED];
    });
    assert.deepEqual(sends.slice(0, 4), ['MAIL FROM:<a@example.org> SIZE=21\r\n', 'RCPT TO:<b@x>\r\n', 'RCPT TO:<c@x>\r\n', 'DATA\r\n']);
    assert.equal(result.verdicts.size, 2);
  });

  test('MAIL refused: no RCPT is sent', () => {
    const tx = transaction(message(), rcpts('b@x'), PLAIN);
    const { wire, result } = play(tx, () => ['553 5.1.8 bad sender domain']);
    assert.equal(wire, 'MAIL FROM:<a@example.org>\r\n');
    assert.equal(result.verdicts.get(1)?.status, '5.1.8');
  });

  test('no recipient accepted: RSET instead of DATA', () => {
    const tx = transaction(message(), rcpts('b@x'), PLAIN);
    const { wire } = play(tx, (out) => out.startsWith('MAIL') ? [OK_MAIL] : out.startsWith('RCPT') ? ['550 no'] : ['250 ok']);
    assert.ok(wire.endsWith('RCPT TO:<b@x>\r\nRSET\r\n'));
  });

  test('a peer without enhanced codes: status derived from the class only (x.0.0)', () => {
    const tx = transaction(message(), rcpts('b@x', 'c@x'), PLAIN);
    const { result } = play(tx, (out) => {
      if (out.startsWith('MAIL')) return ['250 ok'];
      if (out.includes('<b@x>')) return ['550 no such user'];
      if (out.startsWith('RCPT')) return ['250 ok'];
      if (out === 'DATA\r\n') return ['354 go'];
      return ['250 ok'];
    });
    assert.equal(result.verdicts.get(1)?.status, '5.0.0', 'RCPT 550 is not guessed to be 5.1.1');
    assert.equal(result.verdicts.get(2)?.status, '2.0.0');
  });
});

describe('BDAT (RFC 3030)', () => {
  const CHUNKING = { ...ESMTP, chunking: true };

  test('pipelined MAIL and RCPT, then BDAT n LAST with the raw body (no dot-stuffing)', () => {
    const tx = transaction(message('.x\r\n'), rcpts('b@x'), CHUNKING);
    const sends: string[] = [];
    const { result } = play(tx, (out) => {
      sends.push(out);
      return out.startsWith('MAIL') ? [OK_MAIL, OK_RCPT] : ['250 2.0.0 queued'];
    });
    assert.deepEqual(sends, ['MAIL FROM:<a@example.org> SIZE=4\r\nRCPT TO:<b@x>\r\n', 'BDAT 4 LAST\r\n.x\r\n']);
    assert.equal(result.verdicts.get(1)?.outcome, 'delivered');
    assert.equal(result.reusable, true);
  });

  test('several chunks, each after the previous 250', () => {
    const tx = transaction(message('0123456789'), rcpts('b@x'), CHUNKING, false, 4);
    const sends: string[] = [];
    play(tx, (out) => {
      sends.push(out);
      return out.startsWith('MAIL') ? [OK_MAIL, OK_RCPT] : ['250 2.0.0 ok'];
    });
    assert.deepEqual(sends.slice(1), ['BDAT 4\r\n0123', 'BDAT 4\r\n4567', 'BDAT 2 LAST\r\n89']);
  });

  test('a refused chunk: no more chunks, verdict for the accepted, RSET (RFC 3030 §2)', () => {
    const tx = transaction(message('0123456789'), rcpts('b@x'), CHUNKING, false, 4);
    const { wire, result } = play(tx, (out) => {
      if (out.startsWith('MAIL')) return [OK_MAIL, OK_RCPT];
      if (out.startsWith('BDAT')) return ['552 5.3.4 too much'];
      return ['250 ok'];
    });
    assert.equal(wire.match(/BDAT/g)?.length, 1);
    assert.ok(wire.endsWith('RSET\r\n'));
    assert.equal(result.verdicts.get(1)?.status, '5.3.4');
  });

  test('nobody accepted: no BDAT at all, RSET', () => {
    const tx = transaction(message(), rcpts('b@x'), CHUNKING);
    const { wire } = play(tx, (out) => out.startsWith('MAIL') ? [OK_MAIL, '550 no'] : ['250 ok']);
    assert.doesNotMatch(wire, /BDAT/);
    assert.ok(wire.endsWith('RSET\r\n'));
  });
});

describe('LMTP (RFC 2033)', () => {
  test('after the data, one reply per accepted recipient, in RCPT order', () => {
    const tx = transaction(message(), rcpts('b@x', 'no@x', 'c@x', 'd@x'), ESMTP, true);
    const { result } = play(tx, (out) =>
      out.startsWith('MAIL')
        ? [OK_MAIL, OK_RCPT, '550 5.1.1 unknown', OK_RCPT, OK_RCPT, '354 go']
        : ['250 2.0.0 b ok', '452 4.2.2 c over quota', '552 5.2.2 d over quota for good']
    );
    assert.equal(result.verdicts.get(1)?.outcome, 'delivered');
    assert.equal(result.verdicts.get(2)?.status, '5.1.1');
    assert.equal(result.verdicts.get(3)?.status, '4.2.2');
    assert.equal(result.verdicts.get(4)?.status, '5.2.2');
    assert.equal(result.reusable, true);
  });

  test('BDAT LAST gets one reply per accepted recipient too (RFC 2033 §4.3)', () => {
    const tx = transaction(message(), rcpts('b@x', 'c@x'), { ...ESMTP, chunking: true }, true);
    const { result } = play(tx, (out) => out.startsWith('MAIL') ? [OK_MAIL, OK_RCPT, OK_RCPT] : ['250 2.0.0 b', '450 4.2.1 c busy']);
    assert.equal(result.verdicts.get(1)?.outcome, 'delivered');
    assert.equal(result.verdicts.get(2)?.outcome, 'temporary');
  });

  test('connection lost after some per-recipient replies: the answered keep theirs, the rest temporary', () => {
    const tx = transaction(message(), rcpts('b@x', 'c@x'), ESMTP, true);
    tx.start();
    for (const r of [OK_MAIL, OK_RCPT, OK_RCPT]) tx.reply(reply(r));
    tx.reply(reply('354 go'));
    tx.reply(reply('250 2.0.0 b ok'));
    const step = tx.fail('lost', 'connection reset');
    assert.equal(step.kind, 'done');
    if (step.kind !== 'done') return;
    assert.equal(step.result.verdicts.get(1)?.outcome, 'delivered');
    assert.equal(step.result.verdicts.get(2)?.outcome, 'temporary');
    assert.equal(step.result.verdicts.get(2)?.status, '4.4.2');
  });
});

describe('421 and broken connections', () => {
  test('421 to a RCPT: decided recipients keep their verdicts, the rest are undecided', () => {
    const tx = transaction(message(), rcpts('b@x', 'bad@x', 'c@x'), PLAIN);
    tx.start();
    tx.reply(reply(OK_MAIL));
    tx.reply(reply('250 ok'));
    tx.reply(reply('550 5.1.1 no'));
    const step = tx.reply(reply('421 4.3.2 shutting down'));
    assert.equal(step.kind, 'done');
    if (step.kind !== 'done') return;
    assert.deepEqual([...step.result.verdicts.keys()], [2]);
    assert.equal(step.result.reusable, false);
    assert.equal(step.result.interruption?.reply, '421 4.3.2 shutting down');
    assert.equal(step.result.interruption?.outcome, 'temporary');
  });

  test('421 after the data: nobody delivered, all undecided (the next address may take it)', () => {
    const tx = transaction(message(), rcpts('b@x'), ESMTP);
    tx.start();
    for (const r of [OK_MAIL, OK_RCPT, '354 go']) tx.reply(reply(r));
    const step = tx.reply(reply('421 4.4.2 timeout'));
    assert.equal(step.kind === 'done' && step.result.verdicts.size, 0);
  });

  test('connection lost before any data: everyone undecided, with the reason', () => {
    const tx = transaction(message(), rcpts('b@x'), ESMTP);
    tx.start();
    tx.reply(reply(OK_MAIL));
    const step = tx.fail('lost', 'connection reset');
    assert.equal(step.kind, 'done');
    if (step.kind !== 'done') return;
    assert.equal(step.result.verdicts.size, 0);
    assert.match(step.result.interruption?.reply ?? '', /lost connection with host: connection reset/);
  });

  test('connection lost mid-DATA: temporary for every accepted recipient, never delivered', () => {
    const tx = transaction(message(), rcpts('b@x', 'no@x'), ESMTP);
    tx.start();
    for (const r of [OK_MAIL, OK_RCPT, '550 5.1.1 no', '354 go']) tx.reply(reply(r));
    assert.equal(tx.phase, 'data');
    const step = tx.fail('timeout', 'no reply within 600000 ms');
    assert.equal(step.kind, 'done');
    if (step.kind !== 'done') return;
    assert.deepEqual(step.result.verdicts.get(1), {
      outcome: 'temporary',
      status: '4.4.2',
      reply: 'timeout with host while sending message data: no reply within 600000 ms',
      replyType: 'x-tern',
    });
    assert.equal(step.result.verdicts.get(2)?.status, '5.1.1');
    assert.equal(step.result.reusable, false);
  });

  test('phase: command while waiting for MAIL/RCPT/DATA replies, data for the end-of-data reply', () => {
    const tx = transaction(message(), rcpts('b@x'), ESMTP);
    tx.start();
    assert.equal(tx.phase, 'command');
    tx.reply(reply(OK_MAIL));
    tx.reply(reply(OK_RCPT));
    assert.equal(tx.phase, 'command');
    tx.reply(reply('354 go'));
    assert.equal(tx.phase, 'data');
  });

  test('a reply nobody asked for is a protocol failure', () => {
    const tx = transaction(message(), rcpts('b@x'), PLAIN);
    tx.start();
    tx.reply(reply(OK_MAIL));
    tx.reply(reply('250 ok'));
    tx.reply(reply('354 go'));
    const done = tx.reply(reply(QUEUED));
    assert.equal(done.kind, 'done');
    assert.equal(tx.reply(reply('250 extra')).kind, 'done');
  });
});

describe('DSN parameters (RFC 3461)', () => {
  const dsnMsg = message(undefined, { dsnRet: 'HDRS', dsnEnvid: 'env 1' });
  const list = [{ id: 1, address: 'b@x', notify: ['SUCCESS' as const], orcpt: { type: 'rfc822', address: 'b@x' } }];

  test('passed on when the peer offers DSN', () => {
    const step = transaction(dsnMsg, list, ESMTP).start();
    assert.match(sent(step), /^MAIL FROM:<a@example.org> SIZE=21 RET=HDRS ENVID=env\+201\r\nRCPT TO:<b@x> NOTIFY=SUCCESS ORCPT=rfc822;b@x\r\n/);
  });

  test('left out when it does not', () => {
    const step = transaction(dsnMsg, list, { ...ESMTP, dsn: false }).start();
    assert.doesNotMatch(sent(step), /RET=|ENVID=|NOTIFY=|ORCPT=/);
  });
});

describe('checks before sending', () => {
  test('SIZE: message above the peer limit -> 5.3.4 for all, nothing sent, connection still fine', () => {
    const step = transaction(message('x'.repeat(100)), rcpts('b@x', 'c@x'), { ...ESMTP, size: 50 }).start();
    assert.equal(step.kind, 'done');
    if (step.kind !== 'done') return;
    assert.equal(step.result.reusable, true);
    for (const v of step.result.verdicts.values()) {
      assert.equal(v.outcome, 'permanent');
      assert.equal(v.status, '5.3.4');
      assert.equal(v.replyType, 'x-tern');
    }
  });

  test('BODY=8BITMIME with 8-bit content to a peer without 8BITMIME -> 5.6.3', () => {
    const step = transaction(message('Subject: x\r\n\r\nGrüße\r\n', { bodyType: '8BITMIME' }), rcpts('b@x'), { ...ESMTP, eightBitMime: false }).start();
    assert.equal(step.kind === 'done' && step.result.verdicts.get(1)?.status, '5.6.3');
  });

  test('BODY=8BITMIME but all 7-bit: sent, without BODY=', () => {
    const step = transaction(message(undefined, { bodyType: '8BITMIME' }), rcpts('b@x'), { ...ESMTP, eightBitMime: false }).start();
    assert.equal(step.kind, 'continue');
    assert.doesNotMatch(sent(step), /BODY=/);
  });

  test('BODY= passed on to a peer with 8BITMIME', () => {
    const step = transaction(message(undefined, { bodyType: '8BITMIME' }), rcpts('b@x'), ESMTP).start();
    assert.match(sent(step), /BODY=8BITMIME/);
  });

  test('SMTPUTF8 with a UTF-8 header to a peer without SMTPUTF8 -> 5.6.7 for all', () => {
    const m = message('Subject: Grüße\r\n\r\nx\r\n', { smtpUtf8: true, bodyType: '8BITMIME' });
    const step = transaction(m, rcpts('b@x'), { ...ESMTP, smtpUtf8: false }).start();
    assert.equal(step.kind === 'done' && step.result.verdicts.get(1)?.status, '5.6.7');
  });

  test('a non-ASCII recipient to a peer without SMTPUTF8 fails alone (RFC 6531 §3.2)', () => {
    const m = message(undefined, { smtpUtf8: true });
    const step = transaction(m, rcpts('b@x', 'jörg@x'), { ...ESMTP, smtpUtf8: false }).start();
    assert.equal(step.kind, 'continue');
    assert.doesNotMatch(sent(step), /jörg|SMTPUTF8/);
    const { result } = play(transaction(m, rcpts('b@x', 'jörg@x'), { ...ESMTP, smtpUtf8: false }), (out) =>
      out.startsWith('MAIL') ? [OK_MAIL, OK_RCPT, '354 go'] : [QUEUED]
    );
    assert.equal(result.verdicts.get(1)?.outcome, 'delivered');
    assert.equal(result.verdicts.get(2)?.status, '5.6.7');
  });

  test('flagged SMTPUTF8 but nothing international: goes out without the flag', () => {
    const step = transaction(message(undefined, { smtpUtf8: true }), rcpts('b@x'), { ...ESMTP, smtpUtf8: false }).start();
    assert.equal(step.kind, 'continue');
    assert.doesNotMatch(sent(step), /SMTPUTF8/);
  });

  test('a peer with SMTPUTF8 gets the flag, also for a non-ASCII address not flagged', () => {
    assert.match(sent(transaction(message(undefined, { smtpUtf8: true }), rcpts('b@x'), ESMTP).start()), /SMTPUTF8/);
    assert.match(sent(transaction(message(), rcpts('jörg@x'), ESMTP).start()), /MAIL FROM:<a@example.org> SIZE=\d+ SMTPUTF8/);
  });

  test('a recipient with a CR or LF is refused locally (5.1.3), the others go on', () => {
    const step = transaction(message(), rcpts('b@x', 'evil@x>\r\nRCPT TO:<other@y'), ESMTP).start();
    assert.equal(step.kind, 'continue');
    assert.doesNotMatch(sent(step), /other@y/);
  });

  test('a sender with a control character: every recipient 5.1.7', () => {
    const step = transaction(message(undefined, { sender: 'a\r\n@x' }), rcpts('b@x'), ESMTP).start();
    assert.equal(step.kind === 'done' && step.result.verdicts.get(1)?.status, '5.1.7');
  });

  test('no recipients: done, nothing sent', () => {
    const step = transaction(message(), [], ESMTP).start();
    assert.equal(step.kind, 'done');
  });
});

test('the message bytes are sent as stored (UTF-8 body untouched)', () => {
  const body = 'Subject: x\r\n\r\nGrüße 😀\r\n';
  const tx = transaction(message(body, { bodyType: '8BITMIME' }), rcpts('b@x'), ESMTP);
  const { wire } = play(tx, (out) => out.startsWith('MAIL') ? [OK_MAIL, OK_RCPT, '354 go'] : [QUEUED]);
  assert.ok(wire.endsWith(body + '.\r\n'));
  assert.equal(bytes(body).length > body.length, true);
});
