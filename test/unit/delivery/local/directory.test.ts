// The local directory: who exists at RCPT time and what each address expands to, as tables.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DomainConfig } from '../../../../src/config/schema.ts';
import {
  type BrokenTarget,
  createDirectory,
  DEFAULT_DOMAIN,
  type Expansion,
  MAX_ALIAS_DEPTH,
  MAX_EXPANSION,
} from '../../../../src/delivery/local/directory.ts';

const domain = (over: Partial<DomainConfig>): DomainConfig => ({ ...DEFAULT_DOMAIN, ...over });

const dir = createDirectory(
  {
    'Example.COM': domain({
      recipients: ['alice', 'Bob', 'carol', 'dave+lists'],
      aliases: {
        Sales: ['alice', 'bob@example.com'],
        team: ['sales', 'carol', 'partner@Remote.Example', 'Partner@remote.example'],
        self: ['self', 'backup@remote.example'],
        loop1: ['loop2'],
        loop2: ['loop1', 'carol'],
        cross: ['info@other.test', 'zed@other.test'],
        broken: ['nobody', 'not an address@', 'carol'],
        onlybroken: ['nobody'],
        'abuse': ['postmaster'],
      },
    }),
    'other.test': domain({ recipients: ['info'], catchAll: 'info' }),
    'open.test': domain({}),
    'catch.test': domain({ catchAll: 'admin@example.com', aliases: { sales: ['alice@example.com'] } }),
  },
  ['example.com', 'bare.test'],
);

const found = (local: string[], remote: string[] = [], expanded = true, broken: BrokenTarget[] = []): Expansion => ({
  unknown: false,
  local,
  remote,
  broken,
  expanded,
});

test('accepts: recipient lists, aliases, subaddresses, postmaster and catch-alls', () => {
  const table: Array<[string, string, boolean]> = [
    ['alice', 'example.com', true],
    ['ALICE', 'Example.Com', true], // local parts fold for our own domains
    ['bob', 'example.com', true], // listed as "Bob"
    ['sales', 'example.com', true], // alias, listed as "Sales"
    ['alice+news', 'example.com', true], // subaddress of a recipient
    ['sales+q3', 'example.com', true], // subaddress of an alias
    ['dave+lists', 'example.com', true], // listed with its +tag
    ['dave', 'example.com', false], // only dave+lists exists
    ['dave+other', 'example.com', false],
    ['+alice', 'example.com', false], // empty base: not a subaddress
    ['mallory', 'example.com', false],
    ['postmaster', 'example.com', true], // RFC 5321 §4.5.1, whatever the list says
    ['PostMaster', 'example.com', true],
    ['anyone', 'other.test', true], // catch-all
    ['anyone', 'open.test', true], // no list: everyone
    ['anyone', 'bare.test', true], // local domain without settings
    ['anyone', 'elsewhere.example', true], // not ours to refuse
  ];
  for (const [local, d, want] of table) assert.equal(dir.accepts(local, d), want, `${local}@${d}`);
});

test('expand: mailboxes, aliases, subaddresses, catch-alls', () => {
  const table: Array<[string, unknown]> = [
    ['alice@example.com', found(['alice@example.com'], [], false)],
    ['Alice@EXAMPLE.com', found(['alice@example.com'], [], false)],
    ['alice+news@example.com', found(['alice@example.com'], [], false)], // tag dropped: the owner's mailbox
    ['dave+lists@example.com', found(['dave+lists@example.com'], [], false)],
    ['sales@example.com', found(['alice@example.com', 'bob@example.com'])],
    ['sales+q3@example.com', found(['alice@example.com', 'bob@example.com'])],
    // nested alias, remote targets keep their local part's case and are listed once per spelling
    [
      'team@example.com',
      found(['alice@example.com', 'bob@example.com', 'carol@example.com'], [
        'partner@remote.example',
        'Partner@remote.example',
      ]),
    ],
    // "user: user, user@backup": the alias names its own mailbox
    ['self@example.com', found(['self@example.com'], ['backup@remote.example'])],
    // a loop ends at the address already being expanded
    ['loop1@example.com', found(['loop1@example.com', 'carol@example.com'])],
    // targets in another local domain resolve there (info is listed; zed falls to that domain's catch-all)
    ['cross@example.com', found(['info@other.test'])],
    ['x@other.test', found(['info@other.test'])],
    ['info@other.test', found(['info@other.test'], [], false)],
    ['anyone+tag@open.test', found(['anyone@open.test'], [], false)],
    ['anyone@bare.test', found(['anyone@bare.test'], [], false)],
    ['abuse@example.com', found(['postmaster@example.com'])],
    ['postmaster@example.com', found(['postmaster@example.com'], [], false)],
    ['Postmaster', found(['postmaster@example.com'], [], false)], // RFC 5321 §4.1.1.3: the first local domain
    ['sales@catch.test', found(['alice@example.com'])],
    ['mallory@example.com', { unknown: true }],
    ['dave@example.com', { unknown: true }],
    ['someone@elsewhere.example', { unknown: true }], // not local: the engine routed it wrongly
    ['bad address@example.com', { unknown: true }],
  ];
  for (const [address, want] of table) {
    assert.deepEqual(dir.expand(address), want, address);
  }
});

