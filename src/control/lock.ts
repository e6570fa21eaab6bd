// Exclusive ownership of a data directory, held as a bound Unix socket that doubles as the control channel.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

/**
 * Why a socket and not a lock file: PGlite has no cross-process lock, and a second process opening the
 * same directory silently lost acknowledged commits. bind() on an existing path fails atomically, a dead
 * owner leaves a socket nobody answers on (so staleness is a connect() away, no PID guessing), and the
 * same socket is how the CLI reaches the running daemon.
 */
export const CONTROL_SOCKET = 'tern.sock';

export class DataDirLockedError extends Error {
  constructor(readonly dataDir: string) {
    super(`the data directory ${dataDir} is in use by a running Tern (control socket ${path.join(dataDir, CONTROL_SOCKET)} answers)`);
  }
}

export interface DataDirLock {
  /** The bound control socket; the daemon attaches its request handler, a CLI holder leaves it idle. */
  server: net.Server;
  socketPath: string;
  release(): Promise<void>;
}

export function controlSocketPath(dataDir: string): string {
  return path.join(path.resolve(dataDir), CONTROL_SOCKET);
}

function bind(server: net.Server, socketPath: string): Promise<NodeJS.ErrnoException | null> {
  return new Promise((resolve) => {
    const onError = (err: NodeJS.ErrnoException) => resolve(err);
    server.once('error', onError);
    server.listen(socketPath, () => {
      server.off('error', onError);
      resolve(null);
    });
  });
}

/** True when something accepts connections on the socket, i.e. a live owner. */
export function socketAnswers(socketPath: string, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(socketPath);
    const done = (alive: boolean) => {
      s.destroy();
      resolve(alive);
    };
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
    s.setTimeout(timeoutMs, () => done(true)); // accepted but silent: still somebody's
  });
}

/**
 * Takes the lock or throws DataDirLockedError. A stale socket (its owner died, e.g. SIGKILL) is replaced;
 * the replacement itself is serialised through an atomic mkdir so two starters can't both take over.
 */
export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o750 });
  const socketPath = controlSocketPath(dataDir);
  if (Buffer.byteLength(socketPath) > 100) {
    throw new Error(`data directory path too long for its control socket (${socketPath}); use a shorter data_dir`);
  }
  const takeover = path.join(path.dirname(socketPath), '.lock-takeover');
  for (let attempt = 0; attempt < 50; attempt++) {
    const server = net.createServer();
    const err = await bind(server, socketPath);
    if (!err) {
      fs.chmodSync(socketPath, 0o600); // the control channel is for the owner only
      return {
        server,
        socketPath,
        release: () =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            // Bun and Deno do not always unlink on close; a leftover is harmless (stale) but untidy.
            fs.rmSync(socketPath, { force: true });
          }),
      };
    }
    if (err.code !== 'EADDRINUSE') throw new Error(`cannot create control socket ${socketPath}: ${err.message}`, { cause: err });
    if (await socketAnswers(socketPath)) throw new DataDirLockedError(path.resolve(dataDir));
    try {
      fs.mkdirSync(takeover);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      // Someone else is taking over; a takeover dir older than 10 s was left by a crash mid-takeover.
      const st = fs.statSync(takeover, { throwIfNoEntry: false });
      if (st && Date.now() - st.mtimeMs > 10_000) fs.rmSync(takeover, { recursive: true, force: true });
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 50));
      continue;
    }
    try {
      if (!(await socketAnswers(socketPath))) fs.rmSync(socketPath, { force: true });
    } finally {
      fs.rmSync(takeover, { recursive: true, force: true });
    }
  }
  throw new Error(`could not take the lock on ${dataDir}: too much contention`);
}
