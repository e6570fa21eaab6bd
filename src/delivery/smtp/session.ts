// Drives the sans-I/O client over a Channel: one connection set up (greeting, EHLO, STARTTLS, AUTH), and one
// transaction run on a ready connection, with the RFC 5321 §4.5.3.2 timeouts and the job's AbortSignal.
import type * as tls from 'node:tls';
import type { Capabilities } from '../../smtp/client/capabilities.ts';
import { type ConnectionFailure, Handshake, HandshakeState } from '../../smtp/client/handshake.ts';
import { Transaction, type TxMessage, type TxRecipient, type TxResult } from '../../smtp/client/transaction.ts';
import { local } from '../../smtp/client/verdict.ts';
import type { Logger } from '../../lib/log.ts';
import type { AttemptTrace, Route, TlsPolicy } from '../types.ts';
import { Channel, describe, newTrace, type ReadResult } from './channel.ts';
import { dial } from './dial.ts';
import type { Target } from './targets.ts';

export interface SessionDeps {
  heloName: string;
  connectTimeout: number;
  commandTimeout: number;
  dataTimeout: number;
  /** The trusted CAs (system ones plus delivery.caFile) as one reusable context. */
  tlsContext(): Promise<tls.SecureContext>;
  log: Logger;
}

/** A connection ready for transactions, with what its peer offers. */
export interface ReadySession {
  channel: Channel;
  caps: Capabilities;
  target: Target;
}

export type OpenResult =
  | { ok: true; session: ReadySession }
  | { ok: false; failure: ConnectionFailure; trace: AttemptTrace; reached: boolean };

// RFC 3463 X.4.1 "no answer from host" (connect failed), X.4.2 "bad connection" (lost or timed out after).
const NO_ANSWER = '4.4.1';
const BAD_CONNECTION = '4.4.2';

/** What the handshake was doing, for "lost connection with X while <stage>" (Postfix's wording). */
const STAGE: Partial<Record<HandshakeState, string>> = {
  [HandshakeState.Greeting]: 'receiving the initial server greeting',
  [HandshakeState.Hello]: 'performing the EHLO handshake',
  [HandshakeState.Helo]: 'performing the HELO handshake',
  [HandshakeState.StartTls]: 'sending STARTTLS',
  [HandshakeState.HelloAgain]: 'performing the EHLO handshake after STARTTLS',
  [HandshakeState.AuthPlain]: 'performing AUTH',
  [HandshakeState.AuthLogin]: 'performing AUTH',
  [HandshakeState.AuthLoginUser]: 'performing AUTH',
  [HandshakeState.AuthLoginPassword]: 'performing AUTH',
};

/** Ends the channel when the job is aborted (lease lost, daemon stopping); returns the undo. */
export function guard(channel: Channel, signal: AbortSignal): () => void {
  const onAbort = (): void => channel.abort({ kind: 'lost', detail: 'delivery aborted' });
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
  return () => signal.removeEventListener('abort', onAbort);
}

/**
 * Connects to one address and sets the session up under `tls` (the target's policy, or 'none' for the
 * plaintext retry after a failed opportunistic handshake). Never throws; a failure says whether the peer
 * was reached at all and carries the trace.
 */
export async function openSession(
  t: Target,
  tlsPolicy: TlsPolicy,
  route: Route,
  deps: SessionDeps,
  signal: AbortSignal,
): Promise<OpenResult> {
  const dialed = await dial(t.endpoint, deps.connectTimeout, signal);
  if (!dialed.ok) {
    const channelless = { ...newTrace(t.endpoint), error: `connect: ${dialed.error}` };
    const verdict = local('temporary', NO_ANSWER, `connect to ${describeTarget(t)}: ${dialed.error}`);
    return { ok: false, failure: { verdict, quit: false, retryWithoutTls: false }, trace: channelless, reached: false };
  }
  const channel = new Channel(dialed.socket, t.endpoint);
  const unguard = guard(channel, signal);
  try {
    return await handshake(channel, t, tlsPolicy, route, deps);
  } finally {
    unguard();
  }
}

