// A user may send as the local aliases that deliver to it; catch-alls and others' aliases do not count.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { aliasAwareAuthenticator, aliasOwners, withAliases } from '../../../src/auth/alias-senders.ts';
import { domainDefaults } from '../../../src/config/defaults.ts';
import type { DomainConfig } from '../../../src/config/schema.ts';
import { createDirectory } from '../../../src/delivery/local/directory.ts';
import type { AuthIdentity } from '../../../src/smtp/types.ts';

const domains: Record<string, DomainConfig> = {
  'tern.test': {
    ...domainDefaults,
    aliases: { sales: ['alice'], info: ['sales'], team: ['alice', 'bob'], ext: ['carol@elsewhere.test'] },
    recipients: ['alice', 'bob'],
    catchAll: 'bob',
  },
};
const owners = aliasOwners(domains, createDirectory(domains, ['tern.test']));
const alice: AuthIdentity = { user: 'alice', addresses: ['Alice@tern.test'], domains: [], any: false };

test('aliases that reach the mailbox, directly or through another alias, are the user\'s', () => {
  assert.deepEqual([...withAliases(alice, owners).addresses].sort(), ['Alice@tern.test', 'info@tern.test', 'sales@tern.test', 'team@tern.test']);
});

test('a shared alias belongs to each member; a catch-all and remote targets give nothing', () => {
  const bob: AuthIdentity = { user: 'bob', addresses: ['bob@tern.test'], domains: [], any: false };
  assert.deepEqual([...withAliases(bob, owners).addresses].sort(), ['bob@tern.test', 'team@tern.test']);
  const carol: AuthIdentity = { user: 'carol', addresses: ['carol@elsewhere.test'], domains: [], any: false };
  assert.deepEqual(withAliases(carol, owners).addresses, ['carol@elsewhere.test']);
});

test('the wrapped authenticator adds them on success only', async () => {
  const inner = {
    step: async (_c: unknown, _m: string, r: Uint8Array | null) =>
      r ? { kind: 'success' as const, identity: alice } : { kind: 'failure' as const, reason: 'invalid' as const },
    forget: () => {},
  };
  const auth = aliasAwareAuthenticator(inner, owners);
  const conn = { id: 'c1', ip: '127.0.0.1', tls: true };
  const ok = await auth.step(conn, 'PLAIN', new Uint8Array([1]));
  assert.ok(ok.kind === 'success' && ok.identity.addresses.includes('sales@tern.test'));
  assert.deepEqual(await auth.step(conn, 'PLAIN', null), { kind: 'failure', reason: 'invalid' });
});
