// The address syntaxes of delivery settings (next hops, smarthost, LMTP targets, DNS servers), shared by
// validation and by the code that acts on them, so a value that validates is a value the router understands.

import type { NextHop, TlsPolicy } from '../delivery/types.ts';
import { parseIp } from '../lib/cidr.ts';
import { isDomainName } from '../lib/domain.ts';
import type { Parsed } from '../lib/units.ts';

/** The port SMTP uses between MTAs (RFC 5321 §4.5.4.2 and the IANA registry). */
export const SMTP_PORT = 25;
/** The port DNS servers listen on (RFC 1035 §4.2). */
export const DNS_PORT = 53;

/** The TLS policies, weakest first (delivery.tls, delivery.smarthost_tls, a route's tls). */
export const TLS_POLICIES: readonly TlsPolicy[] = ['none', 'opportunistic', 'require', 'verify'];

/** Policies under which a password may be sent: TLS is required, so it never crosses the network in clear. */
export const isTlsRequired = (p: TlsPolicy): boolean => p === 'require' || p === 'verify';

const NEXT_HOP_FORMS = '"mx", "mx:PORT", "smtp:[HOST]:PORT", "smtp:HOST:PORT", "smtp:HOST", "lmtp:HOST:PORT" ' +
  'or "lmtp:unix:/path"';

/** A relay host: "[HOST]" is used as it is, a bare HOST is a domain whose MX hosts are used (Postfix syntax). */
export interface RelayHost {
  host: string;
  port: number;
  lookupMx: boolean;
}

/**
 * A transport-map next hop ([[routes]] next_hop):
 *   "mx" / "mx:PORT"          the recipient domain's MX hosts (RFC 5321 §5.1) on defaultPort / PORT
 *   "smtp:[HOST]:PORT"        HOST itself (a name or IP address), no MX lookup; ":PORT" optional
 *   "smtp:HOST:PORT"          the MX hosts of the domain HOST; ":PORT" optional
 *   "lmtp:HOST:PORT"          an LMTP server over TCP (RFC 2033); the port is required (LMTP has none of its own)
 *   "lmtp:unix:/abs/path"     an LMTP server on a Unix socket (Dovecot's usual setup)
 * defaultPort is what "mx" and a port-less "smtp:" use: delivery.smtp_port (25 unless overridden for tests).
 */
export function parseNextHop(text: string, defaultPort: number = SMTP_PORT): Parsed<NextHop> {
  const colon = text.indexOf(':');
  const scheme = (colon < 0 ? text : text.slice(0, colon)).toLowerCase();
  const rest = colon < 0 ? null : text.slice(colon + 1);
  const wrap = (r: Parsed<NextHop>): Parsed<NextHop> => (r.ok ? r : { ok: false, error: `"${text}" ${r.error}` });
  switch (scheme) {
    case 'mx': {
      if (rest === null) return { ok: true, value: { kind: 'mx', port: defaultPort } };
      const port = parsePort(rest);
      return port.ok ? { ok: true, value: { kind: 'mx', port: port.value } } : wrap(port);
    }
    case 'smtp': {
      if (!rest) break;
      const r = parseRelayHost(rest, defaultPort);
      return r.ok ? { ok: true, value: { kind: 'smtp', ...r.value } } : wrap(r);
    }
    case 'lmtp': {
      if (!rest) break;
      return wrap(parseLmtp(rest));
    }
  }
  return { ok: false, error: `"${text}" is not a next hop: use ${NEXT_HOP_FORMS}` };
}

/**
 * delivery.smarthost: "[HOST]:PORT" (that host) or "HOST:PORT" (the MX hosts of HOST), the port optional
 * (defaultPort): the same syntax as a "smtp:" next hop, so it gives a NextHop of kind 'smtp'.
 */
export function parseSmarthost(text: string, defaultPort: number = SMTP_PORT): Parsed<NextHop> {
  const r = parseRelayHost(text, defaultPort);
  return r.ok ? { ok: true, value: { kind: 'smtp', ...r.value } } : { ok: false, error: `"${text}" ${r.error}` };
}

/** A domain's lmtp setting, "HOST:PORT", "[v6]:PORT" or "unix:/abs/path" (the next hop "lmtp:" without its scheme). */
export function parseLmtpTarget(text: string): Parsed<NextHop> {
  const r = parseLmtp(text);
  return r.ok ? r : { ok: false, error: `"${text}" ${r.error}` };
}

