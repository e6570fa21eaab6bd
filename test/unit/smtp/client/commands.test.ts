// Command formatting: MAIL/RCPT parameters only when offered, xtext (RFC 3461 §4), RFC 6533 ORCPT, AUTH.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { NO_CAPABILITIES } from '../../../../src/smtp/client/capabilities.ts';
import {
  authPlain,
  authResponse,
  base64,
  bdat,
  encodeOrcpt,
  encodeUtf8AddrXtext,
  encodeXtext,
  hello,
  mailCommand,
  rcptCommand,
  safeInCommand,
} from '../../../../src/smtp/client/commands.ts';
import { decodeUtf8AddrXtext, decodeXtext } from '../../../../src/smtp/params.ts';
import { ESMTP } from './support.ts';

const MAIL = { sender: 'a@example.org', size: 1234, body: '8BITMIME' as const, smtpUtf8: true, ret: 'HDRS' as const, envid: 'id+1=x' };

describe('MAIL FROM', () => {
  test('every parameter when the peer offers everything', () => {
    assert.equal(mailCommand(MAIL, ESMTP), 'MAIL FROM:<a@example.org> SIZE=1234 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=id+2B1+3Dx\r\n');
  });

  test('nothing the peer did not offer (RFC 5321 §4.1.1.11 would allow a 555)', () => {
    assert.equal(mailCommand(MAIL, { ...NO_CAPABILITIES, esmtp: true }), 'MAIL FROM:<a@example.org>\r\n');
  });

  test('SIZE is sent when SIZE is offered even without a limit', () => {
    assert.equal(mailCommand({ ...MAIL, body: null, smtpUtf8: false, ret: null, envid: null }, { ...NO_CAPABILITIES, size: 0 }), 'MAIL FROM:<a@example.org> SIZE=1234\r\n');
  });

  test('the null reverse-path', () => {
    assert.equal(mailCommand({ ...MAIL, sender: '' }, NO_CAPABILITIES), 'MAIL FROM:<>\r\n');
  });

  test('SMTPUTF8 only when asked for', () => {
    assert.doesNotMatch(mailCommand({ ...MAIL, smtpUtf8: false }, ESMTP), /SMTPUTF8/);
  });
});

describe('RCPT TO', () => {
  test('NOTIFY and ORCPT with DSN', () => {
    const r = { address: 'b@example.net', notify: ['SUCCESS', 'FAILURE'] as Array<'SUCCESS' | 'FAILURE'>, orcpt: { type: 'rfc822', address: 'B+x@example.net' } };
    assert.equal(rcptCommand(r, ESMTP), 'RCPT TO:<b@example.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;B+2Bx@example.net\r\n');
    assert.equal(rcptCommand({ ...r, notify: 'NEVER' }, ESMTP), 'RCPT TO:<b@example.net> NOTIFY=NEVER ORCPT=rfc822;B+2Bx@example.net\r\n');
  });

  test('no DSN parameters without DSN', () => {
    const r = { address: 'b@example.net', notify: 'NEVER' as const, orcpt: { type: 'rfc822', address: 'b@example.net' } };
    assert.equal(rcptCommand(r, { ...ESMTP, dsn: false }), 'RCPT TO:<b@example.net>\r\n');
  });

  test('Postmaster and UTF-8 addresses go as they are', () => {
    assert.equal(rcptCommand({ address: 'Postmaster', notify: null, orcpt: null }, ESMTP), 'RCPT TO:<Postmaster>\r\n');
    assert.equal(rcptCommand({ address: 'jörg@bücher.example', notify: null, orcpt: null }, ESMTP), 'RCPT TO:<jörg@bücher.example>\r\n');
  });
});

describe('xtext', () => {
  test('encodes "+", "=", controls, space and non-ASCII as +HH', () => {
    assert.equal(encodeXtext('a+b=c d'), 'a+2Bb+3Dc+20d');
    assert.equal(encodeXtext('é'), '+C3+A9');
    assert.equal(encodeXtext('x\r\n'), 'x+0D+0A');
  });

  test('round-trips through the server-side decoder', () => {
    for (const s of ['plain', 'a+b=c', 'with space', '<id@host>', '~!#$%&\'*']) assert.equal(decodeXtext(encodeXtext(s)), s);
  });

  test('utf-8-addr-xtext (RFC 6533 §3) round-trips and is ASCII', () => {
    for (const s of ['jörg@bücher.example', 'a+b=c\\d@x', '用户@例子.广告', '😀@x']) {
      const enc = encodeUtf8AddrXtext(s);
      assert.match(enc, /^[\x21-\x7e]+$/);
      assert.equal(decodeUtf8AddrXtext(enc), s);
    }
    assert.equal(encodeUtf8AddrXtext('ö+'), '\\x{F6}\\x{2B}');
  });

  test('ORCPT picks the encoding by address type', () => {
    assert.equal(encodeOrcpt({ type: 'utf-8', address: 'ö@x' }), 'utf-8;\\x{F6}@x');
    assert.equal(encodeOrcpt({ type: 'rfc822', address: 'a=b@x' }), 'rfc822;a+3Db@x');
  });
});

describe('other commands', () => {
  test('hello verbs', () => {
    assert.equal(hello('EHLO', 'me.example'), 'EHLO me.example\r\n');
    assert.equal(hello('LHLO', 'me.example'), 'LHLO me.example\r\n');
  });

  test('BDAT', () => {
    assert.equal(bdat(10, false), 'BDAT 10\r\n');
    assert.equal(bdat(0, true), 'BDAT 0 LAST\r\n');
  });

  test('AUTH PLAIN initial response (RFC 4616: NUL user NUL password, UTF-8)', () => {
    assert.equal(authPlain('user', 'pässword'), `AUTH PLAIN ${Buffer.from('\0user\0pässword').toString('base64')}\r\n`);
    assert.equal(authResponse('user'), 'dXNlcg==\r\n');
    assert.equal(base64(''), '');
  });

  test('addresses with CR, LF or NUL are not safe in a command (SMTP command injection)', () => {
    assert.equal(safeInCommand('a@b.example'), true);
    assert.equal(safeInCommand('"a>b"@b.example'), true);
    assert.equal(safeInCommand('a@b\r\nRCPT TO:<evil@x>'), false);
    assert.equal(safeInCommand('a\u0000@b'), false);
  });
});
