// Turns many concurrent single calls into few batched ones: while one batch runs, new calls wait and go together next.

/**
 * The intake's group commit, for any batched operation: the first call runs at once (no added latency when
 * idle); calls made while a batch is in flight are collected and run as the next batch, up to `maxBatch` per
 * batch. `run` gets the inputs in call order and must return one output per input, in the same order. If a
 * batch throws, every call in it rejects with that error; later batches are unaffected.
 */
export function coalesce<I, O>(run: (inputs: I[]) => Promise<O[]>, maxBatch = 100): (input: I) => Promise<O> {
  type Waiting = { input: I; resolve: (o: O) => void; reject: (e: unknown) => void };
  let queue: Waiting[] = [];
  let running = false;

  async function drain(): Promise<void> {
    running = true;
    try {
      while (queue.length > 0) {
        const batch = queue.slice(0, maxBatch);
        queue = queue.slice(batch.length);
        try {
          const out = await run(batch.map((w) => w.input));
          if (out.length !== batch.length) throw new Error(`batch returned ${out.length} results for ${batch.length} inputs`);
          batch.forEach((w, i) => w.resolve(out[i] as O));
        } catch (err) {
          for (const w of batch) w.reject(err);
        }
      }
    } finally {
      running = false;
    }
  }

  return (input) =>
    new Promise<O>((resolve, reject) => {
      queue.push({ input, resolve, reject });
      if (!running) void drain();
    });
}
