// EHLO/HELO sanity checks on the MX port: a client claiming to be us, and names that are not fully qualified.
import { isDomainName } from '../lib/domain.ts';
import { canonicalIp, literalAddress } from './network.ts';

export interface HeloCheckOptions {
  /** Our hostname and every local domain, lower-case. */
  ourNames: ReadonlySet<string>;
  rejectHeloAsUs: boolean;
  requireFqdnHelo: boolean;
}

/** Why a name was refused; null = no objection. */
export type HeloFinding = 'helo-is-us' | 'helo-not-fqdn' | null;

// RFC 1123 §2.1 / RFC 3696 §2: a top-level domain is alphabetic. IDN TLDs travel as A-labels ("xn--p1ai");
// a U-label is accepted as letters, in case an SMTPUTF8 client sends one.
const TLD = /^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59}|\p{L}{2,63})$/iu;

/**
 * "Fully qualified": at least two labels with an alphabetic top-level domain (RFC 5321 §4.1.4: the EHLO
 * argument is the client's FQDN), or an address literal (§4.1.3) for hosts without a meaningful name.
 */
export function isFqdnHelo(helo: string): boolean {
  if (helo.startsWith('[')) return literalAddress(helo) !== null;
  const name = helo.replace(/\.$/, '');
  const labels = name.split('.');
  if (labels.length < 2 || !TLD.test(labels[labels.length - 1])) return false;
  // ASCII names must be valid LDH names; names with U-labels only need non-empty labels.
  return /^[\x21-\x7e]*$/.test(name) ? isDomainName(name) : labels.every((l) => l.length > 0 && l.length <= 63);
}

/**
 * Checks the EHLO/HELO argument of a client connected from remoteAddress to our localAddress. Trusted and
 * authenticated clients never get here (the caller's allow-list).
 *
 * "Is us": our hostname, a local domain, or the literal of the address the client connected to, as
 * spamware sends to look local. A client connected from that very address is on this host, so it is
 * telling the truth and passes.
 */
export function checkHelo(
  helo: string,
  conn: { remoteAddress: string; localAddress: string },
  opts: HeloCheckOptions,
): HeloFinding {
  const fromHere = canonicalIp(conn.remoteAddress) === canonicalIp(conn.localAddress);
  if (opts.rejectHeloAsUs && !fromHere) {
    const literal = literalAddress(helo);
    if (literal !== null) {
      if (canonicalIp(literal) === canonicalIp(conn.localAddress)) return 'helo-is-us';
    } else if (opts.ourNames.has(helo.replace(/\.$/, '').toLowerCase())) {
      return 'helo-is-us';
    }
  }
  if (opts.requireFqdnHelo && !isFqdnHelo(helo)) return 'helo-not-fqdn';
  return null;
}
