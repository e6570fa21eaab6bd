// Table and property tests for command parsing: lines from bytes (LineReader, decodeLine) and parseCommand.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InputBuffer } from '../../../src/smtp/input.ts';
import {
  type Command,
  decodeLine,
  isHelloName,
  LineReader,
  parseCommand,
  type Parsed,
  sanitise,
  TOO_LONG,
} from '../../../src/smtp/parser.ts';
import { R, type Reply } from '../../../src/smtp/replies.ts';
import { bytes, rng } from './harness.ts';

function cmd(line: string): Command {
  const p = parseCommand(line);
  assert.equal(p.kind, 'command', `${line}: ${JSON.stringify(p)}`);
  return (p as { command: Command }).command;
}

function err(line: string): Reply {
  const p = parseCommand(line);
  assert.equal(p.kind, 'error', `${line}: ${JSON.stringify(p)}`);
  return (p as { reply: Reply }).reply;
}

describe('parseCommand: commands', () => {
  const table: Array<[string, Command]> = [
    ['EHLO client.test', { verb: 'EHLO', domain: 'client.test' }],
    ['ehlo client.test', { verb: 'EHLO', domain: 'client.test' }],
    ['EHLO   client.test  ', { verb: 'EHLO', domain: 'client.test' }],
    ['EHLO\tclient.test', { verb: 'EHLO', domain: 'client.test' }],
    ['HELO [192.0.2.1]', { verb: 'HELO', domain: '[192.0.2.1]' }],
    ['HELO [IPv6:2001:db8::1]', { verb: 'HELO', domain: '[IPv6:2001:db8::1]' }],
    ['HELO my_pc', { verb: 'HELO', domain: 'my_pc' }],
    ['DATA', { verb: 'DATA' }],
    ['data ', { verb: 'DATA' }],
    ['RSET', { verb: 'RSET' }],
    ['QUIT', { verb: 'QUIT' }],
    ['STARTTLS', { verb: 'STARTTLS' }],
    ['NOOP', { verb: 'NOOP' }],
    ['NOOP anything at all', { verb: 'NOOP' }],
    ['VRFY bob', { verb: 'VRFY', target: 'bob' }],
    ['VRFY <bob@tern.test> SMTPUTF8', { verb: 'VRFY', target: '<bob@tern.test> SMTPUTF8' }],
    ['EXPN staff', { verb: 'EXPN', target: 'staff' }],
    ['EXPN', { verb: 'EXPN', target: '' }],
    ['HELP', { verb: 'HELP', topic: null }],
    ['HELP mail', { verb: 'HELP', topic: 'mail' }],
    ['BDAT 0 LAST', { verb: 'BDAT', size: 0, last: true, badSyntax: false }],
    ['BDAT 100', { verb: 'BDAT', size: 100, last: false, badSyntax: false }],
    ['bdat 7 last', { verb: 'BDAT', size: 7, last: true, badSyntax: false }],
    ['BDAT 7 FINAL', { verb: 'BDAT', size: 7, last: false, badSyntax: true }],
    ['BDAT 7 LAST x', { verb: 'BDAT', size: 7, last: true, badSyntax: true }],
    ['BDAT 007', { verb: 'BDAT', size: 7, last: false, badSyntax: false }],
  ];
  for (const [line, expected] of table) test(JSON.stringify(line), () => assert.deepEqual(cmd(line), expected));

  test('MAIL with path and params', () => {
    assert.deepEqual(cmd('MAIL FROM:<Alice@Client.Test> SIZE=10 body=8BITMIME'), {
      verb: 'MAIL',
      from: { local: 'Alice', domain: 'client.test', literal: false, utf8: false },
      params: [
        { keyword: 'SIZE', value: '10' },
        { keyword: 'BODY', value: '8BITMIME' },
      ],
    });
  });
  test('MAIL FROM:<> and variants', () => {
    assert.deepEqual(cmd('MAIL FROM:<>'), { verb: 'MAIL', from: null, params: [] });
    assert.deepEqual(cmd('mail from: <>'), { verb: 'MAIL', from: null, params: [] });
    assert.deepEqual(cmd('MAIL FROM:<> '), { verb: 'MAIL', from: null, params: [] });
  });
  test('RCPT with Postmaster and params', () => {
    assert.deepEqual(cmd('RCPT TO:<postmaster> NOTIFY=NEVER'), {
      verb: 'RCPT',
      to: { local: 'Postmaster', domain: '', literal: false, utf8: false },
      params: [{ keyword: 'NOTIFY', value: 'NEVER' }],
    });
  });
  test('UTF-8 addresses are parsed; whether they are allowed is the verb check', () => {
    const c = cmd('RCPT TO:<δ@tern.test>');
    assert.equal(c.verb === 'RCPT' && c.to.utf8, true);
  });
});

