// Parses listen addresses "host:port" and "[v6]:port", the form every listener in the configuration uses.

import { parseIp } from './cidr.ts';
import { isDomainName } from './domain.ts';

export interface HostPort {
  /** IPv4 dotted, IPv6 without brackets, or a host name such as "localhost". */
  host: string;
  /** 0 to 65535; 0 asks the system for any free port (useful in tests). */
  port: number;
}

/** The host and port of a listen address, or a message saying what is wrong with it. */
export function parseHostPort(text: string): { ok: true; value: HostPort } | { ok: false; error: string } {
  const bad = (why: string) => ({ ok: false as const, error: `"${text}" ${why}` });
  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0 || text[close + 1] !== ':') return bad('must look like "[::1]:25"');
    host = text.slice(1, close);
    portText = text.slice(close + 2);
    if (!host.includes(':') || !parseIp(host)) return bad('has an invalid IPv6 address in brackets');
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) return bad('must look like "host:port", e.g. "0.0.0.0:25"');
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    // An unbracketed IPv6 address is ambiguous ("::1:25" could be ::1 port 25 or ::1:25 with no port).
    if (host.includes(':')) return bad('needs brackets around an IPv6 address, e.g. "[::]:25"');
    if (!parseIp(host) && !isDomainName(host)) return bad('has an invalid host (an IP address or a host name)');
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) return bad('has an invalid port (0 to 65535)');
  return { ok: true, value: { host, port: Number(portText) } };
}