/** A dns.servers entry: "IP", "IP:PORT" or "[v6]:PORT"; a resolver is addressed by IP (no resolver finds it). */
export function parseDnsServer(text: string): Parsed<{ host: string; port: number }> {
  if (parseIp(text)) return { ok: true, value: { host: text, port: DNS_PORT } };
  const bad = { ok: false as const, error: `"${text}" must be an IP address, "IP:PORT" or "[IPv6]:PORT"` };
  const split = splitHostPort(text);
  if (!split.ok || split.value.portText === null || !parseIp(split.value.host)) return bad;
  const port = parsePort(split.value.portText);
  return port.ok ? { ok: true, value: { host: split.value.host, port: port.value } } : { ...bad, error: port.error };
}

function parseLmtp(rest: string): Parsed<NextHop> {
  if (rest.toLowerCase().startsWith('unix:')) {
    const path = rest.slice(5);
    // A relative socket path would depend on the daemon's working directory; NUL cannot be in a path.
    if (!path.startsWith('/') || path.includes('\0')) return { ok: false, error: 'needs an absolute socket path' };
    return { ok: true, value: { kind: 'lmtp-unix', path } };
  }
  const split = splitHostPort(rest);
  if (!split.ok) return split;
  const { host, portText } = split.value;
  // LMTP has no port of its own, so one is required; and RFC 2033 §5: it "MUST NOT be used on the TCP service
  // port 25": an LMTP client talking to an SMTP server would misread its one reply after DATA.
  if (portText === null) return { ok: false, error: 'needs a port: LMTP has no standard one (Dovecot uses 24)' };
  const port = parsePort(portText);
  if (!port.ok) return port;
  if (port.value === SMTP_PORT) return { ok: false, error: 'uses port 25, which LMTP must not use (RFC 2033 §5)' };
  return { ok: true, value: { kind: 'lmtp', host, port: port.value } };
}

function parseRelayHost(text: string, defaultPort: number): Parsed<RelayHost> {
  const split = splitHostPort(text);
  if (!split.ok) return split;
  const { host, bracketed, portText } = split.value;
  // An address has no MX records: "smtp:192.0.2.1" is almost surely meant as "smtp:[192.0.2.1]".
  if (!bracketed && parseIp(host)) {
    return { ok: false, error: `names an IP address without brackets: write "[${host}]" (brackets = no MX lookup)` };
  }
  const port = portText === null ? { ok: true as const, value: defaultPort } : parsePort(portText);
  if (!port.ok) return port;
  return { ok: true, value: { host, port: port.value, lookupMx: !bracketed } };
}

interface Split {
  host: string;
  bracketed: boolean;
  portText: string | null;
}

/** "host", "host:port", "[host]", "[host]:port"; inside brackets an IP address (v4 or v6) or a host name. */
function splitHostPort(text: string): Parsed<Split> {
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    const after = close < 0 ? '' : text.slice(close + 1);
    if (close < 0 || (after !== '' && !after.startsWith(':'))) {
      return { ok: false, error: 'must look like "[HOST]" or "[HOST]:PORT"' };
    }
    const host = text.slice(1, close);
    if (!parseIp(host) && !isDomainName(host)) return { ok: false, error: `has an invalid host "${host}"` };
    return { ok: true, value: { host, bracketed: true, portText: after === '' ? null : after.slice(1) } };
  }
  const parts = text.split(':');
  // "2001:db8::1:25" could be an address and a port or an address alone: brackets say which.
  if (parts.length > 2) return { ok: false, error: 'needs brackets around an IPv6 address, e.g. "[2001:db8::1]:25"' };
  const [host, portText = null] = parts;
  if (!parseIp(host) && !isDomainName(host)) {
    return { ok: false, error: `has an invalid host "${host}" (a host name, or an IP address in brackets)` };
  }
  return { ok: true, value: { host, bracketed: false, portText } };
}

function parsePort(text: string): Parsed<number> {
  const n = Number(text);
  // Port 0 means "any port" only when listening; no server is reachable on it.
  return /^\d{1,5}$/.test(text) && n >= 1 && n <= 65535
    ? { ok: true, value: n }
    : { ok: false, error: `has an invalid port "${text}" (1 to 65535)` };
}
