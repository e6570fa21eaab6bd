// Table tests for the RFC 5321 §4.1.2 / §4.1.3 address grammar in src/smtp/address.ts.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  formatMailbox,
  isDomain,
  isIpv4,
  isIpv6,
  type Mailbox,
  normaliseAddressLiteral,
  parsePath,
  type PathRules,
} from '../../../src/smtp/address.ts';

const MAIL: PathRules = { allowNull: true, allowPostmaster: false };
const RCPT: PathRules = { allowNull: false, allowPostmaster: true };

function ok(text: string, rules: PathRules = RCPT): Mailbox | null {
  const r = parsePath(text, 0, rules);
  assert.ok(r.ok, `expected ${text} to parse: ${r.ok ? '' : r.reason}`);
  assert.equal(r.end, text.length, `end of ${text}`);
  return r.mailbox;
}

function bad(text: string, rules: PathRules = RCPT): string {
  const r = parsePath(text, 0, rules);
  assert.ok(!r.ok, `expected ${text} to be refused`);
  return r.reason;
}

describe('parsePath: valid paths', () => {
  const table: Array<[string, string, Partial<Mailbox>?]> = [
    ['<bob@tern.test>', 'bob@tern.test'],
    ['<Bob@Tern.TEST>', 'Bob@tern.test'], // domain lower-cased, local part kept
    ['<first.last@sub.tern.test>', 'first.last@sub.tern.test'],
    ["<!#$%&'*+-/=?^_`{|}~@tern.test>", "!#$%&'*+-/=?^_`{|}~@tern.test"],
    ['<a@b>', 'a@b'],
    ['<a@b-c.d>', 'a@b-c.d'],
    ['<a@1.2.3.4>', 'a@1.2.3.4'], // a Domain by grammar: all labels Let-dig
    ['<"bob"@tern.test>', 'bob@tern.test'], // minimal quoting: the quotes were unnecessary
    ['<"bob smith"@tern.test>', '"bob smith"@tern.test'],
    ['<"bob\\"s"@tern.test>', '"bob\\"s"@tern.test'],
    ['<"b\\ob"@tern.test>', 'bob@tern.test'], // a quoted-pair of an ordinary char
    ['<"a..b"@tern.test>', '"a..b"@tern.test'],
    ['<"a@b"@tern.test>', '"a@b"@tern.test'],
    ['<"a>b"@tern.test>', '"a>b"@tern.test'],
    ['<""@tern.test>', '""@tern.test'],
    ['<"back\\\\slash"@tern.test>', '"back\\\\slash"@tern.test'],
    ['<bob@[192.0.2.1]>', 'bob@[192.0.2.1]', { literal: true }],
    ['<bob@[IPv6:2001:db8::1]>', 'bob@[IPv6:2001:db8::1]', { literal: true }],
    ['<bob@[ipv6:2001:DB8::1]>', 'bob@[IPv6:2001:db8::1]', { literal: true }],
    ['<bob@[x-tag:some>content]>', 'bob@[x-tag:some>content]', { literal: true }],
    ['<@relay.test:bob@tern.test>', 'bob@tern.test'],
    ['<@a.test,@b.test,@c.test:bob@tern.test>', 'bob@tern.test'],
    ['<用户@例子.test>', '用户@例子.test', { utf8: true }],
    ['<bob@bücher.test>', 'bob@bücher.test', { utf8: true }],
    ['<"δοκιμή"@tern.test>', 'δοκιμή@tern.test', { utf8: true }],
    ['<Postmaster>', 'Postmaster', { domain: '' }],
    ['<postMASTER>', 'Postmaster', { domain: '' }],
    ['<postmaster@tern.test>', 'postmaster@tern.test'],
  ];
  for (const [input, formatted, fields] of table) {
    test(input, () => {
      const m = ok(input)!;
      assert.equal(formatMailbox(m), formatted);
      for (const [k, v] of Object.entries(fields ?? {})) assert.equal(m[k as keyof Mailbox], v, k);
      if (fields?.utf8 === undefined) assert.equal(m.utf8, false);
      if (fields?.literal === undefined) assert.equal(m.literal, false);
    });
  }

  test('<> is the null reverse-path for MAIL', () => {
    assert.equal(ok('<>', MAIL), null);
  });

  test('parsing starts at the given index and reports where the path ends', () => {
    const r = parsePath('FROM:<a@b.test> SIZE=1', 5, MAIL);
    assert.ok(r.ok);
    assert.equal(r.end, 15);
  });
});

