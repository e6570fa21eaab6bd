// Validation of the outbound side's settings: [delivery] and [dns], plus the one file check (delivery.ca_file).

import { readFileSync } from 'node:fs';
import { parseIp } from '../lib/cidr.ts';
import { isDomainName } from '../lib/domain.ts';
import { formatDuration, formatSize } from '../lib/units.ts';
import { isTlsRequired, parseDnsServer, parseSmarthost, TLS_POLICIES } from './next-hop.ts';
import type { Config, TlsPolicyName } from './schema.ts';
import type { Problem } from './validate.ts';

type Bad = (key: string, message: string) => void;

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** Ranges, enums and syntax of [delivery] and [dns]; assumes the types are right. */
export function checkDelivery(c: Config): Problem[] {
  const out: Problem[] = [];
  const bad: Bad = (key, message) => out.push({ key, message });
  const d = c.delivery;
  const atLeast = (key: string, v: number, min: number, why = '', show: (n: number) => string = String) => {
    if (v < min) bad(key, `must be at least ${show(min)}${why ? ` (${why})` : ''}, got ${show(v)}`);
  };

  atLeast('delivery.concurrency', d.concurrency, 1);
  atLeast('delivery.destination_concurrency', d.destinationConcurrency, 1);
  if (d.concurrency >= 1 && d.destinationConcurrency > d.concurrency) {
    bad(
      'delivery.destination_concurrency',
      `must not exceed delivery.concurrency (${d.concurrency}), got ${d.destinationConcurrency}`,
    );
  }
  // §4.5.4.1: "The sender MUST delay retrying a particular destination after one attempt has failed."
  if (d.retrySchedule.length === 0) bad('delivery.retry_schedule', 'must list at least one delay, e.g. ["5m", "1h"]');
  for (const delay of d.retrySchedule) {
    atLeast('delivery.retry_schedule', delay, SECOND, 'RFC 5321 §4.5.4.1: retries must be delayed', formatDuration);
  }
  // §4.5.4.1: "the give-up time generally needs to be at least 4-5 days"; under an hour, a short outage bounces mail.
  atLeast('delivery.max_queue_lifetime', d.maxQueueLifetime, HOUR, '', formatDuration);
  if (d.delayWarning !== 0 && d.delayWarning >= d.maxQueueLifetime) {
    bad(
      'delivery.delay_warning',
      `must be 0 (never) or less than delivery.max_queue_lifetime (${formatDuration(d.maxQueueLifetime)}), ` +
        `got ${formatDuration(d.delayWarning)}`,
    );
  }
  // Leases are renewed every third of their length while a job waits or runs, so a short one is safe on a
  // healthy node; it only shortens how long a crashed node's claims stay blocked. Below 30s is warned about.
  atLeast('delivery.lease', d.lease, SECOND, '', formatDuration);
  if (d.smtpPort < 1 || d.smtpPort > 65535) bad('delivery.smtp_port', `must be 1 to 65535, got ${d.smtpPort}`);
  if (d.heloName !== '' && !isHeloName(d.heloName)) {
    bad('delivery.helo_name', `must be "" (hostname), a domain name or an address literal, got "${d.heloName}"`);
  }
  for (const [key, v] of [['delivery.tls', d.tls], ['delivery.smarthost_tls', d.smarthostTls]] as const) {
    if (!TLS_POLICIES.includes(v)) bad(key, `must be ${TLS_POLICIES.map((p) => `"${p}"`).join(', ')}, got "${v}"`);
  }
  checkSmarthost(c, bad);
  atLeast('delivery.connect_timeout', d.connectTimeout, SECOND, '', formatDuration);
  atLeast('delivery.command_timeout', d.commandTimeout, SECOND, '', formatDuration);
  atLeast('delivery.data_timeout', d.dataTimeout, SECOND, '', formatDuration);
  // Under one message size the budget would make every large message wait for an idle node.
  atLeast('delivery.max_inflight_bytes', d.maxInflightBytes, 1024 * 1024, '', formatSize);

  for (const server of c.dns.servers) {
    const r = parseDnsServer(server);
    if (!r.ok) bad('dns.servers', r.error);
  }
  atLeast('dns.timeout', c.dns.timeout, 100, '', formatDuration);
  atLeast('dns.attempts', c.dns.attempts, 1);
  return out;
}

