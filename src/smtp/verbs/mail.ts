// MAIL FROM (RFC 5321 §4.1.1.2): opens a transaction with a reverse-path and its parameters.
import { formatMailbox } from '../address.ts';
import { type Context, pass, refuse, type SessionView, State, type Verdict } from '../context.ts';
import { applyParams, emptyMailParams, type MailParams } from '../params.ts';
import type { Command } from '../parser.ts';
import { R } from '../replies.ts';

type Mail = Extract<Command, { verb: 'MAIL' }>;

export interface MailPlan {
  sender: string;
  params: MailParams;
}

export function checkMail(view: SessionView, cmd: Mail): Verdict<MailPlan> {
  // Postfix also demands a greeting first: a client that skips it is broken or probing.
  if (view.greeting === null) return refuse(R.needHelo);
  if (view.tx !== null) return refuse(R.nestedMail); // RFC 5321 §4.1.4: MAIL is refused inside a transaction
  const params = emptyMailParams();
  const bad = applyParams(cmd.params, view.tables.mail, params, view.options);
  if (bad !== null) return refuse(bad.reply, bad.detail);
  // RFC 6531 §3.5: without SMTPUTF8 a non-ASCII reverse-path gets 550 5.6.7.
  if (cmd.from !== null && cmd.from.utf8 && !params.smtpUtf8) return refuse(R.nonAsciiSender);
  return pass({ sender: cmd.from === null ? '' : formatMailbox(cmd.from), params });
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
