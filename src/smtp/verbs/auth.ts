// AUTH (RFC 4954): the session frames the SASL exchange (334/base64, "*", 235/535/454); the host checks the
// credentials. Each client response becomes an 'auth' effect answered by Session.authAnswer().
import { type Context, pass, refuse, type SessionView, State, type Verdict } from '../context.ts';
import { authConfigured } from '../extensions.ts';
import { type Command, decodeLine, TOO_LONG } from '../parser.ts';
import { authChallenge, R } from '../replies.ts';
import { encodeBase64, parseInitialResponse, parseSaslResponse } from '../sasl.ts';
import type { AuthAnswer } from '../types.ts';

type Auth = Extract<Command, { verb: 'AUTH' }>;

export interface AuthPlan {
  mechanism: string;
  /** The decoded initial response; null when the client sent none (the host then issues a challenge). */
  response: Uint8Array | null;
}

/**
 * Refusals, in order: not configured here (502, as before AUTH existed); before EHLO or after HELO (503:
 * AUTH is an ESMTP extension); already authenticated or inside a transaction (503, RFC 4954 §4); plaintext
 * without permission (538 5.7.11); a mechanism we do not offer (504 5.5.4); bad base64 (501 5.5.2).
 */
export function checkAuth(view: SessionView, cmd: Auth): Verdict<AuthPlan> {
  const options = view.options;
  if (!authConfigured(options, view.conn.listener)) return refuse(R.notImplemented);
  if (view.greeting === null || view.greeting.verb !== 'EHLO') return refuse(R.authNeedsEhlo);
  if (view.identity !== null) return refuse(R.authAlready);
  if (view.tx !== null) return refuse(R.authInTransaction);
  if (view.conn.tls === null && !options.auth!.allowPlaintext) return refuse(R.authNeedsTls);
  if (!options.auth!.mechanisms.includes(cmd.mechanism)) return refuse(R.authUnknownMechanism, cmd.mechanism);
  const response = parseInitialResponse(cmd.initial);
  if (response === 'bad') return refuse(R.authBadBase64, cmd.mechanism);
  return pass({ mechanism: cmd.mechanism, response });
}

/** Hands the first step to the host; input stays buffered until authAnswer(). */
export function proceedAuth(ctx: Context, _cmd: Auth, plan: AuthPlan): void {
  ctx.authMechanism = plan.mechanism;
  ctx.authContinued = false;
  ctx.enterState(State.Auth);
  ctx.emit({ kind: 'auth', mechanism: plan.mechanism, response: plan.response, tls: ctx.conn.tls !== null });
}

/**
 * Applies the host's answer (RFC 4954 §4): a challenge goes out as 334 and the next line is the client's
 * response; success is 235 and the identity is kept; failure is 535 (charged to the error budget, so a
 * guessing client is cut off) or 454 (temporary or throttled, not charged).
 */
export function answerAuth(ctx: Context, answer: AuthAnswer): void {
  const mechanism = ctx.authMechanism;
  if (answer.kind === 'challenge') {
    ctx.sendText(authChallenge(encodeBase64(answer.data)));
    ctx.enterState(State.AuthLine);
    return;
  }
  ctx.authMechanism = null;
  ctx.enterState(State.Ready);
  if (answer.kind === 'success') {
    ctx.identity = answer.identity;
    ctx.reply(R.authSuccessful);
    ctx.log('auth', { ok: true, user: answer.identity.user, mechanism });
    return;
  }
  // RFC 4954 §4 lets a server close after repeated failures; logged with the IP for fail2ban-style tools.
  ctx.log('auth-failed', { ip: ctx.conn.remoteAddress, mechanism, reason: answer.reason }, 'warn');
  if (answer.reason === 'invalid') ctx.reject(R.authInvalid, 'AUTH');
  else ctx.reply(R.authTemporary);
}

/**
 * One response line (never logged): "*" cancels (501 5.7.0), bad base64 is 501 5.5.2, a line over
 * MAX_SASL_LINE 500 5.5.6; otherwise the decoded response goes to the host as the next 'auth' step.
 */
export function authResponseLine(ctx: Context, line: Uint8Array | typeof TOO_LONG): void {
  const mechanism = ctx.authMechanism!;
  const text = line === TOO_LONG ? null : decodeLine(line);
  const response = text === null ? null : parseSaslResponse(text);
  if (response !== null && response.kind === 'data') {
    ctx.authContinued = true;
    ctx.enterState(State.Auth);
    ctx.emit({ kind: 'auth', mechanism, response: response.data, tls: ctx.conn.tls !== null });
    return;
  }
  ctx.authMechanism = null;
  ctx.enterState(State.Ready);
  if (line === TOO_LONG) ctx.reject(R.authLineTooLong, 'AUTH', mechanism);
  else if (response !== null && response.kind === 'cancel') ctx.reject(R.authCancelled, 'AUTH', mechanism);
  else ctx.reject(R.authBadBase64, 'AUTH', mechanism);
}
