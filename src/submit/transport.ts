// How `tern sendmail` reaches the queue: through the running daemon, or straight into the store when none runs.
import { controlRequest, NoDaemonError } from '../control/client.ts';
import { controlSocketPath, DataDirLockedError, lockDataDir } from '../control/lock.ts';
import type { ControlRequest } from '../control/protocol.ts';
import type { Config } from '../config/schema.ts';
import { openStore } from '../store/open.ts';
import { migrate } from '../store/migrate.ts';
import { createIntake } from '../queue/intake.ts';
import { createDkimSigner } from '../dkim/signer.ts';
import { createLogger } from '../lib/log.ts';
import { createPipeline } from '../server/pipeline.ts';
import { newQueueId } from '../smtp/queue-id.ts';
import { encodeSubmitRequest } from './control.ts';
import { type LocalSubmission, type SubmitResult, submitLocal } from './local.ts';
import { errorText } from '../lib/errors.ts';

/** Long enough for a 35 MiB message through a busy intake; sendmail callers would rather wait than retry. */
const DAEMON_TIMEOUT_MS = 120_000;

/**
 * The daemon owns the embedded database, so it gets the message when it runs (one intake, one group
 * commit, its workers woken at once). With no daemon, the message goes into the store under the same
 * data-directory lock the daemon takes, and waits there for the next `tern serve`.
 */
export async function submitAnywhere(config: Config, sub: LocalSubmission): Promise<SubmitResult> {
  try {
    // ControlRequest lists the queue's own commands; 'submit' is contributed through ControlHandlers.
    const req = encodeSubmitRequest(sub) as unknown as ControlRequest;
    const res = await controlRequest(controlSocketPath(config.dataDir), req, DAEMON_TIMEOUT_MS);
    if (!res.ok) return { ok: false, kind: 'unavailable', reason: `the daemon refused the submission: ${res.error}` };
    return checkResult(res.result);
  } catch (err) {
    if (!(err instanceof NoDaemonError)) {
      // Connected but no answer (timeout, reset, the request was too long for it): the daemon is busy
      // or in trouble, and the message may be retried later.
      return { ok: false, kind: 'tempfail', reason: `the daemon did not take the message: ${errorText(err)}` };
    }
  }
  return submitOffline(config, sub);
}

/** The store path: also used while a daemon runs on PostgreSQL, which needs no lock (see askQueue). */
export async function submitOffline(config: Config, sub: LocalSubmission): Promise<SubmitResult> {
  let lock;
  try {
    lock = config.database.url ? null : await lockDataDir(config.dataDir);
  } catch (err) {
    // Locked means a daemon is starting or stopping right now: try again shortly.
    const kind = err instanceof DataDirLockedError ? 'tempfail' : 'unavailable';
    return { ok: false, kind, reason: errorText(err) };
  }
  try {
    let store;
    try {
      store = await openStore({ url: config.database.url, dataDir: config.dataDir, poolSize: 1 });
      await migrate(store);
    } catch (err) {
      await store?.close().catch(() => {});
      return { ok: false, kind: 'tempfail', reason: `cannot open the queue: ${errorText(err)}` };
    }
    const intake = createIntake(store);
    // The same pipeline as the daemon's, so mail queued while no daemon runs is DKIM-signed all the same.
    const log = createLogger({ format: config.log.format, level: 'warn' });
    const signer = config.dkim.sign ? createDkimSigner({ store, signedHeaders: config.dkim.signedHeaders, log }) : undefined;
    const queue = createPipeline({ intake, signer, isTrusted: () => true, log });
    try {
      return await submitLocal(
        { queue, hostname: config.hostname, maxMessageSize: config.smtp.maxMessageSize, now: () => new Date(), newQueueId },
        sub,
      );
    } finally {
      await intake.close();
      await store.close();
    }
  } finally {
    await lock?.release();
  }
}

function checkResult(v: unknown): SubmitResult {
  const r = v as Partial<Record<string, unknown>> | null;
  if (r?.ok === true && typeof r.queueId === 'string') return { ok: true, queueId: r.queueId };
  if (r?.ok === false && typeof r.reason === 'string' && (r.kind === 'dataerr' || r.kind === 'unavailable' || r.kind === 'tempfail')) {
    return { ok: false, kind: r.kind, reason: r.reason };
  }
  return { ok: false, kind: 'unavailable', reason: 'the daemon sent an unexpected answer to submit' };
}
