// Pure helpers over a stored message's header section (RFC 5322 §2.2, §3.5): list its fields, drop some,
// prepend one, fold a long one. The body is never decoded or copied more than once.
import { Buffer } from 'node:buffer';
import { concat } from '../lib/bytes.ts';

/** One header field as it stands in the message: its name and its raw text, continuation lines included. */
export interface HeaderField {
  /** The field name as written (case kept); '' for a line that is neither a field nor a continuation. */
  name: string;
  /** Offset of the field's first octet in the message. */
  start: number;
  /** Offset just past the field's last line ending. */
  end: number;
  /** The raw field, line endings included, one character per octet (latin1), so offsets stay octet offsets. */
  raw: string;
}

const CR = 0x0d;
const LF = 0x0a;

/**
 * Offset of the empty line that ends the header section (RFC 5322 §2.1), or the message length when there is
 * no body. Bare LF line endings are accepted too: a message that arrived over LMTP or from a file may have them.
 */
export function headerSectionEnd(message: Uint8Array): number {
  let lineStart = 0;
  for (let i = 0; i < message.length; i++) {
    if (message[i] !== LF) continue;
    const lineLength = i - lineStart - (i > lineStart && message[i - 1] === CR ? 1 : 0);
    if (lineLength === 0) return lineStart;
    lineStart = i + 1;
  }
  // The last line may lack its CRLF; then there is no body either.
  return message.length;
}

/**
 * The text of the header section, one character per octet. Buffer's latin1 is ISO 8859-1 proper; TextDecoder's
 * 'latin1' is windows-1252, which would turn 0x80-0x9F into other code points.
 */
function headerText(message: Uint8Array): string {
  return Buffer.from(message.buffer, message.byteOffset, headerSectionEnd(message)).toString('latin1');
}

/**
 * The fields of the header section in order. A line starting with SP or HTAB continues the field above it
 * (RFC 5322 §2.2.3); a line with no colon is kept as a nameless field so nothing is lost when rewriting.
 */
export function headerFields(message: Uint8Array): HeaderField[] {
  const text = headerText(message);
  const fields: HeaderField[] = [];
  let pos = 0;
  while (pos < text.length) {
    let next = text.indexOf('\n', pos);
    next = next < 0 ? text.length : next + 1;
    const first = text.charCodeAt(pos);
    const last = fields[fields.length - 1];
    if ((first === 0x20 || first === 0x09) && last !== undefined) {
      last.end = next;
      last.raw = text.slice(last.start, next);
    } else {
      const colon = text.indexOf(':', pos);
      const name = colon >= 0 && colon < next ? text.slice(pos, colon).trim() : '';
      fields.push({ name, start: pos, end: next, raw: text.slice(pos, next) });
    }
    pos = next;
  }
  return fields;
}

/** The field's value: what follows the first colon, unfolded (CRLF before WSP removed, RFC 5322 §2.2.3). */
export function fieldValue(field: HeaderField): string {
  const colon = field.raw.indexOf(':');
  return field.raw.slice(colon + 1).replace(/\r?\n(?=[ \t])/g, '').replace(/\r?\n$/, '');
}

/** The message without the fields the predicate picks; the same object when none is picked. */
export function removeFields(message: Uint8Array, drop: (field: HeaderField) => boolean): Uint8Array {
  const doomed = headerFields(message).filter(drop);
  if (doomed.length === 0) return message;
  const kept: Uint8Array[] = [];
  let pos = 0;
  for (const f of doomed) {
    kept.push(message.subarray(pos, f.start));
    pos = f.end;
  }
  kept.push(message.subarray(pos));
  return concat(...kept);
}

/** The message with `field` (a complete field, CRLF-terminated, ASCII or UTF-8) above everything else. */
export function prependField(message: Uint8Array, field: string): Uint8Array {
  return concat(new TextEncoder().encode(field), message);
}

/** RFC 5322 §2.1.1: lines SHOULD stay within 78 characters. */
export const FOLD_WIDTH = 78;

/**
 * Folds one logical line by putting CRLF before some of its spaces, so lines stay within `width` where a space
 * allows it. Folding only inserts CRLF before existing white space, so unfolding gives back the same text,
 * even inside quoted strings and comments (RFC 5322 §3.2.2: FWS is allowed there). A word longer than the
 * width stays whole: the hard limit is 998 octets (§2.1.1), far above anything written here.
 */
export function foldLine(line: string, width = FOLD_WIDTH): string {
  const words = line.split(' ');
  let out = words[0];
  let current = words[0].length;
  for (const word of words.slice(1)) {
    if (current + 1 + word.length > width && current > 1) {
      out += '\r\n ' + word;
      current = 1 + word.length;
    } else {
      out += ' ' + word;
      current += 1 + word.length;
    }
  }
  return out;
}
