// A tiny authoritative DNS server for tests on 127.0.0.1 (UDP and TCP, one ephemeral port): zone records plus
// scripted misbehaviour per name, so every failure kind the resolver must tell apart can be produced on demand.
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import * as dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, Packet, RecordType } from 'dns-packet';

export type ZoneRecord =
  | { type: 'A' | 'AAAA' | 'CNAME'; data: string; ttl?: number }
  | { type: 'MX'; preference: number; exchange: string; ttl?: number }
  | { type: 'TXT'; data: Array<string | Uint8Array>; ttl?: number } // one record: its character-strings (each ≤ 255 octets)
  | { type: 'SOA'; minimum: number; ttl?: number }; // makes the name a zone apex for negative answers below it

/**
 * - servfail / refused / formerr: that RCODE, no records;
 * - timeout: no answer at all;
 * - truncate-udp: TC set and no records over UDP, the full answer over TCP;
 * - cname-only: answer just the name's CNAME, without chasing it (a forwarder or an out-of-zone target);
 * - no-edns: FORMERR without a question section to queries carrying OPT, like a pre-RFC 6891 server.
 */
export type Behaviour = 'servfail' | 'refused' | 'formerr' | 'timeout' | 'truncate-udp' | 'cname-only' | 'no-edns';

export interface ZoneEntry {
  records?: ZoneRecord[];
  behaviour?: Behaviour;
  /** Misbehave only for these query types (default: all). */
  types?: RecordType[];
}

/** Owner name (lower-case, no trailing dot) -> its records, or records plus a behaviour. */
export type Zone = Record<string, ZoneRecord[] | ZoneEntry>;

export interface DnsServerOptions {
  /** SOA for negative answers outside any zone apex: false = none (the resolver's default negative TTL applies). */
  defaultSoa?: { minimum: number; ttl: number } | false;
}

export interface TestDnsServer {
  port: number;
  address: string;
  /** "127.0.0.1:PORT", ready for ResolverOptions.servers. */
  server: string;
  setZone(zone: Zone): void;
  queries: Array<{ name: string; type: string; transport: 'udp' | 'tcp' }>;
  close(): Promise<void>;
}

export const mx = (preference: number, exchange: string, ttl?: number): ZoneRecord => ({
  type: 'MX',
  preference,
  exchange,
  ttl,
});
export const a = (data: string, ttl?: number): ZoneRecord => ({ type: 'A', data, ttl });
export const aaaa = (data: string, ttl?: number): ZoneRecord => ({ type: 'AAAA', data, ttl });
export const cname = (data: string, ttl?: number): ZoneRecord => ({ type: 'CNAME', data, ttl });
export const txt = (...data: Array<string | Uint8Array>): ZoneRecord => ({ type: 'TXT', data });
export const soa = (minimum: number, ttl = 3600): ZoneRecord => ({ type: 'SOA', minimum, ttl });

const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 } as const;

function entryOf(zone: Zone, name: string): ZoneEntry | undefined {
  const e = zone[name];
  return Array.isArray(e) ? { records: e } : e;
}

function toAnswer(name: string, r: ZoneRecord): Answer {
  const ttl = r.ttl ?? 300;
  switch (r.type) {
    case 'MX':
      return { type: 'MX', name, ttl, data: { preference: r.preference, exchange: r.exchange } };
    case 'TXT':
      return { type: 'TXT', name, ttl, data: r.data.map((d) => (typeof d === 'string' ? d : Buffer.from(d))) };
    case 'SOA':
      return {
        type: 'SOA',
        name,
        ttl,
        data: { mname: `ns.${name}`, rname: `hostmaster.${name}`, serial: 1, minimum: r.minimum },
      };
    default:
      return { type: r.type, name, ttl, data: r.data };
  }
}

