// User names, addresses, the identity a user row grants, and the repository (on PGlite or PostgreSQL).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalName, createUserRepo, identityOf, validateAddress, validateDomain, validateUserName } from '../../../src/auth/users.ts';
import { openTestStore } from '../../support/db.ts';

test('names are lower-cased and NFC; addresses or plain names only', () => {
  assert.equal(canonicalName('Ann@Example.COM'), 'ann@example.com');
  assert.equal(canonicalName('Jo\u0308rg'), 'j\u00f6rg');
  const ok: Array<[string, string]> = [
    ['Ann@Example.com', 'ann@example.com'],
    ['billing-app', 'billing-app'],
    ['news.letter_2+x', 'news.letter_2+x'],
    ['j\u00f6rg', 'j\u00f6rg'],
  ];
  for (const [raw, want] of ok) assert.deepEqual(validateUserName(raw), { ok: true, value: want }, raw);
  for (const raw of ['', 'two words', 'tab\there', 'new\nline', 'a@', '@example.com', 'a@b@c', '<a@example.com>', 'x'.repeat(256)]) {
    assert.equal(validateUserName(raw).ok, false, JSON.stringify(raw));
  }
});

test('addresses and domains are validated and lower-cased', () => {
  assert.deepEqual(validateAddress(' Bob@Example.ORG '), { ok: true, value: 'bob@example.org' });
  assert.equal(validateAddress('bob').ok, false);
  assert.equal(validateAddress('<bob@example.org>').ok, false);
  assert.equal(validateAddress('@a.example:bob@example.org').ok, false); // source route
  assert.equal(validateAddress('bob@[192.0.2.1]').ok, false); // address literal
  assert.deepEqual(validateDomain('Example.ORG.'), { ok: true, value: 'example.org' });
  assert.equal(validateDomain('not a domain').ok, false);
  assert.equal(validateDomain('-bad.example').ok, false);
});

test('identityOf: the own address, aliases, domains and any', () => {
  assert.deepEqual(identityOf({ name: 'ann@example.com', addresses: ['a@example.net', 'ann@example.com'], domains: ['example.org'], any: false }), {
    user: 'ann@example.com',
    addresses: ['ann@example.com', 'a@example.net'],
    domains: ['example.org'],
    any: false,
  });
  // A plain name is not an address: such a user sends only as what it was given.
  assert.deepEqual(identityOf({ name: 'billing-app', addresses: [], domains: [], any: true }), { user: 'billing-app', addresses: [], domains: [], any: true });
});

test('repository: add, lookup, duplicate, passwd, CAS rehash, disable, list, remove', { timeout: 60_000 }, async () => {
  const t = await openTestStore({ poolSize: 2 });
  try {
    const repo = createUserRepo(t.store);
    const added = await repo.add({ name: 'ann@example.com', passwordHash: 'h1', addresses: ['a@example.net'], domains: ['example.org'] });
    assert.ok(added.ok);
    assert.deepEqual([added.user.name, added.user.any, added.user.disabled], ['ann@example.com', false, false]);
    assert.ok(added.user.createdAt instanceof Date);
    assert.deepEqual(await repo.add({ name: 'ann@example.com', passwordHash: 'h2' }), { ok: false, error: 'exists' });
    await repo.add({ name: 'app', passwordHash: 'h3', any: true });

    const found = await repo.lookup('ann@example.com');
    assert.equal(found?.passwordHash, 'h1');
    assert.deepEqual(found?.addresses, ['a@example.net']);
    assert.equal(await repo.lookup('nobody'), null);

    assert.equal(await repo.setPassword('ann@example.com', 'h4'), true);
    assert.equal(await repo.setPassword('nobody', 'h4'), false);
    // Rehash-on-login loses against a password change made in between.
    assert.equal(await repo.replaceHash('ann@example.com', 'h1', 'h5'), false);
    assert.equal(await repo.replaceHash('ann@example.com', 'h4', 'h5'), true);
    assert.equal((await repo.lookup('ann@example.com'))?.passwordHash, 'h5');

    assert.equal(await repo.setDisabled('app', true), true);
    const list = await repo.list();
    assert.deepEqual(list.map((u) => [u.name, u.any, u.disabled]), [['ann@example.com', false, false], ['app', true, true]]);
    assert.ok(!('passwordHash' in list[0])); // listings never carry the hash

    assert.equal(await repo.remove('app'), true);
    assert.equal(await repo.remove('app'), false);
    assert.deepEqual((await repo.list()).map((u) => u.name), ['ann@example.com']);
  } finally {
    await t.cleanup();
  }
});
