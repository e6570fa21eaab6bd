// [[routes]] validation: domain patterns, next hops, TLS, and credentials only over TLS that is required.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaults } from '../../../src/config/defaults.ts';
import type { Config, RouteConfig } from '../../../src/config/schema.ts';
import { configWarnings, validateConfig } from '../../../src/config/validate.ts';

const route = (r: Partial<RouteConfig>): RouteConfig => ({
  domain: 'example.net',
  nextHop: 'mx',
  tls: '',
  authUser: '',
  authPassword: '',
  ...r,
});
function errorsOf(routes: Array<Partial<RouteConfig>>, change?: (c: Config) => void): string[] {
  const c = structuredClone(defaults) as Config;
  c.routes = routes.map(route);
  change?.(c);
  return validateConfig(c);
}

const emptyDomain = {
  delivery: 'mailbox' as const,
  maildir: '',
  lmtp: '',
  webhook: '',
  webhookSecret: '',
  recipients: [],
  aliases: {},
  catchAll: '',
  dmarc: '' as const,
};

test('valid routes of every kind', () => {
  assert.deepEqual(
    errorsOf([
      { domain: '*', nextHop: 'smtp:[smtp.provider.example]:587', tls: 'verify', authUser: 'u', authPassword: 'p' },
      { domain: 'corp.example', nextHop: 'smtp:[10.0.0.25]:25', tls: 'require' },
      { domain: '.corp.example', nextHop: 'smtp:corp.example' },
      { domain: 'lists.example.com', nextHop: 'lmtp:127.0.0.1:8024', tls: 'none' },
      { domain: 'dovecot.example', nextHop: 'lmtp:unix:/run/dovecot/lmtp' },
      { domain: 'bank.example', tls: 'verify' },
      { domain: 'test.example', nextHop: 'mx:2525', tls: 'opportunistic' },
    ]),
    [],
  );
});

test('domain patterns: "*", "example.org", ".example.org", lower-case, required', () => {
  assert.deepEqual(
    errorsOf([{ domain: '' }, { domain: 'bad_domain' }, { domain: '..x' }, { domain: 'Example.NET' }, {
      domain: '*.example.org',
    }]),
    [
      'routes[1].domain: is required: "example.org", ".example.org" (its subdomains) or "*" (all other mail)',
      'routes[2].domain: "bad_domain" must be "*", a domain name or ".domain" (use the xn-- form for IDNs)',
      'routes[3].domain: "..x" must be "*", a domain name or ".domain" (use the xn-- form for IDNs)',
      'routes[4].domain: "Example.NET" must be lower-case',
      'routes[5].domain: "*.example.org" must be "*", a domain name or ".domain" (use the xn-- form for IDNs)',
    ],
  );
});

test('a pattern routed twice, and a route for a local domain, would never be used', () => {
  assert.deepEqual(
    errorsOf([{ domain: 'a.example' }, { domain: 'b.example' }, { domain: 'a.example', nextHop: 'mx:26' }]),
    [
      'routes[3].domain: "a.example" is already routed by routes[1]; merge the two',
    ],
  );
  const local = errorsOf([{ domain: 'localhost' }]);
  assert.match(local[0], /^routes\[1\]\.domain: "localhost" is a local domain .*would never be used$/);
  const viaDomains = errorsOf([{ domain: 'mine.example' }], (c) => {
    c.domains['mine.example'] = { ...emptyDomain };
  });
  assert.match(viaDomains[0], /"mine\.example" is a local domain/);
  assert.deepEqual(errorsOf([{ domain: '.localhost' }]), [], 'subdomains of a local domain are not local');
});

test('next_hop and tls are checked; next_hop uses delivery.smtp_port', () => {
  assert.deepEqual(errorsOf([{ nextHop: 'relay.example:25' }, { domain: 'b.example', tls: 'maybe' as '' }]), [
    'routes[1].next_hop: "relay.example:25" is not a next hop: use "mx", "mx:PORT", "smtp:[HOST]:PORT", ' +
    '"smtp:HOST:PORT", "smtp:HOST", "lmtp:HOST:PORT" or "lmtp:unix:/path"',
    'routes[2].tls: must be "" (delivery.tls), "none", "opportunistic", "require", "verify", got "maybe"',
  ]);
});

test('AUTH: both or neither', () => {
  assert.deepEqual(errorsOf([{ authUser: 'u', tls: 'verify' }]), [
    'routes[1].auth_password: auth_user and auth_password must be set together',
  ]);
  assert.deepEqual(errorsOf([{ authPassword: 'secret', tls: 'verify' }]), [
    'routes[1].auth_user: auth_user and auth_password must be set together',
  ]);
});

test('AUTH without required TLS is refused loudly, also through the global delivery.tls', () => {
  const auth = { authUser: 'u', authPassword: 'secret' };
  for (const tls of ['none', 'opportunistic'] as const) {
    const errs = errorsOf([{ ...auth, tls }]);
    assert.deepEqual(errs, [
      `routes[1].tls: a route with auth_user/auth_password needs tls = "verify" or "require", or the password ` +
      `could be sent in clear (got "${tls}")`,
    ]);
  }
  assert.match(errorsOf([{ ...auth }])[0], /\(tls is "" so delivery\.tls "opportunistic" applies\)$/);
  assert.deepEqual(errorsOf([{ ...auth }], (c) => (c.delivery.tls = 'verify')), [], 'global verify covers it');
  assert.ok(!errorsOf([{ ...auth }]).join().includes('secret'), 'the password is never echoed');
});

test('a "*" route and delivery.smarthost exclude each other', () => {
  assert.deepEqual(
    errorsOf([{ domain: '*', nextHop: 'smtp:[a.example]:25' }], (c) => (c.delivery.smarthost = '[b.example]:25')),
    [
      'delivery.smarthost: is never used: routes[1] routes all other mail ("*"); keep one of the two',
    ],
  );
  assert.deepEqual(errorsOf([{ domain: 'x.example' }], (c) => (c.delivery.smarthost = '[b.example]:25')), []);
});

test('types of routes from flags or the wizard', () => {
  const c = structuredClone(defaults) as Config;
  (c as unknown as Record<string, unknown>).routes = [{ domain: 5, nextHop: 'mx', tls: '', authUser: '' }, 'x'];
  assert.deepEqual(validateConfig(c), [
    'routes[1].domain: expected a string, got 5',
    'routes[1].auth_password: expected a string, got undefined',
    'routes[2]: must be a table, got "x"',
  ]);
  (c as unknown as Record<string, unknown>).routes = 'x';
  assert.deepEqual(validateConfig(c), ['routes: must be a list of routes, got string']);
});

test('warning: a password over TLS whose certificate is not checked', () => {
  const c = structuredClone(defaults) as Config;
  c.routes = [
    route({ domain: '*', nextHop: 'smtp:[a.example]:587', tls: 'require', authUser: 'u', authPassword: 'p' }),
  ];
  assert.deepEqual(validateConfig(c), []);
  assert.deepEqual(configWarnings(c), [
    'routes[1].tls: "require" does not check the certificate, so a man in the middle could read the AUTH ' +
    'password; "verify" prevents that',
  ]);
  c.routes[0].tls = 'verify';
  assert.deepEqual(configWarnings(c), []);
});
