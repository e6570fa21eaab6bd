// Makes the embedded database durable: PGlite's file system as shipped never reaches the disk on commit.
//
// Threat: lost acknowledged mail. We answer "250 queued" only after COMMIT; if that commit sits in the
// page cache when the machine loses power, the sender has already forgotten the message.
//
// Measured on PGlite 0.5.17 (strace -f -y -e trace=fsync,fdatasync around 200 single-message commits):
// - as shipped: 0 sync calls. PGlite.defaultStartParams contains '-F', so postgres runs with fsync=off;
// - without '-F': still 0. Emscripten's NODEFS has no stream_ops.fsync (fsync(2) -> fd_sync ->
//   stream_ops.fsync?.() is a silent no-op) and its __syscall_fdatasync ignores the descriptor;
// - with this file: 201 fdatasync on the WAL segment (one per commit, one at shutdown) plus the
//   shutdown checkpoint's data files, pg_control and 6 directory fsyncs. Under concurrency the intake's
//   group commit puts ~50 messages behind each fdatasync (scripts/bench-store.ts prints the ratio).
// How: stream_ops.fsync on NODEFS calls the host's fdatasync on the real descriptor (stream.nfd), and
// postgres starts without '-F' and with wal_sync_method=fsync, so every WAL flush calls fsync(2), which
// reaches our op (the default method, fdatasync, would go to the no-op syscall). No supported hook
// exists in this version: PGliteOptions has no fsync switch, and Filesystem.syncToFs() runs after every
// query with no descriptor to sync (it exists for IndexedDB/OPFS write-back), so it could only sync the
// whole tree.
//
// Directory entries, as observed: a new WAL segment is written as pg_wal/xlogtemp.N, fdatasync'd,
// renamed, fdatasync'd again and then pg_wal itself is fsync'd — before any commit record in it can be
// acknowledged. Postgres opens the directory O_RDONLY through NODEFS, which opens the real directory, so
// our op fsyncs it (fsync, not fdatasync: the entries are the metadata we need). Checkpoints fsync the
// data files and directories they touched before the checkpoint record is written. Some file systems
// refuse fsync on a directory (EINVAL) or the descriptor is not syncable (EBADF, EISDIR): postgres's own
// fsync_fname ignores exactly these for directories, so do we. Every other error returns EIO to
// postgres, which PANICs (data_sync_retry=off): stopping is the correct answer to "the disk lost a
// write", since continuing would acknowledge mail that may not be on disk (the 2018 "fsyncgate" lesson).
//
// The resulting guarantee: when a commit returns, its WAL records are on stable storage as far as the
// host's fdatasync promises (that is, if the disk honours cache flushes), and the WAL segment's directory
// entry is too; after a power cut, postgres's crash recovery (full_page_writes=on repairs torn pages)
// restores every acknowledged transaction. Not covered here: the directory that holds `pglite/` (the
// caller's dataDir) must itself already be durable, and the files initdb wrote are synced by syncTree()
// once, right after they are created.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NodeFS } from '@electric-sql/pglite/nodefs';
import { PGlite } from '@electric-sql/pglite';

type InitArgs = Parameters<NodeFS['init']>;
type InitResult = Awaited<ReturnType<NodeFS['init']>>;

const EIO = 29; // Emscripten's errno numbering (wasi), not Linux's
const DIRECTORY_SYNC_TOLERATED = new Set(['EINVAL', 'EBADF', 'EISDIR']);

interface EmscriptenStream {
  nfd?: number;
  node: { mode: number };
}
interface EmscriptenModule {
  NODEFS: { stream_ops: { fsync?: (stream: EmscriptenStream) => number } };
  FS: { isDir(mode: number): boolean };
}

/** How a descriptor reaches the disk; replaceable so tests can make the disk fail. */
export interface HostSync {
  file(fd: number): void;
  directory(fd: number): void;
}

const hostSync: HostSync = { file: (fd) => fs.fdatasyncSync(fd), directory: (fd) => fs.fsyncSync(fd) };

/** NodeFS whose fsync reaches the disk. Use together with durableStartParams(). */
export class DurableNodeFS extends NodeFS {
  private readonly sync: HostSync;

  constructor(dataDir: string, sync: HostSync = hostSync) {
    super(dataDir);
    this.sync = sync;
  }

  override async init(pg: InitArgs[0], opts: InitArgs[1]): Promise<InitResult> {
    const installFsync = (mod: unknown) => {
      const m = mod as EmscriptenModule;
      m.NODEFS.stream_ops.fsync = (stream) => {
        if (stream.nfd === undefined) return 0; // never opened on the host: nothing to flush
        const isDir = m.FS.isDir(stream.node.mode);
        try {
          if (isDir) this.sync.directory(stream.nfd);
          else this.sync.file(stream.nfd);
          return 0;
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code ?? '';
          if (isDir && DIRECTORY_SYNC_TOLERATED.has(code)) return 0;
          console.error(`pglite: fsync failed (${code}); the database will stop`, err);
          return EIO;
        }
      };
    };
    const prepended = { ...opts, preRun: [installFsync, ...(opts.preRun ?? [])] } as InitArgs[1];
    return super.init(pg, prepended);
  }
}

/** PGlite's own start parameters without '-F' (fsync=off), with the one WAL sync method that reaches the disk. */
export function durableStartParams(): string[] {
  return [...PGlite.defaultStartParams.filter((p) => p !== '-F'), '-c', 'wal_sync_method=fsync'];
}

/**
 * PGlite's initdb runs in memory and its result is unpacked into the data directory with plain writes:
 * until something syncs them, a power cut right after the first start could leave a half-written
 * catalog. Postgres syncs the whole directory itself only when it recovers from a crash, so after a
 * fresh initdb we do it once from the host.
 */
export function syncTree(dir: string): void {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) syncTree(p);
    else if (entry.isFile()) syncPath(p, 'r+');
  }
  syncDirectory(dir);
}

/** fsync one directory's entries (not its contents): makes a newly created child survive a power cut. */
export function syncDirectory(dir: string): void {
  syncPath(dir, 'r');
}

function syncPath(p: string, flags: string): void {
  const fd = fs.openSync(p, flags);
  try {
    fs.fsyncSync(fd);
  } catch (err) {
    if (flags === 'r' && DIRECTORY_SYNC_TOLERATED.has((err as NodeJS.ErrnoException).code ?? '')) return;
    throw err;
  } finally {
    fs.closeSync(fd);
  }
}
