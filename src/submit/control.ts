// The daemon's 'submit' control command: a local submission carried over the control socket.
import type { ControlHandlers } from '../control/protocol.ts';
import type { Logger } from '../lib/log.ts';
import type { DsnNotify } from '../smtp/types.ts';
import { type LocalSubmission, type SubmitDeps, type SubmitResult, submitLocal } from './local.ts';

/** The request as it travels: the message is base64 inside the one JSON line. */
export interface SubmitRequest {
  cmd: 'submit';
  sender: string;
  recipients: string[];
  message: string; // base64
  fullName: string | null;
  notify: DsnNotify | null;
  ret: 'FULL' | 'HDRS' | null;
  envid: string | null;
  uid: number | null;
}

/**
 * The largest request a submission of `maxMessageSize` octets can make: base64 grows it by 4/3, and the
 * envelope (up to thousands of recipients) gets a generous 64 KiB beside it. The daemon must accept
 * control requests this long (src/control/server.ts reads at most MAX_REQUEST_BYTES otherwise).
 */
export function submitRequestBytes(maxMessageSize: number): number {
  return Math.ceil(maxMessageSize / 3) * 4 + 64 * 1024;
}

export function encodeSubmitRequest(s: LocalSubmission): SubmitRequest {
  return {
    cmd: 'submit',
    sender: s.sender,
    recipients: s.recipients,
    message: Buffer.from(s.message).toString('base64'),
    fullName: s.fullName ?? null,
    notify: s.notify ?? null,
    ret: s.ret ?? null,
    envid: s.envid ?? null,
    uid: s.uid ?? null,
  };
}

/**
 * Handlers for the daemon (wired by src/server/daemon.ts into its control socket). The socket is mode
 * 0600, so every caller is the daemon's own user (or root): the uid it reports is only a trace comment.
 * Expected failures come back as a SubmitResult value, so the CLI can pick its exit code from them;
 * a malformed request throws (it is a bug in whatever sent it) and the socket answers {ok:false}.
 */
export function submitControlHandlers(deps: SubmitDeps, log?: Logger): ControlHandlers {
  return {
    submit: async (req): Promise<SubmitResult> => {
      const sub = decodeSubmitRequest(req);
      const result = await submitLocal(deps, sub);
      const fields = { uid: sub.uid, from: sub.sender, rcpts: sub.recipients.length, size: sub.message.byteLength };
      if (result.ok) log?.info('submitted', { id: result.queueId, ...fields });
      else log?.[result.kind === 'tempfail' ? 'warn' : 'info']('submit-refused', { kind: result.kind, reason: result.reason, ...fields });
      return result;
    },
  };
}

export function decodeSubmitRequest(req: Record<string, unknown>): LocalSubmission {
  const str = (key: string): string => {
    const v = req[key];
    if (typeof v !== 'string') throw new Error(`submit: ${key} must be a string`);
    return v;
  };
  const optStr = (key: string): string | null => (req[key] === null || req[key] === undefined ? null : str(key));
  const recipients = req.recipients;
  if (!Array.isArray(recipients) || !recipients.every((r): r is string => typeof r === 'string')) {
    throw new Error('submit: recipients must be a list of strings');
  }
  const ret = optStr('ret');
  if (ret !== null && ret !== 'FULL' && ret !== 'HDRS') throw new Error('submit: ret must be FULL or HDRS');
  const uid = req.uid ?? null;
  if (uid !== null && !Number.isInteger(uid)) throw new Error('submit: uid must be an integer');
  return {
    sender: str('sender'),
    recipients,
    message: new Uint8Array(Buffer.from(str('message'), 'base64')),
    fullName: optStr('fullName'),
    notify: decodeNotify(req.notify),
    ret,
    envid: optStr('envid'),
    uid: uid as number | null,
  };
}

const EVENTS = ['SUCCESS', 'FAILURE', 'DELAY'] as const;

function decodeNotify(v: unknown): DsnNotify | null {
  if (v === null || v === undefined) return null;
  if (v === 'NEVER') return 'NEVER';
  if (Array.isArray(v) && v.length > 0 && v.every((e) => (EVENTS as readonly unknown[]).includes(e))) {
    return v as DsnNotify;
  }
  throw new Error('submit: notify must be NEVER or a list of SUCCESS, FAILURE, DELAY');
}
