// Which local aliases deliver to a user, so that the user may also send as them (issue 4: "its aliases").
import type { Directory } from '../delivery/local/directory.ts';
import type { DomainConfig } from '../config/schema.ts';
import type { AuthIdentity } from '../smtp/types.ts';
import type { Authenticator } from '../server/hooks.ts';

/**
 * Maps each local mailbox to the alias addresses that expand to it ([domains."d"].aliases), computed once
 * from the configuration. An alias is someone's to send as only if its expansion reaches that person's
 * mailbox; a catch-all is not counted (it would hand out the whole domain), nor is a +tag (the mailbox
 * itself already covers it: RFC 5233 subaddresses are the user's own).
 */
export function aliasOwners(domains: Record<string, DomainConfig>, directory: Directory): Map<string, string[]> {
  const owners = new Map<string, string[]>();
  for (const [domain, config] of Object.entries(domains)) {
    for (const alias of Object.keys(config.aliases)) {
      const address = `${alias}@${domain}`.toLowerCase();
      const expansion = directory.expand(address);
      if (expansion.unknown) continue;
      for (const mailbox of expansion.local) {
        if (mailbox === address) continue;
        const list = owners.get(mailbox) ?? [];
        if (!list.includes(address)) list.push(address);
        owners.set(mailbox, list);
      }
    }
  }
  return owners;
}

/** The identity with the aliases that deliver to any of its addresses added. */
export function withAliases(identity: AuthIdentity, owners: Map<string, string[]>): AuthIdentity {
  const extra = identity.addresses.flatMap((a) => owners.get(a.toLowerCase()) ?? []);
  if (extra.length === 0) return identity;
  return { ...identity, addresses: [...new Set([...identity.addresses, ...extra])] };
}

/** An authenticator whose successful logins carry the user's aliases as senders too. */
export function aliasAwareAuthenticator(inner: Authenticator, owners: Map<string, string[]>): Authenticator {
  if (owners.size === 0) return inner;
  return {
    async step(conn, mechanism, response) {
      const answer = await inner.step(conn, mechanism, response);
      return answer.kind === 'success' ? { ...answer, identity: withAliases(answer.identity, owners) } : answer;
    },
    forget: (connId) => inner.forget(connId),
  };
}
