// What every local delivery method adds or checks: trace headers, the Delivered-To loop, LF line ends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crlfToLf, deliveredTo, traceHeaders, withTraceHeaders } from '../../../../src/delivery/local/common.ts';

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

test('traceHeaders: Return-Path (RFC 5321 §4.4) and Delivered-To, null sender as <>', () => {
  assert.equal(traceHeaders('a@b.example', 'c@d.test'), 'Return-Path: <a@b.example>\r\nDelivered-To: c@d.test\r\n');
  assert.equal(traceHeaders('', 'c@d.test'), 'Return-Path: <>\r\nDelivered-To: c@d.test\r\n');
});

test('traceHeaders: control characters can never start a header line (header injection)', () => {
  const h = traceHeaders('a@b\r\nBcc: x@evil', 'c@d\nX-Injected: 1');
  assert.equal(h.split('\r\n').length, 3);
  assert.doesNotMatch(h, /\r\n(Bcc|X-Injected)/);
});

test('withTraceHeaders: on top of the message, which is unchanged', () => {
  const body = bytes('Subject: hi\r\n\r\nhello\r\n');
  assert.equal(
    text(withTraceHeaders(body, 's@x.example', 'r@y.test')),
    `Return-Path: <s@x.example>\r\nDelivered-To: r@y.test\r\nSubject: hi\r\n\r\nhello\r\n`,
  );
});

test('deliveredTo: looks in the header section only, any case, folded or not', () => {
  const table: Array<[string, string, boolean]> = [
    ['Delivered-To: a@b.test\r\nSubject: x\r\n\r\nbody\r\n', 'a@b.test', true],
    ['delivered-to:A@B.TEST  \r\n\r\n', 'a@b.test', true],
    ['Delivered-To: other@b.test\r\n\r\n', 'a@b.test', false],
    ['Subject: x\r\n\r\nDelivered-To: a@b.test\r\n', 'a@b.test', false], // in the body: not a header
    ['X-Delivered-To: a@b.test\r\n\r\n', 'a@b.test', false],
    ['Subject: x\n\nbody\n', 'a@b.test', false],
    ['Subject: \xe9t\xe9\r\nDelivered-To: a@b.test\r\n\r\n', 'a@b.test', true], // 8-bit headers do not break the scan
  ];
  for (const [msg, address, want] of table) {
    const b = Uint8Array.from(msg, (c) => c.charCodeAt(0));
    assert.equal(deliveredTo(b).has(address), want, JSON.stringify(msg));
  }
});

test('crlfToLf: CRLF pairs only; bare CR and LF stay', () => {
  assert.equal(text(crlfToLf(bytes('a\r\nb\r\n\r\n'))), 'a\nb\n\n');
  assert.equal(text(crlfToLf(bytes('a\rb\nc\r'))), 'a\rb\nc\r');
  assert.equal(text(crlfToLf(bytes('\r\r\n'))), '\r\n');
  assert.equal(crlfToLf(new Uint8Array(0)).length, 0);
});
