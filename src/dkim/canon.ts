// The "relaxed" canonicalisation of RFC 6376 §3.4.2 (headers) and §3.4.4 (body), and the header/body split
// the signer needs. Text is handled as latin1 strings, one character per octet, so 8-bit and UTF-8 header
// bytes (RFC 6532) pass through untouched.
import { Buffer } from 'node:buffer';

/** One header field as it appears in the message. */
export interface HeaderField {
  /** The field name, lower-case, without surrounding whitespace: what h= names are matched against. */
  key: string;
  /** The whole field, continuation lines included, without its final CRLF (latin1). */
  raw: string;
}

export interface SplitMessage {
  headers: HeaderField[];
  /** Everything after the blank line that ends the header (empty when there is none). */
  body: Uint8Array;
}

const CRLF_CRLF = Buffer.from('\r\n\r\n');

function bytes(u: Uint8Array): Buffer {
  return Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

/**
 * Splits a message in wire form (CRLF line ends, as the queue stores it) into its header fields and body.
 * Lines that begin with WSP continue the field before them (RFC 5322 §2.2.3). A line without a colon is
 * not a field and cannot be signed; it is skipped.
 */
export function splitMessage(message: Uint8Array): SplitMessage {
  const buf = bytes(message);
  let headerEnd: number; // index just past the last header field's CRLF
  let bodyStart: number;
  if (buf.length >= 2 && buf[0] === 0x0d && buf[1] === 0x0a) {
    headerEnd = 0;
    bodyStart = 2;
  } else {
    const blank = buf.indexOf(CRLF_CRLF);
    headerEnd = blank < 0 ? buf.length : blank + 2;
    bodyStart = blank < 0 ? buf.length : blank + 4;
  }
  const text = buf.subarray(0, headerEnd).toString('latin1');
  const headers: HeaderField[] = [];
  let current: string | null = null;
  const flush = () => {
    if (current === null) return;
    const colon = current.indexOf(':');
    if (colon > 0) headers.push({ key: current.slice(0, colon).trim().toLowerCase(), raw: current });
    current = null;
  };
  for (const line of text.split('\r\n')) {
    if ((line.startsWith(' ') || line.startsWith('\t')) && current !== null) {
      current += '\r\n' + line;
    } else {
      flush();
      if (line !== '') current = line;
    }
  }
  flush();
  return { headers, body: new Uint8Array(buf.buffer, buf.byteOffset + bodyStart, buf.length - bodyStart) };
}

/**
 * RFC 6376 §3.4.2: lower-case the name; unfold; turn every run of WSP into one SP; drop WSP at the end of
 * the value and around the colon. Returns `name:value` followed by CRLF.
 */
export function relaxedHeader(raw: string): string {
  const colon = raw.indexOf(':');
  const name = raw.slice(0, colon).replace(/[ \t]+$/, '').toLowerCase();
  const value = raw
    .slice(colon + 1)
    .replace(/\r\n/g, '')
    .replace(/[ \t]+/g, ' ')
    .replace(/^ | $/g, '');
  return `${name}:${value}\r\n`;
}

/**
 * RFC 6376 §3.4.4: drop WSP at line ends, turn runs of WSP into one SP, drop empty lines at the end, and end
 * a non-empty body with CRLF. An empty body canonicalises to nothing (RFC 6376 §3.4.4 and its errata 3193,
 * as dkimpy and mailauth both do).
 */
export function relaxedBody(body: Uint8Array): Buffer {
  let text = bytes(body)
    .toString('latin1')
    .replace(/[ \t]+\r\n/g, '\r\n')
    .replace(/[ \t]+/g, ' ');
  // A last line without CRLF (only outside SMTP) still loses its trailing WSP: it is the end of a line, and
  // SMTP will end it with CRLF on the way, so this is the body every receiver canonicalises.
  text = text.replace(/ $/, '');
  let end = text.length;
  while (end >= 2 && text.charCodeAt(end - 2) === 0x0d && text.charCodeAt(end - 1) === 0x0a) end -= 2;
  text = end === 0 ? '' : text.slice(0, end) + '\r\n';
  return Buffer.from(text, 'latin1');
}
