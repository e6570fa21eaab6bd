// Table tests for esmtp-param splitting, each parameter parser, and xtext (src/smtp/params.ts).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  applyParams,
  decodeUtf8AddrXtext,
  decodeXtext,
  emptyMailParams,
  emptyRcptParams,
  type MailParams,
  type ParamParser,
  parseAuthParam,
  parseBodyParam,
  parseEnvidParam,
  parseNotifyParam,
  parseOrcptParam,
  parseRetParam,
  parseSizeParam,
  parseSmtpUtf8Param,
  splitParams,
} from '../../../src/smtp/params.ts';
import { R, type Reply } from '../../../src/smtp/replies.ts';
import { testSessionOptions } from '../../support/session-options.ts';

const options = testSessionOptions();

describe('splitParams', () => {
  const table: Array<[string, ReturnType<typeof splitParams>]> = [
    ['', []],
    [' ', []],
    [' SIZE=10', [{ keyword: 'SIZE', value: '10' }]],
    [' size=10 body=8bitmime', [
      { keyword: 'SIZE', value: '10' },
      { keyword: 'BODY', value: '8bitmime' },
    ]],
    ['  SMTPUTF8   RET=HDRS  ', [
      { keyword: 'SMTPUTF8', value: null },
      { keyword: 'RET', value: 'HDRS' },
    ]],
    [' X-ONE-2=a<b>c', [{ keyword: 'X-ONE-2', value: 'a<b>c' }]],
    [' ORCPT=utf-8;δ@x', [{ keyword: 'ORCPT', value: 'utf-8;δ@x' }]],
    [' SIZE=', null], // esmtp-value is 1*
    [' =10', null],
    [' -X=1', null], // keyword starts with ALPHA / DIGIT
    [' SI_ZE=1', null],
    [' A=b=c', null], // "=" not allowed in a value
    [' A=b\u0001', null],
  ];
  for (const [input, expected] of table) {
    test(JSON.stringify(input), () => assert.deepEqual(splitParams(input), expected));
  }
});

function run<T>(parser: ParamParser<T>, value: string | null, into: T): Reply | null {
  return parser(value, into, options);
}

describe('MAIL parameters', () => {
  test('SIZE', () => {
    const p = emptyMailParams();
    assert.equal(run(parseSizeParam, '10000', p), null);
    assert.equal(p.size, 10000);
    assert.equal(run(parseSizeParam, '0', p), null);
    assert.equal(run(parseSizeParam, '10001', emptyMailParams()), R.sizeExceeded);
    assert.equal(run(parseSizeParam, '99999999999999999999', emptyMailParams()), R.sizeExceeded);
    for (const v of [null, 'ten', '-1', '1e3', '10 ', '123456789012345678901']) {
      assert.equal(run(parseSizeParam, v, emptyMailParams()), R.paramValue, String(v));
    }
  });

  test('BODY', () => {
    const p = emptyMailParams();
    assert.equal(run(parseBodyParam, '7bit', p), null);
    assert.equal(p.body, '7BIT');
    assert.equal(run(parseBodyParam, '8BITMIME', p), null);
    assert.equal(p.body, '8BITMIME');
    assert.equal(run(parseBodyParam, 'BINARYMIME', p), R.paramUnsupported);
    assert.equal(run(parseBodyParam, '8BIT', p), R.paramValue);
    assert.equal(run(parseBodyParam, null, p), R.paramValue);
  });

  test('SMTPUTF8 takes no value', () => {
    const p = emptyMailParams();
    assert.equal(run(parseSmtpUtf8Param, null, p), null);
    assert.equal(p.smtpUtf8, true);
    assert.equal(run(parseSmtpUtf8Param, 'yes', emptyMailParams()), R.paramValue);
  });

  test('RET', () => {
    const p = emptyMailParams();
    assert.equal(run(parseRetParam, 'hdrs', p), null);
    assert.equal(p.ret, 'HDRS');
    assert.equal(run(parseRetParam, 'FULL', p), null);
    assert.equal(p.ret, 'FULL');
    assert.equal(run(parseRetParam, 'NONE', p), R.paramValue);
    assert.equal(run(parseRetParam, null, p), R.paramValue);
  });

  test('ENVID: xtext, at most 100 characters decoded (RFC 3461 §4.4)', () => {
    const p = emptyMailParams();
    assert.equal(run(parseEnvidParam, 'QQ+2B1234', p), null);
    assert.equal(p.envid, 'QQ+1234');
    assert.equal(run(parseEnvidParam, 'x'.repeat(100), p), null);
    assert.equal(run(parseEnvidParam, 'x'.repeat(101), p), R.paramValue);
    // 100 decoded characters may take more encoded ones.
    assert.equal(run(parseEnvidParam, '+2B'.repeat(100), p), null);
    assert.equal(run(parseEnvidParam, 'bad+2', p), R.paramValue);
    assert.equal(run(parseEnvidParam, null, p), R.paramValue);
  });

  test('AUTH: <> or xtext, then ignored (RFC 4954 §5)', () => {
    const p = emptyMailParams();
    const before = JSON.stringify(p);
    assert.equal(run(parseAuthParam, '<>', p), null);
    assert.equal(run(parseAuthParam, 'alice+40client.test', p), null);
    assert.equal(JSON.stringify(p), before);
    assert.equal(run(parseAuthParam, null, p), R.paramValue);
    assert.equal(run(parseAuthParam, 'a+4', p), R.paramValue);
  });
});

