// Shared fakes for the policy tests: a config with abuse settings, a scripted Resolver, a recording log, connections.
import { defaults } from '../../../src/config/defaults.ts';
import type { Config } from '../../../src/config/schema.ts';
import type { DnsAnswer, DnsFailure, MxRecord, Resolver } from '../../../src/dns/types.ts';
import { createLogger, type Logger } from '../../../src/lib/log.ts';
import type { ConnectionInfo, PolicyQuery, PolicyVerdict } from '../../../src/smtp/types.ts';
import { openTestStore, type TestStore } from '../../support/db.ts';

/** A mutable copy of the defaults with these abuse settings (everything else as shipped). */
export function abuseConfig(abuse: Partial<Config['abuse']> = {}, extra: Partial<Config> = {}): Config {
  const c = structuredClone(defaults) as Config;
  c.hostname = 'mx.example.net';
  c.relay.localDomains = ['example.net'];
  Object.assign(c.abuse, abuse);
  return Object.assign(c, extra);
}

/** name -> A records, or a failure; TXT likewise. Unknown names answer NXDOMAIN. Every query is recorded. */
export interface FakeDns {
  a: Record<string, string[] | DnsFailure>;
  txt: Record<string, string[] | DnsFailure>;
  /** ms each answer takes (per name), to prove ordering does not depend on speed. */
  delay?: Record<string, number>;
}

export function fakeResolver(dns: FakeDns): Resolver & { asked: string[] } {
  const asked: string[] = [];
  const answer = async (table: Record<string, string[] | DnsFailure>, name: string): Promise<DnsAnswer<string>> => {
    asked.push(name);
    const ms = dns.delay?.[name] ?? 0;
    if (ms > 0) await new Promise((r) => setTimeout(r, ms));
    const v = table[name];
    if (v === undefined) return { ok: false, error: 'nxdomain', message: `${name}: NXDOMAIN` };
    if (typeof v === 'string') return { ok: false, error: v, message: `${name}: ${v}` };
    return { ok: true, records: v, ttl: 300 };
  };
  return {
    asked,
    mx: (): Promise<DnsAnswer<MxRecord>> => Promise.resolve({ ok: false, error: 'nodata', message: 'none' }),
    a: (name) => answer(dns.a, name),
    aaaa: (): Promise<DnsAnswer<string>> => Promise.resolve({ ok: false, error: 'nodata', message: 'none' }),
    txt: (name) => answer(dns.txt, name),
  };
}

/** Log lines, parsed from JSON, for assertions about what operators see. */
export function recordingLog(): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const log = createLogger({ format: 'json', level: 'debug', write: (l) => lines.push(JSON.parse(l)) });
  return { log, lines };
}

/** A stranger connecting to the MX listener from ip. */
export function mxConn(ip: string, over: Partial<ConnectionInfo> = {}): ConnectionInfo {
  return {
    remoteAddress: ip,
    remotePort: 40000,
    localAddress: '192.0.2.25',
    localPort: 25,
    listener: 'mx',
    tls: null,
    trusted: false,
    ...over,
  };
}

const base: PolicyQuery = { stage: 'connect', helo: null, sender: null, recipient: null, authUser: null };
export const q = {
  connect: (): PolicyQuery => ({ ...base }),
  helo: (helo: string): PolicyQuery => ({ ...base, stage: 'helo', helo }),
  mail: (sender: string, authUser: string | null = null): PolicyQuery => ({
    ...base,
    stage: 'mail',
    helo: 'client.example.org',
    sender,
    authUser,
  }),
  rcpt: (sender: string, recipient: string, authUser: string | null = null): PolicyQuery => ({
    ...base,
    stage: 'rcpt',
    helo: 'client.example.org',
    sender,
    recipient,
    authUser,
  }),
};

/** A clock tests step by hand. */
export function fakeClock(start = Date.UTC(2026, 10, 28, 12, 0, 0)): { now: () => number; advance(ms: number): void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

/** "accept", or "<action> <code> <status> <text>": one string to compare a verdict against. */
export function replyOf(v: PolicyVerdict): string {
  return v.action === 'accept' ? 'accept' : `${v.action} ${v.reply.code} ${v.reply.status} ${v.reply.text}`;
}

/**
 * One test store per file, opened by the first test that asks (with that test's timeout: Bun ignores the
 * timeout option of before() hooks, and opening PGlite can take longer than its default 5 s).
 */
export function lazyStore(): { get(): Promise<TestStore>; cleanup(): Promise<void> } {
  let opening: Promise<TestStore> | null = null;
  return {
    get: () => (opening ??= openTestStore()),
    async cleanup() {
      if (opening) await (await opening).cleanup();
    },
  };
}
