// The Received trace header Tern prepends to every accepted message (RFC 5321 §4.4, RFC 5322 §3.6.7).
import type { TlsInfo } from './types.ts';

export interface ReceivedFields {
  helo: string; // attacker-controlled: sanitised here
  remoteAddress: string; // from the TCP connection
  tls: TlsInfo | null;
  hostname: string;
  protocol: string; // WITH value, see protocolName()
  queueId: string;
  /** The one recipient, or null when there are several (RFC 5321 §7.6: don't list them all). */
  recipient: string | null;
  date: Date;
}

/**
 * The header, folded for readability, CRLF-terminated:
 *
 *   Received: from client.example ([192.0.2.1])
 *   \t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384)
 *   \tby mx.example (Tern) with ESMTPS id 0123ABC
 *   \tfor <user@example>;
 *   \tFri, 02 Jan 2026 03:04:05 +0000
 *
 * No reverse DNS yet, so the TCP-info is the address literal alone (RFC 5321 §4.4 From-domain grammar).
 */
export function receivedHeader(f: ReceivedFields): string {
  let h = `Received: from ${sanitiseHelo(f.helo)} (${addressLiteral(f.remoteAddress)})\r\n`;
  if (f.tls !== null) h += `\t(using ${sanitiseToken(f.tls.protocol)} with cipher ${sanitiseToken(f.tls.cipher)})\r\n`;
  h += `\tby ${f.hostname} (Tern) with ${f.protocol} id ${f.queueId}`;
  h += f.recipient === null ? ';\r\n' : `\r\n\tfor <${f.recipient}>;\r\n`;
  h += `\t${formatDate(f.date)}\r\n`;
  return h;
}

/**
 * The WITH protocol type (RFC 3848, RFC 6531 §4.3): SMTP after HELO; ESMTP after EHLO, +S with TLS,
 * +A with AUTH; UTF8SMTP... when MAIL carried SMTPUTF8. RFC 8314 §4.3: implicit TLS counts as TLS.
 */
export function protocolName(ehlo: boolean, tls: boolean, authenticated: boolean, smtpUtf8: boolean): string {
  if (!ehlo) return 'SMTP';
  const suffix = (tls ? 'S' : '') + (authenticated ? 'A' : '');
  return (smtpUtf8 ? 'UTF8SMTP' : 'ESMTP') + suffix;
}

/** [192.0.2.1] or [IPv6:2001:db8::1] (RFC 5321 §4.1.3). */
export function addressLiteral(ip: string): string {
  return ip.includes(':') ? `[IPv6:${sanitiseToken(ip)}]` : `[${sanitiseToken(ip)}]`;
}

// The parser already limits EHLO to a domain or address literal; this is defence in depth, since a
// CR/LF or unbalanced "(" here would let a client forge header fields or comments.
const HELO_UNSAFE = /[^A-Za-z0-9.\-_:[\]]/g;
const TOKEN_UNSAFE = /[^A-Za-z0-9.\-_:/+]/g;
const MAX_HELO_IN_HEADER = 255;

export function sanitiseHelo(helo: string): string {
  const clean = helo.slice(0, MAX_HELO_IN_HEADER).replace(HELO_UNSAFE, '_');
  return clean === '' ? 'unknown' : clean;
}

function sanitiseToken(text: string): string {
  return text.replace(TOKEN_UNSAFE, '_');
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function two(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/**
 * RFC 5322 §3.3 date-time in UTC with an explicit "+0000" (RFC 5321 §4.4 asks for numeric offsets; the
 * server's zone is not ours to know in a portable way).
 */
export function formatDate(d: Date): string {
  const date = `${DAYS[d.getUTCDay()]}, ${two(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()}`;
  return `${date} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`;
}
