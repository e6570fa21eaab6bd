// From a route's next hop to the ordered list of addresses to try, each with its TLS policy, MTA-STS
// (RFC 8461) applied for MX delivery: enforce skips MX hosts outside the policy and demands verified TLS.
import { isIP } from 'node:net';
import { local, type Verdict } from '../../smtp/client/verdict.ts';
import type { Logger } from '../../lib/log.ts';
import type { MxResolution } from '../mx.ts';
import type { MtaStsPolicy, MtaStsProvider, Route, TlsPolicy } from '../types.ts';
import type { Endpoint } from './channel.ts';
import { mxMatches } from '../mta-sts-parse.ts';

/** One address to try. */
export interface Target {
  endpoint: Endpoint;
  /** The name the certificate must carry under 'verify': the MX host name (RFC 8461 §4.2), or the IP. */
  tlsName: string | null;
  tls: TlsPolicy;
  /** An MTA-STS 'testing' policy covers this host: log what would fail under 'enforce' (RFC 8461 §5). */
  stsTesting: boolean;
  lmtp: boolean;
}

/** A host that could not be tried; it counts as a failed attempt. */
export interface Skipped {
  verdict: Verdict;
  host: string;
}

export type Plan = { ok: true; targets: Target[]; skipped: Skipped[] } | { ok: false; verdict: Verdict };

export interface TargetDeps {
  resolveDestination(domain: string): Promise<MxResolution>;
  resolveHost(host: string): Promise<MxResolution>;
  mtaSts: MtaStsProvider | null;
  log: Logger;
}

/** Where the route's next hop is, as addresses in the order to try them (RFC 5321 §5.1). Never throws. */
export async function planTargets(route: Route, deps: TargetDeps): Promise<Plan> {
  const hop = route.nextHop;
  switch (hop.kind) {
    case 'mx': {
      const res = await deps.resolveDestination(route.domain);
      return applySts(fromResolution(res, hop.port, route.tls, false), await stsPolicy(route.domain, deps), route, deps);
    }
    case 'smtp': {
      const ip = literalIp(hop.host);
      if (ip !== null) return direct(hop.host, ip, hop.port, route.tls, false);
      const res = await (hop.lookupMx ? deps.resolveDestination(hop.host) : deps.resolveHost(hop.host));
      return fromResolution(res, hop.port, route.tls, false);
    }
    case 'lmtp': {
      const ip = literalIp(hop.host);
      if (ip !== null) return direct(hop.host, ip, hop.port, route.tls, true);
      return fromResolution(await deps.resolveHost(hop.host), hop.port, route.tls, true);
    }
    case 'lmtp-unix': {
      // A local socket: TLS would protect nothing (and Dovecot does not offer it there).
      const endpoint: Endpoint = { kind: 'unix', path: hop.path };
      return { ok: true, targets: [{ endpoint, tlsName: null, tls: 'none', stsTesting: false, lmtp: true }], skipped: [] };
    }
    case 'local':
      // The engine gives local routes to the local courier; reaching here is a routing bug, not a bounce.
      return { ok: false, verdict: local('temporary', '4.3.5', 'a local route was handed to the SMTP courier') };
    default:
      hop satisfies never;
      return { ok: false, verdict: local('temporary', '4.3.5', 'unknown next hop') };
  }
}

/** "[192.0.2.1]", "[IPv6:2001:db8::1]" or a bare address -> the address; a host name -> null. */
export function literalIp(host: string): string | null {
  const inner = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1).replace(/^ipv6:/i, '') : host;
  return isIP(inner) === 0 ? null : inner.toLowerCase();
}

function direct(host: string, ip: string, port: number, tls: TlsPolicy, lmtp: boolean): Plan {
  const endpoint: Endpoint = { kind: 'tcp', host, ip, port };
  return { ok: true, targets: [{ endpoint, tlsName: ip, tls, stsTesting: false, lmtp }], skipped: [] };
}

function fromResolution(res: MxResolution, port: number, tls: TlsPolicy, lmtp: boolean): Plan {
  if (res.kind !== 'hosts') return { ok: false, verdict: local(res.kind, res.status, res.reason) };
  const targets: Target[] = [];
  const skipped: Skipped[] = [];
  for (const h of res.hosts) {
    if (h.addresses.length === 0) {
      // RFC 3463 X.4.3: a directory (DNS) failure kept this host from being tried this time.
      const why = h.lookupError ?? 'no address';
      skipped.push({ host: h.name, verdict: local('temporary', '4.4.3', `address lookup for ${h.name} failed: ${why}`) });
      continue;
    }
    const tlsName = literalIp(h.name) ?? h.name;
    for (const ip of h.addresses) {
      targets.push({ endpoint: { kind: 'tcp', host: h.name, ip, port }, tlsName, tls, stsTesting: false, lmtp });
    }
  }
  return { ok: true, targets, skipped };
}

async function stsPolicy(domain: string, deps: TargetDeps): Promise<MtaStsPolicy | null> {
  if (deps.mtaSts === null) return null;
  try {
    return await deps.mtaSts.policyFor(domain);
  } catch (err) {
    // The provider's contract is to never throw; if it does, deliver as without a policy and say so.
    deps.log.error('mta-sts-error', { domain, error: err });
    return null;
  }
}

/**
 * RFC 8461 §5: under 'enforce' only MX hosts matching the policy are used, and only over TLS with a
 * certificate valid for the MX name (§4.2); a domain whose MX hosts all fail this is a temporary failure
 * (§5.1: never bounce before a fresh policy has been fetched). Under 'testing' nothing changes but the log.
 */
function applySts(plan: Plan, policy: MtaStsPolicy | null, route: Route, deps: TargetDeps): Plan {
  if (!plan.ok || policy === null || policy.mode === 'none') return plan;
  const targets: Target[] = [];
  const skipped = [...plan.skipped];
  const reported = new Set<string>();
  for (const t of plan.targets) {
    const host = t.endpoint.kind === 'tcp' ? t.endpoint.host : '';
    const matches = policy.mx.some((p) => mxMatches(p, host));
    if (policy.mode === 'testing') {
      if (!matches && !reported.has(host)) deps.log.warn('mta-sts-testing', { domain: route.domain, host, would: 'skip MX host not in policy' });
      reported.add(host);
      targets.push({ ...t, stsTesting: true });
    } else if (matches) {
      targets.push({ ...t, tls: 'verify' });
    } else if (!reported.has(host)) {
      reported.add(host);
      const reason = `MX host ${host} is not allowed by the MTA-STS policy of ${route.domain}`;
      deps.log.warn('mta-sts-skip', { domain: route.domain, host });
      skipped.push({ host, verdict: local('temporary', '4.7.5', reason) });
    }
  }
  return { ok: true, targets, skipped };
}

