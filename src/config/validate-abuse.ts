// Validation of the MX listener's anti-abuse controls: [abuse] (rates, greeting delay, DNSBLs, greylisting).

import { parseCidr, parseIp } from '../lib/cidr.ts';
import { isDomainName } from '../lib/domain.ts';
import { formatDuration } from '../lib/units.ts';
import { checkEntries, type EntryCheck } from './lists.ts';
import { parseDnsServer } from './next-hop.ts';
import type { Config } from './schema.ts';
import type { Problem } from './validate.ts';
import { isOpenRelayBlock } from './validate.ts';

const SECOND = 1000;
const MINUTE = 60 * SECOND;

/** RFC 5321 §4.5.3.2.1: a client waits 5 minutes for the greeting; a longer delay loses every client. */
const GREETING_TIMEOUT = 5 * MINUTE;
/** Beyond this a greeting delay is warned about (postscreen's pregreet window is 6s). */
const GREET_DELAY_WARN = 30 * SECOND;

const domainName: EntryCheck = (d) =>
  !isDomainName(d)
    ? `${JSON.stringify(d)} is not a domain name (use the xn-- form for IDNs)`
    : d !== d.toLowerCase()
    ? `${JSON.stringify(d)} must be lower-case`
    : null;

const cidr: EntryCheck = (text) => {
  const r = parseCidr(text);
  return r.ok ? null : r.error;
};

/** Ranges and syntax of [abuse]; assumes the types are right. Greylist keys are checked even while it is off. */
export function checkAbuse(c: Config): Problem[] {
  const out: Problem[] = [];
  const bad = (key: string, message: string) => out.push({ key, message });
  const a = c.abuse;
  const show = formatDuration;

  if (a.greetDelay >= GREETING_TIMEOUT) {
    bad(
      'abuse.greet_delay',
      `must be less than ${show(GREETING_TIMEOUT)} (RFC 5321 §4.5.3.2.1: clients wait 5 minutes for the ` +
        `greeting), got ${show(a.greetDelay)}`,
    );
  }
  checkEntries('abuse.dnsbl', a.dnsbl, domainName, bad);
  checkEntries('abuse.allow_networks', a.allowNetworks, cidr, bad);
  checkEntries('abuse.greylist_allow_domains', a.greylistAllowDomains, domainName, bad);

  // A zero delay lets the immediate retry through, which is all a spam engine that retries at all does.
  if (a.greylistDelay < SECOND) bad('abuse.greylist_delay', `must be at least 1s, got ${show(a.greylistDelay)}`);
  else if (a.greylistWindow <= a.greylistDelay) {
    bad(
      'abuse.greylist_window',
      `must be longer than abuse.greylist_delay (${show(a.greylistDelay)}), or no retry could ever pass, ` +
        `got ${show(a.greylistWindow)}`,
    );
  }
  // Expired rows are deleted: a shorter expiry would delete a waiting triplet before its retry could pass.
  if (a.greylistExpiry < a.greylistWindow) {
    bad(
      'abuse.greylist_expiry',
      `must be at least abuse.greylist_window (${show(a.greylistWindow)}), got ${show(a.greylistExpiry)}`,
    );
  }
  return out;
}

// Public resolvers whose DNSBL queries Spamhaus (and other lists) refuse: the answer is NXDOMAIN or an error
// code, so every client looks unlisted. https://www.spamhaus.com/resource-center/successfully-accessing-spamhauss-free-block-lists-using-a-public-dns/
const PUBLIC_RESOLVERS = [
  '8.8.8.8',
  '8.8.4.4',
  '2001:4860:4860::8888',
  '2001:4860:4860::8844',
  '1.1.1.1',
  '1.0.0.1',
  '2606:4700:4700::1111',
  '2606:4700:4700::1001',
  '9.9.9.9',
  '149.112.112.112',
  '2620:fe::fe',
  '2620:fe::9',
  '208.67.222.222',
  '208.67.220.220',
].map((ip) => String(parseIp(ip)));

/** Allowed but worth hearing about at every start; assumes a valid config. */
export function abuseWarnings(c: Config): string[] {
  const out: string[] = [];
  const a = c.abuse;
  if (a.greetDelay > GREET_DELAY_WARN) {
    out.push(
      `abuse.greet_delay: ${formatDuration(a.greetDelay)} holds every MX connection (and its slot in ` +
        'limits.max_connections) that long, and impatient senders give up sooner than RFC 5321 allows',
    );
  }
  const wide = a.allowNetworks.filter((t) => {
    const r = parseCidr(t);
    return r.ok && isOpenRelayBlock(r.value);
  });
  if (wide.length) {
    out.push(
      `abuse.allow_networks: ${wide.join(', ')} exempts most of the Internet from rate limits, DNSBLs and ` +
        'greylisting',
    );
  }
  if (a.dnsbl.length) {
    const publicOnes = c.dns.servers.filter((s) => {
      const r = parseDnsServer(s);
      return r.ok && PUBLIC_RESOLVERS.includes(String(parseIp(r.value.host)));
    });
    if (publicOnes.length) {
      out.push(
        `abuse.dnsbl: dns.servers names public resolvers (${publicOnes.join(', ')}) whose DNSBL queries lists ` +
          'such as Spamhaus refuse, so every client would look unlisted; use a local resolver',
      );
    }
  }
  return out;
}
