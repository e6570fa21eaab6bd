// coalesce(): concurrent calls batched while one batch runs, results routed back, failures confined to their batch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { coalesce } from '../../../src/lib/coalesce.ts';

test('the first call runs alone at once; calls made meanwhile go together in the next batch', async () => {
  const batches: number[][] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const double = coalesce(async (xs: number[]) => {
    batches.push(xs);
    if (batches.length === 1) await gate;
    return xs.map((x) => x * 2);
  });
  const first = double(1);
  const rest = [double(2), double(3), double(4)];
  release();
  assert.deepEqual(await Promise.all([first, ...rest]), [2, 4, 6, 8]);
  assert.deepEqual(batches, [[1], [2, 3, 4]]);
});

test('batches hold at most maxBatch inputs', async () => {
  const sizes: number[] = [];
  const id = coalesce(async (xs: number[]) => (sizes.push(xs.length), xs), 2);
  assert.deepEqual(await Promise.all([1, 2, 3, 4, 5].map(id)), [1, 2, 3, 4, 5]);
  assert.ok(sizes.every((n) => n <= 2), String(sizes));
  assert.equal(sizes.reduce((a, b) => a + b, 0), 5);
});

test('a failing batch rejects its own calls only; the next batch still runs', async () => {
  let n = 0;
  const f = coalesce(async (xs: string[]) => {
    if (n++ === 0) throw new Error('database away');
    return xs.map((x) => x.toUpperCase());
  });
  const a = f('a');
  const b = f('b');
  await assert.rejects(a, /database away/);
  assert.equal(await b, 'B');
});

test('a batch returning the wrong number of results is an error, not a silent mix-up', async () => {
  const f = coalesce(async (_xs: number[]) => [1, 2, 3]);
  await assert.rejects(f(1), /3 results for 1 inputs/);
});
