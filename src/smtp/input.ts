// The session's unread input: a queue of received chunks read in place, so message data is never copied
// on its way in (the one copy happens when the finished message is assembled).

const EMPTY = new Uint8Array(0);

/**
 * A FIFO of byte chunks. Chunks are kept by reference: whoever pushes one hands it over and must not
 * modify it afterwards (socket 'data' buffers are fresh per event, so the server can pass them straight in).
 */
export class InputBuffer {
  #chunks: Uint8Array[] = [];
  #head = 0; // read offset into #chunks[0]
  #size = 0;

  /** Unread octets. */
  get size(): number {
    return this.#size;
  }

  push(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.#chunks.push(bytes);
    this.#size += bytes.length;
  }

  /** Drops everything unread; returns how much that was (for the log). */
  clear(): number {
    const n = this.#size;
    this.#chunks = [];
    this.#head = 0;
    this.#size = 0;
    return n;
  }

  /** The first chunk, read in place from `frontOffset`; empty when nothing is buffered. */
  get front(): Uint8Array {
    return this.#chunks.length === 0 ? EMPTY : this.#chunks[0];
  }

  get frontOffset(): number {
    return this.#head;
  }

  /** Consumes n octets (any n up to size). */
  skip(n: number): void {
    this.#size -= n;
    while (n > 0) {
      const first = this.#chunks[0];
      const left = first.length - this.#head;
      if (n < left) {
        this.#head += n;
        return;
      }
      n -= left;
      this.#chunks.shift();
      this.#head = 0;
    }
  }

  /**
   * Position (relative to the unread start) of the first `byte` at or after `from`, or -1. Native indexOf
   * per chunk: command lines are found without a per-byte loop in JS.
   */
  indexOf(byte: number, from: number): number {
    let base = 0;
    for (let i = 0; i < this.#chunks.length; i++) {
      const chunk = this.#chunks[i];
      const start = i === 0 ? this.#head : 0;
      const len = chunk.length - start;
      if (from < base + len) {
        const at = chunk.indexOf(byte, start + Math.max(0, from - base));
        if (at >= 0) return base + at - start;
      }
      base += len;
    }
    return -1;
  }

  /** Removes and returns the next n octets: a view when they lie in one chunk, else one copy. */
  take(n: number): Uint8Array {
    const first = this.#chunks[0];
    if (first !== undefined && first.length - this.#head >= n) {
      const out = first.subarray(this.#head, this.#head + n);
      this.skip(n);
      return out;
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.#chunks[0];
      const part = Math.min(n - filled, chunk.length - this.#head);
      out.set(chunk.subarray(this.#head, this.#head + part), filled);
      filled += part;
      this.skip(part);
    }
    return out;
  }
}
