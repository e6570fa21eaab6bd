// IP addresses and CIDR blocks (IPv4, IPv6 and IPv4-mapped IPv6) and a fast matcher for "is this peer trusted?".

// Every address is held as four 32-bit words of one 128-bit space, IPv4 as the IPv4-mapped range ::ffff:0:0/96
// (RFC 4291 §2.5.5.2). So "127.0.0.0/8" matches a dual-stack socket's "::ffff:127.0.0.1" and vice versa.
export type Words = [number, number, number, number];

export interface Cidr {
  /** The text as written, for messages. */
  text: string;
  /** Network address in the 128-bit space. */
  words: Words;
  /** Prefix length in the 128-bit space (an IPv4 /8 is 104 here). */
  prefix: number;
}

const V4_MAPPED_HI = 0x0000ffff; // third word of ::ffff:a.b.c.d

function parseV4(text: string): number | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let n = 0;
  for (const p of parts) {
    // Leading zeros are refused: "010" is octal to inet_aton and decimal to others (a known ACL bypass).
    if (!/^(0|[1-9]\d{0,2})$/.test(p)) return null;
    const v = Number(p);
    if (v > 255) return null;
    n = n * 256 + v;
  }
  return n;
}

function parseV6(text: string): Words | null {
  let groups: number[] = [];
  let tail = text;
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    // Embedded dotted quad in the last 32 bits, e.g. ::ffff:192.0.2.1.
    const v4 = parseV4(text.slice(lastColon + 1));
    if (v4 === null) return null;
    tail = text.slice(0, lastColon + 1) + (v4 >>> 16).toString(16) + ':' + (v4 & 0xffff).toString(16);
  }
  const halves = tail.split('::');
  if (halves.length > 2) return null;
  const hex = (s: string): number[] | null => {
    if (s === '') return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (!/^[0-9a-f]{1,4}$/i.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = hex(halves[0]);
  if (!head) return null;
  if (halves.length === 2) {
    const rest = hex(halves[1]);
    if (!rest || head.length + rest.length > 7) return null;
    groups = [...head, ...new Array<number>(8 - head.length - rest.length).fill(0), ...rest];
  } else {
    if (head.length !== 8) return null;
    groups = head;
  }
  return [0, 1, 2, 3].map((i) => ((groups[2 * i] << 16) | groups[2 * i + 1]) >>> 0) as Words;
}

/**
 * Parses an IPv4 or IPv6 address (a "%zone" suffix is ignored) into the 128-bit space; null if it is not one.
 * IPv4 lands in ::ffff:0:0/96.
 */
export function parseIp(text: string): Words | null {
  const zone = text.indexOf('%');
  const t = zone >= 0 ? text.slice(0, zone) : text;
  if (t.includes(':')) return parseV6(t);
  const v4 = parseV4(t);
  return v4 === null ? null : [0, 0, V4_MAPPED_HI, v4];
}

/** Mask word i of a prefix length in the 128-bit space. */
function maskWord(prefix: number, i: number): number {
  const bits = Math.min(32, Math.max(0, prefix - 32 * i));
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

/**
 * Parses "10.0.0.0/8", "2001:db8::/32", "::ffff:10.0.0.0/104" or a bare address (a single host).
 * Host bits set below the prefix are an error, not silently cleared: "10.0.0.1/8" is usually a typo.
 */
export function parseCidr(text: string): { ok: true; value: Cidr } | { ok: false; error: string } {
  const slash = text.indexOf('/');
  const addr = slash >= 0 ? text.slice(0, slash) : text;
  if (addr.includes('%')) return { ok: false, error: `"${text}" is not a CIDR block (zone ids are not allowed)` };
  const words = parseIp(addr);
  if (!words) return { ok: false, error: `"${text}" is not an IPv4 or IPv6 address or CIDR block` };
  const v4 = !addr.includes(':');
  const max = v4 ? 32 : 128;
  const lenText = slash >= 0 ? text.slice(slash + 1) : String(max);
  if (!/^(0|[1-9]\d{0,2})$/.test(lenText) || Number(lenText) > max) {
    return { ok: false, error: `"${text}" has an invalid prefix length (0 to ${max})` };
  }
  const prefix = Number(lenText) + (v4 ? 96 : 0);
  for (let i = 0; i < 4; i++) {
    if ((words[i] & ~maskWord(prefix, i)) !== 0) {
      return { ok: false, error: `"${text}" has bits set after the /${lenText} prefix` };
    }
  }
  return { ok: true, value: { text, words, prefix } };
}

/**
 * How many leading bits of the IPv4 space this block fixes: 8 for 10.0.0.0/8, 0 when it covers all of IPv4
 * (0.0.0.0/0, ::/0, ::ffff:0:0/96, ::/64 ...), null when it contains no IPv4 address at all.
 */
export function ipv4PrefixOf(c: Cidr): number | null {
  const mapped: Words = [0, 0, V4_MAPPED_HI, 0];
  const p = Math.min(c.prefix, 96);
  for (let i = 0; i < 4; i++) if (((mapped[i] ^ c.words[i]) & maskWord(p, i)) !== 0) return null;
  return Math.max(0, c.prefix - 96);
}

/**
 * A predicate for "is this address inside any of the blocks". Blocks must already be valid (validate.ts checks
 * them); an unparseable block here is a bug and throws. Unparseable addresses never match.
 */
export function matcher(cidrs: readonly string[]): (ip: string) => boolean {
  const nets = cidrs.map((text) => {
    const r = parseCidr(text);
    if (!r.ok) throw new Error(`matcher: ${r.error}`);
    const masks = [0, 1, 2, 3].map((i) => maskWord(r.value.prefix, i));
    return { words: r.value.words, masks };
  });
  if (nets.length === 0) return () => false;
  return (ip: string): boolean => {
    const w = parseIp(ip);
    if (!w) return false;
    for (const n of nets) {
      if (
        ((w[0] & n.masks[0]) >>> 0) === n.words[0] &&
        ((w[1] & n.masks[1]) >>> 0) === n.words[1] &&
        ((w[2] & n.masks[2]) >>> 0) === n.words[2] &&
        ((w[3] & n.masks[3]) >>> 0) === n.words[3]
      ) return true;
    }
    return false;
  };
}
