// The message/delivery-status body of a DSN (RFC 3464 §2.2-§2.3, RFC 6533 for the global form) and the
// field-level encoding it needs: folding, sanitising, address types.
import { formatDate } from '../smtp/received.ts';
import type { DsnEvent } from './dsn-select.ts';

/** One recipient as a DSN reports it; see DsnInput in dsn.ts. */
export interface DsnRecipient {
  address: string;
  orcpt: { type: string; address: string } | null;
  status: string;
  remote: string | null;
  diagnostic: string;
  diagnosticType: 'smtp' | 'x-tern';
  lastAttemptAt: Date | null;
  willRetryUntil: Date | null;
}

export interface StatusFields {
  reportingMta: string;
  queueId: string;
  envid: string | null;
  arrival: Date;
  event: DsnEvent;
  recipients: readonly DsnRecipient[];
  /** message/global-delivery-status (RFC 6533 §4): UTF-8 allowed in field values. */
  global: boolean;
}

/** RFC 5322 §2.1.1: 998 octets a line at most, 78 recommended. */
export const MAX_LINE = 998;
const SOFT_LINE = 78;

const utf8 = new TextEncoder();
export const octets = (s: string): number => utf8.encode(s).length;
export const isAscii = (s: string): boolean => !/[\u0080-\u{10ffff}]/u.test(s);

/**
 * Text for a field value or a human-readable line: no CR, LF or other control character may survive (a CR
 * LF from a remote reply or an address would end the field and forge the next one); TAB becomes a space;
 * outside global DSNs non-ASCII becomes "?" (RFC 3464 fields are US-ASCII).
 */
export function cleanText(s: string, allowUtf8: boolean): string {
  // deno-lint-ignore no-control-regex
  let out = s.replace(/\t/g, ' ').replace(/[\x00-\x1f\x7f]/g, '?');
  if (!allowUtf8) out = out.replace(/[\u0080-\u{10ffff}]/gu, '?');
  return out;
}

/**
 * Folds one logical line into physical lines (RFC 5322 §2.2.3) before existing white space, so unfolding
 * gives back the exact text; lines are kept to `soft` octets (78 by default) where the text allows and to
 * 998 always. A run of over 998 octets without white space is cut with an inserted space, the one lossy case.
 */
export function fold(line: string, soft = SOFT_LINE): string[] {
  const out: string[] = [];
  let rest = line;
  while (octets(rest) > soft) {
    const start = rest.search(/[^ ]/); // never cut inside leading white space: no blank continuation lines
    if (start < 0) break;
    let cut = rest.lastIndexOf(' ', soft);
    while (cut > start && octets(rest.slice(0, cut)) > soft) cut = rest.lastIndexOf(' ', cut - 1); // UTF-8
    if (cut <= start) cut = rest.indexOf(' ', Math.max(start, 0) + 1);
    if (cut > 0 && octets(rest.slice(0, cut)) <= MAX_LINE) {
      out.push(rest.slice(0, cut));
      rest = rest.slice(cut);
      continue;
    }
    if (cut < 0 && octets(rest) <= MAX_LINE) break;
    const [head, tail] = splitOctets(rest, MAX_LINE);
    out.push(head);
    rest = ' ' + tail;
  }
  out.push(rest);
  return out;
}

/** The longest prefix of at most `max` UTF-8 octets, never splitting a code point, and the remainder. */
function splitOctets(s: string, max: number): [string, string] {
  let n = 0;
  let i = 0;
  for (const ch of s) {
    const len = octets(ch);
    if (n + len > max) break;
    n += len;
    i += ch.length;
  }
  return [s.slice(0, i), s.slice(i)];
}

/** "Name: value" folded, CRLF-terminated. */
export function field(name: string, value: string): string {
  return fold(`${name}: ${value}`).join('\r\n') + '\r\n';
}

/**
 * An RFC 6533 §3 "utf-8" address: utf-8-addr-unitext (raw UTF-8) in a global DSN, utf-8-addr-xtext (ASCII
 * with "\x{HEX}") in a plain one. "+", "=", "\" and anything not graphic are always escaped.
 */
export function utf8Addr(address: string, unitext: boolean): string {
  let out = '';
  for (const ch of address) {
    const cp = ch.codePointAt(0)!;
    const plain = (cp > 0x20 && cp < 0x7f && ch !== '+' && ch !== '=' && ch !== '\\') || (unitext && cp > 0x9f);
    out += plain ? ch : `\\x{${cp.toString(16).toUpperCase().padStart(2, '0')}}`;
  }
  return out;
}

