// `tern queue list|show|stats` and `tern status`: ask the running daemon, or open the store when none runs.
import { withOfflineStore } from './offline.ts';
import { controlRequest, NoDaemonError } from '../control/client.ts';
import { controlSocketPath } from '../control/lock.ts';
import type { ControlRequest } from '../control/protocol.ts';
import type { Config } from '../config/schema.ts';
import { createQueueReader } from '../queue/repo.ts';
import type { QueuedMessageSummary, QueueReader, RecipientState } from '../queue/types.ts';
import { CliError, EX_UNAVAILABLE } from './exit-codes.ts';

/**
 * The daemon owns the embedded database exclusively, so reads go through its control socket. With no daemon
 * running, the CLI takes the same lock itself and opens the store directly (a real PostgreSQL server needs
 * no lock: it serialises access on its own).
 */
export async function askQueue(config: Config, req: ControlRequest): Promise<unknown> {
  try {
    const res = await controlRequest(controlSocketPath(config.dataDir), req);
    if (!res.ok) throw new CliError(res.error, EX_UNAVAILABLE);
    return res.result;
  } catch (err) {
    if (!(err instanceof NoDaemonError)) throw err;
  }
  if (req.cmd === 'status') throw new CliError('Tern is not running (no daemon answers on the control socket)', EX_UNAVAILABLE);
  return withOfflineStore(config, (store) => offline(createQueueReader(store), req));
}

async function offline(reader: QueueReader, req: ControlRequest): Promise<unknown> {
  switch (req.cmd) {
    case 'queue.list':
      return reader.list({ limit: req.limit ?? 100, state: req.state as RecipientState | undefined });
    case 'queue.show': {
      const msg = await reader.get(req.id, { withBody: req.body === true });
      if (!msg) throw new CliError(`no message ${req.id} in the queue`, EX_UNAVAILABLE);
      return msg;
    }
    case 'queue.stats':
      return reader.stats();
    default:
      throw new CliError(`${req.cmd} needs the daemon`, EX_UNAVAILABLE);
  }
}

/** Human table for `tern queue list`; --json prints the raw result instead. */
export function formatList(rows: QueuedMessageSummary[]): string {
  if (rows.length === 0) return 'queue is empty';
  const lines = rows.map((m) => {
    const states = new Map<string, number>();
    for (const r of m.recipients) states.set(r.state, (states.get(r.state) ?? 0) + 1);
    const summary = [...states].map(([s, n]) => `${n} ${s}`).join(', ');
    const when = typeof m.receivedAt === 'string' ? m.receivedAt : new Date(m.receivedAt).toISOString();
    return `${m.id}  ${when}  ${String(m.size).padStart(9)}  <${m.sender}>  ${summary}`;
  });
  return [`${'id'.padEnd(rows[0].id.length)}  received${' '.repeat(17)}  ${'size'.padStart(9)}  sender  recipients`, ...lines].join('\n');
}