test('expand: a catch-all pointing at an unknown address in a listed domain is broken, not a mailbox', () => {
  assert.deepEqual(
    dir.expand('whoever@catch.test'),
    found([], [], true, [{ target: 'admin@example.com', reason: 'unknown' }]),
  );
});

test('expand: unusable alias targets are reported beside the usable ones', () => {
  assert.deepEqual(
    dir.expand('broken@example.com'),
    found(['carol@example.com'], [], true, [
      { target: 'nobody@example.com', reason: 'unknown' },
      { target: 'not an address@', reason: 'invalid' },
    ]),
  );
  assert.deepEqual(
    dir.expand('onlybroken@example.com'),
    found([], [], true, [{ target: 'nobody@example.com', reason: 'unknown' }]),
  );
});

test('expand: alias chains deeper than MAX_ALIAS_DEPTH stop', () => {
  const aliases: Record<string, string[]> = {};
  for (let i = 0; i < MAX_ALIAS_DEPTH + 5; i++) aliases[`a${i}`] = [`a${i + 1}`];
  const d = createDirectory({ 'deep.test': domain({ recipients: ['x'], aliases }) }, []);
  const r = d.expand('a0@deep.test');
  assert.equal(r.unknown, false);
  if (r.unknown) return;
  assert.deepEqual(r.local, []);
  assert.deepEqual(r.broken, [{ target: `a${MAX_ALIAS_DEPTH}@deep.test`, reason: 'depth' }]);
});

test('expand: fan-out is capped at MAX_EXPANSION targets', () => {
  const members = Array.from({ length: MAX_EXPANSION + 3 }, (_, i) => `m${i}@remote.example`);
  const d = createDirectory({ 'big.test': domain({ aliases: { all: members } }) }, []);
  const r = d.expand('all@big.test');
  assert.equal(r.unknown, false);
  if (r.unknown) return;
  assert.equal(r.remote.length, MAX_EXPANSION);
  assert.deepEqual(r.broken.map((b) => b.reason), ['limit', 'limit', 'limit']);
});

test('config: [domains] entries, bare local domains, and others', () => {
  assert.equal(dir.config('example.com')?.recipients.length, 4);
  assert.equal(dir.config('EXAMPLE.com')?.delivery, 'mailbox');
  assert.equal(dir.config('bare.test'), DEFAULT_DOMAIN);
  assert.equal(dir.config('elsewhere.example'), null);
  assert.equal(dir.isLocal('Other.Test'), true);
  assert.equal(dir.isLocal('remote.example'), false);
});

test('a catch-all that names an alias of its own domain follows it; without one nothing is known', () => {
  const d = createDirectory({
    'c.test': domain({ recipients: ['me'], catchAll: 'all', aliases: { all: ['me', 'me@else.example'] } }),
  }, []);
  assert.deepEqual(d.expand('zz@c.test'), found(['me@c.test'], ['me@else.example']));
  const none = createDirectory({}, []);
  assert.deepEqual(none.expand('Postmaster'), { unknown: true });
  assert.equal(none.accepts('x', 'any.test'), true);
});
