// The client's command lines: EHLO/HELO/LHLO, MAIL and RCPT with their ESMTP parameters (SIZE, BODY,
// SMTPUTF8, RET, ENVID, NOTIFY, ORCPT), BDAT, AUTH; and the xtext encodings of RFC 3461 §4 and RFC 6533 §3.
import type { DsnNotify, DsnOrcpt } from '../types.ts';
import type { Capabilities } from './capabilities.ts';

const CRLF = '\r\n';

export const DATA = `DATA${CRLF}`;
export const RSET = `RSET${CRLF}`;
export const QUIT = `QUIT${CRLF}`;
export const STARTTLS = `STARTTLS${CRLF}`;

/** The greeting verb: EHLO, its HELO fallback, or LMTP's LHLO (RFC 2033 §4.1). */
export function hello(verb: 'EHLO' | 'HELO' | 'LHLO', name: string): string {
  return `${verb} ${name}${CRLF}`;
}

/** What MAIL FROM needs to know about the message. */
export interface MailInput {
  sender: string; // '' = the null reverse-path
  size: number; // octets as they will be sent, before dot-stuffing (RFC 1870 §3)
  body: '7BIT' | '8BITMIME' | null; // the BODY= to declare, or null for none
  smtpUtf8: boolean; // declare SMTPUTF8 (only when the peer offers it)
  ret: 'FULL' | 'HDRS' | null;
  envid: string | null;
}

/**
 * MAIL FROM:<sender> with the parameters the peer offers: SIZE (RFC 1870 §6), BODY (RFC 6152 §2), SMTPUTF8
 * (RFC 6531 §3.4) and RET/ENVID (RFC 3461 §4.3, §4.4) only with DSN. A parameter the peer did not
 * advertise is never sent: RFC 5321 §4.1.1.11 lets it refuse the whole command with 555.
 */
export function mailCommand(m: MailInput, caps: Capabilities): string {
  let line = `MAIL FROM:<${m.sender}>`;
  if (caps.size !== null) line += ` SIZE=${m.size}`;
  if (caps.eightBitMime && m.body !== null) line += ` BODY=${m.body}`;
  if (caps.smtpUtf8 && m.smtpUtf8) line += ' SMTPUTF8';
  if (caps.dsn && m.ret !== null) line += ` RET=${m.ret}`;
  if (caps.dsn && m.envid !== null) line += ` ENVID=${encodeXtext(m.envid)}`;
  return line + CRLF;
}

export interface RcptInput {
  address: string;
  notify: DsnNotify | null;
  orcpt: DsnOrcpt | null;
}

/** RCPT TO:<address>, with NOTIFY and ORCPT (RFC 3461 §4.1, §4.2) when the peer offers DSN. */
export function rcptCommand(r: RcptInput, caps: Capabilities): string {
  let line = `RCPT TO:<${r.address}>`;
  if (caps.dsn && r.notify !== null) line += ` NOTIFY=${r.notify === 'NEVER' ? 'NEVER' : r.notify.join(',')}`;
  if (caps.dsn && r.orcpt !== null) line += ` ORCPT=${encodeOrcpt(r.orcpt)}`;
  return line + CRLF;
}

/** BDAT chunk-size [LAST] (RFC 3030 §2); the chunk's octets follow the line directly. */
export function bdat(size: number, last: boolean): string {
  return `BDAT ${size}${last ? ' LAST' : ''}${CRLF}`;
}

/** ORCPT value: "utf-8" types use RFC 6533's utf-8-addr-xtext (ASCII-safe on any peer), others xtext. */
export function encodeOrcpt(o: DsnOrcpt): string {
  const utf8 = o.type.toLowerCase() === 'utf-8';
  return `${o.type};${utf8 ? encodeUtf8AddrXtext(o.address) : encodeXtext(o.address)}`;
}

const encoder = new TextEncoder();

/** xtext (RFC 3461 §4): "!" to "~" except "+" and "=" as they are; every other octet as "+HH". */
export function encodeXtext(text: string): string {
  let out = '';
  for (const b of encoder.encode(text)) {
    if (b >= 0x21 && b <= 0x7e && b !== 0x2b && b !== 0x3d) out += String.fromCharCode(b);
    else out += '+' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/**
 * utf-8-addr-xtext (RFC 6533 §3): printable ASCII except "+", "=" and "\" as they are; every other code
 * point as "\x{HEX}" in upper-case hex without leading zeros.
 */
export function encodeUtf8AddrXtext(text: string): string {
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0;
    if (cp >= 0x21 && cp <= 0x7e && cp !== 0x2b && cp !== 0x3d && cp !== 0x5c) out += ch;
    else out += `\\x{${cp.toString(16).toUpperCase()}}`;
  }
  return out;
}

/** AUTH PLAIN with an initial response (RFC 4954 §4, RFC 4616 §2: authzid empty, authcid, password). */
export function authPlain(user: string, password: string): string {
  return `AUTH PLAIN ${base64(`\u0000${user}\u0000${password}`)}${CRLF}`;
}

export const AUTH_LOGIN = `AUTH LOGIN${CRLF}`;

/** One base64 line answering a 334 challenge (the LOGIN mechanism's user name, then password). */
export function authResponse(text: string): string {
  return base64(text) + CRLF;
}

/** Base64 of the UTF-8 text; btoa is global on Bun, Deno and Node, so smtp/ needs no Buffer. */
export function base64(text: string): string {
  let bin = '';
  for (const b of encoder.encode(text)) bin += String.fromCharCode(b);
  return btoa(bin);
}

// deno-lint-ignore no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f]/;

/**
 * Whether text can go into a command line. Addresses come from our own queue and were checked on the way
 * in, but a CR or LF here would let stored data write extra commands (SMTP command injection), so the
 * transaction checks every path before formatting it.
 */
export function safeInCommand(text: string): boolean {
  return !UNSAFE.test(text);
}
