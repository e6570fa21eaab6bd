// Builds delivery status notifications: RFC 3464 multipart/report messages (RFC 6522), in their RFC 6533
// global form for SMTPUTF8 mail, sent from the null reverse-path (RFC 3461 §6.1).
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { formatDate } from '../smtp/received.ts';
import { cleanText, deliveryStatus, type DsnRecipient, field, isAscii } from './dsn-fields.ts';
import { chooseReturn, DSN_MAX_RETURN } from './dsn-return.ts';
import { concat } from '../lib/bytes.ts';
import type { DsnEvent } from './dsn-select.ts';
import { humanText, SUBJECTS } from './dsn-text.ts';

export { DSN_EVENTS, type DsnEvent, dsnRecipients, successEvent, wantsDsn } from './dsn-select.ts';
export { DSN_MAX_RETURN } from './dsn-return.ts';
export type { DsnRecipient } from './dsn-fields.ts';

export interface DsnInput {
  /** Our host name: Reporting-MTA, the From address's domain and the Message-ID's right side. */
  reportingMta: string;
  event: DsnEvent;
  message: {
    id: string;
    sender: string; // never '': no DSN for a null reverse-path (see dsnRecipients)
    receivedAt: Date;
    dsnEnvid: string | null;
    dsnRet: 'FULL' | 'HDRS' | null;
    smtpUtf8: boolean;
  };
  /** The stored message, as queued (our Received field included). */
  original: Uint8Array;
  /** Every recipient this DSN reports, already filtered by dsnRecipients; at least one. */
  recipients: DsnRecipient[];
  /** The DSN's Date. */
  now: Date;
  /** Fixes the Message-ID and MIME boundary (tests); random otherwise. */
  messageIdSeed?: string;
  /** RET=FULL returns headers only above this many octets; default DSN_MAX_RETURN (10 MiB). */
  maxReturnSize?: number;
}

/** A DSN ready to queue: envelope from <> to the original sender. */
export interface DsnMessage {
  sender: '';
  recipient: string;
  message: Uint8Array;
  /** The envelope or the top-level header has UTF-8 (RFC 6531 §3.4): deliver with SMTPUTF8. */
  smtpUtf8: boolean;
  /** 8BITMIME when any part carries 8-bit octets (UTF-8 text, an 8-bit original). */
  bodyType: '7BIT' | '8BITMIME';
}

const utf8 = new TextEncoder();

/**
 * The DSN for one message and one event, listing every recipient given. Structure (RFC 3464 §2, RFC 6522):
 * multipart/report; report-type=delivery-status with (1) text/plain for people, (2) message/delivery-status,
 * (3) the original message (message/rfc822) or its header section (text/rfc822-headers) per chooseReturn.
 * An SMTPUTF8 original gives the global forms (RFC 6533 §4, §6): report-type=global-delivery-status,
 * message/global-delivery-status, message/global or message/global-headers, UTF-8 left as is.
 *
 * smtpUtf8 is set only when the DSN's envelope or top-level header needs it, i.e. the sender's address is
 * not ASCII. UTF-8 inside body parts needs only 8BITMIME (RFC 6532 §3.7, RFC 6533 §6), and a DSN that asks
 * for SMTPUTF8 without needing it could not be delivered to a return path whose MX lacks the extension.
 *
 * Calling it for a null sender or with no recipients is a bug and throws.
 */