async function handshake(ch: Channel, t: Target, tlsPolicy: TlsPolicy, route: Route, deps: SessionDeps): Promise<OpenResult> {
  const log = deps.log;
  const hs = new Handshake({
    heloName: deps.heloName,
    lmtp: t.lmtp,
    tls: tlsPolicy,
    auth: route.auth,
    onState: (from, to) => log.debug('smtp-client-state', { from: HandshakeState[from], to: HandshakeState[to] }),
  });
  const fail = (failure: ConnectionFailure): OpenResult => {
    if (failure.quit) ch.quit();
    else ch.abort({ kind: 'lost', detail: 'closed by us' });
    ch.trace.error = failure.verdict.reply; // says more than the channel's own last error
    return { ok: false, failure, trace: ch.trace, reached: true };
  };
  const lost = (r: Exclude<ReadResult, { kind: 'reply' }>): OpenResult => {
    const stage = STAGE[hs.state] ?? 'setting up the session';
    const what = r.kind === 'timeout' ? 'conversation timed out' : r.kind === 'protocol' ? 'protocol error' : 'lost connection';
    const verdict = local('temporary', BAD_CONNECTION, `${what} with ${describeTarget(t)} while ${stage}: ${r.detail}`);
    return fail({ verdict, quit: false, retryWithoutTls: false });
  };

  let got = await ch.read(deps.commandTimeout);
  if (got.kind !== 'reply') return lost(got);
  let step = hs.greeting(got.reply);
  for (;;) {
    switch (step.kind) {
      case 'send':
        ch.write(step.data);
        got = await ch.read(deps.commandTimeout);
        if (got.kind !== 'reply') return lost(got);
        step = hs.reply(got.reply);
        break;
      case 'starttls': {
        const context = await deps.tlsContext();
        const out = await ch.startTls({ context, name: t.tlsName, timeoutMs: deps.commandTimeout });
        if (!out.ok) {
          step = hs.tlsFailed(out.detail);
          break;
        }
        if (!out.verified && tlsPolicy === 'verify') {
          ch.abort({ kind: 'lost', detail: 'closed by us' });
          step = hs.tlsFailed(`certificate verification failed for ${t.tlsName ?? '(no name)'}: ${out.detail}`);
          break;
        }
        if (!out.verified && t.stsTesting) {
          log.warn('mta-sts-testing', { host: describeTarget(t), would: 'fail certificate verification', error: out.detail });
        }
        log.debug('smtp-client-tls', { host: describeTarget(t), ...ch.tls, verified: out.verified });
        step = hs.tlsStarted();
        break;
      }
      case 'ready':
        return { ok: true, session: { channel: ch, caps: step.capabilities, target: t } };
      case 'failed':
        return fail(step.failure);
      default:
        step satisfies never;
        return fail({ verdict: local('temporary', '4.3.0', 'handshake bug'), quit: false, retryWithoutTls: false });
    }
  }
}

/**
 * Runs one transaction on a ready session. Never throws; recipients the result has no verdict for are
 * undecided (nothing final happened to them here).
 */
export async function transact(
  s: ReadySession,
  msg: TxMessage,
  recipients: readonly TxRecipient[],
  deps: SessionDeps,
  signal: AbortSignal,
): Promise<TxResult> {
  const tx = new Transaction(msg, recipients, s.caps, { lmtp: s.target.lmtp });
  const unguard = guard(s.channel, signal);
  try {
    let step = tx.start();
    while (step.kind === 'continue') {
      s.channel.writeAll(step.send);
      // RFC 5321 §4.5.3.2.6: the reply to the end of data gets the long timeout (10 minutes there).
      const got = await s.channel.read(tx.phase === 'data' ? deps.dataTimeout : deps.commandTimeout);
      step = got.kind === 'reply' ? tx.reply(got.reply) : tx.fail(got.kind, got.detail);
    }
    return step.result;
  } finally {
    unguard();
  }
}

export function describeTarget(t: Target): string {
  return describe(t.endpoint);
}