describe('parseCommand: errors', () => {
  const table: Array<[string, Reply]> = [
    ['', R.unknownCommand],
    ['FROB', R.unknownCommand],
    ['MAILFROM:<a@b>', R.unknownCommand],
    [' EHLO x', R.unknownCommand], // no leading white space before a verb
    ['ETRN example.test', R.notImplemented],
    ['TURN', R.notImplemented],
    ['ATRN', R.notImplemented],
    ['AUTH', R.authSyntax],
    ['AUTH PLAIN abc def', R.authSyntax],
    ['AUTH PL@IN', R.authSyntax],
    ['SEND FROM:<a@b>', R.notImplemented],
    ['EHLO', R.ehloSyntax],
    ['HELO', R.heloSyntax],
    ['EHLO a b', R.invalidDomain],
    ['EHLO a..b', R.invalidDomain],
    ['EHLO [300.1.1.1]', R.invalidDomain],
    ['EHLO bücher.test', R.invalidDomain],
    ['MAIL', R.mailSyntax],
    ['MAIL FROM', R.mailSyntax],
    ['MAIL FROM:', R.mailSyntax],
    ['MAIL FROM:a@b', R.mailSyntax],
    ['MAIL TO:<a@b>', R.mailSyntax],
    ['MAIL FROM :<a@b>', R.mailSyntax],
    ['MAIL FROM:<a@b', R.badSenderAddress],
    ['MAIL FROM:<a>', R.badSenderAddress],
    ['MAIL FROM:<Postmaster>', R.badSenderAddress],
    ['MAIL FROM:<a@b>SIZE=1', R.paramSyntax],
    ['MAIL FROM:<a@b> SIZE=', R.paramSyntax],
    ['MAIL FROM:<a@b> =1', R.paramSyntax],
    ['RCPT', R.rcptSyntax],
    ['RCPT TO:', R.rcptSyntax],
    ['RCPT FROM:<a@b>', R.rcptSyntax],
    ['RCPT TO:a@b', R.rcptSyntax],
    ['RCPT TO:<>', R.badRecipientAddress],
    ['RCPT TO:<a>', R.badRecipientAddress],
    ['RCPT TO:<a@b> X=', R.paramSyntax],
    ['DATA x', R.noParameters],
    ['RSET x', R.noParameters],
    ['QUIT x', R.noParameters],
    ['STARTTLS x', R.noParameters],
    ['VRFY', R.vrfySyntax],
    ['VRFY   ', R.vrfySyntax],
  ];
  for (const [line, reply] of table) test(JSON.stringify(line), () => assert.equal(err(line), reply));

  test('unknown verbs are sanitised for the log', () => {
    const p = parseCommand('X\u00e9\u0001' + 'y'.repeat(100)) as Extract<Parsed, { kind: 'error' }>;
    assert.equal(p.kind, 'error');
    assert.match(p.verb, /^[\x20-\x7e]{1,32}$/);
  });
});

