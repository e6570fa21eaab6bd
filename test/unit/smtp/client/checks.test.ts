// Pre-send checks against the peer's capabilities: SIZE (RFC 1870), 8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkMessage } from '../../../../src/smtp/client/checks.ts';
import { NO_CAPABILITIES } from '../../../../src/smtp/client/capabilities.ts';
import { bytes, ESMTP } from './support.ts';

const msg = (body: string, o: { bodyType?: '7BIT' | '8BITMIME' | null; smtpUtf8?: boolean; sender?: string } = {}) => ({
  sender: o.sender ?? 'a@x',
  bodyType: o.bodyType ?? null,
  smtpUtf8: o.smtpUtf8 ?? false,
  body: bytes(body),
});
const one = [{ id: 1, address: 'b@y' }];

describe('checkMessage', () => {
  test('everything fine: no verdicts, BODY and SMTPUTF8 passed on', () => {
    const r = checkMessage(msg('x', { bodyType: '8BITMIME', smtpUtf8: true }), one, ESMTP);
    assert.deepEqual(r, { all: null, recipients: new Map(), body: '8BITMIME', smtpUtf8: true });
  });

  test('SIZE: equal to the limit passes, above fails; 0 means no limit; no SIZE means unknown', () => {
    assert.equal(checkMessage(msg('12345'), one, { ...ESMTP, size: 5 }).all, null);
    assert.equal(checkMessage(msg('123456'), one, { ...ESMTP, size: 5 }).all?.status, '5.3.4');
    assert.equal(checkMessage(msg('123456'), one, { ...ESMTP, size: 0 }).all, null);
    assert.equal(checkMessage(msg('123456'), one, { ...ESMTP, size: null }).all, null);
  });

  test('8BITMIME: only declared 8-bit content with 8-bit octets to a 7-bit peer bounces', () => {
    const seven = { ...ESMTP, eightBitMime: false };
    assert.equal(checkMessage(msg('é', { bodyType: '8BITMIME' }), one, seven).all?.status, '5.6.3');
    assert.equal(checkMessage(msg('e', { bodyType: '8BITMIME' }), one, seven).all, null);
    assert.equal(checkMessage(msg('e', { bodyType: '8BITMIME' }), one, seven).body, null);
    assert.equal(checkMessage(msg('é'), one, seven).all, null, 'undeclared 8-bit passes unchanged, as Postfix does');
    assert.equal(checkMessage(msg('e', { bodyType: '7BIT' }), one, seven).body, '7BIT');
  });

  test('SMTPUTF8: a non-ASCII sender or a UTF-8 header bounces every recipient', () => {
    const ascii = { ...ESMTP, smtpUtf8: false };
    assert.equal(checkMessage(msg('x', { sender: 'ö@x', smtpUtf8: true }), one, ascii).all?.status, '5.6.7');
    assert.equal(checkMessage(msg('Subject: ö\r\n\r\nx', { smtpUtf8: true }), one, ascii).all?.status, '5.6.7');
  });

  test('SMTPUTF8: an 8-bit body under an ASCII header is not international', () => {
    const ascii = { ...ESMTP, smtpUtf8: false };
    const r = checkMessage(msg('Subject: x\r\n\r\nö', { smtpUtf8: true, bodyType: '8BITMIME' }), one, ascii);
    assert.equal(r.all, null);
    assert.equal(r.smtpUtf8, false);
  });

  test('SMTPUTF8: an 8-bit header without the flag is legacy 8-bit, not UTF-8', () => {
    assert.equal(checkMessage(msg('Subject: ö\r\n\r\nx'), one, NO_CAPABILITIES).all, null);
  });

  test('SMTPUTF8: non-ASCII recipients fail one by one', () => {
    const list = [{ id: 1, address: 'b@y' }, { id: 2, address: 'ü@y' }];
    const r = checkMessage(msg('x', { smtpUtf8: true }), list, { ...ESMTP, smtpUtf8: false });
    assert.equal(r.all, null);
    assert.deepEqual([...r.recipients.keys()], [2]);
    assert.equal(r.recipients.get(2)?.status, '5.6.7');
  });
});
