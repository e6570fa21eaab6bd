// Message data on its way out: DATA dot-stuffing (RFC 5321 §4.5.2), BDAT chunks (RFC 3030 §2), and the
// content checks that decide whether a peer without 8BITMIME or SMTPUTF8 may receive the message.

const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;
const END_OF_DATA = [DOT, CR, LF];

/**
 * The message as it follows DATA's 354: every line that starts with "." gets one more (RFC 5321 §4.5.2),
 * a final CRLF is added if the message lacks one, then ".CRLF". Stored messages always have CRLF line
 * endings (the server refuses bare CR and LF, data-reader.ts), so a line start is exactly "after LF" and
 * no lone LF can meet a "." to make an early end of data (SMTP smuggling needs exactly that mismatch).
 */
export function dotStuff(body: Uint8Array): Uint8Array {
  let dots = body.length > 0 && body[0] === DOT ? 1 : 0;
  for (let i = body.indexOf(LF); i >= 0; i = body.indexOf(LF, i + 1)) {
    if (body[i + 1] === DOT) dots++;
  }
  const needsCrlf = body.length > 0 && !(body[body.length - 1] === LF && body[body.length - 2] === CR);
  const out = new Uint8Array(body.length + dots + (needsCrlf ? 2 : 0) + END_OF_DATA.length);
  let w = 0;
  let r = 0;
  if (body.length > 0 && body[0] === DOT) out[w++] = DOT;
  for (let i = body.indexOf(LF); i >= 0; i = body.indexOf(LF, i + 1)) {
    if (body[i + 1] !== DOT) continue;
    out.set(body.subarray(r, i + 1), w); // up to and including the LF
    w += i + 1 - r;
    out[w++] = DOT;
    r = i + 1;
  }
  out.set(body.subarray(r), w);
  w += body.length - r;
  if (needsCrlf) {
    out[w++] = CR;
    out[w++] = LF;
  }
  out.set(END_OF_DATA, w);
  return out;
}

/**
 * Octets per BDAT chunk. One chunk per message below it; above, each chunk waits for its 250 before the
 * next goes, so a refusal stops the transfer early (RFC 3030 §2 note: errors come after a whole chunk).
 */
export const BDAT_CHUNK = 1 << 20;

/** The body split into BDAT chunks (views, no copy); an empty body is one empty LAST chunk. */
export function bdatChunks(body: Uint8Array, size = BDAT_CHUNK): Uint8Array[] {
  if (body.length <= size) return [body];
  const out: Uint8Array[] = [];
  for (let i = 0; i < body.length; i += size) out.push(body.subarray(i, Math.min(body.length, i + size)));
  return out;
}

/** Any octet with the high bit set in body[from, to)? */
export function hasEightBit(body: Uint8Array, from = 0, to = body.length): boolean {
  for (let i = from; i < to; i++) if (body[i] >= 0x80) return true;
  return false;
}

/** Where the header section ends: the index just after the blank line, or the whole message if none. */
export function headerEnd(body: Uint8Array): number {
  if (body[0] === CR && body[1] === LF) return 2; // no header fields at all
  for (let i = body.indexOf(LF); i >= 0; i = body.indexOf(LF, i + 1)) {
    if (body[i + 1] === CR && body[i + 2] === LF) return i + 3;
  }
  return body.length;
}

// deno-lint-ignore no-control-regex
const NON_ASCII = /[^\u0000-\u007f]/;

/** Text holds a non-ASCII character (an internationalised address, RFC 6531 §3.3). */
export function isNonAscii(text: string): boolean {
  return NON_ASCII.test(text);
}
