// What the peer offers: the EHLO/LHLO reply's keyword lines (RFC 5321 §4.1.1.1) read into one record.
import { type ClientReply, lineText } from './reply.ts';

/** The extensions the client uses. A HELO-only peer (no ESMTP) has them all off. */
export interface Capabilities {
  /** EHLO/LHLO was accepted; false after the HELO fallback (RFC 5321 §3.2). */
  esmtp: boolean;
  pipelining: boolean; // RFC 2920
  /** RFC 1870 §4: null = SIZE not offered; 0 = offered with no fixed limit; else the limit in octets. */
  size: number | null;
  eightBitMime: boolean; // RFC 6152
  smtpUtf8: boolean; // RFC 6531
  chunking: boolean; // RFC 3030
  dsn: boolean; // RFC 3461
  startTls: boolean; // RFC 3207
  enhancedStatusCodes: boolean; // RFC 2034
  /** SASL mechanisms from "AUTH PLAIN LOGIN ..." (RFC 4954 §3), upper-case. */
  auth: string[];
}

/** A peer that only spoke HELO. */
export const NO_CAPABILITIES: Readonly<Capabilities> = Object.freeze({
  esmtp: false,
  pipelining: false,
  size: null,
  eightBitMime: false,
  smtpUtf8: false,
  chunking: false,
  dsn: false,
  startTls: false,
  enhancedStatusCodes: false,
  auth: [],
});

// RFC 1870 §3: size-value ::= 1*20DIGIT; anything else is read as "offered, limit unknown" (0).
const SIZE_VALUE = /^\d{1,20}$/;

/**
 * Reads the keyword lines (all but the first, which names the host). Keywords are case-insensitive
 * (RFC 5321 §2.4); unknown ones are ignored. "AUTH=PLAIN LOGIN", the pre-standard spelling some old
 * servers still send beside the real one, is read too.
 */
export function parseEhloReply(reply: ClientReply): Capabilities {
  const caps: Capabilities = { ...NO_CAPABILITIES, esmtp: true, auth: [] };
  for (let i = 1; i < reply.lines.length; i++) {
    const words = lineText(reply, i).trim().split(/[ \t]+/);
    let keyword = (words[0] ?? '').toUpperCase();
    let args = words.slice(1);
    if (keyword.startsWith('AUTH=')) {
      args = [keyword.slice(5), ...args];
      keyword = 'AUTH';
    }
    switch (keyword) {
      case 'PIPELINING':
        caps.pipelining = true;
        break;
      case 'SIZE': {
        const v = args[0];
        caps.size = v !== undefined && SIZE_VALUE.test(v) ? Number(v) : 0;
        break;
      }
      case '8BITMIME':
        caps.eightBitMime = true;
        break;
      case 'SMTPUTF8':
        caps.smtpUtf8 = true;
        break;
      case 'CHUNKING':
        caps.chunking = true;
        break;
      case 'DSN':
        caps.dsn = true;
        break;
      case 'STARTTLS':
        caps.startTls = true;
        break;
      case 'ENHANCEDSTATUSCODES':
        caps.enhancedStatusCodes = true;
        break;
      case 'AUTH':
        for (const m of args) {
          const mech = m.toUpperCase();
          if (mech !== '' && !caps.auth.includes(mech)) caps.auth.push(mech);
        }
        break;
    }
  }
  return caps;
}

/** The offered keywords, for logs: "PIPELINING SIZE=10240000 8BITMIME ...". */
export function describeCapabilities(c: Capabilities): string {
  if (!c.esmtp) return 'HELO';
  const out: string[] = [];
  if (c.pipelining) out.push('PIPELINING');
  if (c.size !== null) out.push(`SIZE=${c.size}`);
  if (c.eightBitMime) out.push('8BITMIME');
  if (c.smtpUtf8) out.push('SMTPUTF8');
  if (c.chunking) out.push('CHUNKING');
  if (c.dsn) out.push('DSN');
  if (c.startTls) out.push('STARTTLS');
  if (c.enhancedStatusCodes) out.push('ENHANCEDSTATUSCODES');
  if (c.auth.length > 0) out.push(`AUTH=${c.auth.join(',')}`);
  return out.join(' ');
}