export function buildDsn(input: DsnInput): DsnMessage {
  const { message, event } = input;
  if (message.sender === '') throw new Error('buildDsn: no DSN for a null reverse-path (RFC 5321 §4.5.5)');
  if (input.recipients.length === 0) throw new Error('buildDsn: a DSN reports at least one recipient');
  const global = message.smtpUtf8;
  const host = cleanText(input.reportingMta, false);

  const choice = chooseReturn(event, message.dsnRet, input.original, input.maxReturnSize ?? DSN_MAX_RETURN);
  const text = humanText({
    event,
    reportingMta: host,
    recipients: input.recipients,
    returned: choice.returned,
    utf8: global,
  });
  const status = deliveryStatus({
    reportingMta: host,
    queueId: message.id,
    envid: message.dsnEnvid,
    arrival: message.receivedAt,
    event,
    recipients: input.recipients,
    global,
  });

  const seed = (input.messageIdSeed ?? randomBytes(9).toString('hex')).replace(/[^A-Za-z0-9]/g, '').slice(0, 32);
  const boundary = pickBoundary(seed, [text, status], choice.content);
  const recipient = cleanText(message.sender, true);

  let head = '';
  head += field('From', `Mail Delivery System <MAILER-DAEMON@${host}>`);
  head += field('To', `<${recipient}>`);
  head += field('Subject', SUBJECTS[event]);
  head += field('Date', formatDate(input.now));
  head += field('Message-ID', `<${message.id.replace(/[^A-Za-z0-9]/g, '') || 'dsn'}.${event}.${seed}@${host}>`);
  head += field('Auto-Submitted', 'auto-replied'); // RFC 3834 §5: a DSN is an automatic reply
  head += field('MIME-Version', '1.0');
  head += `Content-Type: multipart/report; report-type=${global ? 'global-' : ''}delivery-status;\r\n`;
  head += `\tboundary="${boundary}"\r\n`;
  head += '\r\nThis is a MIME-encapsulated message.\r\n';

  head += partHeader(boundary, `text/plain; charset=${isAscii(text) ? 'us-ascii' : 'utf-8'}`, text, 'Notification');
  head += text;
  head += partHeader(
    boundary,
    global ? 'message/global-delivery-status' : 'message/delivery-status',
    status,
    'Delivery report',
  );
  head += status;

  const parts: Uint8Array[] = [utf8.encode(head)];
  if (choice.content !== null) {
    const full = choice.returned.kind === 'full';
    const type = full
      ? (global ? 'message/global' : 'message/rfc822')
      : (global ? 'message/global-headers' : 'text/rfc822-headers');
    parts.push(
      utf8.encode(partHeader(boundary, type, choice.content, full ? 'Undelivered Message' : 'Message Headers')),
    );
    parts.push(choice.content);
  }
  parts.push(utf8.encode(`\r\n--${boundary}--\r\n`));
  const bytes = concat(...parts);

  return {
    sender: '',
    recipient: message.sender,
    message: bytes,
    smtpUtf8: !isAscii(message.sender),
    bodyType: has8bit(bytes) ? '8BITMIME' : '7BIT',
  };
}

/**
 * A body part's delimiter and header. The delimiter's leading CRLF belongs to it (RFC 2046 §5.1.1), so each
 * part's content ends with its own CRLF. Content-Transfer-Encoding is 7bit or 8bit, never base64 or QP:
 * RFC 2046 §5.2.1 allows only identity encodings for message/rfc822, and RFC 3464 §2.1 wants 7bit for the
 * status; 8-bit content needs 8BITMIME on the way back, which bodyType tells the courier.
 */
function partHeader(boundary: string, type: string, content: string | Uint8Array, description: string): string {
  const eight = typeof content === 'string' ? !isAscii(content) : has8bit(content);
  return `\r\n--${boundary}\r\nContent-Type: ${type}\r\nContent-Description: ${description}\r\n` +
    `Content-Transfer-Encoding: ${eight ? '8bit' : '7bit'}\r\n\r\n`;
}

/** A boundary that occurs in no part's content (RFC 2046 §5.1.1), made from the seed, numbered on collision. */
function pickBoundary(seed: string, texts: string[], content: Uint8Array | null): string {
  const bytes = content === null ? null : Buffer.from(content.buffer, content.byteOffset, content.byteLength);
  for (let n = 0;; n++) {
    const b = `=_tern-dsn-${seed}${n === 0 ? '' : `-${n}`}`;
    if (texts.some((t) => t.includes(b))) continue;
    if (bytes !== null && bytes.includes(b, 0, 'latin1')) continue;
    return b;
  }
}

function has8bit(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] >= 0x80) return true;
  return false;
}
