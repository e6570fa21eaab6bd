// The fake host parts both dialogue runners share: an authenticator over the @auth users (PLAIN, LOGIN) and
// a policy that answers from the @policy rules. Synchronous, so the memory runner can answer effects inline.
import type { AuthAnswer, AuthIdentity, PolicyQuery, PolicyVerdict } from '../../src/smtp/types.ts';
import type { DialogueUser, PolicyRule } from './format.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * PLAIN (RFC 4616) and LOGIN over a user list. Special user names: "tempfail" answers 'temporary' and
 * "locked" answers 'locked', whatever the password, so the 454 paths can be scripted.
 */
export class FakeAuthenticator {
  readonly #users: readonly DialogueUser[];
  readonly #login = new Map<string, { user: string | null }>();

  constructor(users: readonly DialogueUser[]) {
    this.#users = users;
  }

  step(connId: string, mechanism: string, response: Uint8Array | null): AuthAnswer {
    if (mechanism === 'PLAIN') {
      if (response === null) return { kind: 'challenge', data: new Uint8Array(0) };
      const parts = decoder.decode(response).split('\0');
      if (parts.length !== 3) return { kind: 'failure', reason: 'invalid' };
      return this.#check(parts[1], parts[2]);
    }
    if (mechanism === 'LOGIN') {
      const state = this.#login.get(connId);
      if (state === undefined) {
        this.#login.set(connId, { user: response === null ? null : decoder.decode(response) });
        return { kind: 'challenge', data: encoder.encode(response === null ? 'Username:' : 'Password:') };
      }
      if (state.user === null) {
        state.user = decoder.decode(response ?? new Uint8Array(0));
        return { kind: 'challenge', data: encoder.encode('Password:') };
      }
      this.#login.delete(connId);
      return this.#check(state.user, decoder.decode(response ?? new Uint8Array(0)));
    }
    return { kind: 'failure', reason: 'invalid' };
  }

  forget(connId: string): void {
    this.#login.delete(connId);
  }

  #check(name: string, password: string): AuthAnswer {
    if (name === 'tempfail') return { kind: 'failure', reason: 'temporary' };
    if (name === 'locked') return { kind: 'failure', reason: 'locked' };
    const u = this.#users.find((x) => x.user === name && x.pass === password);
    if (u === undefined) return { kind: 'failure', reason: 'invalid' };
    const identity: AuthIdentity = { user: u.user, addresses: u.addresses, domains: u.domains, any: u.any };
    return { kind: 'success', identity };
  }
}

/** The first rule of the query's stage whose match (if any) equals the stage's subject; else accept. */
export function policyVerdict(rules: readonly PolicyRule[], q: PolicyQuery): PolicyVerdict {
  const subject = q.stage === 'helo' ? q.helo : q.stage === 'mail' ? q.sender : q.stage === 'rcpt' ? q.recipient : null;
  for (const r of rules) {
    if (r.stage !== q.stage) continue;
    if (r.match !== null && r.match !== subject) continue;
    return r.verdict;
  }
  return { action: 'accept' };
}
