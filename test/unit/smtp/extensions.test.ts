// Tests for the extension records: EHLO keywords and parameter tables follow configuration and TLS.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ehloKeywords, EXTENSIONS, NO_PARAMS, offerFor, paramTables } from '../../../src/smtp/extensions.ts';
import type { ExtensionSwitches, ListenerKind } from '../../../src/smtp/types.ts';
import { testSessionOptions } from '../../support/session-options.ts';

const ALL = ['PIPELINING', 'SIZE 10000', '8BITMIME', 'ENHANCEDSTATUSCODES', 'SMTPUTF8', 'CHUNKING', 'DSN', 'STARTTLS'];

describe('ehloKeywords', () => {
  test('everything on, plaintext with a certificate', () => {
    assert.deepEqual(ehloKeywords({ options: testSessionOptions(), tls: false }), ALL);
  });
  test('STARTTLS only on plaintext with a certificate (RFC 3207 §4.2)', () => {
    assert.ok(!ehloKeywords({ options: testSessionOptions(), tls: true }).includes('STARTTLS'));
    assert.ok(!ehloKeywords({ options: testSessionOptions({ startTls: false }), tls: false }).includes('STARTTLS'));
  });
  test('SIZE advertises the limit (RFC 1870 §4)', () => {
    assert.ok(
      ehloKeywords({ options: testSessionOptions({ maxMessageSize: 52428800 }), tls: false }).includes('SIZE 52428800'),
    );
  });
  const switches: Array<[keyof ExtensionSwitches, string]> = [
    ['pipelining', 'PIPELINING'],
    ['size', 'SIZE 10000'],
    ['eightBitMime', '8BITMIME'],
    ['enhancedStatusCodes', 'ENHANCEDSTATUSCODES'],
    ['smtpUtf8', 'SMTPUTF8'],
    ['chunking', 'CHUNKING'],
    ['dsn', 'DSN'],
  ];
  for (const [name, keyword] of switches) {
    test(`switching off ${name} removes ${keyword} and only it`, () => {
      const kw = ehloKeywords({ options: testSessionOptions({ extensions: { [name]: false } }), tls: false });
      assert.deepEqual(kw, ALL.filter((k) => k !== keyword));
    });
  }
  test('HELP is a command, not a keyword; AUTH is not advertised without AuthOptions', () => {
    const kw = ehloKeywords({ options: testSessionOptions(), tls: false });
    assert.ok(!kw.some((k) => k.startsWith('HELP') || k.startsWith('AUTH')));
  });
});

describe('AUTH keyword (RFC 4954 §3)', () => {
  const auth = (allowPlaintext: boolean, mechanisms = ['PLAIN', 'LOGIN']) =>
    testSessionOptions({ auth: { mechanisms, listeners: new Set<ListenerKind>(['submission', 'submissions']), allowPlaintext } });
  test('offered with its mechanisms under TLS on the configured listeners', () => {
    const kw = ehloKeywords({ options: auth(false), tls: true, listener: 'submission' });
    assert.equal(kw[kw.length - 1], 'AUTH PLAIN LOGIN');
    assert.ok(ehloKeywords({ options: auth(false, ['PLAIN']), tls: true, listener: 'submissions' }).includes('AUTH PLAIN'));
  });
  test('not in clear unless explicitly allowed (RFC 4954 §4, RFC 8314)', () => {
    assert.ok(!ehloKeywords({ options: auth(false), tls: false, listener: 'submission' }).some((k) => k.startsWith('AUTH')));
    assert.ok(ehloKeywords({ options: auth(true), tls: false, listener: 'submission' }).includes('AUTH PLAIN LOGIN'));
  });
  test('not on a listener it is not configured for (the default is mx)', () => {
    assert.ok(!ehloKeywords({ options: auth(true), tls: true }).some((k) => k.startsWith('AUTH')));
  });
  test('offerFor caches per listener and TLS', () => {
    const o = auth(false);
    assert.ok(offerFor(o, true, 'submission').keywords.includes('AUTH PLAIN LOGIN'));
    assert.ok(!offerFor(o, true, 'mx').keywords.includes('AUTH PLAIN LOGIN'));
    assert.ok(!offerFor(o, false, 'submission').keywords.includes('AUTH PLAIN LOGIN'));
    assert.equal(offerFor(o, true, 'submission'), offerFor(o, true, 'submission'));
  });
});

describe('paramTables', () => {
  test('what each extension brings', () => {
    const t = paramTables({ options: testSessionOptions(), tls: false });
    assert.deepEqual([...t.mail.keys()].sort(), ['AUTH', 'BODY', 'ENVID', 'RET', 'SIZE', 'SMTPUTF8']);
    assert.deepEqual([...t.rcpt.keys()].sort(), ['NOTIFY', 'ORCPT']);
  });
  test('switched-off extensions take their parameters with them', () => {
    const t = paramTables({
      options: testSessionOptions({ extensions: { dsn: false, size: false, eightBitMime: false, smtpUtf8: false } }),
      tls: false,
    });
    assert.deepEqual([...t.mail.keys()], ['AUTH']);
    assert.equal(t.rcpt.size, 0);
  });
  test('HELO gets no parameters at all', () => {
    assert.equal(NO_PARAMS.mail.size + NO_PARAMS.rcpt.size, 0);
  });
  test('records are well-formed', () => {
    for (const r of EXTENSIONS) {
      if (r.keyword !== null) assert.match(r.keyword, /^[A-Z0-9][A-Z0-9-]*$/);
      for (const k of Object.keys({ ...r.mailParams, ...r.rcptParams })) assert.match(k, /^[A-Z0-9-]+$/);
    }
  });
});

describe('offerFor', () => {
  test('cached per options object and TLS state', () => {
    const o = testSessionOptions();
    assert.equal(offerFor(o, false), offerFor(o, false));
    assert.notEqual(offerFor(o, false), offerFor(o, true));
    assert.notEqual(offerFor(o, false), offerFor(testSessionOptions(), false));
    assert.deepEqual(offerFor(o, true).keywords, ALL.slice(0, -1));
  });
});
