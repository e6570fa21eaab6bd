// RCPT TO (RFC 5321 §4.1.1.3): adds a forward-path after the relay decision and the recipient limit.
import { formatMailbox, type Mailbox } from '../address.ts';
import { type Context, pass, refuse, type SessionView, State, type Verdict } from '../context.ts';
import { applyParams, emptyRcptParams } from '../params.ts';
import type { Command } from '../parser.ts';
import { R } from '../replies.ts';
import type { EnvelopeRecipient, SessionOptions } from '../types.ts';

type Rcpt = Extract<Command, { verb: 'RCPT' }>;

export interface RcptPlan {
  recipient: EnvelopeRecipient;
  /** Already accepted in this transaction: answer 250 again, store nothing. */
  duplicate: boolean;
}

export function checkRcpt(view: SessionView, cmd: Rcpt): Verdict<RcptPlan> {
  if (view.greeting === null) return refuse(R.needHelo);
  const tx = view.tx;
  if (tx === null) return refuse(R.needMail);
  const params = emptyRcptParams();
  const bad = applyParams(cmd.params, view.tables.rcpt, params, view.options);
  if (bad !== null) return refuse(bad.reply, bad.detail);
  // RFC 6531 §3.5: a non-ASCII forward-path needs SMTPUTF8 on MAIL; else 553 5.6.7.
  if (cmd.to.utf8 && !tx.params.smtpUtf8) return refuse(R.nonAsciiRecipient);
  if (!mayReceive(cmd.to, view.options, view.conn.trusted || view.identity !== null)) return refuse(R.relayDenied, cmd.to.domain);
  if (!knownLocally(cmd.to, view.options)) return refuse(R.unknownUser, cmd.to.domain);
  const address = formatMailbox(cmd.to);
  const recipient = { address, notify: params.notify, orcpt: params.orcpt };
  if (tx.seen.has(address)) return pass({ recipient, duplicate: true });
  // RFC 5321 §4.5.3.1.10: 452 (not 552) so the client sends the rest in another transaction. It is a
  // limit, not an error of the client, so it does not count against the error budget (452 is not "bad").
  if (tx.recipients.length >= view.options.maxRecipients) return refuse(R.tooManyRecipients);
  return pass({ recipient, duplicate: false });
}

/**
 * Relay control. "<Postmaster>" is always accepted (RFC 5321 §4.1.1.3); our own and relay domains are open
 * to anyone; anything else only to trusted or authenticated clients (RFC 6409 §4.3). Address literals are
 * never one of our domains, so they always take the relay path.
 */
export function mayReceive(to: Mailbox, options: SessionOptions, mayRelay: boolean): boolean {
  if (to.domain === '') return true;
  if (!to.literal && (options.localDomains.has(to.domain) || options.relayDomains.has(to.domain))) return true;
  return mayRelay;
}

/** Local domains may list their users; postmaster always exists (RFC 5321 §4.5.1). */
function knownLocally(to: Mailbox, options: SessionOptions): boolean {
  if (to.domain === '' || to.literal || !options.localRecipient || !options.localDomains.has(to.domain)) return true;
  if (to.local.toLowerCase() === 'postmaster') return true;
  return options.localRecipient(to.local, to.domain);
}

export function proceedRcpt(ctx: Context, _cmd: Rcpt, plan: RcptPlan): void {
  const tx = ctx.tx!;
  if (!plan.duplicate) {
    tx.recipients.push(plan.recipient);
    tx.seen.add(plan.recipient.address);
  }
  ctx.reply(R.recipientOk);
  ctx.enterState(State.Rcpt);
}
