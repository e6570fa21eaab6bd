// Authentication-Results (RFC 8601): read the authserv-id of the fields a message arrives with, remove the ones
// that claim to be ours (forgeries), and write our own field.
import { Buffer } from 'node:buffer';
import { domainToUnicode } from 'node:url';
import { fieldValue, foldLine, type HeaderField, headerFields, removeFields } from './headers.ts';

export const AUTH_RESULTS = 'Authentication-Results';

/** The authserv-id of a field and its version token (RFC 8601 §2.2, §2.6); version null when absent (= 1). */
export interface AuthservId {
  id: string;
  version: string | null;
}

// MIME tspecials (RFC 2045 §5.1): what a token may not contain besides SP and CTLs.
const TSPECIALS = new Set('()<>@,;:\\"/[]?=');

function isTokenChar(c: string): boolean {
  const code = c.charCodeAt(0);
  // Octets above 0x7f are allowed: RFC 6532 lets an EAI message carry UTF-8 here (RFC 8601 §2.5).
  return code > 0x20 && code !== 0x7f && !TSPECIALS.has(c);
}

/** Index after the CFWS (white space and nested comments, RFC 5322 §3.2.2) at i; -1 if a comment never ends. */
function skipCfws(s: string, i: number): number {
  let depth = 0;
  while (i < s.length) {
    const c = s[i];
    if (depth > 0 && c === '\\') {
      i += 2; // quoted-pair inside a comment
      continue;
    }
    if (c === '(') depth++;
    else if (depth > 0 && c === ')') depth--;
    else if (depth === 0 && c !== ' ' && c !== '\t' && c !== '\r' && c !== '\n') break;
    i++;
  }
  return depth > 0 ? -1 : i;
}

/**
 * The authserv-id (a MIME "value": token or quoted-string) and optional version that open an
 * Authentication-Results value, or null when none can be read.
 */
export function parseAuthservId(value: string): AuthservId | null {
  let i = skipCfws(value, 0);
  if (i < 0 || i >= value.length) return null;
  let id = '';
  if (value[i] === '"') {
    for (i++; i < value.length && value[i] !== '"'; i++) {
      if (value[i] === '\\') i++;
      id += value[i] ?? '';
    }
    if (i >= value.length) return null; // unterminated quoted-string
    i++;
  } else {
    while (i < value.length && isTokenChar(value[i])) id += value[i++];
  }
  if (id === '') return null;
  const after = skipCfws(value, i);
  const version = after >= 0 ? /^[0-9]+/.exec(value.slice(after))?.[0] ?? null : null;
  return { id, version };
}

/** Two spellings of one authserv-id: lower case, and U-labels for EAI (RFC 8601 §5: compare as U-labels). */
function spellings(id: string): string[] {
  const lower = id.toLowerCase().replace(/\.$/, '');
  const unicode = domainToUnicode(lower);
  return unicode === '' || unicode === lower ? [lower] : [lower, unicode];
}

/** The field's value decoded as UTF-8 (an EAI message may carry a U-label authserv-id). */
function utf8Value(message: Uint8Array, field: HeaderField): string {
  const raw = Buffer.from(message.buffer, message.byteOffset + field.start, field.end - field.start).toString('utf8');
  return fieldValue({ ...field, raw });
}

/**
 * Which Authentication-Results fields must go before ours is added (RFC 8601 §5), for mail from an untrusted
 * client (the only mail Tern checks):
 * - the authserv-id is ours, compared case-insensitively and as U-labels: a forgery ("MUST delete");
 * - a version other than 1: "MUST remove such a header field if the SMTP connection ... is not from a trusted
 *   internal MTA", since consumers could misread results in a format we do not know;
 * - no authserv-id can be read at all: a more lenient consumer might read ours in it (RFC 8601 §7.8).
 * Fields under other authserv-ids are left alone: they may be signed, and belong to someone else.
 */
export function isForged(message: Uint8Array, field: HeaderField, authservId: string): boolean {
  if (field.name.toLowerCase() !== AUTH_RESULTS.toLowerCase()) return false;
  const parsed = parseAuthservId(utf8Value(message, field));
  if (parsed === null) return true;
  if (parsed.version !== null && parsed.version.replace(/^0+(?=\d)/, '') !== '1') return true;
  const ours = new Set(spellings(authservId));
  return spellings(parsed.id).some((s) => ours.has(s));
}

/** The message without the Authentication-Results fields that isForged() picks; the same object if none. */
export function stripForged(message: Uint8Array, authservId: string): Uint8Array {
  return removeFields(message, (f) => isForged(message, f, authservId));
}

/** How many fields stripForged would remove (for the log). */
export function countForged(message: Uint8Array, authservId: string): number {
  return headerFields(message).filter((f) => isForged(message, f, authservId)).length;
}

// deno-lint-ignore no-control-regex
const CONTROLS = /[\u0000-\u001f\u007f]+/g;

/** The authserv-id as a token, or a quoted-string when it has characters a token cannot hold. */
function idText(authservId: string): string {
  const clean = authservId.replace(CONTROLS, '');
  return [...clean].every(isTokenChar) ? clean : `"${clean.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

/**
 * Our field, CRLF-terminated: "Authentication-Results: id;" then one resinfo (a "method=result ..." string)
 * per line, or "none" when nothing was checked (RFC 8601 §2.2 no-result). Control characters in a row
 * become spaces: results quote names from the message, and a CR or LF there would forge header fields.
 */
export function authResultsField(authservId: string, rows: readonly string[]): string {
  if (rows.length === 0) return `${AUTH_RESULTS}: ${idText(authservId)}; none\r\n`;
  const lines = rows.map((r) => '\t' + foldLine(r.replace(CONTROLS, ' ').trim(), 77));
  return `${AUTH_RESULTS}: ${idText(authservId)};\r\n${lines.join(';\r\n')}\r\n`;
}
