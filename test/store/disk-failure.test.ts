// The embedded database when the disk fails a flush: the commit must not be acknowledged, and nothing
// may hang afterwards (postgres PANICs, which stops PGlite's only backend).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { createIntake } from '../../src/queue/intake.ts';
import { migrate } from '../../src/store/migrate.ts';
import { openStore } from '../../src/store/open.ts';
import { tempDir } from '../support/db.ts';
import { minimalEnvelope, textBody } from './fixtures.ts';

const T = { timeout: 60_000 };

test('PGlite: a failed fdatasync rejects the enqueue and every later call, promptly', T, async () => {
  const dataDir = tempDir();
  let failing = false;
  const hostSync = {
    file(fd: number) {
      if (failing) throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
      fs.fdatasyncSync(fd);
    },
    directory: (fd: number) => fs.fsyncSync(fd),
  };
  const store = await openStore({ url: '', dataDir, poolSize: 1, hostSync });
  const quiet = console.error;
  try {
    await migrate(store);
    const intake = createIntake(store);
    await intake.enqueue(minimalEnvelope(), textBody(100));
    failing = true;
    console.error = () => {}; // pglite-fs reports the failure loudly; expected here
    await assert.rejects(intake.enqueue(minimalEnvelope(), textBody(100)), /could not fsync|I\/O error/);
    failing = false;
    // The backend is gone: later work fails at once instead of waiting forever.
    const started = Date.now();
    await assert.rejects(intake.enqueue(minimalEnvelope(), textBody(100)), /could not fsync/);
    await assert.rejects(store.notify('x', 'y'), /embedded database stopped/);
    assert.ok(Date.now() - started < 2000, 'no waiting on a dead backend');
    await intake.close();
  } finally {
    console.error = quiet;
    await store.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
