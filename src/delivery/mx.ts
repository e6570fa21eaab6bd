// The MX next hop (RFC 5321 §5.1, RFC 7505): which hosts to try for a domain, in which order, at which addresses, or why none.
import type { DnsAnswer, DnsFailure, MxRecord, Resolver } from '../dns/types.ts';
import { parseIp } from '../lib/cidr.ts';

export type MxHost = {
  name: string;
  preference: number;
  addresses: string[]; // in the order to connect; empty when the lookup failed temporarily (see lookupError)
  implicit: boolean; // the domain's own address records, used because it has no MX (RFC 5321 §5.1)
  /** Set when `addresses` is empty because this host's address lookup failed temporarily. */
  lookupError?: string;
};

export type MxResolution =
  | { kind: 'hosts'; hosts: MxHost[] } // in the order to try: preference asc, shuffled among equals
  | { kind: 'permanent'; status: string; reason: string } // e.g. null MX 5.1.10, NXDOMAIN 5.1.2
  | { kind: 'temporary'; status: string; reason: string }; // e.g. SERVFAIL/timeout 4.4.3

/** A host's addresses, or why it has none: NXDOMAIN/NODATA are final, anything else may heal. */
export type HostAddresses =
  | { kind: 'ok'; addresses: string[] }
  | { kind: 'permanent'; reason: string }
  | { kind: 'temporary'; reason: string };

export interface MxOptions {
  /** Look up and use AAAA records too. */
  ipv6: boolean;
  /** [0, 1) source for the order among equal preferences; default Math.random. */
  random?: () => number;
  /** Our own host names: MX records at or below our preference are dropped (RFC 5321 §5.1, mail loops). */
  localNames?: string[];
}

// RFC 3463 / RFC 7505 codes for the outcomes decided here.
const NULL_MX = '5.1.10'; // RFC 7505 §4.2
const BAD_DESTINATION = '5.1.2'; // RFC 3463: bad destination system address
const DNS_TEMPORARY = '4.4.3'; // RFC 3463: directory server failure
const LOOPS_BACK = '5.4.6'; // RFC 3463: routing loop detected
const UNROUTABLE = '5.4.4'; // RFC 3463: unable to route

const permanent = (status: string, reason: string): MxResolution => ({ kind: 'permanent', status, reason });
const temporary = (reason: string): MxResolution => ({ kind: 'temporary', status: DNS_TEMPORARY, reason });

const isFinal = (e: DnsFailure): boolean => e === 'nxdomain' || e === 'nodata';

/** "[192.0.2.1]", "[IPv6:2001:db8::1]" (RFC 5321 §4.1.3) or a bare IP: the address; else null. */
function ipLiteral(host: string): string | null {
  const inner = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1).replace(/^ipv6:/i, '') : host;
  return parseIp(inner) ? inner.toLowerCase() : null;
}

/**
 * IPv6 and IPv4 addresses interleaved, IPv6 first (RFC 8305 §4 with a first-family count of one; RFC 6724
 * prefers IPv6): a host with a broken IPv6 path then costs one failed connection, not all of its IPv6 ones.
 */
function interleave(v6: readonly string[], v4: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < Math.max(v6.length, v4.length); i++) {
    if (i < v6.length) out.push(v6[i]);
    if (i < v4.length) out.push(v4[i]);
  }
  return [...new Set(out)];
}

/** The addresses of one host name (an MX target, or a static route's "smtp:[host]:port" host). */
export async function resolveHostAddresses(resolver: Resolver, host: string, ipv6: boolean): Promise<HostAddresses> {
  const literal = ipLiteral(host);
  if (literal) {
    // RFC 5321 §5.1 says an MX names a host, not an address; liberal in what we accept, we connect to it.
    if (literal.includes(':') && !ipv6) {
      return { kind: 'permanent', reason: `${host} is an IPv6 address and IPv6 delivery is off` };
    }
    return { kind: 'ok', addresses: [literal] };
  }
  const [v4, v6] = await Promise.all([resolver.a(host), ipv6 ? resolver.aaaa(host) : Promise.resolve(null)]);
  const records = (r: DnsAnswer<string> | null): string[] => (r?.ok ? r.records : []);
  const addresses = interleave(records(v6), records(v4));
  // One family answering is enough: a SERVFAIL on AAAA must not hold back delivery over IPv4.
  if (addresses.length > 0) return { kind: 'ok', addresses };
  const failures = [v4, v6].filter((r): r is Extract<DnsAnswer<string>, { ok: false }> => r !== null && !r.ok);
  const transient = failures.find((f) => !isFinal(f.error));
  if (transient) return { kind: 'temporary', reason: transient.message };
  if (failures.some((f) => f.error === 'nxdomain')) {
    return { kind: 'permanent', reason: `${host}: no such host (NXDOMAIN)` };
  }
  return { kind: 'permanent', reason: `${host} has no ${ipv6 ? 'A or AAAA' : 'A'} record` };
}

