// Tests for the reply table: codes, enhanced codes, wire format, error-budget flags; no code literals elsewhere.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import {
  chunkReceived,
  ehloReply,
  greeting,
  heloReply,
  helpTopic,
  queued,
  R,
  render,
  reply,
} from '../../../src/smtp/replies.ts';

describe('the reply table', () => {
  for (const [name, r] of Object.entries(R)) {
    test(name, () => {
      assert.ok(r.code >= 200 && r.code < 600);
      // RFC 2034 §3 / RFC 3463 §2: the enhanced code's class matches the reply's first digit.
      if (r.code === 354) assert.equal(r.status, null);
      else assert.match(r.status ?? '', new RegExp(`^${Math.floor(r.code / 100)}\\.\\d{1,3}\\.\\d{1,3}$`));
      assert.ok(r.text.endsWith('\r\n'));
      assert.ok(r.plain.endsWith('\r\n'));
      assert.ok(!r.message.includes('\r') && !r.message.includes('\n'));
      assert.match(r.tag, /^[a-z0-9]+(-[a-z0-9]+)*$/);
      // Replies are plain ASCII (RFC 6531 §3.7.4.2: no UTF-8 unless the client asked).
      assert.match(r.text, /^[\x20-\x7e\r\n]+$/);
      if (r.status !== null) {
        assert.ok(r.text.startsWith(`${r.code} ${r.status} `) || r.text.startsWith(`${r.code}-${r.status} `));
      }
      assert.ok(!r.plain.includes(r.status ?? '\u0000'));
      // 535 is charged too: failed AUTH attempts feed the budget (password guessing, RFC 4954 §4).
      assert.equal(r.bad, [500, 501, 502, 503, 504, 555].includes(r.code) || r === R.authInvalid);
    });
  }

  test('tags are unique, so logs can be grouped by them', () => {
    const tags = Object.values(R).map((r) => r.tag);
    const dupes = tags.filter((t, i) => tags.indexOf(t) !== i);
    assert.deepEqual(dupes, []);
  });
});

describe('formatting', () => {
  test('one line', () => {
    const r = reply(250, '2.0.0', 'Ok');
    assert.equal(r.text, '250 2.0.0 Ok\r\n');
    assert.equal(r.plain, '250 Ok\r\n');
    assert.equal(render(r, true), r.text);
    assert.equal(render(r, false), r.plain);
    assert.equal(r.tag, 'ok');
  });
  test('multi-line HELP uses "-" continuation (RFC 5321 §4.2.1)', () => {
    const lines = R.help.text.split('\r\n').slice(0, -1);
    assert.ok(lines.length >= 3);
    for (const l of lines.slice(0, -1)) assert.ok(l.startsWith('214-2.0.0 '), l);
    assert.ok(lines[lines.length - 1].startsWith('214 2.0.0 '));
    assert.match(R.help.text, /rfc5321/);
  });
  test('greeting, HELO and EHLO carry no enhanced code', () => {
    assert.equal(greeting('mx.tern.test'), '220 mx.tern.test ESMTP Tern\r\n');
    assert.equal(heloReply('mx.tern.test'), '250 mx.tern.test\r\n');
    assert.equal(ehloReply('mx.tern.test', ['PIPELINING', 'DSN']), '250-mx.tern.test\r\n250-PIPELINING\r\n250 DSN\r\n');
    assert.equal(ehloReply('mx.tern.test', []), '250 mx.tern.test\r\n');
  });
  test('dynamic replies', () => {
    assert.equal(queued('Q1').text, '250 2.0.0 Ok: queued as Q1\r\n');
    assert.equal(chunkReceived(42).text, '250 2.0.0 42 octets received\r\n');
    assert.equal(helpTopic('bdat')?.text, '214 2.0.0 BDAT <size> [LAST]\r\n');
    assert.equal(helpTopic('nope'), null);
  });
  test('the replies the server uses before a session exists', () => {
    for (const r of [R.tooManyConnections, R.shuttingDown, R.insufficientResourcesClosing]) {
      assert.match(r.text, /^421 4\.\d\.\d /);
    }
  });
});

describe('STYLE §2: no reply-code literals outside replies.ts', () => {
  const root = fileURLToPath(new URL('../../../src/smtp/', import.meta.url));
  function files(dir: string): string[] {
    return readdirSync(dir).flatMap((f) => {
      const p = join(dir, f);
      return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
    });
  }
  // replies.ts (the server's replies) and client/statuses.ts (the client's own verdicts) are where they live.
  for (const file of files(root).filter((f) => !f.endsWith('replies.ts') && !f.endsWith('statuses.ts'))) {
    test(file.slice(root.length), () => {
      const code = readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => !/^\s*(\/\/|\*|\/\*)/.test(l))
        .join('\n');
      assert.doesNotMatch(code, /['"`][2-5]\d\d[ -]/, 'reply line literal');
      assert.doesNotMatch(code, /['"`][245]\.\d{1,3}\.\d{1,3}/, 'enhanced status literal');
      assert.doesNotMatch(code, /\breply\(\s*\d/, 'reply() outside replies.ts');
    });
  }
});
