// The store-backed signer: which From domain signs, exact-domain matching, key cache, rotation, refresh.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { runDkimCommand } from '../../../src/dkim/control.ts';
import type { KeyInfo } from '../../../src/dkim/repo.ts';
import { DnsLookupError } from '../../../src/dkim/resolver-adapter.ts';
import { createDkimSigner, fromDomain, hasBareLineEnd } from '../../../src/dkim/signer.ts';
import { verifyDkim } from '../../../src/dkim/verify.ts';
import { createLogger } from '../../../src/lib/log.ts';
import { openTestStore, type TestStore } from '../../support/db.ts';
import { minimalEnvelope } from '../../store/fixtures.ts';

const HEADERS = ['From', 'To', 'Subject', 'Date', 'Message-ID'];
const msg = (from: string, extra = '') => Buffer.from(`From: ${from}\r\n${extra}To: b@example.org\r\nSubject: hi\r\n\r\nbody\r\n`, 'latin1');
const sigOf = (m: Uint8Array) => /^DKIM-Signature:[^]*?s=([^;]+);/.exec(Buffer.from(m).toString('latin1'))?.[1] ?? null;

describe('fromDomain', () => {
  const cases: Array<[string, string | null]> = [
    ['a@example.com', 'example.com'],
    ['"Alice" <alice@Example.COM>', 'example.com'],
    ['"x@evil.example" <alice@example.com>', 'example.com'], // an "@" in a quoted display name is no address
    ['Alice (from x@evil.example) <alice@example.com>', 'example.com'], // nor one in a comment
    ['a@example.com, b@example.com', 'example.com'],
    ['a@example.com, b@example.org', null], // RFC 7489 §6.6.1: several domains, no DMARC identity
    ['undisclosed-recipients:;', null],
    ['a@[192.0.2.1]', null],
    ['bücher@bücher.example', 'xn--bcher-kva.example'],
  ];
  for (const [from, want] of cases) test(from, () => assert.equal(fromDomain(msg(from)), want));
  test('no From, or two From fields', () => {
    assert.equal(fromDomain(Buffer.from('Subject: x\r\n\r\n')), null);
    assert.equal(fromDomain(msg('a@example.com', 'From: b@example.com\r\n')), null);
  });
  test('a folded From', () => assert.equal(fromDomain(msg('"Alice"\r\n <alice@example.com>')), 'example.com'));
});

test('hasBareLineEnd', () => {
  const cases: Array<[string, boolean]> = [
    ['a\r\nb\r\n', false],
    ['', false],
    ['a\nb', true],
    ['\nb', true],
    ['a\rb', true],
    ['a\r', true],
    ['a\r\r\n', true],
  ];
  for (const [text, want] of cases) assert.equal(hasBareLineEnd(Buffer.from(text)), want, JSON.stringify(text));
});

describe('createDkimSigner', () => {
  let t: TestStore;
  const logs: string[] = [];
  const log = createLogger({ format: 'json', level: 'debug', write: (line) => logs.push(line) });
  const run = (req: Record<string, unknown>) => runDkimCommand(t.store, req) as Promise<KeyInfo>;
  const envelope = minimalEnvelope();

  before(async () => {
    t = await openTestStore();
  });
  after(async () => t?.cleanup());

  test('no key: the very same bytes back', async () => {
    const signer = createDkimSigner({ store: t.store, signedHeaders: HEADERS, log });
    const m = msg('a@example.com');
    assert.equal(await signer.sign(envelope, m), m);
  });

  test('an active key signs its exact domain only; the signature verifies', async () => {
    const k = await run({ cmd: 'dkim.generate', domain: 'example.com', selector: 'one', algorithm: 'ed25519', activate: true });
    await run({ cmd: 'dkim.generate', domain: 'example.com', selector: 'two', algorithm: 'rsa' }); // ready, not active
    const signer = createDkimSigner({ store: t.store, signedHeaders: HEADERS, log });
    const signed = await signer.sign(envelope, msg('"A" <a@EXAMPLE.com>'));
    assert.equal(sigOf(signed), 'one');
    const resolver = async (name: string) => {
      if (name === k.record.name) return [k.record.strings];
      throw new DnsLookupError('no', 'ENOTFOUND', name);
    };
    assert.equal((await verifyDkim(signed, resolver))[0].result, 'pass');
    const sub = msg('a@sub.example.com');
    assert.equal(await signer.sign(envelope, sub), sub); // no parent-domain keys
    const other = msg('a@example.net');
    assert.equal(await signer.sign(envelope, other), other);
    // Not in wire form: a signature would not survive the normalisation on the way, so none is made.
    const lf = Buffer.from('From: a@example.com\nSubject: lf\n\nbody\n');
    assert.equal(await signer.sign(envelope, lf), lf);
    const bareInBody = Buffer.from('From: a@example.com\r\n\r\nline\nline\r\n');
    assert.equal(await signer.sign(envelope, bareInBody), bareInBody);
    assert.ok(logs.some((l) => l.includes('dkim-not-signed')));
  });

  test('rotation: activate another selector, invalidate, new mail uses it', async () => {
    const signer = createDkimSigner({ store: t.store, signedHeaders: HEADERS, log });
    assert.equal(sigOf(await signer.sign(envelope, msg('a@example.com'))), 'one');
    await run({ cmd: 'dkim.activate', domain: 'example.com', selector: 'two' });
    // Cached until invalidated (or the refresh interval passes).
    assert.equal(sigOf(await signer.sign(envelope, msg('a@example.com'))), 'one');
    signer.invalidate();
    const signed = await signer.sign(envelope, msg('a@example.com'));
    assert.equal(sigOf(signed), 'two');
    assert.match(Buffer.from(signed).toString('latin1'), /a=rsa-sha256/);
  });

  test('periodic refresh picks up a change made elsewhere (another node, the CLI offline)', async () => {
    const signer = createDkimSigner({ store: t.store, signedHeaders: HEADERS, log, refreshMs: 0 });
    assert.equal(sigOf(await signer.sign(envelope, msg('a@example.com'))), 'two');
    await run({ cmd: 'dkim.retire', domain: 'example.com', selector: 'two' });
    const m = msg('a@example.com');
    assert.equal(await signer.sign(envelope, m), m); // retired: unsigned
  });

  test('the database gone after a first load: keeps signing with the keys it has', async () => {
    await run({ cmd: 'dkim.activate', domain: 'example.com', selector: 'one' });
    // The store as the signer sees it, with a switch that makes every query fail as a lost database does.
    let down = false;
    const real = t.store;
    const flaky = { ...real, get db() {
      if (down) throw new Error('database unavailable');
      return real.db;
    } };
    const signer = createDkimSigner({ store: flaky, signedHeaders: HEADERS, log, refreshMs: 0 });
    assert.equal(sigOf(await signer.sign(envelope, msg('a@example.com'))), 'one');
    down = true;
    assert.equal(sigOf(await signer.sign(envelope, msg('a@example.com'))), 'one');
    assert.ok(logs.some((l) => l.includes('dkim-keys-reload-failed')));
    // A signer that never loaded cannot know whether the domain has a key: it rejects (the caller says 451).
    const cold = createDkimSigner({ store: flaky, signedHeaders: HEADERS, log });
    await assert.rejects(cold.sign(envelope, msg('a@example.com')), /cannot load DKIM keys/);
  });
});