/** Lowest preference first; equal preferences in random order (RFC 5321 §5.1: spread the load). */
function order(records: readonly MxRecord[], random: () => number): MxRecord[] {
  const byName = new Map<string, MxRecord>();
  for (const r of records) {
    const seen = byName.get(r.exchange);
    if (!seen || r.preference < seen.preference) byName.set(r.exchange, r);
  }
  const sorted = [...byName.values()].sort((x, y) => x.preference - y.preference);
  for (let start = 0; start < sorted.length;) {
    let end = start;
    while (end < sorted.length && sorted[end].preference === sorted[start].preference) end++;
    for (let i = end - 1; i > start; i--) {
      // Fisher-Yates within [start, end).
      const j = start + Math.floor(random() * (i - start + 1));
      [sorted[i], sorted[j]] = [sorted[j], sorted[i]];
    }
    start = end;
  }
  return sorted;
}

/**
 * Where to deliver mail for `domain`. Never throws. Contract:
 * - hosts: at least one host has addresses; hosts whose lookup failed for good are left out, those that failed
 *   temporarily keep their place with no addresses (and lookupError); an address appears once, at its first host;
 * - permanent: the domain cannot receive mail (null MX, NXDOMAIN, no MX and no address, MX hosts that do not exist);
 * - temporary: DNS could not tell, retry later (SERVFAIL, REFUSED, timeout, network on anything that mattered).
 */
export async function resolveDestination(resolver: Resolver, domain: string, opts: MxOptions): Promise<MxResolution> {
  const d = domain.toLowerCase().replace(/\.$/, '');
  if (d.startsWith('[')) {
    // An address literal as the domain (RFC 5321 §4.1.3, §5.1): no lookup, that address is the host.
    const ip = ipLiteral(d);
    if (!ip) return permanent(UNROUTABLE, `${d} is not an address literal`);
    if (ip.includes(':') && !opts.ipv6) {
      return permanent(UNROUTABLE, `${d} is an IPv6 address and IPv6 delivery is off`);
    }
    return { kind: 'hosts', hosts: [{ name: d, preference: 0, addresses: [ip], implicit: true }] };
  }
  const mx = await resolver.mx(d);
  if (!mx.ok && mx.error === 'nxdomain') {
    return permanent(BAD_DESTINATION, `${d}: domain does not exist (${mx.message})`);
  }
  if (!mx.ok && mx.error !== 'nodata') return temporary(`MX lookup for ${d} failed: ${mx.message}`);
  if (!mx.ok || mx.records.length === 0) return implicitMx(resolver, d, opts.ipv6);

  // RFC 7505 §3 defines a null MX as the single record "0 ." and forbids mixing it with others. A "." beside
  // real MX records is a mistake we read the way Postfix does: the real records still route mail.
  const real = mx.records.filter((r) => r.exchange !== '');
  if (real.length === 0) return permanent(NULL_MX, `${d} does not accept mail (null MX, RFC 7505)`);

  let candidates = order(real, opts.random ?? Math.random);
  const self = new Set((opts.localNames ?? []).map((n) => n.toLowerCase().replace(/\.$/, '')));
  const mine = candidates.find((r) => self.has(r.exchange));
  if (mine) {
    // RFC 5321 §5.1: an MX host must not relay to MX hosts no more preferred than itself (mail loops).
    candidates = candidates.filter((r) => r.preference < mine.preference);
    if (candidates.length === 0) {
      return permanent(LOOPS_BACK, `mail for ${d} loops back to myself (${mine.exchange} is an MX host)`);
    }
  }

  const found = await Promise.all(candidates.map((r) => resolveHostAddresses(resolver, r.exchange, opts.ipv6)));
  const hosts: MxHost[] = [];
  const used = new Set<string>();
  const problems: string[] = [];
  let transient = false;
  candidates.forEach((r, i) => {
    const f = found[i];
    if (f.kind === 'permanent') {
      problems.push(f.reason);
      return;
    }
    if (f.kind === 'temporary') {
      transient = true;
      problems.push(f.reason);
      hosts.push({ name: r.exchange, preference: r.preference, addresses: [], implicit: false, lookupError: f.reason });
      return;
    }
    // Two MX names for one address: one connection attempt is enough (Postfix does the same).
    const addresses = f.addresses.filter((ip) => !used.has(ip));
    for (const ip of addresses) used.add(ip);
    if (addresses.length > 0) hosts.push({ name: r.exchange, preference: r.preference, addresses, implicit: false });
  });
  if (hosts.some((h) => h.addresses.length > 0)) return { kind: 'hosts', hosts };
  const why = problems.join('; ');
  if (transient) return temporary(`no MX host of ${d} has an address yet: ${why}`);
  return permanent(BAD_DESTINATION, `MX hosts of ${d} do not resolve: ${why}`);
}

/** RFC 5321 §5.1: no MX records, so the domain itself is the host, at preference 0. */
async function implicitMx(resolver: Resolver, d: string, ipv6: boolean): Promise<MxResolution> {
  const found = await resolveHostAddresses(resolver, d, ipv6);
  if (found.kind === 'temporary') return temporary(`address lookup for ${d} (no MX) failed: ${found.reason}`);
  if (found.kind === 'permanent') {
    return permanent(BAD_DESTINATION, `${d} has no MX and no address record (${found.reason})`);
  }
  return { kind: 'hosts', hosts: [{ name: d, preference: 0, addresses: found.addresses, implicit: true }] };
}
