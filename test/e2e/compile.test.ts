// The single executable, copied alone into an empty directory, opens its embedded database and queues a message.
//
// This is what `bun build --compile` can silently break: PGlite's wasm and data files, the migrations and
// every dynamic import must be inside dist/tern, since nothing else is there. Set TERN_TEST_SKIP_COMPILE=1
// to skip it (.ci/run does in its PostgreSQL pass: the binary uses the embedded database either way).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { TestSmtpClient } from '../support/smtp-client.ts';

const root = resolve(import.meta.dirname, '../..');
const skip = process.env.TERN_TEST_SKIP_COMPILE === '1' ? 'TERN_TEST_SKIP_COMPILE=1' : false;
const READY_TIMEOUT = 90_000; // first start runs initdb and the migrations: about 5 s here, slower on a busy CI
const EXIT_TIMEOUT = 30_000;

test('compiled tern serves SMTP from an empty directory and stops cleanly', { skip, timeout: 240_000 }, async () => {
  buildBinary();
  const dir = mkdtempSync(join(tmpdir(), 'tern-e2e-'));
  assert.equal(nodeModulesAbove(dir), null, 'a node_modules above the temp dir would hide missing embedded files');
  copyFileSync(join(root, 'dist/tern'), join(dir, 'tern'));

  const [mx, submission, submissions] = [await freePort(), await freePort(), await freePort()];
  const child = spawn('./tern', ['serve'], {
    cwd: dir,
    // A clean environment: Tern rejects unknown TERN_* variables, and the caller's must not leak in.
    env: {
      PATH: process.env.PATH,
      HOME: dir,
      TERN_DATA_DIR: 'data',
      TERN_DATABASE_URL: '',
      TERN_LISTENERS_MX_ADDRESS: `127.0.0.1:${mx}`,
      TERN_LISTENERS_SUBMISSION_ADDRESS: `127.0.0.1:${submission}`,
      TERN_LISTENERS_SUBMISSIONS_ADDRESS: `127.0.0.1:${submissions}`,
      TERN_CONSOLE_ADDRESS: '',
      TERN_RELAY_LOCAL_DOMAINS: 'example.test',
      TERN_LOG_FORMAT: 'json',
      TERN_LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = collectLog(child);
  let passed = false;
  try {
    await log.waitFor(isReadyLine, READY_TIMEOUT);

    const smtp = await TestSmtpClient.connect(mx);
    assert.equal((await smtp.reply()).code, 220);
    assert.equal((await smtp.command('EHLO client.test')).code, 250);
    assert.equal((await smtp.command('MAIL FROM:<sender@client.test>')).code, 250);
    assert.equal((await smtp.command('RCPT TO:<postmaster@example.test>')).code, 250);
    assert.equal((await smtp.command('DATA')).code, 354);
    smtp.write('From: sender@client.test\r\nTo: postmaster@example.test\r\nSubject: e2e\r\n\r\nHello from the binary.\r\n.\r\n');
    assert.match((await smtp.reply()).text, /^250 .*queued/i);
    assert.equal((await smtp.command('QUIT')).code, 221);
    smtp.close();

    child.kill('SIGTERM');
    const exit = await exited(child, EXIT_TIMEOUT);
    assert.deepEqual(exit, { code: 0, signal: null }, 'SIGTERM must stop tern with exit code 0');
    assert.ok(findFile(join(dir, 'data'), 'PG_VERSION', 3), 'the data directory holds the PGlite database');
    passed = true;
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    if (passed) rmSync(dir, { recursive: true, force: true });
    else console.error(`tern output (directory kept: ${dir}):\n${log.text()}`);
  }
});

/** Runs scripts/build.ts, which returns at once when dist/tern is newer than its inputs. */
function buildBinary(): void {
  const bun = process.versions.bun ? process.execPath : 'bun';
  const r = spawnSync(bun, [join(root, 'scripts/build.ts'), '--if-stale'], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 0, `build failed:\n${r.stdout}\n${r.stderr}`);
}

function nodeModulesAbove(dir: string): string | null {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, 'node_modules'))) return join(d, 'node_modules');
    if (dirname(d) === d) return null;
  }
}

function findFile(dir: string, name: string, depth: number): boolean {
  if (!existsSync(dir)) return false;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === name) return true;
    if (e.isDirectory() && depth > 0 && findFile(join(dir, e.name), name, depth - 1)) return true;
  }
  return false;
}

/** The `ready` event, in the json log format (or, failing that, text). */
function isReadyLine(line: string): boolean {
  try {
    return JSON.parse(line).event === 'ready';
  } catch {
    return /(^|\s)(event=)?ready(\s|$)/.test(line);
  }
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => res(port));
    });
  });
}

function exited(child: ChildProcess, ms: number): Promise<{ code: number | null; signal: string | null }> {
  return new Promise((res, rej) => {
    const t = setTimeout(() => rej(new Error(`tern did not exit within ${ms} ms of SIGTERM`)), ms);
    child.once('exit', (code, signal) => {
      clearTimeout(t);
      res({ code, signal });
    });
  });
}

/** Both output streams, line by line, with a wait for a line that matches. */
function collectLog(child: ChildProcess) {
  const lines: string[] = [];
  const partial = { out: '', err: '' };
  let waiter: (() => void) | null = null;
  const feed = (key: 'out' | 'err') => (chunk: Buffer) => {
    const parts = (partial[key] + chunk.toString('utf8')).split('\n');
    partial[key] = parts.pop()!;
    lines.push(...parts);
    waiter?.();
  };
  child.stdout!.on('data', feed('out'));
  child.stderr!.on('data', feed('err'));
  return {
    text: () => [...lines, partial.out, partial.err].join('\n'),
    waitFor(match: (line: string) => boolean, ms: number): Promise<void> {
      return new Promise((res, rej) => {
        const done = (err?: Error) => {
          clearTimeout(timer);
          child.off('exit', onExit);
          waiter = null;
          err ? rej(err) : res();
        };
        const onExit = (code: number | null) => done(new Error(`tern exited (${code}) before it was ready`));
        const timer = setTimeout(() => done(new Error(`no ready line within ${ms} ms`)), ms);
        waiter = () => lines.some(match) && done();
        child.on('exit', onExit);
        waiter();
      });
    },
  };
}
