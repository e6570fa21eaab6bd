// The ports through which other modules take part in an SMTP connection: SMTP AUTH (the user database) and
// the anti-abuse policy. SmtpConnection calls them to answer the session's 'auth' and 'policy' effects.
import type { AuthAnswer, ConnectionInfo, PolicyQuery, PolicyVerdict } from '../smtp/types.ts';

/** The connection as an authenticator sees it. */
export interface AuthConnection {
  /** Unique per connection within the process; the key for per-exchange state and forget(). */
  id: string;
  ip: string;
  tls: boolean;
}

/**
 * Server side of SASL (RFC 4954, RFC 4616 PLAIN, LOGIN). One exchange per connection at a time; the
 * connection calls step() once per client response, in order, never concurrently.
 *
 * step(): `response` is the decoded client data, or null when the client sent no initial response (the
 * mechanism then starts with a challenge). Resolves to another challenge, success with the identity, or a
 * failure: 'invalid' (bad credentials or malformed data, 535), 'temporary' (user database unreachable, 454),
 * 'locked' (throttled after failures, 454). Must not log the response: it holds a password. A rejection is
 * treated as 'temporary'.
 *
 * forget(): the connection ended (or the exchange was cancelled); drop any state kept for it. Idempotent.
 */
export interface Authenticator {
  step(conn: AuthConnection, mechanism: string, response: Uint8Array | null): Promise<AuthAnswer>;
  forget(connId: string): void;
}

/**
 * The anti-abuse policy (rate limits, DNSBL, HELO checks, greylisting), asked at the stages listed in
 * SessionOptions.policyStages. Resolves to accept, reject (reply, the session goes on) or disconnect
 * (reply, then close). Failures inside the policy (a DNSBL or database outage) should be handled there; a
 * rejection reaching the connection is answered as described on SmtpConnection (#policy).
 */
export interface PolicyHook {
  check(conn: ConnectionInfo, query: PolicyQuery): Promise<PolicyVerdict>;
}
