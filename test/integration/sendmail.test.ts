// `tern sendmail` as local programs run it: a process fed on stdin, through the running daemon (and on to a
// fake MX), straight into the store when no daemon runs, under the name `sendmail`, and its exit codes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openStore } from '../../src/store/open.ts';
import { createQueueReader } from '../../src/queue/repo.ts';
import type { QueuedMessage } from '../../src/queue/types.ts';
import { startFakeMxGroup, type FakeMx } from '../support/fake-mx.ts';
import { a, mx, startDnsServer, type TestDnsServer } from '../support/dns-server.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { REPO, runCli, spawnDaemon, tempDir, testEnv, type ChildDaemon } from '../support/server.ts';

const T = { timeout: 90_000 }; // each offline run creates or opens a PGlite database: a few seconds
const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== 'undefined';
const MAIN = path.join(REPO, 'src/main.ts');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command with `input` on stdin (runCli in test/support/server.ts has no stdin). `entry` is the
 * script the runtime starts: src/main.ts (then "sendmail" goes first), or a symlink named sendmail.
 */
function sendmail(args: string[], env: Record<string, string>, input: string | Uint8Array, entry = MAIN, command?: string[]): Promise<Run> {
  const script = entry === MAIN ? [MAIN, 'sendmail'] : [entry];
  const argv = command ?? [...(isDeno ? ['run', '-A'] : []), ...script, ...args];
  const exe = command ? argv[0] : process.execPath;
  return new Promise((resolve, reject) => {
    const child = spawn(exe, command ? argv.slice(1) : argv, {
      cwd: REPO,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`sendmail did not finish in 60 s: ${stderr}`));
    }, 60_000);
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdin.on('error', () => {}); // refused early (exit 64): it may not read everything
    child.stdin.end(input);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

const queuedAs = (r: Run): string => {
  const m = /queued as ([0-9A-Z]+)/.exec(r.stderr);
  assert.ok(m, `no queue id in: ${r.stderr}`);
  return m[1];
};

/** Reads one message straight from the store (no daemon may be running on it). */
async function readQueued(env: Record<string, string>, id: string): Promise<QueuedMessage & { text: string }> {
  const store = await openStore({ url: env.TERN_DATABASE_URL, dataDir: env.TERN_DATA_DIR, poolSize: 1 });
  try {
    const msg = await createQueueReader(store).get(id, { withBody: true });
    assert.ok(msg, `message ${id} is not in the queue`);
    return { ...msg, text: Buffer.from(msg.body ?? new Uint8Array()).toString('latin1') };
  } finally {
    await store.close();
  }
}

const MESSAGE = 'To: Bob <bob@remote.test>, team: carol@remote.test;\nBcc: dave@remote.test\nSubject: from cron\n\nline one\n.\nafter the dot\n';

describe('tern sendmail without a daemon', () => {
  let db: TestDatabase;
  let env: Record<string, string>;
  before(async () => {
    db = await createTestDatabase();
    env = testEnv(tempDir(), db.url);
  }, T);
  after(async () => {
    await db?.drop();
    if (env) fs.rmSync(env.TERN_DATA_DIR, { recursive: true, force: true });
  }, T);

  test('-t queues the message with the header recipients; Bcc goes, Date/Message-ID/From come', T, async () => {
    const r = await sendmail(['-t', '-v', '-f', 'cron@tern.test', '-F', 'Cron Daemon', '-N', 'failure', '-R', 'hdrs', '-V', 'env-7'], env, MESSAGE);
    assert.equal(r.code, 0, r.stderr);
    const id = queuedAs(r);
    const msg = await readQueued(env, id);
    assert.equal(msg.envelope.sender, 'cron@tern.test');
    assert.deepEqual(msg.envelope.recipients, ['bob', 'carol', 'dave'].map((u) => ({ address: `${u}@remote.test`, notify: ['FAILURE'], orcpt: null })));
    assert.equal(msg.envelope.listener, 'local');
    assert.equal(msg.envelope.dsnRet, 'HDRS');
    assert.equal(msg.envelope.dsnEnvid, 'env-7');
    assert.match(msg.text, new RegExp(`^Received: by mx\\.tern\\.test \\(Tern, from userid \\d+\\)\\r\\n\\tid ${id}; `));
    assert.match(msg.text, /\r\nDate: \w{3}, \d\d \w{3} \d{4} /);
    assert.match(msg.text, new RegExp(`\\r\\nMessage-ID: <${id}@mx\\.tern\\.test>\\r\\n`));
    assert.match(msg.text, /\r\nFrom: "Cron Daemon" <cron@tern\.test>\r\n/);
    assert.doesNotMatch(msg.text, /Bcc|dave/i);
    // Without -i the lone dot ended the message; LF became CRLF.
    assert.match(msg.text, /\r\nSubject: from cron\r\n\r\nline one\r\n$/);
  });

  test('-i keeps a lone dot; arguments and -t add up; the default sender is the login name', T, async () => {
    const r = await sendmail(['-oi', '-tv', 'extra@remote.test'], env, MESSAGE);
    assert.equal(r.code, 0, r.stderr);
    const msg = await readQueued(env, queuedAs(r));
    assert.match(msg.envelope.sender, /^[^@]+@mx\.tern\.test$/);
    assert.deepEqual(msg.envelope.recipients.map((x) => x.address), ['extra@remote.test', 'bob@remote.test', 'carol@remote.test', 'dave@remote.test']);
    assert.match(msg.text, /\r\nline one\r\n\.\r\nafter the dot\r\n$/);
  });

  test('mail queued without a daemon is DKIM-signed like the daemon signs it', T, async () => {
    const g = await runCli(['dkim', 'generate', 'signed.test', '--algorithm', 'ed25519', '--activate'], env);
    assert.equal(g.code, 0, g.stdout + g.stderr);
    const r = await sendmail(['-v', '-f', 'app@signed.test', 'bob@remote.test'], env, 'From: app@signed.test\nSubject: signed\n\nhi\n');
    assert.equal(r.code, 0, r.stderr);
    const msg = await readQueued(env, queuedAs(r));
    assert.match(msg.text, /^DKIM-Signature: v=1; a=ed25519-sha256;[^]*d=signed\.test/);
  });

  // Deno resolves a script's imports against the symlink's own directory, so a link to src/main.ts cannot
  // run there at all; what gets deployed is the compiled binary (tested below) or `bun src/main.ts`.
  const linkSkip = isDeno ? 'Deno does not follow a symlinked main module for its imports' : false;
  test('a symlink named sendmail to src/main.ts speaks sendmail', { ...T, skip: linkSkip }, async () => {
    const dir = tempDir('tern-sendmail-link-');
    try {
      fs.symlinkSync(MAIN, path.join(dir, 'sendmail'));
      const r = await sendmail(['-v', 'bob@remote.test'], env, 'Subject: via link\n\nhi\n', path.join(dir, 'sendmail'));
      assert.equal(r.code, 0, r.stderr);
      const msg = await readQueued(env, queuedAs(r));
      assert.deepEqual(msg.envelope.recipients.map((x) => x.address), ['bob@remote.test']);
      assert.match(msg.text, /\r\nSubject: via link\r\n\r\nhi\r\n$/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('exit codes (sysexits)', () => {
    const codes: Array<[string, string[], Record<string, string>, string, number, RegExp]> = [
      ['64 EX_USAGE: an unknown option', ['-z', 'bob@remote.test'], {}, 'x\n', 64, /unknown option -z/],
      ['64 EX_USAGE: no recipients and no -t', [], {}, 'x\n', 64, /no recipients/],
      ['65 EX_DATAERR: -t but the header names nobody', ['-t'], {}, 'Subject: x\n\nbody\n', 65, /no recipient addresses/],
      ['65 EX_DATAERR: a bad recipient address', ['bob@'], {}, 'x\n', 65, /bad recipient address/],
      ['65 EX_DATAERR: bigger than smtp.max_message_size', ['bob@remote.test'], { TERN_SMTP_MAX_MESSAGE_SIZE: '65536' }, 'x'.repeat(70_000), 65, /too big/],
      ['69 EX_UNAVAILABLE: -bs is not offered', ['-bs'], {}, '', 69, /only -bm/],
      ['75 EX_TEMPFAIL: the database is unreachable', ['bob@remote.test'], { TERN_DATABASE_URL: 'postgres://tern:tern@127.0.0.1:1/none' }, 'x\n', 75, /cannot open the queue/],
      ['78 EX_CONFIG: a bad setting', ['bob@remote.test'], { TERN_SMTP_MAX_MESSAGE_SIZE: 'banana' }, 'x\n', 78, /configuration error/],
      ['78 EX_CONFIG: -C names a missing file', ['-C', '/nonexistent/tern.toml', 'bob@remote.test'], {}, 'x\n', 78, /does not exist/],
    ];
    for (const [name, args, extra, input, code, message] of codes) {
      test(name, T, async () => {
        const r = await sendmail(args, { ...env, ...extra }, input);
        assert.equal(r.code, code, r.stderr);
        assert.match(r.stderr, message);
        assert.equal(r.stdout, '');
      });
    }

    test('66 EX_NOINPUT: stdin cannot be read', T, async () => {
      // fd 0 opened write-only: read() fails with EBADF (a closed fd 0 cannot be tested: both runtimes
      // reopen it as /dev/null).
      const sink = path.join(env.TERN_DATA_DIR, 'stdin-write-only');
      const runtime = [process.execPath, ...(isDeno ? ['run', '-A'] : []), MAIN, 'sendmail', 'bob@remote.test'];
      const r = await sendmail([], { ...env, SINK: sink }, '', MAIN, ['bash', '-c', 'exec "$@" 0>"$SINK"', 'bash', ...runtime]);
      assert.equal(r.code, 66, r.stderr);
      assert.match(r.stderr, /cannot read the message/);
    });

    test('0 and silence on success', T, async () => {
      const r = await sendmail(['bob@remote.test'], env, 'hi\n');
      assert.deepEqual(r, { code: 0, stdout: '', stderr: '' });
    });
  });
});

describe('tern sendmail through the running daemon', () => {
  let db: TestDatabase;
  let dns: TestDnsServer;
  let peers: FakeMx[];
  let daemon: ChildDaemon;
  let env: Record<string, string>;

  before(async () => {
    peers = await startFakeMxGroup([{ name: 'mx.remote.test' }]);
    dns = await startDnsServer({ 'remote.test': [mx(10, 'mx.remote.test')], 'mx.remote.test': [a('127.0.0.2')] });
    db = await createTestDatabase();
    env = testEnv(tempDir(), db.url, {
      TERN_DELIVERY_ENABLED: 'true',
      TERN_DNS_SERVERS: dns.server,
      TERN_DELIVERY_SMTP_PORT: String(peers[0].port),
      TERN_DELIVERY_MTA_STS: 'false',
      TERN_DELIVERY_IPV6: 'false',
      TERN_DELIVERY_RETRY_SCHEDULE: '1s',
      TERN_DELIVERY_CONNECT_TIMEOUT: '2s',
    });
    daemon = await spawnDaemon(env);
  }, T);
  after(async () => {
    daemon?.child.kill('SIGTERM');
    await daemon?.exited;
    for (const p of peers ?? []) await p.close();
    await dns?.close();
    await db?.drop();
    if (env) fs.rmSync(env.TERN_DATA_DIR, { recursive: true, force: true });
  }, T);

  test('`tern sendmail -t < message` is queued by the daemon and delivered', T, async () => {
    const r = await sendmail(['-t', '-v', '-f', 'cron@tern.test'], env, MESSAGE);
    assert.equal(r.code, 0, r.stderr);
    const id = queuedAs(r);
    // The daemon took it (with the embedded database it holds the data directory: nobody else could).
    assert.ok(daemon.output.some((l) => l.includes('"event":"submitted"') && l.includes(id)), daemon.output.join('\n'));
    const end = Date.now() + 30_000;
    while (peers[0].transactions.length === 0 && Date.now() < end) await new Promise((res) => setTimeout(res, 50));
    const t = peers[0].transactions[0];
    assert.ok(t, `nothing arrived at the fake MX:\n${daemon.output.join('\n')}`);
    assert.equal(t.mailFrom, 'cron@tern.test');
    assert.deepEqual(t.rcpts.map((x) => x.address).sort(), ['bob@remote.test', 'carol@remote.test', 'dave@remote.test']);
    const text = t.data.toString('latin1');
    assert.match(text, new RegExp(`Received: by mx\\.tern\\.test \\(Tern, from userid \\d+\\)\\r\\n\\tid ${id}; `));
    assert.match(text, new RegExp(`\\r\\nMessage-ID: <${id}@mx\\.tern\\.test>\\r\\n`));
    assert.match(text, /\r\nDate: /);
    assert.match(text, /\r\nFrom: cron@tern\.test\r\n/);
    assert.doesNotMatch(text, /Bcc|dave/i);

    // The queue agrees: every recipient delivered (asked through the daemon's control socket).
    let states: string[] = [];
    while (Date.now() < end) {
      const show = await runCli(['queue', 'show', id, '--json'], env);
      assert.equal(show.code, 0, show.stderr);
      states = (JSON.parse(show.stdout) as QueuedMessage).recipients.map((x) => x.state);
      if (states.every((s) => s === 'delivered')) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    assert.deepEqual(states, ['delivered', 'delivered', 'delivered']);
  });

  test('exit codes through the daemon: 65 for a bad address, 0 for good ones', T, async () => {
    const bad = await sendmail(['bob@'], env, 'x\n');
    assert.equal(bad.code, 65, bad.stderr);
    assert.match(bad.stderr, /bad recipient address/);
    const good = await sendmail(['bob@remote.test'], env, 'x\n');
    assert.deepEqual(good, { code: 0, stdout: '', stderr: '' });
  });

  test('a message far bigger than a control request line still travels (the socket takes max_message_size)', T, async () => {
    const body = 'Subject: big\n\n' + `${'y'.repeat(998)}\n`.repeat(1000);
    const r = await sendmail(['-v', 'bob@remote.test'], env, body);
    assert.equal(r.code, 0, r.stderr);
    queuedAs(r);
  });
});

const skipCompile = process.env.TERN_TEST_SKIP_COMPILE === '1' ? 'TERN_TEST_SKIP_COMPILE=1' : false;

describe('the compiled binary named sendmail', () => {
  test('dist/sendmail, the symlink the build makes, queues from stdin', { skip: skipCompile, timeout: 300_000 }, async () => {
    // Built once (scripts/build.ts --if-stale returns at once when dist/tern is up to date), as in test/e2e.
    const bun = process.versions.bun ? process.execPath : path.join(REPO, 'node_modules/.bin/bun');
    const built = spawnSync(bun, [path.join(REPO, 'scripts/build.ts'), '--if-stale'], { cwd: REPO, encoding: 'utf8' });
    assert.equal(built.status, 0, `build failed:\n${built.stdout}\n${built.stderr}`);
    assert.equal(fs.readlinkSync(path.join(REPO, 'dist/sendmail')), 'tern');
    const dir = tempDir('tern-sendmail-bin-');
    try {
      // The binary always embeds PGlite; a PostgreSQL test run changes nothing here.
      const env = testEnv(path.join(dir, 'data'), '');
      const r = await sendmail([], env, MESSAGE, MAIN, [path.join(REPO, 'dist/sendmail'), '-t', '-v']);
      assert.equal(r.code, 0, r.stderr);
      const msg = await readQueued(env, queuedAs(r));
      assert.deepEqual(msg.envelope.recipients.map((x) => x.address), ['bob@remote.test', 'carol@remote.test', 'dave@remote.test']);
      // And `tern sendmail` from the same binary, by its own name.
      const r2 = await sendmail([], env, 'x\n', MAIN, [path.join(REPO, 'dist/tern'), 'sendmail', 'bob@remote.test']);
      assert.deepEqual(r2, { code: 0, stdout: '', stderr: '' });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
