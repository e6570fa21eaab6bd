// A private Postfix on a free loopback port for interop tests: its own config, queue and maillog in a temp
// directory (via scripts/peers/postfix.sh), relaying what it accepts to one next hop; stopped even on failure.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO } from './server.ts';

const SCRIPT = path.join(REPO, 'scripts/peers/postfix.sh');
// Postfix's commands live in sbin, which a test runner's PATH may lack.
const PATH = `${process.env.PATH ?? ''}:/usr/sbin:/sbin`;

/**
 * Why the interop tests cannot run here, or false when they can: they need Postfix's programs, util-linux
 * `script` (the recipe runs `postfix check` on a pty) and root (Postfix drops privileges to its own user).
 */
export function postfixUnavailable(): string | false {
  for (const cmd of ['postfix', 'postconf', 'sendmail', 'smtp-source', 'script']) {
    if (spawnSync('sh', ['-c', `command -v ${cmd}`], { env: { PATH } }).status !== 0) {
      return `${cmd} is not installed (apt-get install postfix${cmd === 'script' ? ' util-linux' : ''}): no interop peer`;
    }
  }
  if (process.getuid?.() !== 0) return 'a private Postfix needs root (it drops to the postfix user itself)';
  return false;
}

export interface PostfixOptions {
  /** myhostname: its greeting, EHLO name and Received "by" name. */
  name: string;
  /** Everything accepted is relayed by smtp(8) to 127.0.0.1:relayPort. */
  relayPort: number;
  /** Key and certificate (PEM) for STARTTLS on its smtpd ("may": opportunistic, as on the Internet). */
  tls?: { key: string; cert: string };
  /** More main.cf settings, applied last. */
  mainCf?: Record<string, string>;
}

export interface Postfix {
  name: string;
  port: number;
  /** The instance's directory: etc/ (config_directory), spool/, maillog. */
  dir: string;
  maillog(): string;
  /** Resolves with the first maillog line matching `re` (polling, bounded), its groups included. */
  waitForLog(re: RegExp, ms?: number): Promise<RegExpMatchArray>;
  /** Postfix's own sendmail(1) against this instance (`sendmail -C etc ARGS`), the message on stdin. */
  sendmail(args: string[], message: string): Promise<{ code: number; stderr: string }>;
  /** Postfix's smtp-source(1) against this instance's smtpd. */
  smtpSource(args: string[]): Promise<{ code: number; stderr: string }>;
  stop(): Promise<void>;
}

// Instances still running (config directory -> their temp directory), stopped and removed synchronously if
// the test process exits without its after() hooks having run.
const running = new Map<string, string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const [etc, base] of running) {
      spawnSync('postfix', ['-c', etc, 'stop'], { stdio: 'ignore', env: { PATH } });
      fs.rmSync(base, { recursive: true, force: true });
    }
  });
}