describe('parsePath: refused paths', () => {
  const table: Array<[string, PathRules?]> = [
    ['bob@tern.test'],
    ['<bob@tern.test'],
    ['<>'], // not for RCPT
    ['<Postmaster>', MAIL], // bare Postmaster only as a recipient
    ['<bob>'],
    ['<@tern.test>'],
    ['<bob@>'],
    ['<bob@@tern.test>'],
    ['<.bob@tern.test>'],
    ['<bob.@tern.test>'],
    ['<bo..b@tern.test>'],
    ['<bo b@tern.test>'],
    ['<bo(b@tern.test>'],
    ['<bo,b@tern.test>'],
    ['<bob@tern..test>'],
    ['<bob@.tern.test>'],
    ['<bob@tern.test.>'],
    ['<bob@-tern.test>'],
    ['<bob@tern-.test>'],
    ['<bob@ter_n.test>'], // RFC 5321 §4.1.2: no underscore in domains
    ['<bob@tern test>'],
    [`<bob@${'a'.repeat(64)}.test>`], // label over 63
    [`<bob@${'abcdefghi.'.repeat(26)}test>`], // domain over 255
    ['<"bob@tern.test>'],
    ['<"bo\u0001b"@tern.test>'],
    ['<"bob\\'],
    ['<bob@[192.0.2.256]>'],
    ['<bob@[192.0.2]>'],
    ['<bob@[IPv6:2001:db8::g]>'],
    ['<bob@[IPv6:1:2:3:4:5:6:7:8:9]>'],
    ['<bob@[]>'],
    ['<bob@[tag:]>'],
    ['<bob@[tag-:x]>'], // Ldh-str ends with Let-dig
    ['<bob@[tag:a[b]>'],
    ['<@relay.test,bob@tern.test>'],
    ['<@relay.test:>'],
    ['<@:bob@tern.test>'],
    ['<@relay..test:bob@tern.test>'],
    ['<@relay.test;bob@tern.test>'],
  ];
  for (const [input, rules] of table) {
    test(input.length > 60 ? `${input.slice(0, 60)}…` : input, () => {
      assert.equal(typeof bad(input, rules), 'string');
    });
  }
});

describe('address literals (RFC 5321 §4.1.3)', () => {
  test('IPv4', () => {
    for (const t of ['0.0.0.0', '192.0.2.1', '255.255.255.255', '1.02.3.4']) assert.ok(isIpv4(t), t);
    for (const t of ['256.0.0.1', '1.2.3', '1.2.3.4.5', '1..2.3', 'a.b.c.d', '1234.1.1.1', '']) {
      assert.ok(!isIpv4(t), t);
    }
  });

  test('IPv6 forms', () => {
    const good = [
      '2001:db8:0:0:0:0:0:1', // full
      '2001:db8::1', // comp
      '::1',
      '::',
      '1::',
      '1:2:3:4:5:6::', // 6 groups + "::"
      '::ffff:192.0.2.1', // v4-comp
      '1:2:3:4:5:6:192.0.2.1', // v4-full
      '::192.0.2.1',
      '1:2:3:4::192.0.2.1',
      'ABCD:ef01::',
    ];
    for (const t of good) assert.ok(isIpv6(t), t);
    const badOnes = [
      '',
      '1',
      '1:2:3:4:5:6:7', // 7 groups
      '1:2:3:4:5:6:7:8:9',
      '1:2:3:4:5:6:7::', // RFC 5321: "::" stands for at least two groups
      '1::2::3',
      ':::',
      '12345::',
      'g::',
      '1:2:3:4:5:192.0.2.1', // v4-full needs 6 groups
      '1:2:3:4:5::192.0.2.1', // v4-comp allows 4
      '::256.1.1.1',
      ':1.2.3.4',
      '1:2:3:4:5:6:7:8:1.2.3.4',
    ];
    for (const t of badOnes) assert.ok(!isIpv6(t), t);
  });

  test('normalisation', () => {
    assert.equal(normaliseAddressLiteral('[192.0.2.1]'), '[192.0.2.1]');
    assert.equal(normaliseAddressLiteral('[IPV6:2001:DB8::1]'), '[IPv6:2001:db8::1]');
    assert.equal(normaliseAddressLiteral('[x400:c=us;a=x]'), '[x400:c=us;a=x]');
    assert.equal(normaliseAddressLiteral('192.0.2.1'), null);
    assert.equal(normaliseAddressLiteral('[192.0.2.1'), null);
    assert.equal(normaliseAddressLiteral('[ipv6:1.2.3.4]'), null);
    assert.equal(normaliseAddressLiteral('[tag:a b]'), null);
    assert.equal(normaliseAddressLiteral('[tag:a\\b]'), null);
    assert.equal(normaliseAddressLiteral('[:x]'), null);
  });
});

describe('isDomain', () => {
  test('ASCII LDH labels', () => {
    for (const t of ['a', 'localhost', 'tern.test', 'a-b.c', '1a.b2', 'xn--bcher-kva.test']) {
      assert.ok(isDomain(t, false), t);
    }
    for (const t of ['', '.', 'a.', '.a', 'a..b', '-a', 'a-', 'a_b', 'a b', 'a/b']) assert.ok(!isDomain(t, false), t);
  });
  test('U-labels only when allowed (RFC 6531 §3.3)', () => {
    assert.ok(isDomain('bücher.test', true));
    assert.ok(!isDomain('bücher.test', false));
  });
  test('underscore only when allowed (EHLO leniency)', () => {
    assert.ok(isDomain('my_pc', false, true));
    assert.ok(isDomain('_dmarc.example', false, true));
    assert.ok(!isDomain('my_pc', false));
  });
  test('limits: 63 per label, 255 in all', () => {
    assert.ok(isDomain(`${'a'.repeat(63)}.test`, false));
    assert.ok(!isDomain(`${'a'.repeat(64)}.test`, false));
    assert.ok(isDomain(`${'a.'.repeat(127)}a`, false)); // 255
    assert.ok(!isDomain(`${'a.'.repeat(128)}a`, false)); // 257
  });
});

describe('parsePath never throws', () => {
  test('random strings', () => {
    const alphabet = '<>@.:,"\\[]ab1-_ \u00e9\u0000';
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
    for (let i = 0; i < 5000; i++) {
      let s = '<';
      const len = next() % 24;
      for (let j = 0; j < len; j++) s += alphabet[next() % alphabet.length];
      for (const rules of [MAIL, RCPT]) {
        const r = parsePath(s, 0, rules);
        if (r.ok) assert.ok(r.end <= s.length);
      }
    }
  });
});
