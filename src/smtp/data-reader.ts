// Message data readers: DATA with dot-unstuffing and a strict end-of-data rule (RFC 5321 §4.5.2), BDAT
// chunks (RFC 3030), the bare CR/LF policy, the streaming size limit, and the Received count for §6.3.

const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;
// Below this, pinning a buffer is not worth a copy (see MessageSink.settle).
const PIN_SLACK = 4096;

/**
 * Collects the octets of one message, up to `limit`, as views into the received chunks (no copy; but see
 * settle()). Past the limit, or once the data is known to be refused, it only counts: memory stays near
 * `limit` however much a client sends (RFC 5321 §4.5.3.1.9 lets us refuse, not buffer, what is too big).
 */
export class MessageSink {
  #segments: Uint8Array[] = [];
  #settled = 0; // segments before this index have been through settle()
  #held = 0;
  /** Octets of message data seen so far (after dot-unstuffing), counted even when no longer kept. */
  size = 0;
  /** More than `limit` octets arrived: the message will get 552 5.3.4. */
  overflow = false;
  /** A bare CR or LF arrived: the message will get 550 5.6.0 (see DotReader for the policy). */
  bare = false;

  readonly limit: number;

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Octets currently held in memory. */
  get held(): number {
    return this.#held;
  }

  append(buf: Uint8Array, from: number, to: number): void {
    const n = to - from;
    this.size += n;
    if (this.overflow || this.bare) return;
    if (this.size > this.limit) {
      this.overflow = true;
      this.#drop();
      return;
    }
    this.#segments.push(buf.subarray(from, to));
    this.#held += n;
  }

  /**
   * Called once per input chunk, after its octets were appended. A view pins its whole ArrayBuffer: a host
   * that reads into big buffers would let a message trickling in small pieces hold many times its size.
   * So views that use less than half of their buffer are copied into one compact array; the usual case
   * (a chunk mostly made of message data) keeps its views and costs nothing.
   */
  settle(): void {
    const segs = this.#segments;
    const from = this.#settled;
    this.#settled = segs.length;
    if (from >= segs.length) return;
    let n = 0;
    for (let i = from; i < segs.length; i++) n += segs[i].length;
    if (segs[from].buffer.byteLength <= 2 * n + PIN_SLACK) return;
    const compact = new Uint8Array(n);
    let at = 0;
    for (let i = from; i < segs.length; i++) {
      compact.set(segs[i], at);
      at += segs[i].length;
    }
    segs.length = from;
    segs.push(compact);
    this.#settled = segs.length;
  }

  markBare(): void {
    if (this.bare) return;
    this.bare = true;
    this.#drop();
  }

  #drop(): void {
    this.#segments = [];
    this.#settled = 0;
    this.#held = 0;
  }

  /** The final message: `prefix` (our Received header) then the data, built with exactly one copy of the data. */
  assemble(prefix: Uint8Array): Uint8Array {
    const out = new Uint8Array(prefix.length + this.#held);
    out.set(prefix, 0);
    let at = prefix.length;
    for (const seg of this.#segments) {
      out.set(seg, at);
      at += seg.length;
    }
    this.#drop();
    return out;
  }
}

// DotReader states: where in a line the next octet falls.
const LINE_START = 0; // just after CRLF (or the DATA command line)
const AFTER_DOT = 1; // a "." at line start, not yet known to be stuffing or the end
const AFTER_DOT_CR = 2; // ".\r" at line start: the end if LF follows
const MID_LINE = 3;

/**
 * DATA reader (RFC 5321 §4.1.1.4, §4.5.2). Data ends ONLY at CRLF "." CRLF, the first CRLF possibly being
 * the one that ended the DATA command, so ".\r\n" right after 354 is an empty message. A leading "." is
 * removed from every other line.
 *
 * Bare CR / bare LF policy: REJECT. SMTP smuggling (CVE-2023-51764, -51765, -51766 class) works when two
 * servers disagree on where data ends ("\n.\n", "\n.\r\n", "\r\n.\n", "\r.\r\n" ...), letting a sender hide
 * a second transaction inside a message. Here no bare CR or LF ever ends data or starts a line; if one is
 * seen the reader still waits for the real CRLF.CRLF, then the whole message is refused with 550 5.6.0
 * (RFC 5321 §2.3.8: bare CR and LF MUST NOT be sent), so nothing smuggled is ever processed as commands
 * and no ambiguous message is passed on. The session continues after the refusal.
 */
export class DotReader {
  #state = LINE_START;
  #crPending = false; // the chunk ended in a CR inside a line: the next octet decides if it was bare

  readonly sink: MessageSink;

  constructor(sink: MessageSink) {
    this.sink = sink;
  }

