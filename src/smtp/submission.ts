// Submission fix-ups (RFC 6409 §8): add the Date and Message-ID fields a message submitted without them
// lacks. Pure, over bytes: the session applies it to submitted mail and `tern sendmail` to its input.
import { formatDate } from './received.ts';

export interface MissingHeaderOptions {
  /** The Date to write (RFC 6409 §8.3: the time of submission). */
  now: Date;
  /** Right-hand side of the Message-ID: our hostname (RFC 5322 §3.6.4 "a domain ... of the host"). */
  hostname: string;
  /** Left-hand side of the Message-ID; must be unique for this hostname (e.g. the queue id). */
  idLeft: string;
}

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const HT = 0x09;
const COLON = 0x3a;
const encoder = new TextEncoder();

/** What the header section holds, as far as the fix-ups care. */
export interface HeaderScan {
  date: boolean;
  messageId: boolean;
  /** The message starts with a line that is neither a header field nor the blank separator. */
  noHeaderSection: boolean;
}

/**
 * Reads the header section (RFC 5322 §2.2): field lines and their folded continuations (starting with SP
 * or HT), up to the first blank line, the end of the message, or the first line that is not a field (a
 * malformed header section ends there, as Postfix's cleanup decides). CRLF and bare LF both end a line.
 */
export function scanHeaders(message: Uint8Array): HeaderScan {
  const scan: HeaderScan = { date: false, messageId: false, noHeaderSection: false };
  let at = 0;
  let first = true;
  while (at < message.length) {
    let end = message.indexOf(LF, at);
    if (end < 0) end = message.length;
    let stop = end;
    if (stop > at && message[stop - 1] === CR) stop--;
    if (stop === at) break; // the blank line: end of the header section
    const b = message[at];
    if (b !== SP && b !== HT) {
      const name = fieldName(message, at, stop);
      if (name === null) {
        scan.noHeaderSection = first;
        break;
      }
      if (name === 'date') scan.date = true;
      else if (name === 'message-id') scan.messageId = true;
    } else if (first) {
      scan.noHeaderSection = true; // a continuation with nothing to continue
      break;
    }
    first = false;
    at = end + 1;
  }
  return scan;
}

/**
 * RFC 5322 §3.6.8: field-name = 1*ftext (printable US-ASCII except ":"), then ":". White space before the
 * colon is the obsolete syntax of §4.5, still accepted. Lower-cased name, or null when the line is no field.
 */
function fieldName(buf: Uint8Array, from: number, to: number): string | null {
  let i = from;
  while (i < to && buf[i] > SP && buf[i] < 0x7f && buf[i] !== COLON) i++;
  if (i === from) return null;
  let j = i;
  while (j < to && (buf[j] === SP || buf[j] === HT)) j++;
  if (j >= to || buf[j] !== COLON) return null;
  let name = '';
  for (let k = from; k < i; k++) name += String.fromCharCode(buf[k]);
  return name.toLowerCase();
}

/**
 * The message with Date (RFC 5322 §3.6.1) and Message-ID (§3.6.4) added when missing, at the top of the
 * header section (the caller's own trace field goes above them). When the message has no header section
 * at all, a blank line follows the added fields so the client's text stays body. Unchanged (the same
 * array) when nothing is missing.
 */
export function addMissingHeaders(message: Uint8Array, opts: MissingHeaderOptions): Uint8Array {
  const scan = scanHeaders(message);
  let added = '';
  if (!scan.date) added += `Date: ${formatDate(opts.now)}\r\n`;
  if (!scan.messageId) added += `Message-ID: <${opts.idLeft}@${opts.hostname}>\r\n`;
  if (added === '') return message;
  if (scan.noHeaderSection) added += '\r\n';
  const head = encoder.encode(added);
  const out = new Uint8Array(head.length + message.length);
  out.set(head, 0);
  out.set(message, head.length);
  return out;
}
