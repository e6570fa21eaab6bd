// Tern's own stub resolver: the same answers and the same failure kinds on Bun, Deno and Node (src/dns/types.ts).
//
// The runtimes' node:dns differ where delivery decisions depend on them (Bun splits multi-string TXT records;
// Bun and Deno report NODATA and REFUSED as ENOTFOUND, turning a temporary failure into a bounce), so Tern
// speaks the protocol itself: dns-packet for the wire format, node:dgram and node:net for transport.
import { randomInt } from 'node:crypto';
import { domainToASCII } from 'node:url';
import type { Answer } from 'dns-packet';
import { POSITIVE_TTL_CAP, TtlCache } from './cache.ts';
import { chooseServers } from './resolv-conf.ts';
import { type Exchange, exchangeTcp, exchangeUdp, type NameServer, serverLabel } from './transport.ts';
import type { DnsAnswer, DnsFailure, MxRecord, Resolver } from './types.ts';
import {
  canonicalName,
  encodeQuery,
  followChain,
  MAX_CHAIN,
  negativeTtl,
  type QueryType,
  readReply,
  type Reply,
} from './wire.ts';

export interface ResolverOptions {
  /** "IP", "IP:PORT" or "[v6]:PORT"; empty = the nameservers of /etc/resolv.conf (else 127.0.0.1). */
  servers: string[];
  /** Milliseconds to wait for each attempt's answer. */
  timeout: number;
  /** Attempts per server before moving to the next one. */
  attempts: number;
  /** Cached (name, type) answers at most; 0 disables the cache. Default 10000. */
  cacheSize?: number;
  /** The clock in milliseconds (tests step it to expire cache entries). Default Date.now. */
  now?: () => number;
}

/** An answer and how long it may be cached (seconds; 0 = not at all: servfail, timeout, network). */
interface Resolved<T> {
  answer: DnsAnswer<T>;
  cacheFor: number;
}

type Exchanged = { ok: true; reply: Extract<Reply, { kind: 'answer' }> } | {
  ok: false;
  error: DnsFailure;
  message: string;
};

const fail = <T>(error: DnsFailure, message: string): Resolved<T> => ({
  answer: { ok: false, error, message },
  cacheFor: 0,
});

const utf8 = new TextDecoder();

function txtOf(a: Answer): string | null {
  if (a.type !== 'TXT') return null;
  const parts = Array.isArray(a.data) ? a.data : [a.data];
  // RFC 7208 §3.3 / RFC 8461 §3.1: the character-strings of one record are concatenated with nothing between.
  // Bytes first, then UTF-8, so a multi-byte character split across two strings survives.
  return utf8.decode(Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p))));
}

function mxOf(a: Answer): MxRecord | null {
  if (a.type !== 'MX') return null;
  // The root name "." decodes as "." and becomes '': the null MX of RFC 7505.
  return { preference: a.data.preference ?? 0, exchange: canonicalName(a.data.exchange) };
}

function addressOf(type: 'A' | 'AAAA'): (a: Answer) => string | null {
  return (a) => (a.type === type && typeof a.data === 'string' ? a.data.toLowerCase() : null);
}

/**
 * The name as it goes on the wire, or null when it cannot be a domain name. IDNs become A-labels (RFC 5890):
 * an SMTPUTF8 recipient domain is looked up by its ASCII form.
 */
function wireName(name: string): string | null {
  let n = canonicalName(name.trim());
  if (/[^\x20-\x7e]/.test(n)) n = domainToASCII(n);
  if (n === '' || n.length > 253) return null; // RFC 1035 §2.3.4: 255 octets on the wire
  return n.split('.').every((l) => l.length > 0 && l.length <= 63 && !/\s/.test(l)) ? n : null;
}

