// Test databases: a fresh PGlite directory, or a fresh database on the server in TERN_TEST_DATABASE_URL,
// so the same store suite runs on both drivers (STYLE §7).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import postgres from 'postgres';
import { migrate } from '../../src/store/migrate.ts';
import { openStore, type Store } from '../../src/store/open.ts';

/** The server under test, or '' for PGlite. Tests read the environment here only. */
export const serverUrl: string = process.env.TERN_TEST_DATABASE_URL ?? '';

export interface TestDatabase {
  /** '' when testing PGlite; otherwise a URL to a database nobody else uses. */
  url: string;
  drop(): Promise<void>;
}

/** Only creates (and later drops) an empty database, for tests that start a whole server against a URL. */
export async function createTestDatabase(): Promise<TestDatabase> {
  if (serverUrl === '') return { url: '', drop: async () => {} };
  const name = `tern_test_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database "${name}"`);
  } finally {
    await admin.end({ timeout: 5 });
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    url: url.toString(),
    async drop() {
      if (dropped) return;
      dropped = true;
      const a = postgres(serverUrl, { max: 1, onnotice: () => {} });
      try {
        await a.unsafe(`drop database if exists "${name}" with (force)`);
      } finally {
        await a.end({ timeout: 5 });
      }
    },
  };
}

export function tempDir(prefix = 'tern-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export interface TestStore {
  store: Store;
  url: string;
  dataDir: string;
  /** Closes the store (if still open), drops the database or removes the directory. */
  cleanup(): Promise<void>;
}

/** A migrated, empty store on the driver under test. */
export async function openTestStore(opts: { poolSize?: number } = {}): Promise<TestStore> {
  const db = await createTestDatabase();
  const dataDir = tempDir();
  let store: Store;
  try {
    store = await openStore({ url: db.url, dataDir, poolSize: opts.poolSize ?? 4 });
    await migrate(store);
  } catch (err) {
    await db.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  return {
    store,
    url: db.url,
    dataDir,
    async cleanup() {
      await store.close().catch(() => {});
      await db.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
