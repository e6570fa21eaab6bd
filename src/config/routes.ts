// [[routes]], the transport map (like Postfix transport(5)): read from TOML, then checked entry by entry.

import { isDomainName } from '../lib/domain.ts';
import { routeDefaults } from './defaults.ts';
import { type EntrySpec, entryTypeProblems, isTable, readEntry } from './entries.ts';
import { isTlsRequired, parseNextHop, TLS_POLICIES } from './next-hop.ts';
import type { Config, RouteConfig, TlsPolicyName } from './schema.ts';
import { unverified } from './validate-delivery.ts';
import type { Problem } from './validate.ts';

const ROUTE_SPEC: EntrySpec = {
  domain: 'string',
  nextHop: 'string',
  tls: 'string',
  authUser: 'string',
  authPassword: 'string',
};

/** Routes are named in messages by their place in the file, counted from 1: routes[1] is the first [[routes]]. */
export const routeLabel = (i: number): string => `routes[${i + 1}]`;

/** The [[routes]] array of a TOML file as RouteConfig entries (left-out keys from routeDefaults), and its problems. */
export function readRoutes(raw: unknown, file: string): { routes: RouteConfig[]; problems: string[] } {
  if (!Array.isArray(raw) || !raw.every(isTable)) {
    return { routes: [], problems: [`${file}: routes: must be a list of tables, written [[routes]]`] };
  }
  const routes: RouteConfig[] = [];
  const problems: string[] = [];
  raw.forEach((entry, i) => {
    const r = readEntry(entry, ROUTE_SPEC, `${file}: ${routeLabel(i)}`);
    problems.push(...r.problems);
    routes.push({ domain: '', ...routeDefaults, ...r.fields } as RouteConfig);
  });
  return { routes, problems };
}

/** Types of routes that did not come from TOML (flags, the wizard); the value checks below assume them. */
export function checkRouteTypes(routes: unknown): Problem[] {
  if (!Array.isArray(routes)) return [{ key: 'routes', message: `must be a list of routes, got ${typeof routes}` }];
  return routes.flatMap((r, i) =>
    entryTypeProblems(r, ROUTE_SPEC).map((p) => ({
      key: p.field ? `${routeLabel(i)}.${p.field}` : routeLabel(i),
      message: p.message,
    }))
  );
}

/** Every route's domain pattern, next hop, TLS policy and credentials; assumes checkRouteTypes passed. */
export function checkRoutes(c: Config): Problem[] {
  const out: Problem[] = [];
  const local = new Set([...c.relay.localDomains, ...Object.keys(c.domains)]);
  const first = new Map<string, number>();
  c.routes.forEach((r, i) => {
    const bad = (field: string, message: string) => out.push({ key: `${routeLabel(i)}.${field}`, message });
    const domainProblem = checkPattern(r.domain);
    if (domainProblem) bad('domain', domainProblem);
    else if (first.has(r.domain)) {
      // Only one entry can answer for a pattern, so a second one would silently never apply.
      bad('domain', `"${r.domain}" is already routed by ${routeLabel(first.get(r.domain)!)}; merge the two`);
    } else if (local.has(r.domain)) {
      bad(
        'domain',
        `"${r.domain}" is a local domain (relay.local_domains or [domains]): its mail is delivered here, ` +
          'so this route would never be used',
      );
    }
    if (!domainProblem) first.set(r.domain, first.get(r.domain) ?? i);

    const hop = parseNextHop(r.nextHop, c.delivery.smtpPort);
    if (!hop.ok) bad('next_hop', hop.error);
    if (r.tls !== '' && !TLS_POLICIES.includes(r.tls as TlsPolicyName)) {
      bad('tls', `must be "" (delivery.tls), ${TLS_POLICIES.map((p) => `"${p}"`).join(', ')}, got "${r.tls}"`);
    }
    checkAuth(r, c.delivery.tls, bad);
  });
  // The smarthost takes what no route matches; a "*" route matches everything, so one of them is dead.
  if (c.delivery.smarthost !== '' && first.has('*')) {
    out.push({
      key: 'delivery.smarthost',
      message: `is never used: ${routeLabel(first.get('*')!)} routes all other mail ("*"); keep one of the two`,
    });
  }
  return out;
}

/** "*", "example.org" or ".example.org" (its subdomains, not itself), lower-case; null when fine. */
function checkPattern(domain: string): string | null {
  if (domain === '') return 'is required: "example.org", ".example.org" (its subdomains) or "*" (all other mail)';
  if (domain === '*') return null;
  const name = domain.startsWith('.') ? domain.slice(1) : domain;
  if (!isDomainName(name)) {
    return `"${domain}" must be "*", a domain name or ".domain" (use the xn-- form for IDNs)`;
  }
  return domain === domain.toLowerCase() ? null : `"${domain}" must be lower-case`;
}

/**
 * AUTH credentials go only over TLS that is required (RFC 4616 §1: PLAIN "should not be used without adequate
 * data security protection"; RFC 4954 §4 on password snooping): with
 * "none" or "opportunistic" a man in the middle could strip STARTTLS and read the password, so such a route is
 * refused rather than warned about (STYLE §9: unsafe settings are impossible).
 */
function checkAuth(r: RouteConfig, globalTls: TlsPolicyName, bad: (field: string, message: string) => void): void {
  if (r.authUser === '' && r.authPassword === '') return;
  if (r.authUser === '' || r.authPassword === '') {
    bad(r.authUser === '' ? 'auth_user' : 'auth_password', 'auth_user and auth_password must be set together');
    return;
  }
  const effective = r.tls === '' ? globalTls : r.tls;
  if (TLS_POLICIES.includes(effective) && !isTlsRequired(effective)) {
    const shown = r.tls === '' ? `tls is "" so delivery.tls "${globalTls}" applies` : `got "${r.tls}"`;
    bad(
      'tls',
      `a route with auth_user/auth_password needs tls = "verify" or "require", or the password could be sent ` +
        `in clear (${shown})`,
    );
  }
}

/** Allowed but worth a warning at every start: a password sent over TLS whose certificate is not checked. */
export function routeWarnings(c: Config): string[] {
  return c.routes.flatMap((r, i) => {
    const effective = r.tls === '' ? c.delivery.tls : r.tls;
    return r.authUser !== '' && effective === 'require' ? [unverified(`${routeLabel(i)}.tls`, effective)] : [];
  });
}
