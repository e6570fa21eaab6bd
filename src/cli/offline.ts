// The CLI's way to the database when no daemon runs: the data-directory lock, the store, migrations, then the work.
import { DataDirLockedError, lockDataDir } from '../control/lock.ts';
import type { Config } from '../config/schema.ts';
import { migrate } from '../store/migrate.ts';
import { openStore, type Store } from '../store/open.ts';
import { CliError, EX_TEMPFAIL } from './exit-codes.ts';

/**
 * The daemon owns the embedded database exclusively, so a command that found no daemon takes the same lock
 * before opening it (a real PostgreSQL server needs none: it serialises access on its own). Locked means a
 * daemon is starting or stopping right now: EX_TEMPFAIL, try again.
 */
export async function withOfflineStore<T>(config: Config, work: (store: Store) => Promise<T>): Promise<T> {
  let lock;
  try {
    lock = config.database.url ? null : await lockDataDir(config.dataDir);
  } catch (err) {
    if (err instanceof DataDirLockedError) throw new CliError(`${err.message}; try again`, EX_TEMPFAIL);
    throw err;
  }
  try {
    const store = await openStore({ url: config.database.url, dataDir: config.dataDir, poolSize: 1 });
    try {
      await migrate(store);
      return await work(store);
    } finally {
      await store.close();
    }
  } finally {
    await lock?.release();
  }
}
