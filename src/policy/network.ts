// Client addresses as the abuse checks group them: rate-limit and greylist keys, DNSBL query names.
import { parseIp, type Words } from '../lib/cidr.ts';

const V4_MAPPED_HI = 0x0000ffff; // third word of ::ffff:a.b.c.d (RFC 4291 §2.5.5.2)

const isV4 = (w: Words): boolean => w[0] === 0 && w[1] === 0 && w[2] === V4_MAPPED_HI;

const dotted = (n: number): string => [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff].join('.');

/** The eight 16-bit groups, four lower-case hex digits each: one spelling per address, so keys compare. */
function groups(w: Words): string[] {
  const out: string[] = [];
  for (const word of w) {
    out.push((word >>> 16).toString(16).padStart(4, '0'), (word & 0xffff).toString(16).padStart(4, '0'));
  }
  return out;
}

/**
 * One spelling per address: dotted IPv4 (an IPv4-mapped IPv6 address included), full lower-case IPv6.
 * Unparseable input comes back unchanged (it still works as a key of its own).
 */
export function canonicalIp(ip: string): string {
  const w = parseIp(ip);
  if (!w) return ip;
  return isV4(w) ? dotted(w[3]) : groups(w).join(':');
}

/**
 * The key one client is counted under for rate limits: the IPv4 address itself, or the IPv6 /64. An IPv6
 * host is normally given a whole /64 (RFC 7421 §1; SLAAC, privacy addresses of RFC 8981), so it can change
 * address for every connection at no cost: counting per address would let one host bypass any limit.
 */
export function rateKey(ip: string): string {
  const w = parseIp(ip);
  if (!w) return ip;
  return isV4(w) ? dotted(w[3]) : `${groups(w).slice(0, 4).join(':')}::/64`;
}

/**
 * The network a greylisting triplet is recorded under: the IPv4 /24, or the IPv6 /64. RFC 6647 §5 (5)
 * allows CIDR blocks "such as /24" so that a sender's cluster, retrying from a neighbouring address,
 * still matches; the IPv6 /64 follows from rateKey's reasoning.
 */
export function greylistNetwork(ip: string): string {
  const w = parseIp(ip);
  if (!w) return ip;
  return isV4(w) ? `${dotted(w[3] & 0xffffff00)}/24` : `${groups(w).slice(0, 4).join(':')}::/64`;
}

/**
 * The name to look up in a DNS blocklist zone (RFC 5782 §2.1, §2.4): the IPv4 octets reversed, or the 32
 * nibbles of the full IPv6 address reversed, then the zone. null when ip is not an address.
 */
export function dnsblQueryName(ip: string, zone: string): string | null {
  const w = parseIp(ip);
  if (!w) return null;
  const z = zone.replace(/\.$/, '');
  if (isV4(w)) return `${dotted(w[3]).split('.').reverse().join('.')}.${z}`;
  const nibbles = groups(w).join('').split('');
  return `${nibbles.reverse().join('.')}.${z}`;
}

/** The address inside an EHLO address literal ("[192.0.2.1]", "[IPv6:2001:db8::1]"), or null. */
export function literalAddress(helo: string): string | null {
  if (!helo.startsWith('[') || !helo.endsWith(']')) return null;
  const inner = helo.slice(1, -1);
  // RFC 5321 §4.1.3: IPv6 literals carry the "IPv6:" tag (case-insensitive, like every SMTP keyword).
  const addr = /^ipv6:/i.test(inner) ? inner.slice(5) : inner;
  if (!parseIp(addr) || addr.includes('%')) return null;
  if (/^ipv6:/i.test(inner) !== addr.includes(':')) return null; // "[IPv6:1.2.3.4]" and "[::1]" are malformed
  return addr;
}
