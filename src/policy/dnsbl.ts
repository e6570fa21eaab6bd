// DNS blocklist checks (RFC 5782) of the connecting client, through Tern's own resolver.
//
// Asked at 'connect', before the greeting, rather than at RCPT: a listed client costs one DNS answer (cached
// by the resolver for its TTL) and no session at all, as with Postfix's postscreen; RFC 5321 §3.1 allows the
// 554 greeting. The price is that a listed host cannot reach postmaster either, which every DNSBL user accepts.
import type { DnsAnswer, Resolver } from '../dns/types.ts';
import type { Logger } from '../lib/log.ts';
import { parseIp } from '../lib/cidr.ts';
import { dnsblQueryName } from './network.ts';

/** One zone's listing of a client. */
export interface DnsblHit {
  zone: string;
  /** The A records returned (return codes such as 127.0.0.2; their meaning is the list's). */
  codes: string[];
  /** The zone's TXT explanation, when it publishes one (RFC 5782 §2.1), for the log only. */
  reason: string | null;
}

export interface Dnsbl {
  /** The first configured zone listing ip, or null; never rejects: DNS trouble means "not listed". */
  check(ip: string): Promise<DnsblHit | null>;
}

const MAX_REASON = 300; // octets of TXT kept for the log

/** True for 127.0.0.0/8 (RFC 5782 §2.1: list entries answer with addresses there). */
function isLoopback(addr: string): boolean {
  const w = parseIp(addr);
  return w !== null && w[0] === 0 && w[1] === 0 && w[2] === 0xffff && w[3] >>> 24 === 127;
}

/**
 * 127.255.255.0/24 is what Spamhaus answers when it refuses to answer: 252 typo in the zone name, 254 query
 * through a public resolver, 255 too many queries. Such an answer says nothing about the client.
 */
const isRefusalCode = (addr: string): boolean => addr.startsWith('127.255.255.');

export function createDnsbl(resolver: Resolver, zones: readonly string[], log: Logger): Dnsbl {
  const lookUp = async (ip: string, zone: string): Promise<DnsblHit | null> => {
    const name = dnsblQueryName(ip, zone);
    if (name === null) return null;
    let answer: DnsAnswer<string>;
    try {
      answer = await resolver.a(name);
    } catch (err) {
      // The resolver's contract is never to throw; if it does, this is still only a lookup that failed.
      log.warn('dnsbl-lookup-failed', { zone, ip, error: String(err) });
      return null;
    }
    if (!answer.ok) {
      // NXDOMAIN is the normal "not listed" (RFC 5782 §2.1). Any other failure must not block mail: a
      // list that is down or slow would otherwise refuse every client.
      if (answer.error !== 'nxdomain' && answer.error !== 'nodata') {
        log.warn('dnsbl-lookup-failed', { zone, ip, error: answer.error, detail: answer.message });
      }
      return null;
    }
    const refusals = answer.records.filter(isRefusalCode);
    if (refusals.length > 0) {
      log.error('dnsbl-query-refused', {
        zone,
        ip,
        codes: refusals,
        hint: 'the list refused to answer (127.255.255.x): query it through your own resolver (dns.servers), ' +
          'not a public one, and check the zone name and your usage',
      });
    }
    const codes = answer.records.filter((a) => isLoopback(a) && !isRefusalCode(a));
    const bogus = answer.records.filter((a) => !isLoopback(a));
    if (bogus.length > 0) {
      // Outside 127/8 is no listing (RFC 5782 §2.1): typically a resolver that rewrites NXDOMAIN to an ad server.
      log.warn('dnsbl-bogus-answer', { zone, ip, answers: bogus });
    }
    if (codes.length === 0) return null;
    return { zone, codes, reason: await reasonOf(name) };
  };

  const reasonOf = async (name: string): Promise<string | null> => {
    try {
      const txt = await resolver.txt(name);
      return txt.ok && txt.records.length > 0 ? txt.records.join('; ').slice(0, MAX_REASON) : null;
    } catch {
      return null;
    }
  };

  return {
    async check(ip) {
      // All zones are asked at once; the answer is the first zone in configuration order that lists the
      // client, so the outcome does not depend on which list happens to answer faster.
      const pending = zones.map((zone) => lookUp(ip, zone));
      for (const p of pending) {
        const hit = await p;
        if (hit) return hit;
      }
      return null;
    },
  };
}
