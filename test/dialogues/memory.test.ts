// Plays every test/dialogues/*.smtp transcript against an in-memory Session, three ways: consecutive sends
// as one chunk (a pipelining client), one byte per receive(), and seeded random splits.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { Session } from '../../src/smtp/session.ts';
import type { Effect, Envelope } from '../../src/smtp/types.ts';
import { testConnection, testSessionDeps, testSessionOptions } from '../support/session-options.ts';
import { rng } from '../unit/smtp/harness.ts';
import { FakeAuthenticator, policyVerdict } from './fake-hosts.ts';
import { type Dialogue, parseDialogue } from './format.ts';

const DIR = fileURLToPath(new URL('.', import.meta.url));
const FAKE_TLS = { protocol: 'TLSv1.3', cipher: 'TEST' };

type Split = 'batched' | 'bytes' | 'random';

export interface Played {
  stored: Array<{ envelope: Envelope; message: Uint8Array }>;
  effects: Effect[];
}

/** Plays one dialogue; throws an assertion error naming the transcript line on the first mismatch. */
export function play(d: Dialogue, split: Split, seed = 1): Played {
  const conn = testConnection({ trusted: d.trusted, tls: d.tls ? FAKE_TLS : null, listener: d.listener });
  const session = new Session(conn, testSessionOptions(d.options), testSessionDeps());
  const auth = new FakeAuthenticator(d.users);
  let greeted = false;
  const random = rng(seed);
  const pending: string[] = [];
  let partial = '';
  let closed = false;
  let tlsRequested = false;
  const played: Played = { stored: [], effects: [] };

  const apply = (effects: Effect[]): void => {
    for (const e of effects) {
      played.effects.push(e);
      if (e.kind === 'send') {
        assert.ok(!closed, 'send after close');
        partial += e.data;
        const parts = partial.split('\r\n');
        partial = parts.pop()!;
        pending.push(...parts);
      } else if (e.kind === 'enqueue') {
        if (d.enqueueReject !== null) {
          apply(session.enqueued({ ok: false, reason: 'scripted', reply: d.enqueueReject }));
        } else {
          played.stored.push({ envelope: e.envelope, message: e.message });
          apply(session.enqueued({ ok: true }));
        }
      } else if (e.kind === 'auth') {
        apply(session.authAnswer(auth.step('memory', e.mechanism, e.response)));
      } else if (e.kind === 'policy') {
        apply(session.policyAnswer(policyVerdict(d.policies, e.query)));
      } else if (e.kind === 'starttls') {
        tlsRequested = true;
      } else if (e.kind === 'close') {
        closed = true;
      }
    }
  };

  const feed = (data: Uint8Array): void => {
    if (split === 'batched') return apply(session.receive(data));
    let at = 0;
    while (at < data.length) {
      const n = split === 'bytes' ? 1 : 1 + Math.floor(random() * 64);
      apply(session.receive(data.slice(at, at + n)));
      at += n;
    }
  };

  // With a greeting delay the 220 comes when the client first waits for a reply; a send before that is early.
  const greet = (): void => {
    if (!greeted) apply(session.greet());
    greeted = true;
  };
  if (!d.greetDelay) greet();
  const steps = d.steps;
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i];
    const where = `transcript line ${step.line}`;
    if (step.kind !== 'send') greet();
    else greeted = true; // an early talker: the host never greets after the session closed
    switch (step.kind) {
      case 'send': {
        // Consecutive sends go out together, as a pipelining client writes them.
        const chunks = [step.bytes];
        while (steps[i + 1]?.kind === 'send') chunks.push((steps[++i] as { bytes: Uint8Array }).bytes);
        const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
        let at = 0;
        for (const c of chunks) {
          all.set(c, at);
          at += c.length;
        }
        feed(all);
        break;
      }
      case 'expect': {
        assert.equal(partial, '', `${where}: reply without CRLF: ${JSON.stringify(partial)}`);
        const got = pending.shift();
        assert.equal(got, step.text, `${where}: expected ${JSON.stringify(step.text)}, got ${JSON.stringify(got)}`);
        break;
      }
      case 'match': {
        const got = pending.shift();
        assert.ok(
          got !== undefined && step.pattern.test(got),
          `${where}: expected /${step.pattern.source}/, got ${JSON.stringify(got)}`,
        );
        break;
      }
      case 'close':
        assert.deepEqual(pending, [], `${where}: unexpected replies before close`);
        assert.ok(closed && session.closed, `${where}: expected the session to be closed`);
        break;
      case 'starttls':
        assert.ok(tlsRequested, `${where}: no starttls effect to answer`);
        tlsRequested = false;
        apply(session.tlsStarted(FAKE_TLS));
        break;
    }
  }
  assert.deepEqual(pending, [], 'unexpected replies at the end of the transcript');
  assert.equal(partial, '', 'incomplete reply at the end of the transcript');
  return played;
}

function seedOf(name: string): number {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
  return h >>> 0;
}

const files = readdirSync(DIR)
  .filter((f) => f.endsWith('.smtp'))
  .sort();

describe('dialogues (in memory)', () => {
  test('there are transcripts', () => {
    assert.ok(files.length >= 40, `only ${files.length} transcripts`);
  });
  for (const file of files) {
    const text = readFileSync(join(DIR, file), 'utf8');
    test(file, () => {
      const d = parseDialogue(text);
      const batched = play(d, 'batched');
      // The same transcript must pass however the stream is split (RFC 2920 servers cannot rely on chunking).
      const bytewise = play(d, 'bytes');
      const random = play(d, 'random', seedOf(file));
      // And store the same messages.
      const messages = (p: Played) => p.stored.map((s) => [s.envelope, s.message]);
      assert.deepEqual(messages(bytewise), messages(batched));
      assert.deepEqual(messages(random), messages(batched));
    });
  }
});
