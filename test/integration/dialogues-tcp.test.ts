// Plays every test/dialogues/*.smtp transcript over real TCP (and real TLS) against the server, its
// connection loop and a real queue: the same spec the in-memory runner checks, through the whole stack.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../../src/lib/log.ts';
import { createIntake, type Intake } from '../../src/queue/intake.ts';
import { MessageRefused } from '../../src/queue/refused.ts';
import { loadOrCreateCertificate } from '../../src/server/certificate.ts';
import { InflightBudget } from '../../src/server/limits.ts';
import { SmtpServer } from '../../src/server/smtp-server.ts';
import { newQueueId } from '../../src/smtp/queue-id.ts';
import type { ListenerKind } from '../../src/smtp/types.ts';
import { FakeAuthenticator, policyVerdict } from '../dialogues/fake-hosts.ts';
import { type Dialogue, parseDialogue } from '../dialogues/format.ts';
import { openTestStore, type TestStore } from '../support/db.ts';
import { testSessionOptions } from '../support/session-options.ts';
import { TestSmtpClient } from '../support/smtp-client.ts';

const DIR = fileURLToPath(new URL('../dialogues/', import.meta.url));
const files = readdirSync(DIR).filter((f) => f.endsWith('.smtp')).sort();

interface Running {
  server: SmtpServer;
  ports: Record<ListenerKind, number>;
}

/** @greet-delay: long enough that a client writing at once is surely early, short enough for the suite. */
const GREET_DELAY = 300;

/** Replays one transcript over a socket; consecutive sends go out in one write, like a pipelining client. */
async function playTcp(d: Dialogue, run: Running): Promise<void> {
  const c = await TestSmtpClient.connect(run.ports[d.listener], { tls: d.tls });
  try {
    const steps = d.steps;
    for (let i = 0; i < steps.length; i++) {
      const step = steps[i];
      const where = `transcript line ${step.line}`;
      switch (step.kind) {
        case 'send': {
          const chunks = [step.bytes];
          while (steps[i + 1]?.kind === 'send') chunks.push((steps[++i] as { bytes: Uint8Array }).bytes);
          c.write(Buffer.concat(chunks));
          break;
        }
        case 'expect': {
          const got = await c.line();
          assert.equal(got, step.text, `${where}: expected ${JSON.stringify(step.text)}, got ${JSON.stringify(got)}`);
          break;
        }
        case 'match': {
          const got = await c.line();
          assert.ok(got !== null && step.pattern.test(got), `${where}: expected /${step.pattern.source}/, got ${JSON.stringify(got)}`);
          break;
        }
        case 'close': {
          const got = await c.line();
          assert.equal(got, null, `${where}: expected the server to close, got ${JSON.stringify(got)}`);
          break;
        }
        case 'starttls':
          await c.startTls();
          break;
      }
    }
  } finally {
    c.close();
  }
}

describe('dialogues (over TCP)', () => {
  let db: TestStore;
  let intake: Intake;
  let cert: { key: string; cert: string };
  const servers = new Map<string, Running>();
  const logs: string[] = [];

  // Opened by the first test rather than in before(): opening PGlite takes seconds on a loaded machine and
  // hooks cannot be given a longer timeout under every runner, tests can.
  let opening: Promise<void> | null = null;
  function open(): Promise<void> {
    opening ??= (async () => {
      db = await openTestStore();
      intake = createIntake(db.store);
      cert = await loadOrCreateCertificate({ certFile: '', keyFile: '', dataDir: db.dataDir, hostname: 'mx.tern.test' });
    })();
    return opening;
  }
  after(async () => {
    for (const { server } of servers.values()) await server.stop(1000);
    await intake?.close();
    await db?.cleanup();
  });

  /** One server per distinct option set, shared by the transcripts that use it. */
  async function serverFor(d: Dialogue): Promise<Running> {
    const key = JSON.stringify([d.options, d.trusted, d.users, d.policies, d.greetDelay, d.enqueueReject], (_k, v: unknown) =>
      v instanceof Set ? [...v] : typeof v === 'function' ? `fn:${(v as { list?: string }).list}` : v,
    );
    const known = servers.get(key);
    if (known) return known;
    const options = testSessionOptions(d.options);
    const fake = new FakeAuthenticator(d.users);
    const reject = d.enqueueReject;
    const server = new SmtpServer({
      listeners: [
        { kind: 'mx', host: '127.0.0.1', port: 0 },
        { kind: 'submission', host: '127.0.0.1', port: 0 },
        { kind: 'submissions', host: '127.0.0.1', port: 0 },
      ],
      context: {
        authenticator: {
          step: (conn, mechanism, response) => Promise.resolve(fake.step(conn.id, mechanism, response)),
          forget: (id) => fake.forget(id),
        },
        policy: { check: (_conn, query) => Promise.resolve(policyVerdict(d.policies, query)) },
        greetDelay: d.greetDelay ? GREET_DELAY : 0,
        options,
        deps: { now: () => new Date(), newQueueId },
        // @enqueue-reject: the host refuses the message (as DMARC p=reject would) before anything is stored.
        queue: reject ? { enqueue: () => Promise.reject(new MessageRefused(reject)) } : intake,
        log: createLogger({ format: 'json', level: 'warn', write: (l) => logs.push(l) }),
        commandTimeout: 30_000,
        dataTimeout: 30_000,
        secureContext: options.startTls ? tls.createSecureContext(cert) : null,
        budget: new InflightBudget(64 * 1024 * 1024),
        isTrusted: () => d.trusted,
      },
      maxConnections: 100,
      maxConnectionsPerIp: 100,
      tlsKeyCert: cert,
      log: createLogger({ format: 'json', level: 'warn', write: (l) => logs.push(l) }),
    });
    const bound = await server.start();
    const port = (kind: ListenerKind) => bound.find((b) => b.kind === kind)!.port;
    const running = { server, ports: { mx: port('mx'), submission: port('submission'), submissions: port('submissions') } };
    servers.set(key, running);
    return running;
  }

  for (const file of files) {
    test(file, { timeout: 60_000 }, async () => {
      await open();
      const d = parseDialogue(readFileSync(path.join(DIR, file), 'utf8'));
      await playTcp(d, await serverFor(d));
    });
  }
});
