// Which DNS servers to ask: the configured "IP", "IP:PORT" or "[v6]:PORT" entries, else /etc/resolv.conf's nameservers.
import { readFileSync } from 'node:fs';
import { parseIp } from '../lib/cidr.ts';
import type { NameServer } from './transport.ts';

const DNS_PORT = 53;

/** Reads one server entry; null when it is not an IP address with an optional port (names would need DNS). */
export function parseServer(text: string): NameServer | null {
  const t = text.trim();
  let host = t;
  let port = DNS_PORT;
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(t);
  if (bracketed) {
    host = bracketed[1];
    if (bracketed[2] !== undefined) port = Number(bracketed[2]);
  } else if (/^[\d.]+:\d{1,5}$/.test(t)) {
    const colon = t.lastIndexOf(':');
    host = t.slice(0, colon);
    port = Number(t.slice(colon + 1));
  }
  // A bare IPv6 address ("::1", "2001:db8::53") is taken whole: with several colons a port cannot be told apart.
  if (port < 1 || port > 65535 || !parseIp(host)) return null;
  if (host.includes('%')) return null; // link-local with a zone: node:dgram's send() does not take one everywhere
  return { host, port, family: host.includes(':') ? 6 : 4 };
}

/** The `nameserver` lines of a resolv.conf(5) text, in order; other options are left to Tern's own settings. */
export function parseResolvConf(text: string): NameServer[] {
  const servers: NameServer[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const m = /^nameserver\s+(\S+)$/.exec(line);
    if (!m) continue;
    const s = parseServer(m[1]);
    if (s) servers.push(s);
  }
  return servers;
}

/**
 * The servers to use: the configured entries (invalid ones are reported by config validation and skipped here),
 * else the system's resolv.conf, else 127.0.0.1 as resolv.conf(5) itself defaults to.
 */
export function chooseServers(configured: readonly string[], resolvConfPath = '/etc/resolv.conf'): NameServer[] {
  if (configured.length > 0) {
    return configured.map(parseServer).filter((s): s is NameServer => s !== null);
  }
  let fromFile: NameServer[] = [];
  try {
    fromFile = parseResolvConf(readFileSync(resolvConfPath, 'utf8'));
  } catch {
    // No resolv.conf (containers, Windows): the documented default below applies.
  }
  return fromFile.length > 0 ? fromFile : [{ host: '127.0.0.1', port: DNS_PORT, family: 4 }];
}
