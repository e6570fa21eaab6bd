// The header work a local submission needs: find fields, read address lists (-t), drop Bcc, prepend fields.
//
// Messages are handled as latin1 strings here: one character per octet, so 8-bit and UTF-8 header text
// (RFC 6532) survives a round trip unchanged; only address parsing decodes the octets as UTF-8.
import addressparser from 'nodemailer/lib/addressparser/index.js';

/** One header field as it appears in the message, continuation lines included. */
export interface HeaderField {
  name: string; // as written; compare lower-cased
  raw: string; // the whole field, CRLF-terminated, folding kept
  start: number; // offset of the field in the message
}

export interface SplitMessage {
  fields: HeaderField[];
  /** Offset of the body: just after the empty line, or the end when there is no body. */
  bodyStart: number;
  /** An empty line ended the header (false: the end of the message, or a line that is no field). */
  separated: boolean;
}

const FIELD_NAME = /^([!-9;-~]+)[ \t]*:/; // RFC 5322 §3.6.8 ftext, tolerating WSP before the colon (obs)

/**
 * Splits the header section (RFC 5322 §2.1) off a CRLF message. A line that is neither a field nor a
 * continuation ends the header, as it does for every MUA: what follows is body.
 */
export function splitHeader(text: string): SplitMessage {
  const fields: HeaderField[] = [];
  let i = 0;
  while (i < text.length) {
    const eol = text.indexOf('\r\n', i);
    const end = eol < 0 ? text.length : eol + 2;
    const line = text.slice(i, end);
    if (line === '\r\n') return { fields, bodyStart: end, separated: true };
    const c = line.charCodeAt(0);
    if ((c === 0x20 || c === 0x09) && fields.length > 0) {
      const last = fields[fields.length - 1];
      last.raw += line;
    } else {
      const m = FIELD_NAME.exec(line);
      if (!m) return { fields, bodyStart: i, separated: false };
      fields.push({ name: m[1], raw: line, start: i });
    }
    i = end;
  }
  return { fields, bodyStart: text.length, separated: false };
}

/**
 * Programs often write a message without the empty line, or no header at all ("echo hi | sendmail
 * user"). The first line that is no header field starts the body (as in Postfix's cleanup), so the empty
 * line goes in front of it: otherwise fields added on top would turn that text into header.
 */
export function ensureBodySeparator(text: string): string {
  const split = splitHeader(text);
  if (split.separated || split.bodyStart >= text.length) return text;
  return text.slice(0, split.bodyStart) + '\r\n' + text.slice(split.bodyStart);
}

/** The field's value, unfolded (RFC 5322 §2.2.3) and decoded as UTF-8 for parsing. */
export function fieldValue(field: HeaderField): string {
  const colon = field.raw.indexOf(':');
  const value = field.raw.slice(colon + 1).replace(/\r\n(?=[ \t])/g, '').replace(/\r\n$/, '');
  return new TextDecoder().decode(Buffer.from(value, 'latin1')).trim();
}

export function hasField(split: SplitMessage, name: string): boolean {
  const lower = name.toLowerCase();
  return split.fields.some((f) => f.name.toLowerCase() === lower);
}

const RECIPIENT_FIELDS = ['to', 'cc', 'bcc'];
const RESENT_FIELDS = ['resent-to', 'resent-cc', 'resent-bcc'];
// A bare word in an address list ("To: root") is what local programs write for a local user.
const BARE_LOCAL_PART = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.]+$/;

/**
 * Recipients for `sendmail -t`: every address in To, Cc and Bcc, groups flattened. When the message has
 * Resent- recipient fields it is being re-sent (RFC 5322 §3.6.6), and only those count (Postfix does the
 * same). Addresses are returned as written; qualifying and validating them is the caller's job.
 */
export function headerRecipients(split: SplitMessage): string[] {
  const resent = split.fields.some((f) => RESENT_FIELDS.includes(f.name.toLowerCase()));
  const wanted = resent ? RESENT_FIELDS : RECIPIENT_FIELDS;
  const out: string[] = [];
  for (const f of split.fields) {
    if (wanted.includes(f.name.toLowerCase())) out.push(...parseAddressList(fieldValue(f)));
  }
  return out;
}

/** An RFC 5322 address-list (names, comments, groups) reduced to its addresses; empty groups give none. */
export function parseAddressList(text: string): string[] {
  const out: string[] = [];
  for (const a of addressparser(text, { flatten: true })) {
    if (a.address) out.push(a.address);
    else if (BARE_LOCAL_PART.test(a.name)) out.push(a.name);
  }
  return out;
}

/**
 * Drops Bcc and Resent-Bcc: blind copies must not show their recipients to the others (RFC 5322
 * §3.6.3 allows removing the field; Postfix's cleanup always does, whatever the options).
 */
export function removeBlindCopies(text: string): string {
  const split = splitHeader(text);
  let out = '';
  let at = 0;
  for (const f of split.fields) {
    const name = f.name.toLowerCase();
    if (name !== 'bcc' && name !== 'resent-bcc') continue;
    out += text.slice(at, f.start);
    at = f.start + f.raw.length;
  }
  return out + text.slice(at);
}

/**
 * From: for a message that has none (RFC 6409 §8.2 lets a submission server add it from the identity it
 * knows). The display name is quoted (RFC 5322 §3.2.4) and stripped of anything that could end the field.
 */
export function fromField(address: string, fullName: string | null): string {
  const name = (fullName ?? '').replace(/[\r\n]+/g, ' ').trim();
  if (name === '') return `From: ${address}\r\n`;
  return `From: "${name.replace(/(["\\])/g, '\\$1')}" <${address}>\r\n`;
}
