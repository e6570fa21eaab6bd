// addMissingHeaders (RFC 6409 §8.1, §8.3): Date and Message-ID added when absent, at the top, nothing else touched.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { addMissingHeaders, scanHeaders } from '../../../src/smtp/submission.ts';
import { bytes } from './harness.ts';

const OPTS = { now: new Date('2026-01-02T03:04:05Z'), hostname: 'mx.tern.test', idLeft: 'Q0001' };
const DATE = 'Date: Fri, 02 Jan 2026 03:04:05 +0000\r\n';
const MSGID = 'Message-ID: <Q0001@mx.tern.test>\r\n';
const text = (m: Uint8Array) => new TextDecoder().decode(m);
const fix = (m: string) => text(addMissingHeaders(bytes(m), OPTS));

describe('addMissingHeaders', () => {
  test('adds both when missing, above the client header section', () => {
    assert.equal(fix('Subject: hi\r\n\r\nbody\r\n'), `${DATE}${MSGID}Subject: hi\r\n\r\nbody\r\n`);
  });

  test('returns the same array when nothing is missing', () => {
    const m = bytes('Date: x\r\nMessage-ID: <a@b>\r\n\r\nbody\r\n');
    assert.equal(addMissingHeaders(m, OPTS), m);
  });

  test('field names are case-insensitive; white space before the colon is the obsolete syntax (RFC 5322 §4.5)', () => {
    assert.equal(fix('DATE: x\r\nmessage-id : <a@b>\r\n\r\n'), 'DATE: x\r\nmessage-id : <a@b>\r\n\r\n');
  });

  test('adds only what is missing', () => {
    assert.equal(fix('Date: x\r\n\r\nb\r\n'), `${MSGID}Date: x\r\n\r\nb\r\n`);
    assert.equal(fix('Message-Id: <a@b>\r\n\r\nb\r\n'), `${DATE}Message-Id: <a@b>\r\n\r\nb\r\n`);
  });

  test('folded headers: a continuation line is not a field, and a folded Date counts', () => {
    assert.equal(fix('Subject: a\r\n Date: not a field\r\n\r\n'), `${DATE}${MSGID}Subject: a\r\n Date: not a field\r\n\r\n`);
    assert.equal(fix('Date:\r\n Fri, 02 Jan 2026\r\nMessage-ID: <a@b>\r\n\r\n'), 'Date:\r\n Fri, 02 Jan 2026\r\nMessage-ID: <a@b>\r\n\r\n');
  });

  test('fields in the body do not count', () => {
    assert.equal(fix('Subject: a\r\n\r\nDate: x\r\nMessage-ID: <a@b>\r\n'), `${DATE}${MSGID}Subject: a\r\n\r\nDate: x\r\nMessage-ID: <a@b>\r\n`);
  });

  test('a message of headers only (no blank line, no body)', () => {
    assert.equal(fix('Subject: a\r\n'), `${DATE}${MSGID}Subject: a\r\n`);
    assert.equal(fix('Subject: a'), `${DATE}${MSGID}Subject: a`); // BDAT data need not end in CRLF
  });

  test('an empty message gets a header section of its own', () => {
    assert.equal(fix(''), `${DATE}${MSGID}`);
  });

  test('an empty header section: the fields go before the blank line', () => {
    assert.equal(fix('\r\nbody\r\n'), `${DATE}${MSGID}\r\nbody\r\n`);
  });

  test('text with no header section stays body: a blank line separates it from the added fields', () => {
    assert.equal(fix('hello world\r\n'), `${DATE}${MSGID}\r\nhello world\r\n`);
    assert.equal(fix(' leading space\r\n'), `${DATE}${MSGID}\r\n leading space\r\n`);
  });

  test('a malformed line ends the header section (fields after it are not looked at)', () => {
    assert.equal(fix('Subject: a\r\nnot a header\r\nDate: x\r\n'), `${DATE}${MSGID}Subject: a\r\nnot a header\r\nDate: x\r\n`);
  });

  test('bare LF line ends are read too (sendmail input)', () => {
    assert.deepEqual(scanHeaders(bytes('Date: x\nMessage-ID: <a@b>\n\nbody\n')), {
      date: true,
      messageId: true,
      noHeaderSection: false,
    });
  });
});
