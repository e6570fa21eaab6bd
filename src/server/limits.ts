// Connection admission and shared memory budget: the caps that keep one hostile peer from exhausting the host.

/** Why a connection was refused at accept time; the caller answers 421 4.7.0 and closes. */
export type AdmitRefusal = 'max-connections' | 'max-connections-per-ip';

export interface Admission {
  /** Call when the connection ends; idempotent. */
  release(): void;
}

/**
 * Counts live connections in total and per remote address. A plain Map is enough: it holds at most
 * maxConnections entries because admission fails before an entry would be added beyond that.
 */
export class ConnectionLimiter {
  #total = 0;
  readonly #perIp = new Map<string, number>();

  constructor(
    private readonly maxTotal: number,
    private readonly maxPerIp: number,
  ) {}

  get total(): number {
    return this.#total;
  }

  admit(ip: string): Admission | AdmitRefusal {
    if (this.#total >= this.maxTotal) return 'max-connections';
    const n = this.#perIp.get(ip) ?? 0;
    if (n >= this.maxPerIp) return 'max-connections-per-ip';
    this.#total++;
    this.#perIp.set(ip, n + 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.#total--;
        const left = (this.#perIp.get(ip) ?? 1) - 1;
        if (left <= 0) this.#perIp.delete(ip);
        else this.#perIp.set(ip, left);
      },
    };
  }
}

/**
 * Octets of message data held by all sessions together. Each session is bounded by the message size
 * limit, but a thousand slow senders of maximal messages would still exhaust memory; past this budget
 * the server sheds the newest bytes' session with 421 4.3.1 instead of the process dying. The message was
 * never acknowledged, so the client retries later and nothing is lost.
 */
export class InflightBudget {
  #used = 0;
  constructor(private readonly max: number) {}

  get used(): number {
    return this.#used;
  }

  /** Returns false (and takes nothing) when taking n more octets would exceed the budget. */
  take(n: number): boolean {
    if (this.#used + n > this.max) return false;
    this.#used += n;
    return true;
  }

  give(n: number): void {
    this.#used = Math.max(0, this.#used - n);
  }
}