/** EHLO's argument: a domain or an address literal (RFC 5321 §4.1.4, §4.1.3). */
function isHeloName(name: string): boolean {
  if (isDomainName(name)) return true;
  const literal = /^\[(?:IPv6:)?([^\]]+)\]$/i.exec(name);
  return literal !== null && parseIp(literal[1]) !== null;
}

function checkSmarthost(c: Config, bad: Bad): void {
  const d = c.delivery;
  if (d.smarthost !== '') {
    const r = parseSmarthost(d.smarthost, d.smtpPort);
    if (!r.ok) bad('delivery.smarthost', r.error);
  }
  if (d.smarthostUser === '' && d.smarthostPassword === '') return;
  if (d.smarthostUser === '' || d.smarthostPassword === '') {
    bad(
      d.smarthostUser === '' ? 'delivery.smarthost_user' : 'delivery.smarthost_password',
      'delivery.smarthost_user and delivery.smarthost_password must be set together',
    );
  } else if (d.smarthost === '') {
    bad('delivery.smarthost_user', 'is set but delivery.smarthost is empty');
  } else if (TLS_POLICIES.includes(d.smarthostTls) && !isTlsRequired(d.smarthostTls)) {
    // RFC 4616 §1, RFC 4954 §4: a password only over TLS that cannot be stripped by a man in the middle.
    bad(
      'delivery.smarthost_tls',
      `must be "verify" or "require" when a smarthost password is set (or the password could be sent in ` +
        `clear), got "${d.smarthostTls}"`,
    );
  }
}

/** Allowed but worth hearing about at every start; assumes a valid config. */
export function deliveryWarnings(c: Config): string[] {
  const out: string[] = [];
  const d = c.delivery;
  // RFC 5321 §4.5.3.2: a client SHOULD wait at least 5 minutes for the greeting, MAIL and RCPT replies, and
  // 10 minutes after the end of data (§4.5.3.2.6): giving up earlier on a slow but working server duplicates mail.
  if (d.commandTimeout < 5 * MINUTE) {
    out.push(
      `delivery.command_timeout: ${formatDuration(d.commandTimeout)} is below the 5 minutes RFC 5321 §4.5.3.2 asks for`,
    );
  }
  if (d.dataTimeout < 10 * MINUTE) {
    out.push(
      `delivery.data_timeout: ${formatDuration(d.dataTimeout)} is below the 10 minutes RFC 5321 §4.5.3.2.6 asks ` +
        'for (a timeout after the data was sent may deliver the message twice)',
    );
  }
  if (d.lease < 30 * SECOND) {
    out.push(
      `delivery.lease: ${formatDuration(d.lease)} is short: a node that stalls longer (a long GC pause, a stopped VM) ` +
        'loses its claims and the mail may be delivered twice',
    );
  }
  if (d.smarthostUser !== '' && d.smarthostTls === 'require') {
    out.push(unverified('delivery.smarthost_tls', d.smarthostTls));
  }
  return out;
}

export const unverified = (key: string, policy: TlsPolicyName): string =>
  `${key}: "${policy}" does not check the certificate, so a man in the middle could read the AUTH password; ` +
  '"verify" prevents that';

/**
 * delivery.ca_file must be a readable PEM file holding at least one certificate. Checked when the config is
 * loaded (not in validateConfig, which stays a pure function of the Config), so `tern config check` and the
 * daemon refuse a missing file before any delivery depends on it; the TLS layer parses it in full at start.
 */
export function checkFiles(c: Config): Problem[] {
  if (typeof c.delivery.caFile !== 'string' || c.delivery.caFile === '') return [];
  let text: string;
  try {
    text = readFileSync(c.delivery.caFile, 'utf8');
  } catch (e) {
    const code = (e as { code?: string }).code ?? String(e);
    return [{ key: 'delivery.ca_file', message: `cannot read "${c.delivery.caFile}" (${code})` }];
  }
  return text.includes('-----BEGIN CERTIFICATE-----') ? [] : [{
    key: 'delivery.ca_file',
    message: `"${c.delivery.caFile}" holds no PEM certificate (-----BEGIN CERTIFICATE-----)`,
  }];
}
