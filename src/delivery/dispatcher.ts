// Runs delivery jobs within the global and per-destination concurrency caps and per-destination rate limits.

/** A unit of work for one destination; `run` settles when the job's results are recorded. */
export interface Runnable {
  key: string; // destination key (Route.key)
  weight: number; // octets of message held while it runs (the body it loads)
  run(): Promise<void>;
}

export interface DispatcherOptions {
  concurrency: number; // jobs in progress at once, all destinations
  destinationConcurrency: number; // jobs in progress at once per destination
  destinationRate: number; // job starts per second per destination; 0 = unlimited
  maxWeight: number; // total weight of running jobs; a job heavier than this still runs when nothing else does
  now?: () => number;
}

interface Destination {
  active: number;
  waiting: Runnable[];
  tokens: number;
  refilledAt: number;
}

/**
 * Fair enough and simple: destinations are visited in insertion order each time capacity frees up, so one
 * busy destination cannot starve the others beyond its own per-destination cap. Rate limiting is a token
 * bucket per destination (burst = one second's worth), which spaces job starts, not bytes.
 */
export class Dispatcher {
  readonly #dests = new Map<string, Destination>();
  #active = 0;
  #waiting = 0;
  #weight = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;
  readonly #now: () => number;
  readonly #idle: Array<() => void> = [];

  constructor(private readonly opts: DispatcherOptions) {
    this.#now = opts.now ?? Date.now;
  }

  /** Jobs running plus jobs waiting for a slot. */
  get size(): number {
    return this.#active + this.#waiting;
  }

  get active(): number {
    return this.#active;
  }

  submit(job: Runnable): void {
    let d = this.#dests.get(job.key);
    if (!d) {
      d = { active: 0, waiting: [], tokens: Math.max(1, this.opts.destinationRate), refilledAt: this.#now() };
      this.#dests.set(job.key, d);
    }
    d.waiting.push(job);
    this.#waiting++;
    this.#drain();
  }

  /** Removes and returns every job not yet started (shutdown: their claims are given back). */
  takeWaiting(): Runnable[] {
    const out: Runnable[] = [];
    for (const d of this.#dests.values()) out.push(...d.waiting.splice(0));
    this.#waiting = 0;
    return out;
  }

  /** Resolves when nothing runs and nothing waits. */
  idle(): Promise<void> {
    if (this.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #drain(): void {
    let nextRefill = Infinity;
    for (const [key, d] of this.#dests) {
      while (d.waiting.length > 0 && this.#active < this.opts.concurrency && d.active < this.opts.destinationConcurrency) {
        // Memory: bodies of jobs in progress stay under maxWeight (issue 2's "memory bounded" on the way out).
        if (this.#active > 0 && this.#weight + d.waiting[0].weight > this.opts.maxWeight) break;
        const wait = this.#takeToken(d);
        if (wait > 0) {
          nextRefill = Math.min(nextRefill, wait);
          break;
        }
        const job = d.waiting.shift()!;
        this.#waiting--;
        d.active++;
        this.#active++;
        this.#weight += job.weight;
        void job
          .run()
          .catch(() => {}) // run() records its own failures; a rejection here must not stop the dispatcher
          .finally(() => {
            d.active--;
            this.#active--;
            this.#weight -= job.weight;
            if (d.active === 0 && d.waiting.length === 0) this.#dests.delete(key);
            this.#drain();
          });
      }
    }
    if (nextRefill !== Infinity && this.#timer === null) {
      this.#timer = setTimeout(() => {
        this.#timer = null;
        this.#drain();
      }, Math.ceil(nextRefill));
    }
    if (this.size === 0) for (const wake of this.#idle.splice(0)) wake();
  }

  /** 0 when a start is allowed now (and takes a token), else the milliseconds until one is. */
  #takeToken(d: Destination): number {
    const rate = this.opts.destinationRate;
    if (rate <= 0) return 0;
    const now = this.#now();
    d.tokens = Math.min(Math.max(1, rate), d.tokens + ((now - d.refilledAt) / 1000) * rate);
    d.refilledAt = now;
    if (d.tokens >= 1) {
      d.tokens -= 1;
      return 0;
    }
    return ((1 - d.tokens) / rate) * 1000;
  }
}
