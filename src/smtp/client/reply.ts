// Reply side of the SMTP client, sans-I/O: the peer's bytes -> complete replies (RFC 5321 §4.2), with
// enhanced status codes (RFC 2034) picked out, and memory bounded however the peer behaves.
import { InputBuffer } from '../input.ts';

/** One complete reply from the peer. */
export interface ClientReply {
  code: number;
  /** RFC 3463 "class.subject.detail" from the first line when the peer gave one (RFC 2034 §4), else null. */
  status: string | null;
  /** Every line as received, without its line ending (control characters replaced, see below). */
  lines: string[];
}

/** What the reader produced: a reply, or a protocol violation after which the stream cannot be trusted. */
export type ReplyEvent = { kind: 'reply'; reply: ClientReply } | { kind: 'error'; reason: string };

// RFC 5321 §4.5.3.1.5 caps a reply line at 512 octets; real servers (Exchange, long policy texts) exceed
// it, so four times that is kept and the rest of a longer line is dropped as it streams in.
export const MAX_REPLY_LINE = 2048;
// The longest legitimate reply is an EHLO list of a few dozen keywords; a peer streaming continuation
// lines forever must not grow memory (one reply's lines are held until its last line).
export const MAX_REPLY_LINES = 128;

const LF = 0x0a;
const CR = 0x0d;
const decoder = new TextDecoder('utf-8'); // not fatal: a peer's odd bytes become U+FFFD, never an exception
// Reply text ends up in logs, DSNs (Diagnostic-Code) and the console: a bare CR or other control character
// from the peer must not be able to start a forged line there.
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/g;
const CODE = /^[1-5][0-9][0-9]$/;
// status-code = class "." subject "." detail (RFC 3463 §2), followed by a space or the end of the line.
const ENHANCED = /^([245])\.(\d{1,3})\.(\d{1,3})(?: |$)/;

/**
 * Splits the peer's stream into replies. Feed any split of the bytes; complete replies come out in order,
 * partial input yields nothing, and nothing throws. After an 'error' event the reader stays broken (the
 * caller drops the connection: replies after a malformed one cannot be matched to commands).
 */
export class ReplyReader {
  readonly #input = new InputBuffer();
  #lines: string[] = [];
  #code = '';
  #discarding = false; // inside a line longer than MAX_REPLY_LINE: skip to its LF
  #kept: Uint8Array | null = null; // the first MAX_REPLY_LINE octets of that line
  #broken = false;

  feed(bytes: Uint8Array): ReplyEvent[] {
    const out: ReplyEvent[] = [];
    if (this.#broken) return out;
    this.#input.push(bytes);
    for (;;) {
      const line = this.#nextLine();
      if (line === null) return out;
      const event = this.#take(line);
      if (event === null) continue;
      out.push(event);
      if (event.kind === 'error') {
        this.#broken = true;
        this.#input.clear();
        return out;
      }
    }
  }

  /** Octets or lines held for an incomplete reply: a reply is pending when this is true. */
  get partial(): boolean {
    return this.#lines.length > 0 || this.#input.size > 0 || this.#discarding;
  }

  /** Forgets buffered input (after STARTTLS nothing read before the handshake may count, RFC 3207 §4.2). */
  reset(): void {
    this.#input.clear();
    this.#lines = [];
    this.#code = '';
    this.#discarding = false;
    this.#kept = null;
  }

  /** The next line as text without CRLF, or null when no complete line is buffered. */
  #nextLine(): string | null {
    const input = this.#input;
    const lf = input.indexOf(LF, 0);
    if (lf < 0) {
      if (!this.#discarding && input.size >= MAX_REPLY_LINE) {
        this.#kept = input.take(MAX_REPLY_LINE).slice();
        this.#discarding = true;
      }
      if (this.#discarding) input.clear();
      return null;
    }
    let bytes = input.take(lf + 1);
    if (this.#discarding) {
      bytes = this.#kept ?? new Uint8Array(0);
      this.#discarding = false;
      this.#kept = null;
    } else {
      let end = bytes.length - 1;
      if (end > 0 && bytes[end - 1] === CR) end--;
      bytes = bytes.subarray(0, Math.min(end, MAX_REPLY_LINE));
    }
    return decoder.decode(bytes).replace(CONTROL, '?');
  }

  /** Adds one line to the reply being read; returns the reply when this line was its last. */
  #take(line: string): ReplyEvent | null {
    const code = line.slice(0, 3);
    if (!CODE.test(code) || (line.length > 3 && line[3] !== ' ' && line[3] !== '-')) {
      return { kind: 'error', reason: `malformed reply line: ${JSON.stringify(line.slice(0, 80))}` };
    }
    // RFC 5321 §4.2.1: every line of a multi-line reply carries the same code.
    if (this.#lines.length > 0 && code !== this.#code) {
      return { kind: 'error', reason: `reply code changed within a reply: ${this.#code} then ${code}` };
    }
    if (this.#lines.length >= MAX_REPLY_LINES) {
      return { kind: 'error', reason: `reply longer than ${MAX_REPLY_LINES} lines` };
    }
    this.#code = code;
    this.#lines.push(line);
    if (line[3] === '-') return null;
    const lines = this.#lines;
    this.#lines = [];
    return { kind: 'reply', reply: makeReply(Number(code), lines) };
  }
}

/** A reply from its lines; the enhanced status is read from the first line's text. */
export function makeReply(code: number, lines: string[]): ClientReply {
  const m = ENHANCED.exec(lines[0]?.slice(4) ?? '');
  // RFC 3463 §2: the class must agree with the reply code's first digit; a "550 4.1.1" is not trusted.
  const status = m !== null && m[1] === String(code)[0] ? `${m[1]}.${Number(m[2])}.${Number(m[3])}` : null;
  return { code, status, lines };
}

/** The reply as RecipientResult.reply keeps it: every line, exactly, joined with '\n'. */
export function replyText(r: ClientReply): string {
  return r.lines.join('\n');
}

/** The text of line i after "NNN-" / "NNN " (the EHLO keyword lines). */
export function lineText(r: ClientReply, i: number): string {
  return (r.lines[i] ?? '').slice(4);
}