/** address-type ";" generic-address for Final-Recipient (RFC 3464 §2.3.2): rfc822, or utf-8 when needed. */
export function recipientValue(address: string, global: boolean): string {
  if (isAscii(address)) return `rfc822; ${cleanText(address, false)}`;
  return `utf-8; ${utf8Addr(address, global)}`;
}

/** Original-Recipient from ORCPT (RFC 3461 §6.3(d)), keeping the sender's address type. */
export function originalRecipientValue(orcpt: { type: string; address: string }, global: boolean): string {
  const type = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+$/.test(orcpt.type) ? orcpt.type.toLowerCase() : 'unknown';
  if (type === 'utf-8' || !isAscii(orcpt.address)) return `utf-8; ${utf8Addr(orcpt.address, global)}`;
  return `${type}; ${cleanText(orcpt.address, false)}`;
}

/**
 * The host part of a RecipientResult.remote ("mx.example.com [192.0.2.1]:25"), as an RFC 3464 §2.3.5
 * mta-name of type dns: the name, or "[ip]" when the host had no name.
 */
export function remoteMtaName(remote: string): string {
  const m = /^(\S*)\s*\[([^\]]+)\](?::\d+)?$/.exec(remote.trim());
  if (m === null) return cleanText(remote.trim(), false);
  const [, name, ip] = m;
  return name !== '' && name !== ip ? cleanText(name, false) : `[${cleanText(ip, false)}]`;
}

/** A status-code (RFC 3464 §2.3.4: no leading zeros) or the generic one for the event (RFC 3461 §6.3(g)). */
export function statusCode(status: string, event: DsnEvent): string {
  if (/^[245]\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/.test(status)) return status;
  if (event === 'failed') return /^4/.test(status) ? '4.0.0' : '5.0.0';
  return event === 'delayed' ? '4.0.0' : '2.0.0';
}

/**
 * Diagnostic-Code (RFC 3464 §2.3.6). A multi-line SMTP reply keeps one reply line per physical line, each
 * after the first preceded by a SPACE, as RFC 3461 §9.2 shows. Lines are not folded short: a reader can
 * then take the reply back line by line, exactly ("an exact transcription", §9.2). SMTP reply lines are at
 * most 512 octets (RFC 5321 §4.5.3.1.5); only a longer one is folded, at white space, below 998.
 */
export function diagnosticField(type: 'smtp' | 'x-tern', text: string, global: boolean): string {
  const lines = text.split(/\r?\n/).map((l) => cleanText(l, global)).filter((l) => l.trim() !== '');
  if (lines.length === 0) return '';
  const physical = fold(`Diagnostic-Code: ${type}; ${lines[0]}`, MAX_LINE);
  for (const l of lines.slice(1)) physical.push(...fold(' ' + l, MAX_LINE));
  return physical.join('\r\n') + '\r\n';
}

/** The whole message/delivery-status body: per-message fields, then a blank line before each recipient. */
export function deliveryStatus(s: StatusFields): string {
  let body = '';
  if (s.envid !== null) body += field('Original-Envelope-Id', cleanText(s.envid, s.global));
  body += field('Reporting-MTA', `dns; ${cleanText(s.reportingMta, false)}`);
  body += field('X-Tern-Queue-ID', cleanText(s.queueId, false)); // like Postfix's X-Postfix-Queue-ID
  body += field('Arrival-Date', formatDate(s.arrival));
  for (const r of s.recipients) {
    body += '\r\n';
    if (r.orcpt !== null) body += field('Original-Recipient', originalRecipientValue(r.orcpt, s.global));
    body += field('Final-Recipient', recipientValue(r.address, s.global));
    body += field('Action', s.event);
    body += field('Status', statusCode(r.status, s.event));
    // §2.3.5: only when a remote MTA was involved; its absence says the diagnostic is ours.
    if (r.remote !== null && r.remote !== '') body += field('Remote-MTA', `dns; ${remoteMtaName(r.remote)}`);
    body += diagnosticField(r.diagnosticType, r.diagnostic, s.global);
    if (r.lastAttemptAt !== null) body += field('Last-Attempt-Date', formatDate(r.lastAttemptAt));
    // §2.3.9: Will-Retry-Until "MUST NOT appear" in anything but a delayed DSN.
    if (s.event === 'delayed' && r.willRetryUntil !== null) {
      body += field('Will-Retry-Until', formatDate(r.willRetryUntil));
    }
  }
  return body;
}
