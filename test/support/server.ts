// Starts a real Tern daemon for socket tests: in-process (fast) or as a child process (for kill and signal tests).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { loadConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/lib/log.ts';
import { startDaemon, type Daemon } from '../../src/server/daemon.ts';
import { createTestDatabase, tempDir } from './db.ts';

export { tempDir };

export const REPO = path.resolve(import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname), '../..');

/** Environment for a test server: loopback, ephemeral ports, test domains, nothing trusted unless asked. */
export function testEnv(dataDir: string, databaseUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    TERN_HOSTNAME: 'mx.tern.test',
    TERN_DATA_DIR: dataDir,
    TERN_DATABASE_URL: databaseUrl,
    TERN_LISTENERS_MX_ADDRESS: '127.0.0.1:0',
    TERN_LISTENERS_SUBMISSION_ADDRESS: '127.0.0.1:0',
    TERN_LISTENERS_SUBMISSIONS_ADDRESS: '127.0.0.1:0',
    TERN_CONSOLE_ADDRESS: '',
    TERN_RELAY_LOCAL_DOMAINS: 'tern.test',
    TERN_RELAY_RELAY_DOMAINS: 'relay.test',
    TERN_RELAY_TRUSTED_NETWORKS: '',
    TERN_LOG_LEVEL: 'info',
    // Off unless a test turns it on: intake tests look at queued mail, and nothing may reach out to real DNS.
    TERN_DELIVERY_ENABLED: 'false',
    // Off for the same reason: SPF/DMARC lookups would go to the machine's resolver. The inbound tests turn
    // them on with TERN_DNS_SERVERS pointing at their loopback DNS server.
    TERN_INBOUND_CHECKS: 'false',
    ...extra,
  };
}

export interface TestDaemon {
  daemon: Daemon;
  port(kind: 'mx' | 'submission' | 'submissions'): number;
  logs: string[];
  dataDir: string;
  stop(): Promise<void>;
}

/**
 * An in-process daemon on a fresh database (PGlite, or a new PostgreSQL database when TERN_TEST_DATABASE_URL
 * is set). `toml` is written to a config file for what the environment cannot carry ([[routes]], [domains]).
 * Delivery is off unless the test turns it on (TERN_DELIVERY_ENABLED=true): most tests only look at intake.
 */
export async function startTestDaemon(extra: Record<string, string> = {}, toml?: string): Promise<TestDaemon> {
  const dataDir = tempDir();
  const db = await createTestDatabase();
  let file: string | undefined;
  if (toml !== undefined) {
    file = path.join(dataDir, 'tern.toml');
    fs.writeFileSync(file, toml);
  }
  const { config } = loadConfig({ file, env: testEnv(dataDir, db.url, extra) });
  const logs: string[] = [];
  const log = createLogger({ format: 'json', level: config.log.level, write: (line) => logs.push(line) });
  const daemon = await startDaemon(config, log);
  return {
    daemon,
    logs,
    dataDir,
    port(kind) {
      const l = daemon.listeners.find((x) => x.kind === kind);
      if (!l) throw new Error(`no ${kind} listener`);
      return l.port;
    },
    async stop() {
      await daemon.stop('test');
      await db.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface ChildDaemon {
  child: ChildProcess;
  ports: Record<string, number>;
  output: string[];
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
}

/**
 * `tern serve` as a separate process with the same runtime as the test (Bun or Deno), JSON logs on stderr.
 * Resolves once the 'ready' line arrives, with the bound ports parsed from it.
 */
export async function spawnDaemon(env: Record<string, string>, cwd = REPO): Promise<ChildDaemon> {
  const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== 'undefined';
  const args = isDeno ? ['run', '-A', path.join(REPO, 'src/main.ts'), 'serve'] : [path.join(REPO, 'src/main.ts'), 'serve'];
  const child = spawn(process.execPath, args, {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', TERN_LOG_FORMAT: 'json', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const exited = new Promise<number | string>((resolve) =>
    child.on('close', (code, signal) => {
      // Deno's node:child_process reports the signal we sent even when the child caught it and exited 0
      // (seen with Deno 2.9); the daemon's last log line tells the truth there.
      if (isDeno && code === null && output.some((l) => l.includes('"event":"stopped"'))) return resolve(0);
      resolve(code ?? signal ?? -1);
    }),
  );
  const ports = await new Promise<Record<string, number>>((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL'); // never leave a daemon behind a failed test
      reject(new Error(`daemon not ready in 60 s:\n${output.join('\n')}`));
    }, 60_000);
    const onData = (chunk: Buffer) => {
      buf += chunk.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        output.push(line);
        if (!line.includes('"ready"')) continue;
        const rec = JSON.parse(line) as Record<string, unknown>;
        const found: Record<string, number> = {};
        for (const kind of ['mx', 'submission', 'submissions', 'console']) {
          if (typeof rec[kind] === 'string') found[kind] = Number(String(rec[kind]).split(':').pop());
        }
        clearTimeout(timer);
        resolve(found);
      }
    };
    child.stderr!.on('data', onData);
    child.stdout!.on('data', (c: Buffer) => output.push(c.toString()));
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`daemon exited (${code}) before ready:\n${output.join('\n')}`));
    });
  });
  return { child, ports, output, exited };
}

/** Runs the CLI (`tern …`) to completion with the test's runtime; `input` is its standard input. */
export function runCli(
  args: string[],
  env: Record<string, string>,
  cwd = REPO,
  input?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== 'undefined';
  const argv = isDeno ? ['run', '-A', path.join(REPO, 'src/main.ts'), ...args] : [path.join(REPO, 'src/main.ts'), ...args];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, argv, { cwd, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    if (input !== undefined) child.stdin.end(input);
  });
}
