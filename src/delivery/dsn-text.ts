// The human-readable first part of a DSN (RFC 6522 §3) and its Subject: what happened, to whom, what the
// remote server said, and what was attached.
import { formatDate } from '../smtp/received.ts';
import { cleanText, type DsnRecipient, fold, MAX_LINE } from './dsn-fields.ts';
import type { DsnEvent } from './dsn-select.ts';

export const SUBJECTS: Record<DsnEvent, string> = {
  failed: 'Undelivered Mail Returned to Sender',
  delayed: 'Delayed Mail (still being retried)',
  delivered: 'Successful Mail Delivery Report',
  relayed: 'Successful Mail Delivery Report',
  expanded: 'Successful Mail Delivery Report',
};

/** What the third part holds, and why (said in the human part so the sender is not left guessing). */
export type Returned =
  | { kind: 'full' }
  | { kind: 'headers'; why: 'hdrs' | 'default' | 'not-failure' | 'too-large' | 'long-lines'; limit?: number }
  | { kind: 'none'; why: 'long-lines' };

const INTRO: Record<DsnEvent, string> = {
  failed: 'Your message could not be delivered to the recipients below. This is a permanent error; ' +
    'no further attempts will be made.',
  delayed: 'Your message has not been delivered yet to the recipients below. Delivery is still being ' +
    'retried; you do not need to send it again.',
  delivered: 'Your message was delivered to the recipients below.',
  relayed: 'Your message was passed on to the next mail system for the recipients below. That system ' +
    'does not send delivery reports, so no further notice about them will follow.',
  expanded: 'Your message was delivered to the addresses below, which forward it on to several further ' +
    'recipients. Reports about those may follow from the systems concerned.',
};

function returnedNote(r: Returned): string {
  switch (r.kind) {
    case 'full':
      return 'Your message is attached.';
    case 'none':
      return 'Your message is not attached: its header section has a line longer than 998 octets.';
    case 'headers':
      switch (r.why) {
        case 'hdrs':
          return 'The header section of your message is attached, as your mail program asked (RET=HDRS).';
        case 'default':
          // RFC 3461 §4.3 leaves the choice to us; returning whole messages would let anyone who forges a
          // sender address use this server to reflect content at that address (backscatter).
          return 'The header section of your message is attached. The whole message is only returned when ' +
            'the sending mail program asks for it (RET=FULL).';
        case 'not-failure':
          return 'The header section of your message is attached.'; // RFC 3461 §6.2
        case 'too-large':
          return `The header section of your message is attached; the message itself is larger than ` +
            `${size(r.limit ?? 0)}, too large to return.`;
        case 'long-lines':
          return 'The header section of your message is attached; the message itself has lines longer than ' +
            '998 octets and cannot be returned as it is.';
      }
  }
}

const size = (n: number): string => n >= 1048576 ? `${Math.round(n / 1048576)} MB` : `${n} octets`;

/** One recipient's paragraph: address, original address when it differs, and the remote reply or our reason. */
function recipientText(r: DsnRecipient, utf8: boolean): string[] {
  const lines = [`<${cleanText(r.address, utf8)}>`];
  if (r.orcpt !== null && r.orcpt.address !== r.address) {
    lines[0] += ` (originally addressed to <${cleanText(r.orcpt.address, utf8)}>)`;
  }
  const said = r.diagnostic.split(/\r?\n/).map((l) => cleanText(l, utf8)).filter((l) => l.trim() !== '');
  if (r.remote !== null && r.remote !== '') {
    lines[0] += `: the server ${cleanText(r.remote.replace(/:\d+$/, ''), utf8)} said:`;
  } else if (said.length > 0) {
    lines[0] += ':';
  }
  for (const l of said) lines.push(...fold('    ' + l, MAX_LINE)); // the reply's own lines, unwrapped
  return lines;
}

export interface HumanPart {
  event: DsnEvent;
  reportingMta: string;
  recipients: readonly DsnRecipient[];
  returned: Returned;
  /** UTF-8 allowed (the text part is then charset=utf-8, 8bit). */
  utf8: boolean;
}

/** The text/plain body, CRLF line endings, every line within 998 octets. */
export function humanText(h: HumanPart): string {
  const out: string[] = [`This is the mail system at ${cleanText(h.reportingMta, false)}.`, ''];
  out.push(...wrap(INTRO[h.event]), '');
  if (h.event === 'delayed') {
    const until = h.recipients.map((r) => r.willRetryUntil?.getTime() ?? 0).reduce((a, b) => Math.max(a, b), 0);
    if (until > 0) out.push(...wrap(`It will be retried until ${formatDate(new Date(until))}.`), '');
  }
  for (const r of h.recipients) out.push(...recipientText(r, h.utf8), '');
  out.push(...wrap(returnedNote(h.returned)), '');
  if (h.event === 'failed' || h.event === 'delayed') {
    out.push(...wrap(`If you need help, forward this report to postmaster@${cleanText(h.reportingMta, false)}.`));
    out.push('');
  }
  return out.join('\r\n');
}

/** Our own prose, wrapped at 72 columns for plain-text readers. */
function wrap(text: string): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > 72) {
      out.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  out.push(line);
  return out;
}