function run(cmd: string, args: string[], opts: { env?: Record<string, string>; input?: string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: { ...process.env, PATH, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', (err) => resolve({ code: -1, stdout, stderr: stderr + String(err) }));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}

/** A port free right now on 127.0.0.1 (Postfix must be told a number; a lost race is retried by the caller). */
async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** Resolves with the greeting once smtpd answers on the port, or null when it does not within `ms`. */
async function greeting(port: number, ms: number): Promise<string | null> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const line = await new Promise<string | null>((resolve) => {
      const sock = net.connect(port, '127.0.0.1');
      let buf = '';
      const done = (v: string | null) => {
        sock.destroy();
        resolve(v);
      };
      sock.setTimeout(2000, () => done(null));
      sock.on('error', () => done(null));
      sock.on('data', (c: Buffer) => {
        buf += c.toString();
        if (buf.includes('\n')) done(buf.split('\r\n')[0]);
      });
    });
    if (line !== null) return line;
    await new Promise((r) => setTimeout(r, 100));
  }
  return null;
}

async function stopAt(etc: string, pidFile: string): Promise<void> {
  if (!running.delete(etc)) return;
  const pid = Number(fs.existsSync(pidFile) ? fs.readFileSync(pidFile, 'utf8').trim() : NaN);
  await run('postfix', ['-c', etc, 'stop']);
  // `postfix stop` signals the master; wait for it to be gone before the directory is removed under it.
  for (let i = 0; i < 100 && Number.isInteger(pid) && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Starts a Postfix relaying to 127.0.0.1:relayPort; resolves once its smtpd greets on the chosen port. */
export async function startPostfix(o: PostfixOptions): Promise<Postfix> {
  installExitHook();
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'tern-postfix-'));
  fs.chmodSync(base, 0o755); // Postfix's own processes run as the postfix user and must reach the spool
  const settings: Record<string, string> = { myhostname: o.name, ...o.mainCf };
  const failures: string[] = [];
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const dir = path.join(base, `postfix-${port}`);
    const etc = path.join(dir, 'etc');
    const pidFile = path.join(dir, 'spool/pid/master.pid');
    if (o.tls) {
      const tlsDir = path.join(dir, 'tls');
      fs.mkdirSync(dir, { mode: 0o755 }); // traversable by the postfix user; only the key is private
      fs.mkdirSync(tlsDir, { mode: 0o700 });
      fs.writeFileSync(path.join(tlsDir, 'key.pem'), o.tls.key, { mode: 0o600 });
      fs.writeFileSync(path.join(tlsDir, 'cert.pem'), o.tls.cert);
      Object.assign(settings, {
        smtpd_tls_security_level: 'may',
        smtpd_tls_chain_files: `${tlsDir}/key.pem, ${tlsDir}/cert.pem`,
        smtpd_tls_received_header: 'yes',
        smtpd_tls_loglevel: '1',
      });
    }
    const mainCf = Object.entries(settings).map(([k, v]) => `${k} = ${v}`).join('\n');
    running.set(etc, base);
    const started = await run('bash', [SCRIPT, String(port), 'relay', String(o.relayPort)], {
      env: { PEERS_DIR: base, POSTFIX_MAIN_CF: mainCf },
    });
    const hello = started.code === 0 ? await greeting(port, 10_000) : null;
    // Its own banner, not just any 220: whoever won a race for the port would answer too.
    if (hello === `220 ${o.name} ESMTP Postfix`) return instance(o.name, port, dir, etc, pidFile, base);
    failures.push(`port ${port}: exit ${started.code} ${started.stderr.trim()} greeting ${hello}; ${readLog(dir).slice(-2000)}`);
    await stopAt(etc, pidFile);
  }
  fs.rmSync(base, { recursive: true, force: true });
  throw new Error(`Postfix did not start:\n${failures.join('\n')}`);
}

function readLog(dir: string): string {
  const file = path.join(dir, 'maillog');
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
}

function instance(name: string, port: number, dir: string, etc: string, pidFile: string, base: string): Postfix {
  return {
    name,
    port,
    dir,
    maillog: () => readLog(dir),
    async waitForLog(re, ms = 20_000) {
      const end = Date.now() + ms;
      for (;;) {
        for (const line of readLog(dir).split('\n')) {
          const m = re.exec(line);
          if (m) return m;
        }
        if (Date.now() > end) throw new Error(`no maillog line matching ${re} in ${ms} ms:\n${readLog(dir).slice(-4000)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async sendmail(args, message) {
      const r = await run('sendmail', ['-C', etc, ...args], { input: message });
      return { code: r.code, stderr: r.stderr };
    },
    async smtpSource(args) {
      const r = await run('smtp-source', [...args, `127.0.0.1:${port}`]);
      return { code: r.code, stderr: r.stderr };
    },
    async stop() {
      await stopAt(etc, pidFile);
      fs.rmSync(base, { recursive: true, force: true });
    },
  };
}