/** The answer to one query, or null for silence. Pure: the zone and the transport decide. */
function answer(zone: Zone, opts: DnsServerOptions, query: DecodedPacket, transport: 'udp' | 'tcp'): Packet | null {
  const q = query.questions?.[0];
  const reply = (rcode: number, parts: Partial<Packet> = {}, flags = 0): Packet => ({
    type: 'response',
    id: query.id,
    flags: dnsPacket.AUTHORITATIVE_ANSWER | ((query.flags ?? 0) & dnsPacket.RECURSION_DESIRED) | flags | rcode,
    questions: query.questions,
    ...parts,
  });
  if (!q) return reply(RCODE.FORMERR);
  const name = q.name.toLowerCase().replace(/\.$/, '');
  const own = entryOf(zone, name);
  const misbehaves = own?.behaviour && (!own.types || own.types.includes(q.type)) ? own.behaviour : undefined;
  switch (misbehaves) {
    case 'timeout':
      return null;
    case 'servfail':
      return reply(RCODE.SERVFAIL);
    case 'refused':
      return reply(RCODE.REFUSED);
    case 'formerr':
      return reply(RCODE.FORMERR);
    case 'no-edns':
      if ((query.additionals ?? []).some((r) => r.type === 'OPT')) return reply(RCODE.FORMERR, { questions: [] });
      break;
    case 'truncate-udp':
      if (transport === 'udp') return reply(RCODE.NOERROR, {}, dnsPacket.TRUNCATED_RESPONSE);
      break;
  }
  const answers: Answer[] = [];
  let current = name;
  for (let hop = 0; hop < 16; hop++) {
    const entry = entryOf(zone, current);
    // RFC 6604: after a CNAME the RCODE describes the last name of the chain.
    if (!entry) return reply(RCODE.NXDOMAIN, { answers, authorities: negativeSoa(zone, opts, current) });
    const records = entry.records ?? [];
    const matching = records.filter((r) => r.type === q.type);
    if (matching.length > 0) {
      return reply(RCODE.NOERROR, { answers: [...answers, ...matching.map((r) => toAnswer(current, r))] });
    }
    const alias = records.find((r) => r.type === 'CNAME');
    if (!alias || q.type === 'CNAME') break;
    answers.push(toAnswer(current, alias));
    if (entry.behaviour === 'cname-only') return reply(RCODE.NOERROR, { answers });
    current = (alias as { data: string }).data.toLowerCase();
  }
  return reply(RCODE.NOERROR, { answers, authorities: negativeSoa(zone, opts, current) });
}

/** The SOA of the closest enclosing apex in the zone, else the default one (RFC 2308 §3). */
function negativeSoa(zone: Zone, opts: DnsServerOptions, name: string): Answer[] {
  const labels = name.split('.');
  for (let i = 0; i < labels.length; i++) {
    const apex = labels.slice(i).join('.');
    const s = entryOf(zone, apex)?.records?.find((r) => r.type === 'SOA');
    if (s) return [toAnswer(apex, s)];
  }
  if (opts.defaultSoa === false) return [];
  const d = opts.defaultSoa ?? { minimum: 30, ttl: 3600 };
  return [toAnswer('test', { type: 'SOA', minimum: d.minimum, ttl: d.ttl })];
}

function encodeOrNull(
  zone: Zone,
  opts: DnsServerOptions,
  bytes: Uint8Array,
  transport: 'udp' | 'tcp',
  log: TestDnsServer['queries'],
): Uint8Array | null {
  let query: DecodedPacket;
  try {
    query = dnsPacket.decode(Buffer.from(bytes));
  } catch {
    return null;
  }
  const q = query.questions?.[0];
  if (q) log.push({ name: q.name.toLowerCase(), type: q.type, transport });
  const r = answer(zone, opts, query, transport);
  return r ? dnsPacket.encode(r) : null;
}

/** Starts the server on 127.0.0.1, UDP and TCP on the same ephemeral port. */
export async function startDnsServer(initial: Zone, opts: DnsServerOptions = {}): Promise<TestDnsServer> {
  let zone = initial;
  const queries: TestDnsServer['queries'] = [];
  const sockets = new Set<net.Socket>();
  for (let tries = 0;; tries++) {
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(0, '127.0.0.1', () => resolve());
    });
    const port = udp.address().port;
    const tcp = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => socket.destroy());
      let buffered = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
          const length = buffered.readUInt16BE(0);
          const out = encodeOrNull(zone, opts, buffered.subarray(2, 2 + length), 'tcp', queries);
          buffered = buffered.subarray(2 + length);
          if (out) {
            const framed = Buffer.alloc(out.length + 2);
            framed.writeUInt16BE(out.length, 0);
            framed.set(out, 2);
            socket.write(framed);
          }
        }
      });
    });
    const listening = await new Promise<boolean>((resolve) => {
      tcp.once('error', () => resolve(false));
      tcp.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (!listening) {
      // The TCP port of that number is taken: try another pair.
      udp.close();
      if (tries > 20) throw new Error('no free UDP+TCP port pair on 127.0.0.1');
      continue;
    }
    udp.on('message', (msg: Buffer, rinfo: dgram.RemoteInfo) => {
      const out = encodeOrNull(zone, opts, msg, 'udp', queries);
      if (out) udp.send(out, rinfo.port, rinfo.address);
    });
    return {
      port,
      address: '127.0.0.1',
      server: `127.0.0.1:${port}`,
      setZone: (z) => {
        zone = z;
      },
      queries,
      close: async () => {
        for (const s of sockets) s.destroy();
        await Promise.all([
          new Promise<void>((resolve) => udp.close(() => resolve())),
          new Promise<void>((resolve) => tcp.close(() => resolve())),
        ]);
      },
    };
  }
}
