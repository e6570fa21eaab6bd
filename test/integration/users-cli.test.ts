// `tern user …` as a real process: offline on the store, through a control socket, and against a spawned daemon.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { createUserControl } from '../../src/auth/control.ts';
import { verifyPassword } from '../../src/auth/password.ts';
import { createUserRepo } from '../../src/auth/users.ts';
import { lockDataDir } from '../../src/control/lock.ts';
import { serveControl } from '../../src/control/server.ts';
import { createLogger } from '../../src/lib/log.ts';
import { migrate } from '../../src/store/migrate.ts';
import { openStore } from '../../src/store/open.ts';
import { createTestDatabase } from '../support/db.ts';
import { REPO, runCli, spawnDaemon, tempDir, testEnv } from '../support/server.ts';

type Result = { code: number; stdout: string; stderr: string };

/** runCli with standard input (support/server.ts's runCli leaves stdin open and empty). */
function tern(args: string[], env: Record<string, string>, input?: string): Promise<Result> {
  if (input === undefined) return runCli(args, env);
  const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== 'undefined';
  const main = path.join(REPO, 'src/main.ts');
  const argv = isDeno ? ['run', '-A', main, ...args] : [main, ...args];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, argv, { cwd: REPO, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.on('error', () => {}); // the CLI may exit (usage error) before reading
    child.stdin.end(input);
  });
}

/** The same scenario whichever way the CLI reaches the users table. */
async function scenario(env: Record<string, string>): Promise<void> {
  const add = await tern(['user', 'add', 'Ann@Example.com', '--address', 'a@example.net', '--domain', 'Example.ORG', '--password-stdin'], env, 'correct horse battery\nignored second line\n');
  assert.equal(add.code, 0, add.stderr);
  assert.equal(add.stdout, 'added user ann@example.com\n');

  const app = await tern(['user', 'add', 'billing-app', '--any', '--password-stdin'], env, 'another long password\r\n');
  assert.equal(app.code, 0, app.stderr);

  const dup = await tern(['user', 'add', 'ann@example.com', '--password-stdin'], env, 'whatever password\n');
  assert.deepEqual([dup.code, dup.stderr], [65, 'tern: user ann@example.com already exists\n']);

  const short = await tern(['user', 'passwd', 'ann@example.com', '--password-stdin'], env, 'short\n');
  assert.equal(short.code, 64);
  assert.match(short.stderr, /^tern: refused: the password is shorter than 8 characters: short passwords are guessed/);

  const empty = await tern(['user', 'passwd', 'ann@example.com', '--password-stdin'], env, '\n');
  assert.equal(empty.code, 64);
  assert.match(empty.stderr, /the password is empty/);

  const noTty = await tern(['user', 'passwd', 'ann@example.com'], env, '');
  assert.deepEqual([noTty.code, noTty.stderr], [64, 'tern: no terminal to ask the password on: pass it with --password-stdin\n']);

  const badName = await tern(['user', 'del', 'two words'], env);
  assert.equal(badName.code, 64);

  const passwd = await tern(['user', 'passwd', 'ANN@example.com', '--password-stdin'], env, 'a brand new password\n');
  assert.deepEqual([passwd.code, passwd.stdout], [0, 'password changed for user ann@example.com\n']);

  assert.equal((await tern(['user', 'disable', 'billing-app'], env)).code, 0);
  const human = await tern(['user', 'list'], env);
  assert.equal(human.code, 0, human.stderr);
  assert.equal(
    human.stdout,
    [
      'name             state     may send as',
      'ann@example.com  active    ann@example.com, a@example.net, *@example.org',
      'billing-app      disabled  any sender',
      '',
    ].join('\n'),
  );
  const json = await tern(['user', 'list', '--json'], env);
  const rows = JSON.parse(json.stdout) as Array<Record<string, unknown>>;
  assert.deepEqual(rows.map((r) => [r.name, r.addresses, r.domains, r.any, r.disabled]), [
    ['ann@example.com', ['a@example.net'], ['example.org'], false, false],
    ['billing-app', [], [], true, true],
  ]);
  assert.ok(!json.stdout.includes('scrypt') && !json.stdout.includes('password'));

  assert.equal((await tern(['user', 'del', 'billing-app'], env)).code, 0);
  const gone = await tern(['user', 'del', 'billing-app'], env);
  assert.deepEqual([gone.code, gone.stderr], [65, 'tern: no user billing-app\n']);
}

/** Opens the scenario's database afterwards (the CLI has released it) and checks the stored hash. */
async function checkStored(env: Record<string, string>): Promise<void> {
  const store = await openStore({ url: env.TERN_DATABASE_URL, dataDir: env.TERN_DATA_DIR, poolSize: 1 });
  try {
    await migrate(store);
    const ann = await createUserRepo(store).lookup('ann@example.com');
    assert.match(ann?.passwordHash ?? '', /^\$scrypt\$ln=15,r=8,p=1\$/);
    const v = await verifyPassword('a brand new password', ann!.passwordHash);
    assert.ok(v.ok && v.match);
  } finally {
    await store.close();
  }
}

test('offline: no daemon, the CLI takes the data-dir lock and works on the store', { timeout: 180_000 }, async () => {
  const dataDir = tempDir();
  const db = await createTestDatabase();
  try {
    const env = testEnv(dataDir, db.url);
    await scenario(env);
    await checkStored(env);
  } finally {
    await db.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('through the control socket: the daemon-side handlers, with cache invalidation', { timeout: 180_000 }, async () => {
  const dataDir = tempDir();
  const db = await createTestDatabase();
  // What the daemon does once the lead registers createUserControl: hold the lock, serve the handlers.
  const lock = await lockDataDir(dataDir);
  const store = await openStore({ url: db.url, dataDir, poolSize: 2 });
  try {
    await migrate(store);
    const invalidated = new Set<string>();
    const handlers = createUserControl({ store, invalidate: (n) => invalidated.add(n) });
    const log = createLogger({ format: 'json', level: 'error', write: () => {} });
    serveControl(lock.server, (req) => {
      const h = handlers[req.cmd];
      if (!h) throw new Error(`unknown control command ${req.cmd}`);
      return h(req as unknown as Record<string, unknown>);
    }, log);
    const env = testEnv(dataDir, db.url);
    await scenario(env);
    assert.deepEqual([...invalidated].sort(), ['ann@example.com', 'billing-app']);
    const ann = await createUserRepo(store).lookup('ann@example.com');
    const v = await verifyPassword('a brand new password', ann!.passwordHash);
    assert.ok(v.ok && v.match);
  } finally {
    await store.close();
    await lock.release();
    await db.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a spawned daemon: the CLI goes through its control socket', { timeout: 180_000 }, async (t) => {
  const dataDir = tempDir();
  const db = await createTestDatabase();
  const env = testEnv(dataDir, db.url);
  const d = await spawnDaemon(env);
  try {
    const probe = await tern(['user', 'list'], env);
    if (probe.code === 69 && probe.stderr.includes('does not manage users')) {
      // The lead registers createUserControl in src/server/daemon.ts; until then the daemon says so clearly.
      t.skip('the daemon does not register the user.* control handlers yet');
      return;
    }
    assert.deepEqual([probe.code, probe.stdout], [0, 'no users\n'], probe.stderr);
    await scenario(env);
  } finally {
    d.child.kill('SIGTERM');
    await d.exited;
    await db.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
