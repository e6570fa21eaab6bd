// The validation the daemon and the setup wizard both run on a Config: types, ranges, syntax, unsafe settings.

import { type Cidr, ipv4PrefixOf, parseCidr } from '../lib/cidr.ts';
import { isDomainName } from '../lib/domain.ts';
import { parseHostPort } from '../lib/hostport.ts';
import { LOG_FORMATS, LOG_LEVELS } from '../lib/log.ts';
import { formatDuration, formatSize } from '../lib/units.ts';
import { checkDomains, checkDomainTypes, domainWarnings } from './domains.ts';
import { CONFIG_KEYS, type KeyKind } from './keys.ts';
import { checkRoutes, checkRouteTypes, routeWarnings } from './routes.ts';
import type { Config } from './schema.ts';
import { abuseWarnings, checkAbuse } from './validate-abuse.ts';
import { authWarnings, checkAuth } from './validate-auth.ts';
import { checkDelivery, deliveryWarnings } from './validate-delivery.ts';

/** One thing wrong with one key; `key` is the dotted TOML name. */
export interface Problem {
  key: string;
  message: string;
}

/** Every problem as "smtp.max_recipients: must be at least 100 (RFC 5321 §4.5.3.1.8), got 10"; empty = valid. */
export function validateConfig(config: Config): string[] {
  return checkConfig(config).map((p) => `${p.key}: ${p.message}`);
}

/** Structured form of validateConfig, so load.ts can add where each bad value came from. */
export function checkConfig(config: Config): Problem[] {
  const typeProblems = checkTypes(config);
  // The range checks below assume the types are right; report type errors alone first.
  return typeProblems.length ? typeProblems : checkValues(config);
}

const TYPE_OK: Record<KeyKind, (v: unknown) => boolean> = {
  string: (v) => typeof v === 'string',
  boolean: (v) => typeof v === 'boolean',
  list: (v) => Array.isArray(v) && v.every((x) => typeof x === 'string'),
  durations: (v) => Array.isArray(v) && v.every((x) => Number.isSafeInteger(x) && x >= 0),
  integer: (v) => Number.isSafeInteger(v) && (v as number) >= 0,
  duration: (v) => Number.isSafeInteger(v) && (v as number) >= 0,
  size: (v) => Number.isSafeInteger(v) && (v as number) >= 0,
};

const TYPE_NAME: Partial<Record<KeyKind, string>> = {
  list: 'list of strings',
  integer: 'whole number',
  durations: 'list of durations (milliseconds)',
};

function checkTypes(config: Config): Problem[] {
  const out: Problem[] = [];
  for (const key of CONFIG_KEYS) {
    let v: unknown = config;
    for (const part of key.path) v = (v as Record<string, unknown> | undefined)?.[part];
    const kind = TYPE_NAME[key.kind] ?? key.kind;
    if (!TYPE_OK[key.kind](v)) out.push({ key: key.toml, message: `must be a ${kind}, got ${JSON.stringify(v)}` });
  }
  // [[routes]] and [domains] are not in CONFIG_KEYS (no fixed keys): their entries are checked field by field.
  out.push(...checkRouteTypes(config.routes), ...checkDomainTypes(config.domains));
  return out;
}

function checkValues(c: Config): Problem[] {
  const out: Problem[] = [];
  const bad = (key: string, message: string) => out.push({ key, message });
  // Sizes and durations are shown in the units an operator writes ("64KiB", "1s"), counts as plain numbers.
  const atLeast = (key: string, v: number, min: number, why = '', show: (n: number) => string = String) => {
    if (v < min) bad(key, `must be at least ${show(min)}${why ? ` (${why})` : ''}, got ${show(v)}`);
  };

  if (!isDomainName(c.hostname)) {
    bad('hostname', `must be a domain name such as "mail.example.com", got ${JSON.stringify(c.hostname)}`);
  }
  if (c.dataDir === '') bad('data_dir', 'must not be empty');

  if (c.database.url !== '' && !/^postgres(ql)?:\/\/./.test(c.database.url)) {
    // The URL may hold a password: don't echo it.
    bad('database.url', 'must be empty (embedded PGlite) or a postgres:// or postgresql:// URL');
  }
  atLeast('database.pool_size', c.database.poolSize, 1);

  checkListeners(c, bad);

  if ((c.tls.certFile === '') !== (c.tls.keyFile === '')) {
    bad(
      c.tls.certFile === '' ? 'tls.cert_file' : 'tls.key_file',
      'tls.cert_file and tls.key_file must be set together (both empty = self-signed)',
    );
  }

  atLeast('smtp.max_message_size', c.smtp.maxMessageSize, 65536, 'RFC 5321 §4.5.3.1.7', formatSize);
  atLeast('smtp.max_recipients', c.smtp.maxRecipients, 100, 'RFC 5321 §4.5.3.1.8');
  atLeast('smtp.max_received_headers', c.smtp.maxReceivedHeaders, 1, 'RFC 5321 §6.3 loop detection');
  atLeast('smtp.max_bad_commands', c.smtp.maxBadCommands, 1);
  atLeast('smtp.max_command_line', c.smtp.maxCommandLine, 512, 'RFC 5321 §4.5.3.1.4');
  if (c.smtp.vrfy !== 'ambiguous' && c.smtp.vrfy !== 'disabled') {
    bad('smtp.vrfy', `must be "ambiguous" or "disabled", got ${JSON.stringify(c.smtp.vrfy)}`);
  }
  atLeast('smtp.command_timeout', c.smtp.commandTimeout, 1000, '', formatDuration);
  atLeast('smtp.data_timeout', c.smtp.dataTimeout, 1000, '', formatDuration);

  for (
    const [key, list] of [
      ['relay.local_domains', c.relay.localDomains],
      ['relay.relay_domains', c.relay.relayDomains],
    ] as const
  ) {
    for (const d of list) {
      if (!isDomainName(d)) bad(key, `${JSON.stringify(d)} is not a domain name (use the xn-- form for IDNs)`);
      else if (d !== d.toLowerCase()) bad(key, `${JSON.stringify(d)} must be lower-case`);
    }
  }
  checkTrustedNetworks(c, bad);

  atLeast('limits.max_connections', c.limits.maxConnections, 1);
  atLeast('limits.max_connections_per_ip', c.limits.maxConnectionsPerIp, 1);
  if (c.limits.maxConnections >= 1 && c.limits.maxConnectionsPerIp > c.limits.maxConnections) {
    bad(
      'limits.max_connections_per_ip',
      `must not exceed limits.max_connections (${c.limits.maxConnections}), got ${c.limits.maxConnectionsPerIp}`,
    );
  }
  // A message is buffered while it arrives: a budget below one message would refuse every large one with 452.
  if (c.limits.maxInflightBytes < c.smtp.maxMessageSize) {
    bad(
      'limits.max_inflight_bytes',
      `must be at least smtp.max_message_size (${formatSize(c.smtp.maxMessageSize)}), got ${
        formatSize(c.limits.maxInflightBytes)
      }`,
    );
  }

  out.push(...checkDelivery(c), ...checkRoutes(c), ...checkDomains(c), ...checkAuth(c), ...checkAbuse(c));

  if (!LOG_FORMATS.includes(c.log.format)) {
    bad('log.format', `must be "text" or "json", got ${JSON.stringify(c.log.format)}`);
  }
  if (!LOG_LEVELS.includes(c.log.level)) {
    bad(
      'log.level',
      `must be one of ${LOG_LEVELS.map((l) => `"${l}"`).join(', ')}, got ${JSON.stringify(c.log.level)}`,
    );
  }
  return out;
}

