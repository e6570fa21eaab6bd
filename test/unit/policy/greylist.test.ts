// Greylisting against the real store (PGlite, or PostgreSQL with TERN_TEST_DATABASE_URL), with a stepped clock.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createGreylist, type Greylist, type GreylistOptions, tripletKey } from '../../../src/policy/greylist.ts';
import type { TestStore } from '../../support/db.ts';
import { lazyStore } from './fixtures.ts';

/** Creating a PGlite database takes a few seconds, more while other files do the same. */
const T = { timeout: 60_000 };

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2026, 10, 28, 12, 0, 0);
const OPTS: GreylistOptions = { delay: 5 * MIN, window: DAY, expiry: 35 * DAY, allowDomains: ['trusted.example'] };

describe('createGreylist', () => {
  const stores = lazyStore();
  let db: TestStore;
  let gl: Greylist;
  /** Every test starts from an empty table. */
  const fresh = async () => {
    db = await stores.get();
    await db.store.query('delete from greylist', []);
    gl = createGreylist(db.store, OPTS);
  };
  after(() => stores.cleanup());

  test('an unknown triplet is deferred, an early retry too, a retry after the delay passes', T, async () => {
    await fresh();
    const first = await gl.check('198.51.100.7', 'a@sender.example', 'b@example.net', T0);
    assert.deepEqual(first, { kind: 'deferred', waitedMs: 0, attempts: 1 });
    const early = await gl.check('198.51.100.7', 'a@sender.example', 'b@example.net', T0 + MIN);
    assert.deepEqual(early, { kind: 'deferred', waitedMs: MIN, attempts: 2 });
    const retry = await gl.check('198.51.100.7', 'a@sender.example', 'b@example.net', T0 + 5 * MIN);
    assert.deepEqual(retry, { kind: 'passed', waitedMs: 5 * MIN });
  });

  test('a passed client is known for any envelope (RFC 6647 §5 (1)) until expiry without traffic', T, async () => {
    await fresh();
    await gl.check('198.51.100.7', 'a@sender.example', 'b@example.net', T0);
    await gl.check('198.51.100.7', 'a@sender.example', 'b@example.net', T0 + 10 * MIN);
    assert.deepEqual(await gl.check('198.51.100.7', 'other@elsewhere.example', 'c@example.net', T0 + 11 * MIN), { kind: 'known' });
    // Traffic keeps it known past the original expiry.
    assert.equal((await gl.check('198.51.100.7', 'x@y.example', 'c@example.net', T0 + 30 * DAY)).kind, 'known');
    assert.equal((await gl.check('198.51.100.7', 'x@y.example', 'c@example.net', T0 + 60 * DAY)).kind, 'known');
    // Silence longer than the expiry: greylisted again.
    assert.equal((await gl.check('198.51.100.7', 'x@y.example', 'c@example.net', T0 + 100 * DAY)).kind, 'deferred');
  });

  test('a retry after the window is a new first attempt (RFC 6647 §5 (2))', T, async () => {
    await fresh();
    await gl.check('198.51.100.7', 'a@sender.example', 'b@example.net', T0);
    const late = await gl.check('198.51.100.7', 'a@sender.example', 'b@example.net', T0 + DAY + MIN);
    assert.deepEqual(late, { kind: 'deferred', waitedMs: 0, attempts: 1 });
    assert.equal((await gl.check('198.51.100.7', 'a@sender.example', 'b@example.net', T0 + DAY + 7 * MIN)).kind, 'passed');
  });

  test('the triplet is keyed by /24, lower-cased addresses; a neighbour of the cluster retries successfully', T, async () => {
    await fresh();
    await gl.check('198.51.100.7', 'A@Sender.Example', 'B@example.net', T0);
    assert.equal((await gl.check('198.51.100.8', 'a@sender.example', 'b@EXAMPLE.net', T0 + 6 * MIN)).kind, 'passed');
    assert.equal(tripletKey('198.51.100.7', 'A@X', 'B@Y'), '198.51.100.0/24|a@x|b@y');
  });

  test('a different sender, recipient or network is another triplet', T, async () => {
    await fresh();
    await gl.check('198.51.100.7', 'a@sender.example', 'b@example.net', T0);
    const t = T0 + 6 * MIN;
    assert.equal((await gl.check('198.51.100.7', 'z@sender.example', 'b@example.net', t)).kind, 'deferred');
    assert.equal((await gl.check('198.51.100.7', 'a@sender.example', 'z@example.net', t)).kind, 'deferred');
    assert.equal((await gl.check('198.51.101.7', 'a@sender.example', 'b@example.net', t)).kind, 'deferred');
  });

  test('the null sender is a sender of its own', T, async () => {
    await fresh();
    assert.equal((await gl.check('198.51.100.7', '', 'b@example.net', T0)).kind, 'deferred');
    assert.equal((await gl.check('198.51.100.7', '', 'b@example.net', T0 + 6 * MIN)).kind, 'passed');
  });

  test('allow-listed sender domains (and their subdomains) pass at once, nothing recorded', T, async () => {
    await fresh();
    assert.deepEqual(await gl.check('198.51.100.7', 'a@trusted.example', 'b@example.net', T0), { kind: 'allowed' });
    assert.deepEqual(await gl.check('198.51.100.7', 'a@mail.TRUSTED.example', 'b@example.net', T0), { kind: 'allowed' });
    assert.equal((await gl.check('198.51.100.7', 'a@nottrusted.example', 'b@example.net', T0)).kind, 'deferred');
    const rows = await db.store.query<{ key: string }>('select key from greylist', []);
    assert.equal(rows.length, 1);
  });

  test('two nodes racing on the same first attempt: one row, both deferred', T, async () => {
    await fresh();
    const other = createGreylist(db.store, OPTS);
    const out = await Promise.all([
      gl.check('198.51.100.7', 'a@sender.example', 'b@example.net', T0),
      other.check('198.51.100.7', 'a@sender.example', 'b@example.net', T0),
    ]);
    assert.deepEqual(out.map((o) => o.kind), ['deferred', 'deferred']);
    const rows = await db.store.query<{ attempts: number }>('select attempts from greylist', []);
    assert.equal(rows.length, 1);
    assert.equal(Number(rows[0].attempts), 2);
  });

  test('cleanup removes unpassed triplets past the window and passed ones past the expiry', T, async () => {
    await fresh();
    await gl.check('198.51.100.7', 'a@one.example', 'b@example.net', T0); // never retried
    await gl.check('203.0.113.5', 'a@two.example', 'b@example.net', T0);
    await gl.check('203.0.113.5', 'a@two.example', 'b@example.net', T0 + 10 * MIN); // passed: triplet + client rows
    assert.equal(await gl.cleanup(T0 + 2 * DAY), 1);
    assert.equal(await gl.cleanup(T0 + 10 * DAY), 0);
    assert.equal(await gl.cleanup(T0 + 40 * DAY), 2);
    const rows = await db.store.query<{ key: string }>('select key from greylist', []);
    assert.equal(rows.length, 0);
  });
});
