// EHLO reply -> capabilities (RFC 5321 §4.1.1.1 and each extension's keyword).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { describeCapabilities, NO_CAPABILITIES, parseEhloReply } from '../../../../src/smtp/client/capabilities.ts';
import { reply } from './support.ts';

describe('parseEhloReply', () => {
  test('every keyword the client uses', () => {
    const caps = parseEhloReply(reply(
      '250-mx.example.com Hello\n250-PIPELINING\n250-SIZE 35882577\n250-8BITMIME\n250-SMTPUTF8\n' +
        '250-CHUNKING\n250-DSN\n250-STARTTLS\n250-ENHANCEDSTATUSCODES\n250 AUTH PLAIN LOGIN XOAUTH2',
    ));
    assert.deepEqual(caps, {
      esmtp: true,
      pipelining: true,
      size: 35882577,
      eightBitMime: true,
      smtpUtf8: true,
      chunking: true,
      dsn: true,
      startTls: true,
      enhancedStatusCodes: true,
      auth: ['PLAIN', 'LOGIN', 'XOAUTH2'],
    });
  });

  test('the first line is the host name, never a keyword', () => {
    const caps = parseEhloReply(reply('250 PIPELINING'));
    assert.equal(caps.pipelining, false);
    assert.equal(caps.esmtp, true);
  });

  test('keywords are case-insensitive; unknown ones ignored', () => {
    const caps = parseEhloReply(reply('250-x\n250-pipelining\n250-X-FOO bar\n250 starttls'));
    assert.equal(caps.pipelining, true);
    assert.equal(caps.startTls, true);
  });

  test('SIZE without a number, or with a bad one, is "offered, no known limit" (0)', () => {
    assert.equal(parseEhloReply(reply('250-x\n250 SIZE')).size, 0);
    assert.equal(parseEhloReply(reply('250-x\n250 SIZE abc')).size, 0);
    assert.equal(parseEhloReply(reply('250-x\n250 SIZE 0')).size, 0);
    assert.equal(parseEhloReply(reply('250 x')).size, null);
  });

  test('the old "AUTH=" spelling is read too, without duplicates', () => {
    const caps = parseEhloReply(reply('250-x\n250-AUTH=LOGIN PLAIN\n250 AUTH PLAIN LOGIN'));
    assert.deepEqual(caps.auth, ['LOGIN', 'PLAIN']);
  });

  test('describeCapabilities for logs', () => {
    assert.equal(describeCapabilities(NO_CAPABILITIES), 'HELO');
    const caps = parseEhloReply(reply('250-x\n250-PIPELINING\n250-SIZE 10\n250 AUTH PLAIN'));
    assert.equal(describeCapabilities(caps), 'PIPELINING SIZE=10 AUTH=PLAIN');
  });
});
