// DNS messages on the wire via dns-packet: Tern's queries, and the checks that decide whether a reply answers them.
import * as dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, StringAnswer } from 'dns-packet';

/** The record types Tern asks for (MX routing, addresses, MTA-STS/SPF text). */
export type QueryType = 'A' | 'AAAA' | 'MX' | 'TXT';

/**
 * EDNS0 (RFC 6891) UDP payload size we advertise: 1232 octets, the DNS Flag Day 2020 value that keeps
 * answers below the IPv6 minimum MTU, so large answers arrive truncated (then over TCP) instead of fragmented.
 */
export const EDNS_PAYLOAD = 1232;

/** A name as Tern compares it: lower-case, no trailing dot (RFC 1035 §2.3.3: names are case-insensitive). */
export function canonicalName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/** The query message: RD set (we talk to recursive resolvers), EDNS0 OPT record unless the server refused it. */
export function encodeQuery(id: number, name: string, type: QueryType, edns: boolean): Uint8Array {
  return dnsPacket.encode({
    type: 'query',
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type, name, class: 'IN' }],
    additionals: edns
      ? [{
        type: 'OPT',
        name: '.',
        udpPayloadSize: EDNS_PAYLOAD,
        extendedRcode: 0,
        ednsVersion: 0,
        flags: 0,
        flag_do: false,
        options: [],
      }]
      : [],
  });
}

/** RCODEs that mean "this server could not answer" (RFC 1035 §4.1.1); anything else unusual counts as servfail. */
export type ServerFailure = 'servfail' | 'refused' | 'formerr';

/** What one received datagram or TCP message is to the query that is waiting for it. */
export type Reply =
  | { kind: 'ignore'; why: string } // not an answer to our question: stray, malformed or spoofed
  | { kind: 'truncated' } // TC set: ask again over TCP (RFC 1035 §4.2.1, RFC 7766 §5)
  | { kind: 'failure'; error: ServerFailure; rcode: string }
  | { kind: 'answer'; nxdomain: boolean; packet: DecodedPacket };

/**
 * Reads a reply to (id, name, type). A reply whose id or question differs is ignored, not failed: an off-path
 * attacker racing the real server (cache poisoning, Kaminsky 2008) must guess the 16-bit id, the source port and
 * the question, and a wrong guess must not end the wait for the genuine answer.
 */
export function readReply(bytes: Uint8Array, id: number, name: string, type: QueryType): Reply {
  let packet: DecodedPacket;
  try {
    packet = dnsPacket.decode(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (err) {
    return { kind: 'ignore', why: `malformed message: ${(err as Error).message}` };
  }
  if (!packet.flag_qr) return { kind: 'ignore', why: 'not a response' };
  if (packet.id !== id) return { kind: 'ignore', why: `id ${packet.id} is not ${id}` };
  const q = packet.questions ?? [];
  const rcode = (packet.flags ?? 0) & 0xf;
  // RFC 6891 §7: a server that does not know EDNS may answer FORMERR without echoing the question. Taking
  // question-less errors (id and port still checked) lets us retry without EDNS instead of timing out.
  if (q.length === 0 && rcode !== 0 && rcode !== 3) return failureOf(rcode);
  if (q.length !== 1 || canonicalName(q[0].name) !== name || q[0].type !== type || (q[0].class ?? 'IN') !== 'IN') {
    return { kind: 'ignore', why: 'question does not match' };
  }
  if (packet.flag_tc) return { kind: 'truncated' };
  if (rcode === 0 || rcode === 3) return { kind: 'answer', nxdomain: rcode === 3, packet };
  return failureOf(rcode);
}

function failureOf(rcode: number): Reply {
  const error: ServerFailure = rcode === 1 ? 'formerr' : rcode === 5 ? 'refused' : 'servfail';
  return { kind: 'failure', error, rcode: rcodeName(rcode) };
}

const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];
function rcodeName(rcode: number): string {
  return RCODES[rcode] ?? `RCODE ${rcode}`;
}

/** The records of one type reached from a name by following the CNAME chain inside an answer section. */
export interface ChainResult {
  records: Answer[];
  /** Smallest TTL over the records and the CNAMEs followed (seconds); Infinity when there is neither. */
  ttl: number;
  /** The names visited, the query name first; the last is where the records are, or where the chain stopped. */
  names: string[];
  /** True when the chain loops or is longer than MAX_CHAIN. */
  broken: boolean;
}

/** Bound on CNAME hops, inside one answer and across re-queries (BIND and Unbound use similar limits). */
export const MAX_CHAIN = 8;

/**
 * Follows name -> CNAME -> ... within the answer and returns the records of `type` at the end. Records of other
 * owners are ignored: a server may not vouch for names it was not asked about (the bailiwick rule).
 */
export function followChain(answers: readonly Answer[], name: string, type: QueryType): ChainResult {
  let ttl = Infinity;
  const names = [name];
  for (;;) {
    const current = names[names.length - 1];
    const here = answers.filter((a) => canonicalName(a.name) === current);
    const records = here.filter((a) => a.type === type);
    if (records.length > 0) {
      for (const r of records) ttl = Math.min(ttl, ttlOf(r));
      return { records, ttl, names, broken: false };
    }
    const cname = here.find((a): a is StringAnswer => a.type === 'CNAME');
    if (!cname) return { records: [], ttl, names, broken: false };
    ttl = Math.min(ttl, ttlOf(cname));
    const next = canonicalName(cname.data);
    const broken = names.includes(next) || names.length > MAX_CHAIN;
    names.push(next);
    if (broken) return { records: [], ttl, names, broken: true };
  }
}

function ttlOf(a: Answer): number {
  return 'ttl' in a && typeof a.ttl === 'number' ? a.ttl : 0;
}

/** Negative answers are cached this long at most (RFC 2308 §5 suggests 1-3 hours; a mail queue wants less). */
export const NEGATIVE_TTL_CAP = 300;
/** Negative TTL when the authority section has no SOA to say (RFC 2308 §5: such answers SHOULD NOT be cached long). */
export const NEGATIVE_TTL_DEFAULT = 60;

/** How long a NXDOMAIN/NODATA answer may be cached: min(SOA TTL, SOA MINIMUM) (RFC 2308 §3, §5), capped. */
export function negativeTtl(packet: DecodedPacket): number {
  for (const a of packet.authorities ?? []) {
    if (a.type === 'SOA') {
      const soaTtl = ttlOf(a);
      const minimum = a.data.minimum ?? soaTtl;
      return Math.min(soaTtl, minimum, NEGATIVE_TTL_CAP);
    }
  }
  return NEGATIVE_TTL_DEFAULT;
}
