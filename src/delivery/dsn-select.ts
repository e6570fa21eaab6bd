// Which recipients of a message a delivery status notification reports for an event: RFC 3461 NOTIFY, and
// never one for a message from the null reverse-path.
import type { DsnNotify } from '../smtp/types.ts';

/** RFC 3464 §2.3.3 action values; one DSN per message per event lists every recipient it concerns. */
export type DsnEvent = 'failed' | 'delayed' | 'delivered' | 'relayed' | 'expanded';

export const DSN_EVENTS: readonly DsnEvent[] = ['failed', 'delayed', 'delivered', 'relayed', 'expanded'];

type NotifyKeyword = 'SUCCESS' | 'FAILURE' | 'DELAY';

/** The NOTIFY keyword that asks for each event (RFC 3461 §4.1, §5.2.2-§5.2.7). */
const KEYWORD: Record<DsnEvent, NotifyKeyword> = {
  failed: 'FAILURE',
  delayed: 'DELAY',
  delivered: 'SUCCESS',
  relayed: 'SUCCESS',
  expanded: 'SUCCESS',
};

/**
 * What a recipient without NOTIFY gets. RFC 3461 §4.1 lets an MTA read it as FAILURE or FAILURE,DELAY; we
 * take FAILURE,DELAY like Postfix and Sendmail, because a sender whose mail sits in a queue for hours is
 * better told (§5.2.5(b) allows it). Delay warnings are still only sent when delivery.delayWarning > 0.
 * Never SUCCESS: §5.2.2(e) and §5.2.3(c) forbid success reports nobody asked for.
 */
export const DEFAULT_NOTIFY: readonly NotifyKeyword[] = ['FAILURE', 'DELAY'];

/** Does a recipient with this NOTIFY value want a DSN for the event? NEVER wants none (RFC 3461 §4.1). */
export function wantsDsn(event: DsnEvent, notify: DsnNotify | null): boolean {
  if (notify === 'NEVER') return false;
  const keywords: readonly string[] = notify === null ? DEFAULT_NOTIFY : notify.map((k) => k.toUpperCase());
  return keywords.includes(KEYWORD[event]);
}

/**
 * The recipients (in their order) that the DSN for `event` must list; empty means send no DSN. A message
 * whose reverse-path is null ('': itself a DSN or another notification) never gets one, whatever NOTIFY
 * says: RFC 5321 §4.5.5 and §6.1 ("notification messages MUST NOT be sent in response to a null reverse
 * path"), which is what stops two MTAs from bouncing bounces at each other forever.
 */
export function dsnRecipients<R extends { notify: DsnNotify | null }>(
  event: DsnEvent,
  recipients: readonly R[],
  sender: string,
): R[] {
  if (sender === '') return [];
  return recipients.filter((r) => wantsDsn(event, r.notify));
}

/**
 * The event a successful delivery is reported as, or null when no DSN of ours is due for it:
 * - the next hop took our DSN parameters (RecipientResult.dsnRelayed): it reports from now on, not us
 *   (RFC 3461 §5.2.1);
 * - final delivery (mailbox, Maildir, an LMTP store that did not take DSN parameters): "delivered" (§5.2.3);
 * - handed to an SMTP peer without the DSN extension, or gatewayed (a webhook): "relayed" (§5.2.2(b),
 *   §5.2.4(b)), since nobody will report further.
 * Whether a DSN is then sent still depends on NOTIFY=SUCCESS (dsnRecipients).
 */
export function successEvent(dsnRelayed: boolean, finalDelivery: boolean): 'delivered' | 'relayed' | null {
  if (dsnRelayed) return null;
  return finalDelivery ? 'delivered' : 'relayed';
}
