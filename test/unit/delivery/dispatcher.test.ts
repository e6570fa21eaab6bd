// The dispatcher's caps: global and per-destination concurrency, bytes of bodies in flight, start rate.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Dispatcher, type Runnable } from '../../../src/delivery/dispatcher.ts';

/** Jobs that finish when told to, recording how many ran at once overall and per destination. */
function harness() {
  let active = 0;
  const peak = { all: 0, by: new Map<string, number>() };
  const activeBy = new Map<string, number>();
  const release: Array<() => void> = [];
  const started: string[] = [];
  const job = (key: string, weight = 1, name = key): Runnable => ({
    key,
    weight,
    run: () =>
      new Promise<void>((resolve) => {
        started.push(name);
        active++;
        activeBy.set(key, (activeBy.get(key) ?? 0) + 1);
        peak.all = Math.max(peak.all, active);
        peak.by.set(key, Math.max(peak.by.get(key) ?? 0, activeBy.get(key)!));
        release.push(() => {
          active--;
          activeBy.set(key, activeBy.get(key)! - 1);
          resolve();
        });
      }),
  });
  const finishAll = async (d: Dispatcher) => {
    while (d.size > 0) {
      const r = release.splice(0);
      r.forEach((f) => f());
      await new Promise((res) => setTimeout(res, 1));
    }
  };
  return { job, peak, started, release, finishAll };
}

describe('Dispatcher', () => {
  test('global and per-destination concurrency caps', async () => {
    const h = harness();
    const d = new Dispatcher({ concurrency: 3, destinationConcurrency: 2, destinationRate: 0, maxWeight: Infinity });
    for (let i = 0; i < 5; i++) d.submit(h.job('a'));
    for (let i = 0; i < 5; i++) d.submit(h.job('b'));
    assert.equal(d.active, 3);
    assert.equal(d.size, 10);
    await h.finishAll(d);
    assert.equal(h.peak.all, 3);
    assert.equal(h.peak.by.get('a'), 2);
    assert.equal(h.peak.by.get('b'), 2);
    assert.equal(h.started.length, 10);
    await d.idle();
  });

  test('bytes in flight: heavy jobs wait for room, a job heavier than the budget still runs alone', async () => {
    const h = harness();
    const d = new Dispatcher({ concurrency: 10, destinationConcurrency: 10, destinationRate: 0, maxWeight: 100 });
    d.submit(h.job('a', 60, 'first'));
    d.submit(h.job('b', 60, 'second')); // 120 > 100: waits
    assert.deepEqual(h.started, ['first']);
    h.release.shift()!();
    await new Promise((r) => setTimeout(r, 1));
    assert.deepEqual(h.started, ['first', 'second']);
    h.release.shift()!();
    await new Promise((r) => setTimeout(r, 1));
    d.submit(h.job('c', 500, 'huge'));
    assert.deepEqual(h.started.at(-1), 'huge', 'alone, it goes');
    await h.finishAll(d);
  });

  test('rate: starts per destination are spaced, other destinations are not held up', async () => {
    let now = 0;
    const h = harness();
    const d = new Dispatcher({ concurrency: 10, destinationConcurrency: 10, destinationRate: 2, maxWeight: Infinity, now: () => now });
    for (let i = 0; i < 5; i++) d.submit(h.job('slow', 1, `s${i}`));
    d.submit(h.job('other', 1, 'o'));
    assert.deepEqual(h.started, ['s0', 's1', 'o'], 'a burst of one second, then wait');
    now = 1000;
    await new Promise((r) => setTimeout(r, 600));
    assert.ok(h.started.includes('s2'));
    assert.ok(!h.started.includes('s4'));
    now = 10_000;
    await h.finishAll(d);
    assert.equal(h.started.length, 6);
  });

  test('takeWaiting hands back what has not started; idle() resolves when all is done', async () => {
    const h = harness();
    const d = new Dispatcher({ concurrency: 1, destinationConcurrency: 1, destinationRate: 0, maxWeight: Infinity });
    d.submit(h.job('a', 1, 'run'));
    d.submit(h.job('a', 1, 'wait1'));
    d.submit(h.job('b', 1, 'wait2'));
    const back = d.takeWaiting();
    assert.equal(back.length, 2);
    let idle = false;
    void d.idle().then(() => (idle = true));
    await new Promise((r) => setTimeout(r, 5));
    assert.equal(idle, false);
    h.release.shift()!();
    await new Promise((r) => setTimeout(r, 5));
    assert.equal(idle, true);
    assert.deepEqual(h.started, ['run']);
  });
});
