// The server side of the SASL mechanisms Tern offers: PLAIN (RFC 4616) and LOGIN, as pure functions over bytes.
//
// SCRAM-SHA-256 (RFC 7677) is deliberately absent. The server would have to store StoredKey/ServerKey, which
// are PBKDF2-HMAC-SHA-256 outputs of the password: an attacker holding the users table could then guess
// passwords against PBKDF2, which GPUs compute cheaply, instead of against memory-hard scrypt. Storage would be
// as weak as its weakest verifier, and SCRAM's benefit (the password never reaches the server) matters little
// once AUTH is only offered over TLS (RFC 4954 §4, AuthOptions.allowPlaintext).
import { canonicalName } from './users.ts';

export type SaslMechanism = 'PLAIN' | 'LOGIN';
export const SASL_MECHANISMS: readonly SaslMechanism[] = ['PLAIN', 'LOGIN'];

/**
 * Largest client response accepted, in decoded octets. RFC 4616 §2 requires accepting 255 octets for each of
 * authzid, authcid and passwd; passwords may be up to MAX_PASSWORD_BYTES (1024), so 2 KiB holds any real
 * login while refusing junk early.
 */
export const MAX_SASL_RESPONSE_BYTES = 2048;

/** What the server remembers between the steps of one exchange. */
export type SaslState =
  | { mechanism: 'PLAIN' } // empty challenge sent, the message comes next
  | { mechanism: 'LOGIN'; stage: 'user' } // "Username:" sent
  | { mechanism: 'LOGIN'; stage: 'password'; user: string }; // "Password:" sent

export type SaslStep =
  | { kind: 'challenge'; data: Uint8Array; state: SaslState }
  | { kind: 'credentials'; user: string; password: string }
  // the client's data was unusable; `user` when the name was readable (for throttling and logs)
  | { kind: 'malformed'; reason: string; user: string | null };

const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);
// The challenges of the LOGIN mechanism (draft-murchison-sasl-login §2.1), as clients expect them verbatim.
export const LOGIN_USERNAME = encoder.encode('Username:');
export const LOGIN_PASSWORD = encoder.encode('Password:');

/** Strict UTF-8 (RFC 4616 §2: the SAFE production); overlong or invalid sequences are refused, not replaced. */
function utf8(bytes: Uint8Array): string | null {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return null;
  }
}

export type PlainMessage = { ok: true; authcid: string; password: string } | { ok: false; reason: string; user: string | null };

/**
 * message = [authzid] NUL authcid NUL passwd (RFC 4616 §2). An authzid is accepted only when it names the
 * authcid itself (compared in canonical form): acting as someone else would be proxy authorization, which
 * Tern does not grant.
 */
export function parsePlain(bytes: Uint8Array): PlainMessage {
  if (bytes.length > MAX_SASL_RESPONSE_BYTES) return { ok: false, reason: 'too long', user: null };
  const first = bytes.indexOf(0);
  const second = first < 0 ? -1 : bytes.indexOf(0, first + 1);
  if (second < 0) return { ok: false, reason: 'fewer than two NUL separators', user: null };
  if (bytes.indexOf(0, second + 1) >= 0) return { ok: false, reason: 'more than two NUL separators', user: null };
  const authzid = utf8(bytes.subarray(0, first));
  const authcid = utf8(bytes.subarray(first + 1, second));
  const password = utf8(bytes.subarray(second + 1));
  if (authzid === null || authcid === null || password === null) return { ok: false, reason: 'invalid UTF-8', user: null };
  if (authcid === '') return { ok: false, reason: 'empty authcid', user: null };
  if (password === '') return { ok: false, reason: 'empty password', user: authcid };
  if (authzid !== '' && canonicalName(authzid) !== canonicalName(authcid)) {
    return { ok: false, reason: 'authzid differs from authcid (proxy authorization is not supported)', user: authcid };
  }
  return { ok: true, authcid, password };
}

/**
 * One step of an exchange. `state` is what the previous step returned (null: nothing pending); `response`
 * null means the client gave no initial response, which always starts a new exchange (RFC 4954 §4).
 */
export function saslStep(mechanism: SaslMechanism, state: SaslState | null, response: Uint8Array | null): SaslStep {
  if (response === null || state?.mechanism !== mechanism) state = null;
  if (response !== null && response.length > MAX_SASL_RESPONSE_BYTES) {
    return { kind: 'malformed', reason: 'too long', user: state?.mechanism === 'LOGIN' && state.stage === 'password' ? state.user : null };
  }
  switch (mechanism) {
    case 'PLAIN': {
      // RFC 4616 §2 and RFC 4954 §4: without an initial response the server sends an empty challenge.
      if (response === null) return { kind: 'challenge', data: EMPTY, state: { mechanism: 'PLAIN' } };
      const m = parsePlain(response);
      return m.ok ? { kind: 'credentials', user: m.authcid, password: m.password } : { kind: 'malformed', reason: m.reason, user: m.user };
    }
    case 'LOGIN': {
      if (response === null) return { kind: 'challenge', data: LOGIN_USERNAME, state: { mechanism: 'LOGIN', stage: 'user' } };
      if (state === null || state.mechanism !== 'LOGIN' || state.stage === 'user') {
        // The user name: an initial response (AUTH LOGIN dXNlcg==) or the answer to "Username:".
        const user = utf8(response);
        if (user === null || user === '' || user.includes('\0')) return { kind: 'malformed', reason: 'bad user name', user: null };
        return { kind: 'challenge', data: LOGIN_PASSWORD, state: { mechanism: 'LOGIN', stage: 'password', user } };
      }
      const password = utf8(response);
      if (password === null || password === '') return { kind: 'malformed', reason: 'bad password encoding', user: state.user };
      return { kind: 'credentials', user: state.user, password };
    }
  }
}

/** The mechanism named by the client, if Tern implements it (names are case-insensitive, RFC 4422 §3.1). */
export function saslMechanism(name: string): SaslMechanism | null {
  const upper = name.toUpperCase();
  return (SASL_MECHANISMS as readonly string[]).includes(upper) ? (upper as SaslMechanism) : null;
}
