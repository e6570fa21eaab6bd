// [domains."example.com"] validation: delivery kinds and what each needs, local parts, aliases, catch-all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaults, domainDefaults } from '../../../src/config/defaults.ts';
import { normaliseDomains } from '../../../src/config/domains.ts';
import type { Config, DomainConfig } from '../../../src/config/schema.ts';
import { configWarnings, validateConfig } from '../../../src/config/validate.ts';

const domain = (d: Partial<DomainConfig>): DomainConfig => ({ ...structuredClone(domainDefaults), ...d });
function errorsOf(domains: Record<string, Partial<DomainConfig>>, change?: (c: Config) => void): string[] {
  const c = structuredClone(defaults) as Config;
  c.domains = Object.fromEntries(Object.entries(domains).map(([k, v]) => [k, domain(v)]));
  change?.(c);
  return validateConfig(c);
}

test('each delivery kind with what it needs', () => {
  assert.deepEqual(
    errorsOf({
      'a.example': {},
      'b.example': { delivery: 'maildir', maildir: '/var/mail/%d/%u/Maildir' },
      'c.example': { delivery: 'maildir', maildir: '/srv/mail/%a/%%/Maildir' },
      'd.example': { delivery: 'lmtp', lmtp: 'unix:/var/run/dovecot/lmtp' },
      'e.example': { delivery: 'lmtp', lmtp: '10.0.0.5:24' },
      'f.example': { delivery: 'webhook', webhook: 'https://app.example/hook', webhookSecret: 's' },
      'g.example': { delivery: 'webhook', webhook: 'http://127.0.0.1:8080/hook' },
    }),
    [],
  );
});

test('the setting a delivery needs is required, and must parse', () => {
  assert.deepEqual(
    errorsOf({
      'a.example': { delivery: 'maildir' },
      'b.example': { delivery: 'lmtp' },
      'c.example': { delivery: 'webhook' },
      'd.example': { delivery: 'maildir', maildir: 'mail/%u' },
      'e.example': { delivery: 'maildir', maildir: '/var/mail/%x/%u' },
      'f.example': { delivery: 'maildir', maildir: '/var/mail/%u%' },
      'g.example': { delivery: 'lmtp', lmtp: 'dovecot:25' },
      'h.example': { delivery: 'lmtp', lmtp: 'unix:run/lmtp' },
      'i.example': { delivery: 'webhook', webhook: 'ftp://app.example/' },
      'j.example': { delivery: 'webhook', webhook: 'not a url' },
      'k.example': { delivery: 'pigeon' as 'mailbox' },
    }),
    [
      'domains."a.example".maildir: is required when delivery = "maildir"',
      'domains."b.example".lmtp: is required when delivery = "lmtp"',
      'domains."c.example".webhook: is required when delivery = "webhook"',
      'domains."d.example".maildir: "mail/%u" must be an absolute path, e.g. "/var/mail/%d/%u/Maildir"',
      'domains."e.example".maildir: "/var/mail/%x/%u" has an unknown escape "%x": use %d, %u, %a or %%',
      'domains."f.example".maildir: "/var/mail/%u%" has an unknown escape "%": use %d, %u, %a or %%',
      'domains."g.example".lmtp: "dovecot:25" uses port 25, which LMTP must not use (RFC 2033 §5)',
      'domains."h.example".lmtp: "unix:run/lmtp" needs an absolute socket path',
      'domains."i.example".webhook: "ftp://app.example/" must be an https:// or http:// URL',
      'domains."j.example".webhook: "not a url" is not a URL',
      'domains."k.example".delivery: must be "mailbox", "maildir", "lmtp", "webhook", got "pigeon"',
    ],
  );
});

test('settings of another delivery kind are mistakes, not silently ignored', () => {
  assert.deepEqual(errorsOf({ 'a.example': { maildir: '/var/mail/%u', webhookSecret: 'x' } }), [
    'domains."a.example".maildir: is set but delivery = "mailbox": set delivery = "maildir" or remove it',
    'domains."a.example".webhook_secret: is set but delivery = "mailbox" (it signs webhook POSTs only)',
  ]);
  assert.deepEqual(
    errorsOf({ 'a.example': { delivery: 'lmtp', lmtp: '10.0.0.5:24', webhook: 'https://x.example/' } }),
    [
      'domains."a.example".webhook: is set but delivery = "lmtp": set delivery = "webhook" or remove it',
    ],
  );
});

test('domain names: valid, lower-case, not relayed at the same time', () => {
  assert.deepEqual(
    errorsOf({ 'bad_name.example': {}, 'Upper.example': {}, 'relayed.example': {} }, (c) => {
      c.relay.relayDomains = ['relayed.example'];
    }),
    [
      'domains."bad_name.example": "bad_name.example" is not a domain name (use the xn-- form for IDNs)',
      'domains."Upper.example": "Upper.example" must be lower-case',
      'domains."relayed.example": "relayed.example" is also in relay.relay_domains: a domain is either delivered ' +
      'here or relayed, not both',
    ],
  );
});