describe('parseCommand: fatal lines', () => {
  const http = [
    'GET / HTTP/1.1',
    'POST /x HTTP/1.0',
    'HEAD / HTTP/1.1',
    'CONNECT mx.tern.test:25 HTTP/1.1',
    'PUT /x HTTP/1.1',
    'OPTIONS * HTTP/1.1',
    'Host: mx.tern.test',
    'User-Agent: curl/8',
    'get / HTTP/1.1',
    'host:x',
  ];
  for (const line of http) {
    test(line, () => {
      const p = parseCommand(line);
      assert.equal(p.kind, 'fatal');
      assert.equal((p as { reply: Reply }).reply, R.httpRejected);
    });
  }
  test('lines that merely contain HTTP words are not HTTP', () => {
    assert.equal(parseCommand('GETX /').kind, 'error');
    assert.equal(parseCommand('NOOP GET / HTTP/1.1').kind, 'command');
    assert.equal(parseCommand('Hostname: x').kind, 'error');
  });
  const bdat = ['BDAT', 'BDAT x', 'BDAT -1', 'BDAT 1.5', 'BDAT 99999999999999999999', 'BDAT LAST'];
  for (const line of bdat) {
    test(`${line} (the chunk cannot be skipped)`, () => {
      const p = parseCommand(line);
      assert.equal(p.kind, 'fatal');
      assert.equal((p as { reply: Reply }).reply, R.bdatSyntax);
    });
  }
});

describe('isHelloName', () => {
  test('domains, literals, underscores', () => {
    for (const t of ['client.test', 'localhost', 'my_pc', '[192.0.2.1]', '[IPv6:::1]', '1.2.3.4']) {
      assert.ok(isHelloName(t), t);
    }
    for (const t of ['', 'a b', 'a..b', '[x]', '[1.2.3]', 'a@b', 'a/b']) assert.ok(!isHelloName(t), t);
  });
});

describe('decodeLine', () => {
  const table: Array<[number[] | string, string | null]> = [
    ['NOOP\r\n', 'NOOP'],
    ['NOOP\n', 'NOOP'],
    ['NOOP', 'NOOP'],
    ['\r\n', ''],
    ['NOOP\tx\r\n', 'NOOP\tx'],
    ['NO\rOP\r\n', null], // bare CR inside
    ['NOOP\r\r\n', null],
    ['NO\x00OP\r\n', null],
    ['NOOP\x7f\r\n', null],
    ['NOOP\x1b\r\n', null],
    ['MAIL FROM:<δ@x>\r\n', 'MAIL FROM:<δ@x>'],
    [[0x4e, 0xff, 0x0d, 0x0a], null], // invalid UTF-8
    [[0x4e, 0xc3, 0x0d, 0x0a], null], // truncated UTF-8
  ];
  for (const [input, expected] of table) {
    test(JSON.stringify(input), () => {
      const b = typeof input === 'string' ? bytes(input) : new Uint8Array(input);
      assert.equal(decodeLine(b), expected);
    });
  }
});

/** All results of reading lines from the input until it needs more. */
function drain(reader: LineReader, input: InputBuffer): Array<string | typeof TOO_LONG> {
  const out: Array<string | typeof TOO_LONG> = [];
  for (;;) {
    const line = reader.next(input);
    if (line === null) return out;
    out.push(line === TOO_LONG ? TOO_LONG : new TextDecoder().decode(line));
  }
}