describe('RCPT parameters', () => {
  test('NOTIFY', () => {
    const p = emptyRcptParams();
    assert.equal(run(parseNotifyParam, 'never', p), null);
    assert.equal(p.notify, 'NEVER');
    assert.equal(run(parseNotifyParam, 'SUCCESS,delay', p), null);
    assert.deepEqual(p.notify, ['SUCCESS', 'DELAY']);
    assert.equal(run(parseNotifyParam, 'FAILURE,FAILURE', p), null);
    assert.deepEqual(p.notify, ['FAILURE']);
    for (const v of [null, 'NEVER,SUCCESS', 'SUCCESS,NEVER', 'ALWAYS', 'SUCCESS,', ',SUCCESS']) {
      assert.equal(run(parseNotifyParam, v, emptyRcptParams()), R.paramValue, String(v));
    }
  });

  test('ORCPT', () => {
    const p = emptyRcptParams();
    assert.equal(run(parseOrcptParam, 'rfc822;bob+2Bx@tern.test', p), null);
    assert.deepEqual(p.orcpt, { type: 'rfc822', address: 'bob+x@tern.test' });
    assert.equal(run(parseOrcptParam, 'utf-8;b\\x{E9}b@tern.test', p), null);
    assert.deepEqual(p.orcpt, { type: 'utf-8', address: 'béb@tern.test' });
    assert.equal(run(parseOrcptParam, 'UTF-8;δ@tern.test', p), null);
    assert.deepEqual(p.orcpt, { type: 'UTF-8', address: 'δ@tern.test' });
    for (
      const v of [
        null,
        'bob@tern.test',
        ';bob@tern.test',
        'rfc822;',
        'rfc 822;x',
        'rfc822;a+zz',
        `rfc822;${'x'.repeat(500)}`,
      ]
    ) {
      assert.equal(run(parseOrcptParam, v, emptyRcptParams()), R.paramValue, String(v));
    }
  });
});

describe('xtext (RFC 3461 §4)', () => {
  const table: Array<[string, string | null]> = [
    ['', ''],
    ['abc', 'abc'],
    ['a+2Bb', 'a+b'],
    ['a+2bb', 'a+b'], // lower-case hex tolerated
    ['+3D+20+7E', '= ~'],
    ['a+', null],
    ['a+2', null],
    ['a+GG', null],
    ['a=b', null],
    ['a b', null],
    ['é', null],
  ];
  for (const [input, expected] of table) test(JSON.stringify(input), () => assert.equal(decodeXtext(input), expected));
});

describe('utf-8-addr-xtext / unitext (RFC 6533 §3)', () => {
  const table: Array<[string, string | null]> = [
    ['bob@tern.test', 'bob@tern.test'],
    ['b\\x{E9}@t', 'bé@t'],
    ['\\x{1F600}', '😀'],
    ['\\x{2B}', '+'],
    ['δ@t', 'δ@t'],
    ['a+b', null], // "+" must be escaped here
    ['a=b', null],
    ['a\\b', null],
    ['\\x{}', null],
    ['\\x{1234567}', null],
    ['\\x{D800}', null], // surrogates are not scalar values
    ['\\x{110000}', null],
    ['a b', null],
  ];
  for (const [input, expected] of table) {
    test(JSON.stringify(input), () => assert.equal(decodeUtf8AddrXtext(input), expected));
  }
});

describe('applyParams', () => {
  const table = new Map<string, ParamParser<MailParams>>([
    ['SIZE', parseSizeParam],
    ['BODY', parseBodyParam],
  ]);
  test('applies every known parameter', () => {
    const p = emptyMailParams();
    assert.equal(applyParams(splitParams(' SIZE=5 BODY=7BIT')!, table, p, options), null);
    assert.equal(p.size, 5);
    assert.equal(p.body, '7BIT');
  });
  test('unknown or not offered: 555 5.5.4', () => {
    assert.deepEqual(applyParams(splitParams(' SMTPUTF8')!, table, emptyMailParams(), options), {
      reply: R.paramUnsupported,
      detail: 'SMTPUTF8',
    });
  });
  test('repeated (any case): 501 5.5.4', () => {
    assert.deepEqual(applyParams(splitParams(' SIZE=1 size=2')!, table, emptyMailParams(), options), {
      reply: R.paramRepeated,
      detail: 'SIZE',
    });
  });
  test('a bad value names its keyword', () => {
    assert.deepEqual(applyParams(splitParams(' BODY=X')!, table, emptyMailParams(), options), {
      reply: R.paramValue,
      detail: 'BODY',
    });
  });
  test('parameters are applied left to right; the first problem wins', () => {
    const r = applyParams(splitParams(' X=1 SIZE=1 SIZE=2')!, table, emptyMailParams(), options);
    assert.equal(r?.reply, R.paramUnsupported);
  });
});
