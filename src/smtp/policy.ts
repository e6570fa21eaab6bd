// The host's policy hook inside the session: which commands it may veto, the query each one sends, and how
// a verdict is applied once the host answers (SessionOptions.policyStages, Session.policyAnswer()).
import { type Context, type PendingPolicy, State } from './context.ts';
import type { Command, Verb } from './parser.ts';
import { hostReply } from './replies.ts';
import type { PolicyQuery, PolicyStage, PolicyVerdict } from './types.ts';
import type { MailPlan } from './verbs/mail.ts';
import type { RcptPlan } from './verbs/rcpt.ts';

/** The commands the host may veto after their own checks passed; 'connect' is asked by greet(). */
export const POLICY_STAGE: Readonly<Partial<Record<Verb, PolicyStage>>> = {
  EHLO: 'helo',
  HELO: 'helo',
  MAIL: 'mail',
  RCPT: 'rcpt',
};

/**
 * Parks the command (its proceed half in `proceed`) and asks the host. The session then waits like for
 * 'enqueue': pipelined input stays buffered, so verdicts and replies keep the command order (RFC 2920).
 */
export function askPolicy(
  ctx: Context,
  verb: string,
  stage: PolicyStage,
  helo: string | null,
  sender: string | null,
  recipient: string | null,
  proceed: () => void,
): void {
  ctx.pendingPolicy = { verb, proceed, returnTo: ctx.state };
  ctx.enterState(State.Policy);
  const query: PolicyQuery = { stage, helo, sender, recipient, authUser: ctx.identity?.user ?? null };
  ctx.emit({ kind: 'policy', query });
}

/** The query for a command that passed its own checks (the plan carries MAIL's and RCPT's address). */
export function policyFor(ctx: Context, cmd: Command, stage: PolicyStage, plan: unknown, proceed: () => void): void {
  const helo = cmd.verb === 'EHLO' || cmd.verb === 'HELO' ? cmd.domain : (ctx.greeting?.name ?? null);
  const sender = cmd.verb === 'MAIL' ? (plan as MailPlan).sender : (ctx.tx?.sender ?? null);
  const recipient = cmd.verb === 'RCPT' ? (plan as RcptPlan).recipient.address : null;
  askPolicy(ctx, cmd.verb, stage, helo, sender, recipient, proceed);
}

/**
 * accept: the command proceeds. reject: the host's reply (with its enhanced code when the extension is on),
 * not charged to the error budget. disconnect, or any refusal at connect (RFC 5321 §3.1): reply and close.
 */
export function applyVerdict(ctx: Context, pending: PendingPolicy, verdict: PolicyVerdict): void {
  ctx.pendingPolicy = null;
  ctx.enterState(pending.returnTo);
  if (verdict.action === 'accept') return pending.proceed();
  const refusal = hostReply(verdict.reply, 'policy');
  ctx.log('reject', { verb: pending.verb, code: refusal.code, reason: 'policy', action: verdict.action });
  ctx.reply(refusal);
  if (verdict.action === 'disconnect' || pending.verb === 'CONNECT') ctx.close();
}
