// What every local delivery method shares: its result type, the trace headers added at final delivery,
// the Delivered-To loop check, and the CRLF -> LF conversion for files on disk.
import type { Outcome } from '../types.ts';

/**
 * The result of delivering one copy to one local mailbox. `reply` may reach the sender in a DSN's
 * Diagnostic-Code, so it never names paths, URLs (which often carry tokens) or system errors; those go
 * in `detail`, which is only logged.
 */
export interface LocalOutcome {
  outcome: Outcome;
  status: string; // RFC 3463 enhanced status
  reply: string;
  detail?: string;
}

export const delivered = (reply: string, detail?: string): LocalOutcome => ({
  outcome: 'delivered',
  status: '2.0.0',
  reply,
  detail,
});
export const temporary = (status: string, reply: string, detail?: string): LocalOutcome => ({
  outcome: 'temporary',
  status,
  reply,
  detail,
});
export const permanent = (status: string, reply: string, detail?: string): LocalOutcome => ({
  outcome: 'permanent',
  status,
  reply,
  detail,
});

// Header values come from the SMTP parser, which refuses controls, and from configuration; stripping
// them again here means no path can ever inject a header line (header injection).
// deno-lint-ignore no-control-regex
const headerSafe = (s: string): string => s.replace(/[\u0000-\u001f\u007f]/g, '');

/**
 * "Return-Path: <sender>" (RFC 5321 §4.4: added by the final delivery, `<>` for the null reverse-path;
 * RFC 5322 §3.6.7) and "Delivered-To: <address>" (the Postfix/qmail convention naming the mailbox this
 * copy went to, which also lets loops be caught), CRLF-terminated, to put before the message.
 */
export function traceHeaders(sender: string, address: string): string {
  return `Return-Path: <${headerSafe(sender)}>\r\nDelivered-To: ${headerSafe(address)}\r\n`;
}

/** The message with traceHeaders on top: the octets a mailbox, Maildir file or webhook receives. */
export function withTraceHeaders(body: Uint8Array, sender: string, address: string): Uint8Array<ArrayBuffer> {
  const head = new TextEncoder().encode(traceHeaders(sender, address));
  const out = new Uint8Array(head.length + body.length);
  out.set(head, 0);
  out.set(body, head.length);
  return out;
}

/** Header sections larger than this are not searched: loops are caught on ordinary messages. */
const HEADER_SCAN_LIMIT = 256 * 1024;

/**
 * The addresses of the message's "Delivered-To:" fields, lower-cased. A mailbox among them already got
 * this message once and it came back (a forward or a Sieve redirect pointing home): Postfix's local(8)
 * answers that with "mail forwarding loop" (5.4.6) rather than filling the mailbox until the hop limit.
 * Read once per job, however many mailboxes it has.
 */
export function deliveredTo(body: Uint8Array): Set<string> {
  // latin1 keeps one character per octet, so non-ASCII headers cannot shift or break the scan.
  const text = new TextDecoder('latin1').decode(body.subarray(0, HEADER_SCAN_LIMIT));
  const end = text.search(/\r?\n\r?\n/);
  const head = end < 0 ? text : text.slice(0, end);
  const found = new Set<string>();
  for (const line of head.split(/\r?\n/)) {
    const m = /^delivered-to:[ \t]*(.*?)[ \t]*$/i.exec(line);
    if (m) found.add(m[1].toLowerCase());
  }
  return found;
}

/**
 * CRLF line ends to LF: Maildir files hold messages in the local text format (qmail's maildir(5), what
 * Dovecot, Courier and mutt read). Bare CRs and LFs are left as they are.
 */
export function crlfToLf(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length);
  let n = 0;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (c === 0x0d && bytes[i + 1] === 0x0a) continue;
    out[n++] = c;
  }
  return out.subarray(0, n);
}
