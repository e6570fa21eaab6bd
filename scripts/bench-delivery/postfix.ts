// Postfix as a peer of the delivery benchmark: scripts/peers/postfix.sh in relay mode, to its own smtp-sink.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { QUEUE, root, work } from './options.ts';
import { freePort, portOpen, run, waitFor } from '../lib/bench-os.ts';
import type { Mta } from './round.ts';
import { load, startSink } from './sink.ts';

/** Files under `dir`, recursively: Postfix's hold queue hashes queue files into subdirectories. */
const countFiles = (dir: string): number =>
  readdirSync(dir, { withFileTypes: true }).reduce((n, e) => n + (e.isDirectory() ? countFiles(join(dir, e.name)) : 1), 0);

/**
 * Postfix with its stock limits (default_destination_concurrency_limit 20). Queue mode: an access(5) HOLD
 * on every client puts each accepted message in the hold queue, the same durable write as the incoming
 * queue; `postsuper -H ALL` moves them back and `postqueue -f` has the queue manager deliver them at once.
 */
export async function postfixPeer(): Promise<Mta> {
  const sink = await startSink();
  const port = await freePort();
  const script = join(root, 'scripts/peers/postfix.sh');
  const env = { ...process.env, PEERS_DIR: work };
  const r = spawnSync(script, [String(port), 'relay', String(sink.port)], { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`postfix.sh failed: ${r.stderr}${r.stdout}`);
  const master = Number(r.stdout.trim().split('\n').pop());
  const dir = join(work, `postfix-${port}`);
  const etc = join(dir, 'etc');
  if (QUEUE) {
    run('postconf', ['-c', etc, '-e', 'smtpd_data_restrictions = check_client_access static:HOLD']);
    run('postfix', ['-c', etc, 'reload']);
  }
  await waitFor('postfix listening', 10_000, () => portOpen(port));
  return {
    name: 'postfix',
    sink,
    tern: false,
    withDb: false,
    async fill(_round, messages) {
      if (!QUEUE) return;
      await load(port, messages);
      await waitFor(`${messages} messages on hold`, 30_000, () => countFiles(join(dir, 'spool', 'hold')) >= messages);
    },
    async deliver() {
      run('postsuper', ['-c', etc, '-H', 'ALL']);
      run('postqueue', ['-c', etc, '-f']);
    },
    loadPort: () => port,
    pid: () => master,
    dbTicks: () => 0,
    finish: async () => null,
    async stop() {
      sink.stop();
      spawnSync(script, [String(port), 'stop'], { env });
    },
  };
}
