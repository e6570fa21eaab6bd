// The third part of a DSN: the original message or its header section, chosen by event, RET, size and line
// length (RFC 3461 §4.3, §6.2; RFC 3464 §2), with CRLF line endings.
import { Buffer } from 'node:buffer';
import { MAX_LINE } from './dsn-fields.ts';
import type { DsnEvent } from './dsn-select.ts';
import type { Returned } from './dsn-text.ts';
import { concat } from '../lib/bytes.ts';

/** Above this a RET=FULL failure report carries the header section only (RFC 3461 §6.2 allows a limit). */
export const DSN_MAX_RETURN = 10 * 1024 * 1024;

export interface ReturnChoice {
  returned: Returned;
  /** The bytes of the third part (CRLF-terminated lines), or null when there is none. */
  content: Uint8Array | null;
}

/**
 * RET=FULL is honoured for "failed" DSNs only; every other DSN, and failures without RET, carry the header
 * section. Without RET we return headers only (RFC 3461 §4.3 leaves it to the MTA): a full copy would turn
 * the server into a reflector of spam or malware at whatever address a spammer forged as sender, and most
 * MTAs' default (Postfix, Exchange) keeps bounces short too.
 */
export function chooseReturn(
  event: DsnEvent,
  ret: 'FULL' | 'HDRS' | null,
  original: Uint8Array,
  maxReturn: number,
): ReturnChoice {
  if (event === 'failed' && ret === 'FULL') {
    if (original.length > maxReturn) {
      return headersOnly(original, { kind: 'headers', why: 'too-large', limit: maxReturn });
    }
    const message = toCrlf(original);
    if (!hasLongLine(message)) return { returned: { kind: 'full' }, content: message };
    return headersOnly(original, { kind: 'headers', why: 'long-lines' });
  }
  const why = event !== 'failed' ? 'not-failure' : ret === 'HDRS' ? 'hdrs' : 'default';
  return headersOnly(original, { kind: 'headers', why });
}

function headersOnly(original: Uint8Array, returned: Returned): ReturnChoice {
  const headers = toCrlf(headerSection(original));
  if (hasLongLine(headers)) return { returned: { kind: 'none', why: 'long-lines' }, content: null };
  return { returned, content: headers };
}

/**
 * The header section: everything before the first empty line (CRLF or a bare LF), its last line end
 * included; all of a message that has no body; nothing when the message starts with the empty line.
 */
export function headerSection(message: Uint8Array): Uint8Array {
  const b = Buffer.from(message.buffer, message.byteOffset, message.byteLength);
  for (let start = 0; start < b.length;) {
    const nl = b.indexOf(0x0a, start);
    if (nl < 0) break;
    if (nl === start || (nl === start + 1 && b[start] === 0x0d)) return message.subarray(0, start);
    start = nl + 1;
  }
  return message;
}

/** Any line over 998 octets (RFC 5322 §2.1.1) would be broken by an MTA on the way back to the sender. */
export function hasLongLine(bytes: Uint8Array): boolean {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let start = 0;
  while (start < b.length) {
    let nl = b.indexOf(0x0a, start);
    if (nl < 0) nl = b.length;
    if (nl - start - (nl > start && b[nl - 1] === 0x0d ? 1 : 0) > MAX_LINE) return true;
    start = nl + 1;
  }
  return false;
}

/**
 * The stored message with CRLF line endings and a final CRLF. The SMTP server refuses bare CR and LF
 * (SMTP smuggling), so this normally returns its input; other intake paths might not be as strict.
 */
export function toCrlf(bytes: Uint8Array): Uint8Array {
  let clean = true;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if ((c === 0x0a && bytes[i - 1] !== 0x0d) || (c === 0x0d && bytes[i + 1] !== 0x0a)) {
      clean = false;
      break;
    }
  }
  if (clean) return bytes.length === 0 || endsWithCrlf(bytes) ? bytes : concat(bytes, Uint8Array.of(0x0d, 0x0a));
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (c === 0x0d) {
      out.push(0x0d, 0x0a);
      if (bytes[i + 1] === 0x0a) i++;
    } else if (c === 0x0a) {
      out.push(0x0d, 0x0a);
    } else {
      out.push(c);
    }
  }
  const fixed = Uint8Array.from(out);
  return endsWithCrlf(fixed) ? fixed : concat(fixed, Uint8Array.of(0x0d, 0x0a));
}

const endsWithCrlf = (b: Uint8Array): boolean => b.length >= 2 && b[b.length - 2] === 0x0d && b[b.length - 1] === 0x0a;

