// Tests for the .smtp transcript parser shared by the memory and TCP dialogue runners.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseDialogue } from '../../dialogues/format.ts';

const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe('parseDialogue', () => {
  test('directives, steps and comments', () => {
    const d = parseDialogue(
      [
        '# a comment',
        '@option maxRecipients=2',
        '@option vrfy=disabled',
        '@option extensions.chunking=false',
        '@option localDomains=a.test,b.test',
        '@trusted',
        '@tls',
        '',
        '<~ ^220 ',
        '-> EHLO x',
        '->',
        '~> BDAT 3\\r\\nab\\n\\t\\\\\\x41é',
        '<- 250 ok',
        '-- starttls',
        '<- [close]',
      ].join('\n'),
    );
    assert.deepEqual(d.options, {
      maxRecipients: 2,
      vrfy: 'disabled',
      extensions: { chunking: false },
      localDomains: new Set(['a.test', 'b.test']),
    });
    assert.equal(d.trusted, true);
    assert.equal(d.tls, true);
    assert.deepEqual(
      d.steps.map((s) => s.kind),
      ['match', 'send', 'send', 'send', 'expect', 'starttls', 'close'],
    );
    const [match, line, empty, raw, expect] = d.steps;
    assert.ok(match.kind === 'match' && match.pattern.test('220 mx'));
    assert.ok(line.kind === 'send' && text(line.bytes) === 'EHLO x\r\n' && !line.raw);
    assert.ok(empty.kind === 'send' && text(empty.bytes) === '\r\n');
    assert.ok(raw.kind === 'send' && raw.raw);
    assert.equal(text((raw as { bytes: Uint8Array }).bytes), 'BDAT 3\r\nab\n\t\\Aé');
    assert.ok(expect.kind === 'expect' && expect.text === '250 ok' && expect.line === 13);
  });

  test('CRLF transcripts parse the same', () => {
    assert.deepEqual(parseDialogue('-> NOOP\r\n<- 250 2.0.0 Ok\r\n'), parseDialogue('-> NOOP\n<- 250 2.0.0 Ok\n'));
  });

  const malformed = [
    '=> NOOP',
    '->NOOP',
    '-- tls',
    '<~ (',
    '@option',
    '@unknown',
    '~> \\q',
    '~> \\x4',
    '-> NOOP\n@trusted',
  ];
  for (const input of malformed) {
    test(`refuses ${JSON.stringify(input)}`, () => assert.throws(() => parseDialogue(input), /dialogue line \d+/));
  }
});