describe('LineReader', () => {
  test('splits on LF, keeping the line ending', () => {
    const input = new InputBuffer();
    input.push(bytes('A\r\nB\nC'));
    const r = new LineReader(100);
    assert.deepEqual(drain(r, input), ['A\r\n', 'B\n']);
    assert.equal(input.size, 1);
    input.push(bytes('\r\n'));
    assert.deepEqual(drain(r, input), ['C\r\n']);
  });

  test('limit counts the CRLF: maxLine octets pass, maxLine + 1 do not', () => {
    const input = new InputBuffer();
    const r = new LineReader(8);
    input.push(bytes('123456\r\n1234567\r\nok\r\n'));
    assert.deepEqual(drain(r, input), ['123456\r\n', TOO_LONG, 'ok\r\n']);
  });

  test('an overlong line is reported once, when its LF arrives, and memory stays bounded', () => {
    const input = new InputBuffer();
    const r = new LineReader(512);
    const garbage = new Uint8Array(100_000).fill(0x41);
    for (let i = 0; i < 50; i++) {
      input.push(garbage);
      assert.deepEqual(drain(r, input), []);
      assert.ok(input.size < 512, `buffered ${input.size}`);
    }
    input.push(bytes('tail\r\nNOOP\r\n'));
    assert.deepEqual(drain(r, input), [TOO_LONG, 'NOOP\r\n']);
  });

  test('exactly maxLine octets without LF are already too long', () => {
    const input = new InputBuffer();
    const r = new LineReader(8);
    input.push(bytes('12345678'));
    assert.deepEqual(drain(r, input), []);
    assert.equal(input.size, 0);
    input.push(bytes('\r\nNOOP\r\n'));
    assert.deepEqual(drain(r, input), [TOO_LONG, 'NOOP\r\n']);
  });

  test('reset() forgets an overlong line in progress', () => {
    const input = new InputBuffer();
    const r = new LineReader(4);
    input.push(bytes('123456'));
    drain(r, input);
    r.reset();
    input.push(bytes('ok\r\n'));
    assert.deepEqual(drain(r, input), ['ok\r\n']);
  });
});

describe('properties', () => {
  const stream = bytes(
    'EHLO a.test\r\nMAIL FROM:<a@b.test> SIZE=10\nRCPT TO:<c@tern.test>\r\nNOOP\r\n' +
      'x'.repeat(300) +
      '\r\nDATA\r\nQUIT\r\nGET / HTTP/1.1\r\n',
  );

  function linesOf(chunks: Uint8Array[]): string[] {
    const input = new InputBuffer();
    const r = new LineReader(256);
    const out: string[] = [];
    for (const c of chunks) {
      input.push(c);
      for (const l of drain(r, input)) {
        if (l === TOO_LONG) out.push('<too long>');
        else out.push(JSON.stringify(parseCommand(decodeLine(bytes(l)) ?? '')));
      }
    }
    return out;
  }

  test('the same commands for any split of the byte stream', () => {
    const whole = linesOf([stream]);
    assert.equal(whole.length, 8);
    const random = rng(42);
    for (let round = 0; round < 300; round++) {
      const chunks: Uint8Array[] = [];
      let at = 0;
      while (at < stream.length) {
        const n = 1 + Math.floor(random() * 40);
        chunks.push(stream.slice(at, at + n));
        at += n;
      }
      assert.deepEqual(linesOf(chunks), whole, `round ${round}`);
    }
  });

  test('parsing never throws on random bytes', () => {
    const random = rng(7);
    const alphabet = bytes('EHLOMAILRCPTDATABDAT FROM:TO:<>@.[]"\\=,;:0123456789 \r\n\t\x00\xff');
    for (let round = 0; round < 3000; round++) {
      const len = Math.floor(random() * 60);
      const b = new Uint8Array(len);
      for (let i = 0; i < len; i++) {
        b[i] = random() < 0.1 ? Math.floor(random() * 256) : alphabet[Math.floor(random() * alphabet.length)];
      }
      const input = new InputBuffer();
      input.push(b);
      input.push(bytes('\r\n'));
      const r = new LineReader(64);
      for (const l of drain(r, input)) {
        if (l === TOO_LONG) continue;
        const text = decodeLine(bytes(l));
        if (text !== null) parseCommand(text);
      }
      parseCommand(new TextDecoder().decode(b));
    }
  });

  test('sanitise keeps logs printable and short', () => {
    assert.equal(sanitise('a\r\nb'), 'a??b');
    assert.equal(sanitise('x'.repeat(100)).length, 32);
  });
});