test('recipients, aliases and catch-all: syntax', () => {
  assert.deepEqual(
    errorsOf({
      'a.example': {
        recipients: ['alice', 'first.last', "o'brien", 'üser', 'x+y'],
        aliases: { postmaster: ['alice'], team: ['alice', 'bob@partner.example'] },
        catchAll: 'alice',
      },
    }),
    [],
  );
  assert.deepEqual(
    errorsOf({
      'a.example': {
        recipients: ['alice', 'bad local', '.dot', 'a@b', 'x'.repeat(65)],
        aliases: { 'no way': ['alice'], empty: [], bad: ['bob@bad_domain', 'two..dots'] },
        catchAll: 'bob@',
      },
    }),
    [
      'domains."a.example".recipients: "bad local" is not a local part (letters, digits, dots and !#$%&\'*+-/=?^_`{|}~)',
      'domains."a.example".recipients: ".dot" is not a local part (letters, digits, dots and !#$%&\'*+-/=?^_`{|}~)',
      'domains."a.example".recipients: "a@b" is not a local part (letters, digits, dots and !#$%&\'*+-/=?^_`{|}~)',
      `domains."a.example".recipients: "${'x'.repeat(65)}" is longer than 64 octets (RFC 5321 §4.5.3.1.1)`,
      'domains."a.example".aliases."no way": "no way" is not a local part (letters, digits, dots and !#$%&\'*+-/=?^_`{|}~)',
      'domains."a.example".aliases.empty: needs at least one target',
      'domains."a.example".aliases.bad: "bob@bad_domain": "bad_domain" is not a domain name (use the xn-- form for IDNs)',
      'domains."a.example".aliases.bad: "two..dots" is not a local part (letters, digits, dots and !#$%&\'*+-/=?^_`{|}~)',
      'domains."a.example".catch_all: "bob@": "" is not a domain name (use the xn-- form for IDNs)',
    ],
  );
});

test('with a recipient list, local targets must exist (else RCPT accepts and delivery bounces)', () => {
  const errs = errorsOf({
    'a.example': {
      recipients: ['alice'],
      aliases: { info: ['alice', 'team'], team: ['alice+team', 'bob'], sales: ['carol@elsewhere.example'] },
      catchAll: 'nobody',
    },
  });
  assert.deepEqual(errs, [
    'domains."a.example".aliases.team: "bob" is neither in recipients nor an alias of this domain',
    'domains."a.example".catch_all: "nobody" is neither in recipients nor an alias of this domain',
  ]);
  assert.deepEqual(errorsOf({ 'a.example': { aliases: { info: ['whoever'] }, catchAll: 'anyone' } }), [], 'no list');
});

test('normaliseDomains: names, recipients, aliases and target domains lower-cased; clashes reported', () => {
  const domains: Record<string, DomainConfig> = {
    'Example.COM': domain({
      recipients: ['Alice'],
      aliases: { Info: ['Alice', 'Bob@Partner.Example'] },
      catchAll: 'Alice',
    }),
  };
  assert.deepEqual(normaliseDomains(domains), []);
  assert.deepEqual(Object.keys(domains), ['example.com']);
  const d = domains['example.com'];
  assert.deepEqual(d.recipients, ['alice']);
  assert.deepEqual(d.aliases, { info: ['alice', 'Bob@partner.example'] }, 'a remote local part keeps its case');
  assert.equal(d.catchAll, 'alice');

  const clash: Record<string, DomainConfig> = { 'a.example': domain({}), 'A.example': domain({}) };
  assert.deepEqual(normaliseDomains(clash), [{
    key: 'domains."A.example"',
    message: '"A.example" and "a.example" are the same domain',
  }]);
  const aliasClash: Record<string, DomainConfig> = { 'a.example': domain({ aliases: { info: ['x'], INFO: ['y'] } }) };
  assert.deepEqual(normaliseDomains(aliasClash), [
    { key: 'domains."a.example".aliases', message: '"INFO" is given twice (case does not matter)' },
  ]);
});

test('types of domains from flags or the wizard', () => {
  const c = structuredClone(defaults) as Config;
  (c as unknown as Record<string, unknown>).domains = {
    'a.example': { ...domainDefaults, recipients: 'alice', aliases: { x: 'y' } },
    'b.example': 7,
  };
  assert.deepEqual(validateConfig(c), [
    'domains."a.example".recipients: expected a list of strings, got "alice"',
    'domains."a.example".aliases: expected a table of local part = "target" or ["target", …], got {"x":"y"}',
    'domains."b.example": must be a table, got 7',
  ]);
});

test('warning: a webhook in clear to another machine', () => {
  const c = structuredClone(defaults) as Config;
  c.domains = {
    'a.example': domain({ delivery: 'webhook', webhook: 'http://app.example/hook' }),
    'b.example': domain({ delivery: 'webhook', webhook: 'http://localhost:3000/hook' }),
    'c.example': domain({ delivery: 'webhook', webhook: 'http://[::1]:3000/hook' }),
    'd.example': domain({ delivery: 'webhook', webhook: 'HTTPS://app.example/hook' }),
  };
  assert.deepEqual(validateConfig(c), []);
  assert.deepEqual(configWarnings(c), [
    'domains."a.example".webhook: "http://app.example/hook" sends every message in clear over the network; use https://',
  ]);
});
