// MAIL FROM (RFC 5321 §4.1.1.2): opens a transaction with a reverse-path and its parameters.
import { formatMailbox, type Mailbox } from '../address.ts';
import { type Context, pass, refuse, type SessionView, State, type Verdict } from '../context.ts';
import { applyParams, emptyMailParams, type MailParams } from '../params.ts';
import type { Command } from '../parser.ts';
import { authConfigured } from '../extensions.ts';
import { R, senderNotOwned } from '../replies.ts';
import type { AuthIdentity } from '../types.ts';

type Mail = Extract<Command, { verb: 'MAIL' }>;

export interface MailPlan {
  sender: string;
  params: MailParams;
}

export function checkMail(view: SessionView, cmd: Mail): Verdict<MailPlan> {
  // Postfix also demands a greeting first: a client that skips it is broken or probing.
  if (view.greeting === null) return refuse(R.needHelo);
  if (view.tx !== null) return refuse(R.nestedMail); // RFC 5321 §4.1.4: MAIL is refused inside a transaction
  // RFC 4954 §6, RFC 6409 §4.3: the submission ports take mail from authenticated users only.
  const listener = view.conn.listener;
  if (view.identity === null && listener !== 'mx' && authConfigured(view.options, listener)) {
    return refuse(R.authRequired);
  }
  const params = emptyMailParams();
  const bad = applyParams(cmd.params, view.tables.mail, params, view.options);
  if (bad !== null) return refuse(bad.reply, bad.detail);
  // RFC 6531 §3.5: without SMTPUTF8 a non-ASCII reverse-path gets 550 5.6.7.
  if (cmd.from !== null && cmd.from.utf8 && !params.smtpUtf8) return refuse(R.nonAsciiSender);
  // RFC 6409 §8.1 (sender ownership): an authenticated user may only use its own addresses (forgery defence).
  const identity = view.identity;
  if (identity !== null && !ownsSender(identity, cmd.from)) {
    return refuse(senderNotOwned(identity.user), cmd.from === null ? '<>' : formatMailbox(cmd.from));
  }
  return pass({ sender: cmd.from === null ? '' : formatMailbox(cmd.from), params });
}

/**
 * Whether the identity may use this reverse-path: `any` allows everything including <>; otherwise an exact
 * address or a whole domain. Local parts compare case-insensitively (in practice every mailbox provider
 * treats them so, though RFC 5321 §2.4 lets hosts decide), domains are already lower-cased.
 */
export function ownsSender(identity: AuthIdentity, from: Mailbox | null): boolean {
  if (identity.any) return true;
  if (from === null || from.literal) return false;
  if (identity.domains.some((d) => d.toLowerCase() === from.domain)) return true;
  const address = `${from.local.toLowerCase()}@${from.domain}`;
  return identity.addresses.some((a) => a.toLowerCase() === address);
}

export function proceedMail(ctx: Context, _cmd: Mail, plan: MailPlan): void {
  ctx.tx = {
    sender: plan.sender,
    params: plan.params,
    recipients: [],
    seen: new Set(),
    mode: 'none',
    queueId: null,
    receivedAt: null,
    sink: null,
    bdat: null,
    size: 0,
  };
  ctx.reply(R.senderOk);
  ctx.enterState(State.Mail);
}
