// User management requests: validation of what arrives over the control socket, and the handlers on a real store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createUserControl, parseUserRequest, USER_COMMANDS } from '../../../src/auth/control.ts';
import { DUMMY_HASH } from '../../../src/auth/password.ts';
import { openTestStore } from '../../support/db.ts';

const H = DUMMY_HASH; // any valid PHC string will do here

test('parseUserRequest: canonical values out, every bad field named', () => {
  assert.deepEqual(parseUserRequest({ cmd: 'user.add', name: 'Ann@Example.com', passwordHash: H, addresses: ['B@Example.com', 'b@example.com'], domains: ['Example.ORG'], any: true }), {
    ok: true,
    value: { cmd: 'user.add', name: 'ann@example.com', passwordHash: H, addresses: ['b@example.com'], domains: ['example.org'], any: true },
  });
  assert.deepEqual(parseUserRequest({ cmd: 'user.add', name: 'app', passwordHash: H }), {
    ok: true,
    value: { cmd: 'user.add', name: 'app', passwordHash: H, addresses: [], domains: [], any: false },
  });
  assert.deepEqual(parseUserRequest({ cmd: 'user.list' }), { ok: true, value: { cmd: 'user.list' } });
  assert.deepEqual(parseUserRequest({ cmd: 'user.del', name: 'APP' }), { ok: true, value: { cmd: 'user.del', name: 'app' } });
  assert.deepEqual(parseUserRequest({ cmd: 'user.passwd', name: 'app', passwordHash: H }), { ok: true, value: { cmd: 'user.passwd', name: 'app', passwordHash: H } });

  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [{ cmd: 'user.frob', name: 'app' }, /unknown user command/],
    [{ cmd: 'user.del' }, /name is missing/],
    [{ cmd: 'user.del', name: 'two words' }, /may only contain/],
    [{ cmd: 'user.add', name: 'app', passwordHash: 'secret123' }, /not a valid \$scrypt\$ hash/], // a password, not a hash
    [{ cmd: 'user.passwd', name: 'app' }, /passwordHash/],
    [{ cmd: 'user.add', name: 'app', passwordHash: H, addresses: 'a@b.example' }, /addresses must be a list/],
    [{ cmd: 'user.add', name: 'app', passwordHash: H, addresses: ['nope'] }, /not an address/],
    [{ cmd: 'user.add', name: 'app', passwordHash: H, domains: ['no way'] }, /not a domain/],
    [{ cmd: 'user.add', name: 'app', passwordHash: H, any: 'yes' }, /any must be/],
  ];
  for (const [req, why] of bad) {
    const r = parseUserRequest(req);
    assert.ok(!r.ok, JSON.stringify(req));
    assert.match(r.error, why);
  }
});

test('createUserControl: every command, kinds of failure in the message, invalidate on change', { timeout: 60_000 }, async () => {
  const t = await openTestStore({ poolSize: 2 });
  try {
    const invalidated: string[] = [];
    const h = createUserControl({ store: t.store, invalidate: (n) => invalidated.push(n) });
    assert.deepEqual(Object.keys(h).sort(), [...USER_COMMANDS].sort());
    const added = (await h['user.add']({ cmd: 'user.add', name: 'Ann@Example.com', passwordHash: H, domains: ['example.org'] })) as { name: string; domains: string[] };
    assert.equal(added.name, 'ann@example.com');
    assert.ok(!('passwordHash' in added));
    await assert.rejects(h['user.add']({ cmd: 'user.add', name: 'ann@example.com', passwordHash: H }), /^Error: exists: user ann@example.com already exists$/);
    await assert.rejects(h['user.add']({ cmd: 'user.add', name: 'x y', passwordHash: H }), /^Error: invalid: /);
    assert.deepEqual(await h['user.passwd']({ cmd: 'user.passwd', name: 'ann@example.com', passwordHash: H }), { name: 'ann@example.com' });
    await assert.rejects(h['user.passwd']({ cmd: 'user.passwd', name: 'bob', passwordHash: H }), /^Error: unknown: no user bob$/);
    await h['user.disable']({ cmd: 'user.disable', name: 'ann@example.com' });
    const list = (await h['user.list']({ cmd: 'user.list' })) as Array<{ name: string; disabled: boolean }>;
    assert.deepEqual(list.map((u) => [u.name, u.disabled]), [['ann@example.com', true]]);
    await h['user.enable']({ cmd: 'user.enable', name: 'ann@example.com' });
    await h['user.del']({ cmd: 'user.del', name: 'ann@example.com' });
    assert.deepEqual(await h['user.list']({ cmd: 'user.list' }), []);
    assert.ok(invalidated.filter((n) => n === 'ann@example.com').length >= 5);
  } finally {
    await t.cleanup();
  }
});
