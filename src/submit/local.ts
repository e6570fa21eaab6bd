// Local submission (sendmail, and anything else on this host): check the envelope, complete the message
// the way a submission server does (RFC 6409 §8), and hand it to the same durable intake SMTP uses.
import { formatMailbox, type Mailbox, parsePath } from '../smtp/address.ts';
import { formatDate } from '../smtp/received.ts';
import { addMissingHeaders } from '../smtp/submission.ts';
import type { DsnNotify, Envelope } from '../smtp/types.ts';
import type { QueueWriter } from '../queue/types.ts';
import { ensureBodySeparator, fromField, hasField, removeBlindCopies, splitHeader } from './headers.ts';
import { hasEightBit } from './input.ts';
import { errorText } from '../lib/errors.ts';

export interface SubmitDeps {
  queue: QueueWriter;
  hostname: string; // qualifies bare local parts (Postfix's myorigin) and names us in Received
  maxMessageSize: number; // smtp.max_message_size, the same limit SMTP clients get
  now(): Date;
  newQueueId(): string;
}

export interface LocalSubmission {
  /** Envelope sender as given: '' or '<>' is the null sender; a bare local part gets @hostname. */
  sender: string;
  /** Recipients as given (arguments, or addresses read from the header by -t); duplicates are dropped. */
  recipients: string[];
  /** The message with CRLF line ends (see normaliseInput). */
  message: Uint8Array;
  /** -F: the display name for a From: the message lacks. */
  fullName?: string | null;
  notify?: DsnNotify | null; // -N, RFC 3461 NOTIFY for every recipient
  ret?: 'FULL' | 'HDRS' | null; // -R, RFC 3461 RET
  envid?: string | null; // -V, RFC 3461 ENVID
  /** Who ran sendmail, for the Received comment (like Postfix's "from userid 1000"). */
  uid?: number | null;
}

/** sysexits-shaped failures: the CLI maps dataerr to 65, unavailable to 69, tempfail to 75. */
export type SubmitFailure = 'dataerr' | 'unavailable' | 'tempfail';
export type SubmitResult = { ok: true; queueId: string } | { ok: false; kind: SubmitFailure; reason: string };

/** RFC 3461 §4.4: ENVID is at most 100 characters of printable ASCII (we take it decoded, not as xtext). */
const MAX_ENVID = 100;

/**
 * Contract: resolves ok only after the intake committed the message (the same guarantee as SMTP's 250);
 * expected problems (bad addresses, too big, database down) are values, never throws.
 */
export async function submitLocal(deps: SubmitDeps, input: LocalSubmission): Promise<SubmitResult> {
  const sender = parseSender(input.sender, deps.hostname);
  if (sender === null) return dataErr(`bad sender address: ${input.sender}`);
  const mailboxes: Mailbox[] = [];
  const seen = new Set<string>();
  for (const text of input.recipients) {
    const m = qualify(text, deps.hostname);
    if (m === null) return dataErr(`bad recipient address: ${text}`);
    const key = formatMailbox(m);
    if (seen.has(key)) continue;
    seen.add(key);
    mailboxes.push(m);
  }
  if (mailboxes.length === 0) return dataErr('no recipients');
  if (input.envid && (input.envid.length > MAX_ENVID || !/^[!-~]+$/.test(input.envid))) {
    return dataErr('bad envelope id (-V): printable ASCII without spaces, at most 100 characters');
  }

  const now = deps.now();
  const queueId = deps.newQueueId();
  const message = complete(input, sender, deps.hostname, queueId, now);
  if (message.byteLength > deps.maxMessageSize) {
    return dataErr(`message too big: ${message.byteLength} octets, the limit is ${deps.maxMessageSize}`);
  }
  const envelope: Envelope = {
    queueId,
    sender: sender === '' ? '' : formatMailbox(sender),
    recipients: mailboxes.map((m) => ({ address: formatMailbox(m), notify: input.notify ?? null, orcpt: null })),
    bodyType: hasEightBit(message) ? '8BITMIME' : null,
    smtpUtf8: (sender !== '' && sender.utf8) || mailboxes.some((m) => m.utf8),
    declaredSize: null,
    dsnRet: input.ret ?? null,
    dsnEnvid: input.envid || null,
    helo: deps.hostname,
    protocol: 'local',
    // Loopback rather than '' (which Tern's own DSNs use): the message did come from a program on this
    // host, and anything keyed on the client address (logs, the console) shows that truthfully.
    clientAddress: '127.0.0.1',
    clientPort: 0,
    listener: 'local',
    tls: null,
    authUser: null,
    receivedAt: now,
  };
  try {
    await deps.queue.enqueue(envelope, message);
  } catch (err) {
    return { ok: false, kind: 'tempfail', reason: errorText(err) };
  }
  return { ok: true, queueId };
}

/**
 * Bcc out, From in when missing (RFC 6409 §8.2, built from the envelope sender and -F), Date and
 * Message-ID when missing (RFC 6409 §8.3/§8.1, shared with SMTP submission), then our Received on top.
 */
function complete(input: LocalSubmission, sender: Mailbox | '', hostname: string, queueId: string, now: Date): Uint8Array {
  let text = ensureBodySeparator(removeBlindCopies(Buffer.from(input.message).toString('latin1')));
  if (!hasField(splitHeader(text), 'from')) {
    // The null sender has no address to show; MAILER-DAEMON is what every MTA writes there.
    const from = sender === '' ? `MAILER-DAEMON@${hostname}` : formatMailbox(sender);
    text = fromField(from, input.fullName ?? null) + text;
  }
  const fixed = addMissingHeaders(Buffer.from(text, 'latin1'), { now, hostname, idLeft: queueId });
  const uid = input.uid === undefined || input.uid === null ? '' : `, from userid ${input.uid}`;
  const received = `Received: by ${hostname} (Tern${uid})\r\n\tid ${queueId}; ${formatDate(now)}\r\n`;
  const head = Buffer.from(received, 'latin1');
  const out = new Uint8Array(head.byteLength + fixed.byteLength);
  out.set(head, 0);
  out.set(fixed, head.byteLength);
  return out;
}

function parseSender(text: string, hostname: string): Mailbox | '' | null {
  const t = text.trim();
  if (t === '' || t === '<>') return '';
  return qualify(t, hostname);
}

/**
 * One address as a program may write it: "user@example.org", "<user@example.org>" or a bare "user",
 * which gets our hostname (Postfix's append_at_myorigin). Checked against RFC 5321's Mailbox grammar,
 * since whatever we accept here must later survive MAIL FROM / RCPT TO at the next hop.
 */
export function qualify(text: string, hostname: string): Mailbox | null {
  let t = text.trim();
  if (t.startsWith('<') && t.endsWith('>')) t = t.slice(1, -1).trim();
  if (t === '') return null;
  if (!t.includes('@')) t = `${t}@${hostname}`;
  const path = `<${t}>`;
  const r = parsePath(path, 0, { allowNull: false, allowPostmaster: false });
  return r.ok && r.mailbox !== null && r.end === path.length ? r.mailbox : null;
}

function dataErr(reason: string): SubmitResult {
  return { ok: false, kind: 'dataerr', reason };
}
