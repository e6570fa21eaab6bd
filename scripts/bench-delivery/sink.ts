// The two ends of the load: Postfix's smtp-sink counting what an MTA delivers, and smtp-source feeding it.
import { spawn, type ChildProcess } from 'node:child_process';
import { opts, SIZE } from './options.ts';
import { freePort, portOpen, waitFor } from '../lib/bench-os.ts';

/** Helper processes to end if the benchmark dies half-way: an orphaned smtp-sink would hold its port. */
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

export interface Window {
  /** performance.now() when the count first moved past `from`, and when it reached the target (or the cap). */
  first: number;
  last: number;
  /** The count at `first` (the messages of that instant are outside the window), and at `last`. */
  firstCount: number;
  reached: number;
}

export interface Sink {
  port: number;
  /** Messages received so far (smtp-sink's running count). */
  count: number;
  /** Resolves when the count reaches `target`, or after --cap; `onFirst` runs as the first message lands. */
  watch(from: number, target: number, onFirst: () => void): Promise<Window>;
  stop(): void;
}

/** smtp-sink -c rewrites "sess=N quit=N mesg=N" on every change: we see each message land. */
export async function startSink(): Promise<Sink> {
  const port = await freePort();
  const child = spawn('smtp-sink', ['-u', 'nobody', '-c', `127.0.0.1:${port}`, '1024'], { stdio: ['ignore', 'pipe', 'ignore'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  let tail = '';
  let listener: (() => void) | null = null;
  const sink: Sink = {
    port,
    count: 0,
    watch(from, target, onFirst) {
      return new Promise((res) => {
        const w: Window = { first: 0, last: 0, firstCount: 0, reached: 0 };
        const done = () => {
          clearTimeout(timer);
          listener = null;
          res({ ...w, first: w.first || performance.now(), last: performance.now(), reached: sink.count });
        };
        const timer = setTimeout(done, opts.capMs);
        listener = () => {
          if (w.first === 0 && sink.count > from) {
            w.first = performance.now();
            w.firstCount = sink.count;
            onFirst();
          }
          if (sink.count >= target) done();
        };
        listener();
      });
    },
    stop: () => void child.kill('SIGTERM'),
  };
  child.stdout!.on('data', (d: Buffer) => {
    tail = (tail + d.toString('latin1')).slice(-200);
    const all = [...tail.matchAll(/mesg=(\d+)/g)];
    if (all.length) sink.count = Number(all.at(-1)![1]);
    listener?.();
  });
  await waitFor('smtp-sink listening', 10_000, () => portOpen(port));
  return sink;
}

/** smtp-source: `messages` 5 KB messages over --sessions persistent sessions; resolves when it exits. */
export async function load(port: number, messages: number): Promise<void> {
  const args = ['-d', '-s', String(opts.sessions), '-m', String(messages), '-l', String(SIZE), '-M', 'client.test'];
  args.push('-f', 's@client.test', '-t', 'r@example.test', `127.0.0.1:${port}`);
  const child = spawn('smtp-source', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(child);
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  children.delete(child);
  if (code !== 0) throw new Error(`smtp-source exit ${code}: ${err.trim().split('\n').pop()}`);
}
