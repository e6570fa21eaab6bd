// Syntax of domain names as configuration and SMTP use them: ASCII letters-digits-hyphen labels (RFC 5321 §4.1.2).

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i;

/**
 * True for "example.com", "mail.example.org", "localhost": dot-separated LDH labels of 1 to 63 octets, at
 * most 253 octets in all (RFC 1035 §2.3.4), no trailing dot, last label not all digits. Internationalised
 * names must be given in their A-label form ("xn--…"), which is what arrives on the wire without SMTPUTF8.
 */
export function isDomainName(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  const labels = name.split('.');
  // An all-digit last label would make "1.2.3.999" a name: it is a mistyped address (no TLD is numeric).
  if (/^\d+$/.test(labels[labels.length - 1])) return false;
  return labels.every((label) => LABEL.test(label));
}
