// Picks the next hop for a recipient domain: local, transport map, smarthost, or the domain's MX (RFC 5321 §5).
import type { NextHop, Route, TlsPolicy } from './types.ts';

export interface RouteRule {
  /** "example.org" (exact), ".example.org" (any subdomain) or "*" (everything not local). */
  domain: string;
  nextHop: NextHop;
  tls: TlsPolicy | null; // null = the default policy
  auth: { user: string; password: string } | null;
}

export interface RouterOptions {
  localDomains: ReadonlySet<string>;
  /** Where a bare "Postmaster" recipient (RFC 5321 §4.1.1.3) is delivered: the primary local domain. */
  postmasterDomain: string;
  rules: RouteRule[];
  smarthost: Omit<RouteRule, 'domain'> | null;
  defaultTls: TlsPolicy;
  smtpPort: number;
}

export interface Router {
  /** The route for an address's domain; a bare "Postmaster" goes to the postmaster domain. */
  route(address: string): Route;
  /** The address as it will be delivered (the bare "Postmaster" made whole). */
  normalize(address: string): string;
}

/**
 * Order, as in Postfix: local domains are delivered here whatever the map says; then the transport map
 * (exact domain, then the nearest ".parent" entry, then "*"); then the smarthost; else MX. An address
 * literal domain ("[192.0.2.1]", RFC 5321 §4.1.3) goes straight to that address.
 */
export function createRouter(opts: RouterOptions): Router {
  const exact = new Map<string, RouteRule>();
  const parents = new Map<string, RouteRule>();
  let wildcard: RouteRule | null = null;
  for (const rule of opts.rules) {
    const d = rule.domain.toLowerCase();
    if (d === '*') wildcard ??= rule;
    else if (d.startsWith('.')) parents.has(d) || parents.set(d, rule);
    else exact.has(d) || exact.set(d, rule);
  }

  const normalize = (address: string): string =>
    address.includes('@') ? address : `postmaster@${opts.postmasterDomain}`;

  function match(domain: string): Omit<RouteRule, 'domain'> | null {
    const hit = exact.get(domain);
    if (hit) return hit;
    for (let i = domain.indexOf('.'); i >= 0; i = domain.indexOf('.', i + 1)) {
      const parent = parents.get(domain.slice(i));
      if (parent) return parent;
    }
    return wildcard ?? opts.smarthost;
  }

  function make(domain: string, nextHop: NextHop, tls: TlsPolicy | null, auth: RouteRule['auth']): Route {
    return { key: keyOf(domain, nextHop), domain, nextHop, tls: tls ?? opts.defaultTls, auth };
  }

  return {
    normalize,
    route(address) {
      const full = normalize(address);
      const domain = full.slice(full.lastIndexOf('@') + 1).toLowerCase();
      if (opts.localDomains.has(domain)) return make(domain, { kind: 'local' }, 'none', null);
      if (domain.startsWith('[')) {
        const host = domain.replace(/^\[(ipv6:)?/i, '[');
        return make(domain, { kind: 'smtp', host, port: opts.smtpPort, lookupMx: false }, null, null);
      }
      const rule = match(domain);
      if (rule) return make(domain, rule.nextHop, rule.tls, rule.auth);
      return make(domain, { kind: 'mx', port: opts.smtpPort }, null, null);
    },
  };
}

/** Recipients with equal keys share connections and concurrency: one MX set, or one fixed next hop. */
function keyOf(domain: string, hop: NextHop): string {
  switch (hop.kind) {
    case 'mx':
      return `mx:${domain}:${hop.port}`;
    case 'smtp':
      return `smtp:${hop.host}:${hop.port}${hop.lookupMx ? ':mx' : ''}`;
    case 'lmtp':
      return `lmtp:${hop.host}:${hop.port}`;
    case 'lmtp-unix':
      return `lmtp:unix:${hop.path}`;
    case 'local':
      return `local:${domain}`;
  }
}
