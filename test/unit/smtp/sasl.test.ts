// SASL framing (RFC 4954 §4): strict base64 both ways, "=" and "*", and the response-line bound.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  decodeBase64,
  encodeBase64,
  MAX_SASL_LINE,
  parseInitialResponse,
  parseSaslResponse,
} from '../../../src/smtp/sasl.ts';
import { bytes } from './harness.ts';

describe('base64', () => {
  test('round-trips every byte value', () => {
    const all = new Uint8Array(256).map((_, i) => i);
    assert.deepEqual(decodeBase64(encodeBase64(all)), all);
  });

  test('decodes the RFC 4616 example and the empty string', () => {
    assert.deepEqual(decodeBase64('AGFsaWNlAHNlY3JldA=='), bytes('\0alice\0secret'));
    assert.deepEqual(decodeBase64(''), new Uint8Array(0));
    assert.equal(encodeBase64(new Uint8Array(0)), '');
  });

  const refused: string[] = [
    'A', // not a multiple of 4
    'AGFsaWNl AHNlY3JldA==', // white space
    'AGFsaWNlAHNlY3JldA', // padding missing
    'AGFsaWNlAHNlY3JldA=', // wrong padding
    'AGFs=WNl', // padding in the middle
    'AGF-aWNl', // base64url alphabet
    '====',
    'QUJD\r\n',
  ];
  for (const text of refused) {
    test(`refuses ${JSON.stringify(text)}`, () => assert.equal(decodeBase64(text), null));
  }
});

describe('initial response (AUTH line)', () => {
  test('absent is null: the mechanism starts with a challenge', () => assert.equal(parseInitialResponse(null), null));
  test('"=" is a zero-length response', () => assert.deepEqual(parseInitialResponse('='), new Uint8Array(0)));
  test('base64 is decoded', () => assert.deepEqual(parseInitialResponse('YWxpY2U='), bytes('alice')));
  test('anything else is bad', () => assert.equal(parseInitialResponse('not*base64'), 'bad'));
});

describe('response lines', () => {
  test('"*" cancels', () => assert.deepEqual(parseSaslResponse('*'), { kind: 'cancel' }));
  test('an empty line is an empty response', () => {
    assert.deepEqual(parseSaslResponse(''), { kind: 'data', data: new Uint8Array(0) });
  });
  test('base64 is decoded, junk is bad', () => {
    assert.deepEqual(parseSaslResponse('c2VjcmV0'), { kind: 'data', data: bytes('secret') });
    assert.deepEqual(parseSaslResponse('**'), { kind: 'bad' });
  });
  test('the bound honours RFC 4954 §4 (12288 octets at least, CRLF aside)', () => {
    assert.ok(MAX_SASL_LINE >= 12288 + 2);
  });
});