function checkListeners(c: Config, bad: (key: string, message: string) => void): void {
  const seen = new Map<string, string>();
  const entries: Array<[string, string]> = [
    ['listeners.mx.address', c.listeners.mx.address],
    ['listeners.submission.address', c.listeners.submission.address],
    ['listeners.submissions.address', c.listeners.submissions.address],
    ['console.address', c.console.address],
  ];
  for (const [key, address] of entries) {
    if (address === '') continue; // disabled
    const r = parseHostPort(address);
    if (!r.ok) {
      bad(key, r.error);
      continue;
    }
    // Port 0 is "any free port", so two of them never clash.
    const id = `${r.value.host.toLowerCase()}:${r.value.port}`;
    const other = seen.get(id);
    if (other && r.value.port !== 0) bad(key, `"${address}" is already used by ${other}`);
    seen.set(id, key);
  }
}

/**
 * True when a trusted block is so wide that strangers could relay: wider than an IPv4 /8, or wider than an
 * IPv6 /16 and reaching into global unicast 2000::/3 (fc00::/7 and fe80::/10 are private and stay allowed).
 */
export function isOpenRelayBlock(c: Cidr): boolean {
  const v4 = ipv4PrefixOf(c);
  if (v4 !== null && v4 < 8) return true;
  const p = Math.min(c.prefix, 3);
  const mask = p === 0 ? 0 : (0xffffffff << (32 - p)) >>> 0;
  const reachesGlobal = ((c.words[0] ^ 0x20000000) & mask) === 0;
  return c.prefix < 16 && reachesGlobal;
}

function checkTrustedNetworks(c: Config, bad: (key: string, message: string) => void): void {
  for (const text of c.relay.trustedNetworks) {
    const r = parseCidr(text);
    if (!r.ok) bad('relay.trusted_networks', r.error);
    else if (isOpenRelayBlock(r.value) && !c.relay.iKnowThisIsAnOpenRelay) {
      bad(
        'relay.trusted_networks',
        `"${text}" lets most of the Internet relay mail through this server (an open ` +
          'relay, soon blocklisted); if that is really meant, also set relay.i_know_this_is_an_open_relay = true',
      );
    }
  }
}

/**
 * Settings that are allowed but that an operator must hear about at every start (log them at warn): an open
 * relay that was explicitly allowed, timeouts below what RFC 5321 asks for. Assumes a valid config.
 */
export function configWarnings(c: Config): string[] {
  const out: string[] = [];
  const open = c.relay.trustedNetworks.filter((t) => {
    const r = parseCidr(t);
    return r.ok && isOpenRelayBlock(r.value);
  });
  if (open.length) {
    out.push(
      `relay.trusted_networks: OPEN RELAY: ${open.join(', ')} may send mail anywhere through this server ` +
        '(relay.i_know_this_is_an_open_relay = true)',
    );
  }
  // RFC 5321 §4.5.3.2.7: a server SHOULD wait at least 5 minutes for the next command; a client may take 3
  // minutes over each block of data (§4.5.3.2.5). Shorter timeouts drop slow but legitimate senders.
  if (c.smtp.commandTimeout < 300_000) {
    out.push(
      `smtp.command_timeout: ${
        formatDuration(c.smtp.commandTimeout)
      } is below the 5 minutes RFC 5321 §4.5.3.2.7 asks for`,
    );
  }
  if (c.smtp.dataTimeout < 180_000) {
    out.push(
      `smtp.data_timeout: ${
        formatDuration(c.smtp.dataTimeout)
      } is below the 3 minutes a client may take per data block (RFC 5321 §4.5.3.2.5)`,
    );
  }
  out.push(...deliveryWarnings(c), ...routeWarnings(c), ...domainWarnings(c), ...authWarnings(c), ...abuseWarnings(c));
  return out;
}