export function createResolver(opts: ResolverOptions): Resolver & { close(): void } {
  const servers: NameServer[] = chooseServers(opts.servers);
  const timeout = Math.max(1, opts.timeout);
  const attempts = Math.max(1, opts.attempts);
  const cache = new TtlCache<DnsAnswer<unknown>>(opts.cacheSize ?? 10_000, opts.now ?? Date.now);
  const inflight = new Map<string, Promise<DnsAnswer<unknown>>>();
  let closed = false;

  /** One question to one server: UDP, then TCP when truncated, then once without EDNS on FORMERR. */
  async function askServer(server: NameServer, name: string, type: QueryType, edns: boolean): Promise<Exchange<Reply>> {
    const id = randomInt(0, 0x10000);
    const query = encodeQuery(id, name, type, edns);
    const accept = (bytes: Uint8Array): Reply | null => {
      const r = readReply(bytes, id, name, type);
      return r.kind === 'ignore' ? null : r;
    };
    let sent = await exchangeUdp(server, query, timeout, accept);
    if (sent.ok && sent.value.kind === 'truncated') sent = await exchangeTcp(server, query, timeout, accept);
    if (!sent.ok) return sent;
    const reply = sent.value;
    // RFC 6891 §7: FORMERR to a query with OPT may mean "no EDNS here"; ask once more in plain RFC 1035.
    if (reply.kind === 'failure' && reply.error === 'formerr' && edns) return askServer(server, name, type, false);
    return sent;
  }

  /**
   * Servers in order, `attempts` tries each. A silent server gets its next attempt; an unreachable one or one
   * that answers SERVFAIL/REFUSED/FORMERR is left for the next server. When all fail, a server's own verdict
   * is reported before silence: it says more about why.
   */
  async function exchange(name: string, type: QueryType): Promise<Exchanged> {
    if (closed) return { ok: false, error: 'network', message: 'the resolver is closed' };
    if (servers.length === 0) return { ok: false, error: 'network', message: 'no usable DNS server configured' };
    let answered: Exchanged | null = null;
    let silent: Exchanged | null = null;
    for (const server of servers) {
      for (let attempt = 0; attempt < attempts; attempt++) {
        const sent = await askServer(server, name, type, true);
        if (!sent.ok) {
          silent = { ok: false, error: sent.error, message: sent.message };
          if (sent.error === 'network') break;
          continue;
        }
        const reply = sent.value;
        if (reply.kind === 'answer') return { ok: true, reply };
        if (reply.kind === 'failure') {
          answered = { ok: false, error: reply.error, message: `${serverLabel(server)} answered ${reply.rcode}` };
        } else {
          answered = {
            ok: false,
            error: 'servfail',
            message: `${serverLabel(server)} sent a truncated answer over TCP`,
          };
        }
        break;
      }
    }
    return answered ?? silent ?? { ok: false, error: 'network', message: 'no DNS server was asked' };
  }

  /**
   * Asks for (name, type), follows CNAMEs in the answer, and asks again for a target the answer left open.
   * `seen` holds the names before this one in the chain (for loop detection and messages).
   */
  async function resolve<T>(
    name: string,
    type: QueryType,
    convert: (a: Answer) => T | null,
    seen: readonly string[],
  ): Promise<Resolved<T>> {
    const ex = await exchange(name, type);
    if (!ex.ok) return fail(ex.error, `${type} ${name}: ${ex.message}`);
    const { packet, nxdomain } = ex.reply;
    const chain = followChain(packet.answers ?? [], name, type);
    const path = [...seen, ...chain.names];
    const via = path.length > 1 ? ` (via CNAME ${path.join(' -> ')})` : '';
    // A CNAME loop or an endless chain is a broken zone a resolver reports as SERVFAIL; it may be fixed.
    if (chain.broken || path.length > MAX_CHAIN + 1 || new Set(path).size < path.length) {
      return fail('servfail', `${type} ${path[0]}: CNAME chain loops or is longer than ${MAX_CHAIN}${via}`);
    }
    const records = chain.records.map(convert).filter((r): r is T => r !== null);
    if (records.length > 0) {
      const ttl = Math.min(chain.ttl, POSITIVE_TTL_CAP);
      return { answer: { ok: true, records, ttl }, cacheFor: ttl };
    }
    const end = chain.names[chain.names.length - 1];
    if (end !== name && !nxdomain) {
      // The answer stops at a CNAME target without its records (an authoritative server whose zone does not
      // hold the target, or a forwarder that does not chase): ask for the target itself.
      const sub = await cached(end, type, convert, path.slice(0, -1));
      if (!sub.answer.ok) return sub;
      const ttl = Math.min(chain.ttl, sub.answer.ttl);
      return { answer: { ...sub.answer, ttl }, cacheFor: Math.min(ttl, sub.cacheFor) };
    }
    // RFC 2308 §3 (negative caching) and RFC 6604 (the RCODE speaks for the last name of the chain).
    const cacheFor = Math.min(negativeTtl(packet), chain.ttl);
    if (nxdomain) {
      return { answer: { ok: false, error: 'nxdomain', message: `${end}: no such domain (NXDOMAIN)${via}` }, cacheFor };
    }
    return { answer: { ok: false, error: 'nodata', message: `${end}: no ${type} record (NODATA)${via}` }, cacheFor };
  }

  async function cached<T>(
    name: string,
    type: QueryType,
    convert: (a: Answer) => T | null,
    seen: readonly string[],
  ): Promise<Resolved<T>> {
    const key = `${type} ${name}`;
    const hit = cache.get(key);
    if (hit) {
      // The key names the type, so the cached answer holds records of this converter's type.
      const answer = hit.value as DnsAnswer<T>;
      return { answer: answer.ok ? { ...answer, ttl: hit.remaining } : answer, cacheFor: hit.remaining };
    }
    const resolved = await resolve(name, type, convert, seen);
    cache.set(key, resolved.answer, resolved.cacheFor);
    return resolved;
  }

  /** The public entry: validates the name, shares one lookup among concurrent callers, never throws. */
  function lookup<T>(raw: string, type: QueryType, convert: (a: Answer) => T | null): Promise<DnsAnswer<T>> {
    const name = wireName(raw);
    if (name === null) {
      // Such a name cannot exist in the DNS: as final as NXDOMAIN.
      return Promise.resolve({
        ok: false,
        error: 'nxdomain',
        message: `${JSON.stringify(raw)} is not a valid domain name`,
      });
    }
    const key = `${type} ${name}`;
    const pending = inflight.get(key);
    if (pending) return pending as Promise<DnsAnswer<T>>;
    const promise = cached(name, type, convert, [])
      .then((r) => r.answer)
      .catch((err: unknown): DnsAnswer<T> => ({
        ok: false,
        error: 'network',
        message: `${type} ${name}: resolver bug: ${String(err)}`,
      }))
      .finally(() => inflight.delete(key));
    inflight.set(key, promise);
    return promise;
  }

  return {
    mx: (name) => lookup(name, 'MX', mxOf),
    a: (name) => lookup(name, 'A', addressOf('A')),
    aaaa: (name) => lookup(name, 'AAAA', addressOf('AAAA')),
    txt: (name) => lookup(name, 'TXT', txtOf),
    close() {
      closed = true;
      cache.clear();
    },
  };
}
