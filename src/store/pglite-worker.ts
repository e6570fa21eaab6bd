// The embedded database's own thread: PGlite runs here so its synchronous work never stalls SMTP sessions.
//
// Why a thread: PGlite executes postgres synchronously inside the JS thread that calls it, and its durable
// file system (pglite-fs.ts) blocks on fdatasync. On the main thread that froze every session for each
// commit, so no other message could arrive meanwhile and group commit never grouped: measured under
// smtp-source with 10 sessions, 5500 messages took 5500 transactions at about 1100 msg/s. Here the
// database works while the main thread keeps reading SMTP, and one commit carries what arrived meanwhile.
import type { PGlite, Transaction } from '@electric-sql/pglite';
import { openDurablePglite } from './pglite-engine.ts';
import { toWireError, type WorkerMessage, type WorkerRequest } from './pglite-protocol.ts';

interface WorkerScope {
  onmessage: ((ev: MessageEvent<WorkerRequest>) => void) | null;
  postMessage(msg: WorkerMessage): void;
  close(): void;
}
const scope = globalThis as unknown as WorkerScope;

let pg: PGlite | null = null;
let nextHandle = 1;
const transactions = new Map<number, { tx: Transaction; finish(commit: boolean): void; done: Promise<void> }>();
const listeners = new Map<number, () => Promise<void>>();

/** Values of these types come back as the raw text, for the main thread's own parsers (drizzle's). */
function rawParsers(types: number[]): Record<number, (v: string) => string> {
  const out: Record<number, (v: string) => string> = {};
  for (const t of types) out[t] = (v) => v;
  return out;
}

function db(): PGlite {
  if (!pg) throw new Error('embedded database is not open');
  return pg;
}

function target(tx: number | undefined): PGlite | Transaction {
  if (tx === undefined) return db();
  const t = transactions.get(tx);
  if (!t) throw new Error(`no open transaction ${tx}`);
  return t.tx;
}

/** Holds a PGlite transaction open until the main thread says commit or roll back. */
async function begin(): Promise<number> {
  const handle = nextHandle++;
  let started!: () => void;
  const ready = new Promise<void>((resolve) => (started = resolve));
  const done = db().transaction(async (tx) => {
    const commit = await new Promise<boolean>((finish) => {
      transactions.set(handle, { tx, finish, done });
      started();
    });
    if (!commit) await tx.rollback();
  });
  done.catch(() => {}).finally(() => transactions.delete(handle));
  await Promise.race([ready, done]); // a failed BEGIN rejects through done
  return handle;
}

async function handle(req: WorkerRequest): Promise<unknown> {
  switch (req.op) {
    case 'open':
      pg = await openDurablePglite(req.dir);
      return null;
    case 'query': {
      const r = await target(req.tx).query(req.text, req.params, { rowMode: req.rowMode, parsers: rawParsers(req.rawTypes) });
      return { rows: r.rows, fields: r.fields, affectedRows: r.affectedRows };
    }
    case 'exec':
      await target(req.tx).exec(req.text);
      return null;
    case 'begin':
      return begin();
    case 'end': {
      const t = transactions.get(req.tx);
      if (!t) throw new Error(`no open transaction ${req.tx}`);
      t.finish(req.commit);
      await t.done;
      return null;
    }
    case 'listen': {
      const listener = nextHandle++;
      const unlisten = await db().listen(req.channel, (payload) => scope.postMessage({ event: 'notify', listener, payload }));
      listeners.set(listener, unlisten);
      return listener;
    }
    case 'unlisten':
      await listeners.get(req.listener)?.();
      listeners.delete(req.listener);
      return null;
    case 'close':
      await pg?.close();
      pg = null;
      return null;
  }
}

// Requests run concurrently, as they would on one PGlite instance in-process: PGlite's own mutexes order
// them (a statement from outside an open transaction waits for it to end).
scope.onmessage = (ev) => {
  const req = ev.data;
  handle(req).then(
    (result) => scope.postMessage({ id: req.id, ok: true, result }),
    (err: unknown) => scope.postMessage({ id: req.id, ok: false, error: toWireError(err) }),
  );
};