  /**
   * Scans buf[pos, end) in place, appending unstuffed data to the sink. Returns the index just after the
   * terminator, or -1 when all octets were consumed and more are needed.
   */
  scan(buf: Uint8Array, pos: number, end: number): number {
    const sink = this.sink;
    let seg = pos; // start of the data not yet appended
    let nextCr = -1; // cached position of the next CR at or after pos (end if none); keeps the scan linear
    while (pos < end) {
      switch (this.#state) {
        case LINE_START:
          if (buf[pos] === DOT) {
            if (pos > seg) sink.append(buf, seg, pos);
            seg = ++pos;
            this.#state = AFTER_DOT;
          } else {
            this.#state = MID_LINE;
          }
          break;
        case AFTER_DOT:
          if (buf[pos] === CR) {
            seg = ++pos;
            this.#state = AFTER_DOT_CR;
          } else {
            this.#state = MID_LINE; // a stuffed dot: already dropped
          }
          break;
        case AFTER_DOT_CR:
          if (buf[pos] === LF) {
            this.#state = LINE_START;
            sink.settle();
            return pos + 1;
          }
          sink.markBare(); // "." CR then something else: the "\r\n.\r" smuggling shape
          this.#state = MID_LINE;
          break;
        default: {
          const lf = buf.indexOf(LF, pos);
          const prevCr = this.#crPending;
          this.#crPending = false;
          if (prevCr && lf !== pos) sink.markBare();
          if (nextCr < pos) {
            nextCr = buf.indexOf(CR, pos);
            if (nextCr < 0) nextCr = end;
          }
          if (lf < 0) {
            // The line goes on in the next chunk; a CR as our last octet may pair with its first.
            if (nextCr < end - 1) sink.markBare();
            else if (nextCr === end - 1) this.#crPending = true;
            pos = end;
            break;
          }
          if (nextCr < lf - 1) sink.markBare(); // a CR inside the line, not the one ending it
          const crlf = lf > pos ? buf[lf - 1] === CR : prevCr;
          if (!crlf) sink.markBare();
          // After a bare LF we are NOT at a line start: "\n.\r\n" must not end the data.
          this.#state = crlf ? LINE_START : MID_LINE;
          pos = lf + 1;
        }
      }
    }
    if (seg < end) sink.append(buf, seg, end);
    sink.settle();
    return -1;
  }
}

/**
 * BDAT chunk consumer (RFC 3030 §2): exactly `remaining` octets, no unstuffing. Line endings are still
 * checked across chunk boundaries: BDAT carries text in canonical CRLF form (§2, BINARYMIME is not offered),
 * and the same smuggling policy applies when the message is relayed later with DATA.
 */
export class BdatReader {
  remaining = 0;
  #crPending = false;

  /** sink null = consume and discard (a refused BDAT must still swallow its octets to stay in sync). */
  readonly sink: MessageSink | null;

  constructor(sink: MessageSink | null) {
    this.sink = sink;
  }

  /** Consumes up to `remaining` octets of buf[from, to); returns how many. */
  consume(buf: Uint8Array, from: number, to: number): number {
    const n = Math.min(this.remaining, to - from);
    this.remaining -= n;
    const sink = this.sink;
    if (sink === null || n === 0) return n;
    if (!sink.bare) this.#check(buf, from, from + n);
    sink.append(buf, from, from + n);
    sink.settle();
    return n;
  }

  /** Call after the LAST chunk: a CR as the final octet was bare. */
  finish(): void {
    if (this.#crPending) this.sink?.markBare();
    this.#crPending = false;
  }

  #check(buf: Uint8Array, from: number, to: number): void {
    const sink = this.sink!;
    let pos = from;
    if (this.#crPending) {
      this.#crPending = false;
      if (buf[pos] !== LF) return sink.markBare();
      pos++;
    }
    for (let lf = buf.indexOf(LF, pos); lf >= 0 && lf < to; lf = buf.indexOf(LF, lf + 1)) {
      if (lf === pos && pos === from) return sink.markBare(); // LF first, with no CR pending
      if (buf[lf - 1] !== CR) return sink.markBare();
    }
    for (let cr = buf.indexOf(CR, pos); cr >= 0 && cr < to; cr = buf.indexOf(CR, cr + 1)) {
      if (cr === to - 1) this.#crPending = true;
      else if (buf[cr + 1] !== LF) return sink.markBare();
    }
  }
}

const RECEIVED = 'received:';

/**
 * Counts "Received:" fields at line starts in the header section of buf[from, to) — up to the first empty
 * line — stopping at `max`. RFC 5321 §6.3: a loop shows as a pile of our own and others' trace fields.
 */
export function countReceivedHeaders(buf: Uint8Array, from: number, to: number, max: number): number {
  let count = 0;
  let pos = from;
  while (pos < to && count < max) {
    if (buf[pos] === CR && buf[pos + 1] === LF) break; // the empty line ending the header section
    if (pos + RECEIVED.length <= to && startsWithReceived(buf, pos)) count++;
    const lf = buf.indexOf(LF, pos);
    if (lf < 0 || lf >= to) break;
    pos = lf + 1;
  }
  return count;
}

function startsWithReceived(buf: Uint8Array, pos: number): boolean {
  for (let k = 0; k < RECEIVED.length - 1; k++) {
    // ASCII letters only here, so OR-ing 0x20 lower-cases exactly.
    if ((buf[pos + k] | 0x20) !== RECEIVED.charCodeAt(k)) return false;
  }
  return buf[pos + RECEIVED.length - 1] === 0x3a;
}
