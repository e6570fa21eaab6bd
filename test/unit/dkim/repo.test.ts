// Key management on the store (PGlite, or PostgreSQL with TERN_TEST_DATABASE_URL): the dkim.* commands.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DkimCommandError, dkimControlHandlers, runDkimCommand } from '../../../src/dkim/control.ts';
import type { KeyInfo } from '../../../src/dkim/repo.ts';
import { openTestStore, type TestStore } from '../../support/db.ts';

describe('dkim.* commands', () => {
  let t: TestStore;
  const run = (req: Record<string, unknown>) => runDkimCommand(t.store, req) as Promise<KeyInfo & KeyInfo[]>;

  before(async () => {
    t = await openTestStore();
  });
  after(async () => t?.cleanup());

  test('generate: RSA by default, not active, default selector tern<yyyymm>, record to publish', async () => {
    const k = await run({ cmd: 'dkim.generate', domain: 'Example.COM' });
    assert.equal(k.domain, 'example.com');
    assert.match(k.selector, /^tern\d{6}$/);
    assert.equal(k.algorithm, 'rsa-sha256');
    assert.equal(k.active, false);
    assert.equal(k.retiredAt, null);
    assert.equal(k.record.name, `${k.selector}._domainkey.example.com`);
    assert.match(k.record.value, /^v=DKIM1; k=rsa; p=[A-Za-z0-9+/=]+$/);
    assert.equal('privateKey' in k, false); // never leaves the store through the commands
    const again = await run({ cmd: 'dkim.generate', domain: 'example.com' });
    assert.equal(again.selector, `${k.selector}b`);
  });

  test('generate with selector, ed25519 and activate', async () => {
    const k = await run({ cmd: 'dkim.generate', domain: 'example.com', selector: 'ed1', algorithm: 'ed25519', activate: true });
    assert.equal(k.algorithm, 'ed25519-sha256');
    assert.equal(k.active, true);
    assert.match(k.record.value, /^v=DKIM1; k=ed25519; p=/);
  });

  test('bad requests are DkimCommandErrors with a message for the operator', async () => {
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ cmd: 'dkim.generate', domain: 'example.com', selector: 'ed1' }, /already has a key with selector ed1/],
      [{ cmd: 'dkim.generate', domain: 'not a domain' }, /not a domain name/],
      [{ cmd: 'dkim.generate', domain: 'example.com', selector: 'bad_selector' }, /not a valid selector/],
      [{ cmd: 'dkim.generate', domain: 'example.com', algorithm: 'dsa' }, /unknown algorithm dsa/],
      [{ cmd: 'dkim.generate' }, /domain is required/],
      [{ cmd: 'dkim.generate', domain: 42 }, /domain must be a string/],
      [{ cmd: 'dkim.activate', domain: 'example.com', selector: 'nope' }, /no key with selector nope/],
      [{ cmd: 'dkim.retire', domain: 'example.org', selector: 'ed1' }, /no key with selector ed1/],
      [{ cmd: 'dkim.dns', domain: 'example.com', selector: 'nope' }, /no key with selector nope/],
      [{ cmd: 'dkim.nonsense' }, /unknown command/],
    ];
    for (const [req, message] of bad) {
      await assert.rejects(run(req), (err: unknown) => err instanceof DkimCommandError && message.test(err.message), JSON.stringify(req));
    }
  });

  test('activate: exactly one active key per domain (rotation)', async () => {
    const keys = await run({ cmd: 'dkim.list', domain: 'example.com' });
    const rsa = keys.find((k) => k.algorithm === 'rsa-sha256');
    assert.ok(rsa);
    const k = await run({ cmd: 'dkim.activate', domain: 'example.com', selector: rsa.selector });
    assert.equal(k.active, true);
    const after = await run({ cmd: 'dkim.list', domain: 'example.com' });
    assert.deepEqual(after.filter((x) => x.active).map((x) => x.selector), [rsa.selector]);
  });

  test('retire: no longer active, still listed with the date; dns leaves it out; re-activating un-retires', async () => {
    const active = (await run({ cmd: 'dkim.list' })).find((k) => k.active);
    assert.ok(active);
    const r = await run({ cmd: 'dkim.retire', domain: 'example.com', selector: active.selector });
    assert.equal(r.active, false);
    assert.ok(r.retiredAt);
    const listed = await run({ cmd: 'dkim.list' });
    assert.ok(listed.some((k) => k.selector === active.selector && k.retiredAt !== null));
    const published = await run({ cmd: 'dkim.dns', domain: 'example.com' });
    assert.ok(!published.some((k) => k.selector === active.selector));
    assert.equal(published.length, listed.length - 1);
    // One selector can always be asked for, retired or not.
    assert.equal((await run({ cmd: 'dkim.dns', domain: 'example.com', selector: active.selector })).length, 1);
    const back = await run({ cmd: 'dkim.activate', domain: 'example.com', selector: active.selector });
    assert.equal(back.retiredAt, null);
    assert.equal(back.active, true);
  });

  test('dns: the active key first', async () => {
    const published = await run({ cmd: 'dkim.dns', domain: 'example.com' });
    assert.equal(published[0].active, true);
  });

  test('list: domains apart, ordered by domain', async () => {
    await run({ cmd: 'dkim.generate', domain: 'aaa.example', selector: 's1', algorithm: 'ed25519' });
    const all = await run({ cmd: 'dkim.list' });
    assert.equal(all[0].domain, 'aaa.example');
    assert.equal((await run({ cmd: 'dkim.list', domain: 'aaa.example' })).length, 1);
  });

  test('control handlers: each command, invalidate called after changes only', async () => {
    let invalidated = 0;
    const h = dkimControlHandlers(t.store, () => invalidated++);
    assert.deepEqual(Object.keys(h).sort(), ['dkim.activate', 'dkim.dns', 'dkim.generate', 'dkim.list', 'dkim.retire']);
    await h['dkim.list']({ cmd: 'dkim.list' });
    await h['dkim.generate']({ cmd: 'dkim.generate', domain: 'h.example', selector: 'a', algorithm: 'ed25519' });
    assert.equal(invalidated, 0); // a key not active changes nothing for the signer
    await h['dkim.activate']({ cmd: 'dkim.activate', domain: 'h.example', selector: 'a' });
    await h['dkim.retire']({ cmd: 'dkim.retire', domain: 'h.example', selector: 'a' });
    assert.equal(invalidated, 2);
  });
});
