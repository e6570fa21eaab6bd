// The contract of Tern's own DNS resolver: identical answers on Bun, Deno and Node, failures told apart.

/**
 * Why a lookup has no records. The delivery decision depends on it (RFC 5321 §5.1):
 * - nxdomain: the name does not exist (RCODE 3) — permanent for the domain asked about;
 * - nodata: the name exists but has no record of that type (NOERROR, empty answer) — e.g. no MX means
 *   "use the A/AAAA records" (implicit MX), never a bounce by itself;
 * - servfail, refused, formerr: the server could not answer (RCODE 2, 5, 1) — temporary;
 * - timeout: no answer from any server within the time and attempts allowed — temporary;
 * - network: the query could not be sent (no route, socket error) — temporary.
 */
export type DnsFailure = 'nxdomain' | 'nodata' | 'servfail' | 'refused' | 'formerr' | 'timeout' | 'network';

export type DnsAnswer<T> =
  | { ok: true; records: T[]; ttl: number } // ttl: the smallest TTL of the answer's records, seconds
  | { ok: false; error: DnsFailure; message: string };

export interface MxRecord {
  preference: number;
  exchange: string; // lower-case, no trailing dot; '' for the null MX target "." (RFC 7505)
}

/**
 * Lookups follow CNAME chains within the answer (and ask again for the target when the server did not
 * include it), answer from a TTL-respecting cache, fall back to TCP on a truncated UDP answer, and never
 * throw: every outcome is a DnsAnswer.
 */
export interface Resolver {
  mx(name: string): Promise<DnsAnswer<MxRecord>>;
  a(name: string): Promise<DnsAnswer<string>>; // dotted IPv4
  aaaa(name: string): Promise<DnsAnswer<string>>; // IPv6 text, compressed form
  /** Each record's character-strings joined without separator, as RFC 7208 §3.3 and RFC 8461 §3.1 read them. */
  txt(name: string): Promise<DnsAnswer<string>>;
}
