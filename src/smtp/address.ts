// The RFC 5321 §4.1.2 address grammar: Path, Mailbox, Local-part, Domain and address literals (§4.1.3),
// widened to UTF-8 as RFC 6531 §3.3 allows; the caller decides whether UTF-8 was permitted.

/** A parsed mailbox. `domain` is '' only for the bare "<Postmaster>" recipient (RFC 5321 §4.1.1.3). */
export interface Mailbox {
  /** Local-part in its minimal quoting (RFC 5321 §4.1.2: "all quoted forms MUST be treated as equivalent"). */
  local: string;
  /** Lower-cased domain, or an address literal "[192.0.2.1]" / "[IPv6:2001:db8::1]". */
  domain: string;
  /** The domain is an address literal: never one of our domains, so it always goes through relay rules. */
  literal: boolean;
  /** Some character is non-ASCII: acceptable only with SMTPUTF8 (RFC 6531 §3.5). */
  utf8: boolean;
}

export type PathResult =
  | { ok: true; mailbox: Mailbox | null; end: number } // mailbox null = the null reverse-path "<>"
  | { ok: false; reason: string };

/** Which special paths the caller allows. */
export interface PathRules {
  /** "<>" (RFC 5321 §4.1.1.2 Reverse-path). */
  allowNull: boolean;
  /** "<Postmaster>" without a domain (RFC 5321 §4.1.1.3 Forward-path). */
  allowPostmaster: boolean;
}

// RFC 5321 §4.5.3.1.2 and RFC 1035 §2.3.4: what DNS can carry.
export const MAX_DOMAIN_LENGTH = 255;
export const MAX_LABEL_LENGTH = 63;

const POSTMASTER = 'Postmaster';

// atext (RFC 5322 §3.2.3) as a lookup table over ASCII.
const ATEXT = new Uint8Array(128);
for (const c of "!#$%&'*+-/=?^_`{|}~") ATEXT[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) ATEXT[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) ATEXT[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) ATEXT[c] = 1;

function isAtext(c: number): boolean {
  return c >= 0x80 || (c < 0x80 && ATEXT[c] === 1);
}

function isLetDig(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c >= 0x80;
}

/**
 * Parses a Path starting at s[start], which must be "<". Source routes ("<@a,@b:user@c>") are accepted and
 * ignored as RFC 5321 §4.1.1.3 and Appendix C require. Never throws.
 */
export function parsePath(s: string, start: number, rules: PathRules): PathResult {
  if (s.charCodeAt(start) !== 0x3c) return { ok: false, reason: 'missing <' };
  let i = start + 1;
  if (s.charCodeAt(i) === 0x3e) {
    return rules.allowNull ? { ok: true, mailbox: null, end: i + 1 } : { ok: false, reason: 'null path' };
  }
  if (s.charCodeAt(i) === 0x40) {
    const route = skipSourceRoute(s, i);
    if (route < 0) return { ok: false, reason: 'bad source route' };
    i = route;
  }
  const local = parseLocalPart(s, i);
  if (!local.ok) return local;
  i = local.end;
  if (s.charCodeAt(i) === 0x3e && rules.allowPostmaster && local.value.toLowerCase() === 'postmaster') {
    return { ok: true, mailbox: { local: POSTMASTER, domain: '', literal: false, utf8: false }, end: i + 1 };
  }
  if (s.charCodeAt(i) !== 0x40) return { ok: false, reason: 'missing @' };
  i++;
  // A General-address-literal may contain ">" (dcontent includes it), so find the "]" first.
  const close = s.indexOf('>', s.charCodeAt(i) === 0x5b ? Math.max(i, s.indexOf(']', i)) : i);
  if (close < 0) return { ok: false, reason: 'missing >' };
  const domainText = s.slice(i, close);
  const domain = parseDomainOrLiteral(domainText);
  if (domain === null) return { ok: false, reason: 'bad domain' };
  const mailbox: Mailbox = {
    local: local.value,
    domain: domain.value,
    literal: domain.literal,
    utf8: local.utf8 || domain.utf8,
  };
  return { ok: true, mailbox, end: close + 1 };
}

/** local@domain, or 'Postmaster' for the bare form; the shape Envelope.sender and recipients use. */
export function formatMailbox(m: Mailbox): string {
  return m.domain === '' ? m.local : `${m.local}@${m.domain}`;
}

/** A-d-l ":" (RFC 5321 §4.1.2); returns the index after the colon, or -1. */
function skipSourceRoute(s: string, i: number): number {
  for (;;) {
    if (s.charCodeAt(i) !== 0x40) return -1;
    let j = i + 1;
    while (j < s.length && s[j] !== ',' && s[j] !== ':' && s[j] !== '>') j++;
    if (!isDomain(s.slice(i + 1, j), false)) return -1;
    if (s[j] === ':') return j + 1;
    if (s[j] !== ',') return -1;
    i = j + 1;
  }
}

type LocalResult = { ok: true; value: string; utf8: boolean; end: number } | { ok: false; reason: string };

/** Local-part = Dot-string / Quoted-string; the result uses minimal quoting. */
function parseLocalPart(s: string, i: number): LocalResult {
  if (s.charCodeAt(i) === 0x22) return parseQuoted(s, i);
  const start = i;
  let utf8 = false;
  let atomStart = true;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x2e) {
      if (atomStart) return { ok: false, reason: 'empty atom' };
      atomStart = true;
      continue;
    }
    if (!isAtext(c)) break;
    if (c >= 0x80) utf8 = true;
    atomStart = false;
  }
  if (i === start) return { ok: false, reason: 'empty local-part' };
  if (atomStart) return { ok: false, reason: 'trailing dot' };
  return { ok: true, value: s.slice(start, i), utf8, end: i };
}

/** Quoted-string (RFC 5321 §4.1.2 qtextSMTP / quoted-pairSMTP, plus UTF-8 per RFC 6531 §3.3). */
function parseQuoted(s: string, i: number): LocalResult {
  let content = '';
  let utf8 = false;
  for (i++; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) {
      const value = isDotString(content) ? content : `"${content.replace(/[\\"]/g, '\\$&')}"`;
      return { ok: true, value, utf8, end: i + 1 };
    }
    if (c === 0x5c) {
      const next = s.charCodeAt(i + 1);
      if (!(next >= 0x20 && next <= 0x7e)) return { ok: false, reason: 'bad quoted-pair' };
      content += s[i + 1];
      i++;
      continue;
    }
    if (c >= 0x80) utf8 = true;
    else if (c < 0x20 || c === 0x7f) return { ok: false, reason: 'control in quoted-string' };
    content += s[i];
  }
  return { ok: false, reason: 'unterminated quoted-string' };
}

function isDotString(text: string): boolean {
  if (text.length === 0) return false;
  let atomStart = true;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2e) {
      if (atomStart) return false;
      atomStart = true;
    } else if (isAtext(c)) atomStart = false;
    else return false;
  }
  return !atomStart;
}

/** A Domain or an address-literal, normalised (lower case; "IPv6:" tag spelled canonically). */
export function parseDomainOrLiteral(text: string): { value: string; literal: boolean; utf8: boolean } | null {
  if (text.startsWith('[')) {
    const literal = normaliseAddressLiteral(text);
    return literal === null ? null : { value: literal, literal: true, utf8: false };
  }
  if (!isDomain(text, true)) return null;
  // deno-lint-ignore no-control-regex
  return { value: text.toLowerCase(), literal: false, utf8: /[^\x00-\x7f]/.test(text) };
}

/**
 * Domain = sub-domain *("." sub-domain), sub-domain = Let-dig [Ldh-str] (RFC 5321 §4.1.2); with
 * `allowUtf8`, U-labels too (RFC 6531 §3.3). Length limits from RFC 1035 §2.3.4.
 */
export function isDomain(text: string, allowUtf8: boolean, allowUnderscore = false): boolean {
  if (text.length === 0 || text.length > MAX_DOMAIN_LENGTH) return false;
  let labelStart = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i === text.length ? 0x2e : text.charCodeAt(i);
    if (c === 0x2e) {
      const len = i - labelStart;
      if (len === 0 || len > MAX_LABEL_LENGTH) return false;
      // Let-dig at both ends of each label; hyphens only inside.
      if (!isLetDig(text.charCodeAt(labelStart)) && !(allowUnderscore && text[labelStart] === '_')) return false;
      if (!isLetDig(text.charCodeAt(i - 1)) && !(allowUnderscore && text[i - 1] === '_')) return false;
      labelStart = i + 1;
      continue;
    }
    if (c >= 0x80) {
      if (!allowUtf8) return false;
      continue;
    }
    if (isLetDig(c) || c === 0x2d || (allowUnderscore && c === 0x5f)) continue;
    return false;
  }
  return true;
}

/** "[...]" per RFC 5321 §4.1.3, normalised; null when malformed. */
export function normaliseAddressLiteral(text: string): string | null {
  if (!text.startsWith('[') || !text.endsWith(']') || text.length < 3) return null;
  const inner = text.slice(1, -1);
  if (isIpv4(inner)) return `[${inner}]`;
  const colon = inner.indexOf(':');
  if (colon <= 0) return null;
  const tag = inner.slice(0, colon);
  const rest = inner.slice(colon + 1);
  // ABNF literals are case-insensitive (RFC 5234 §2.3), so "ipv6:" is the IPv6 tag too.
  if (tag.toLowerCase() === 'ipv6') return isIpv6(rest) ? `[IPv6:${rest.toLowerCase()}]` : null;
  if (!/^[A-Za-z0-9-]*[A-Za-z0-9]$/.test(tag)) return null;
  // dcontent = %d33-90 / %d94-126: printable ASCII except "[", "\", "]".
  if (!/^[\x21-\x5a\x5e-\x7e]+$/.test(rest)) return null;
  return `[${tag}:${rest}]`;
}

/** Snum 3("." Snum), each 0..255 (RFC 5321 §4.1.3). */
export function isIpv4(text: string): boolean {
  const parts = text.split('.');
  if (parts.length !== 4) return false;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return false;
  }
  return true;
}

const HEX_GROUP = /^[0-9A-Fa-f]{1,4}$/;
const IPV6_GROUPS = 8;
const IPV6_GROUPS_WITH_V4 = 6;
// "::" stands for at least two groups in RFC 5321 §4.1.3 (stricter than RFC 4291).
const MIN_GROUPS_IN_GAP = 2;

/** IPv6-addr = IPv6-full / IPv6-comp / IPv6v4-full / IPv6v4-comp (RFC 5321 §4.1.3). */
export function isIpv6(text: string): boolean {
  let groups = IPV6_GROUPS;
  let body = text;
  const lastColon = text.lastIndexOf(':');
  if (lastColon < 0) return false;
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    if (!isIpv4(tail)) return false;
    groups = IPV6_GROUPS_WITH_V4;
    body = text.slice(0, lastColon + 1);
    if (!body.endsWith('::')) body = body.slice(0, -1);
  }
  const gap = body.indexOf('::');
  if (gap < 0) {
    const parts = body.split(':');
    return parts.length === groups && parts.every((p) => HEX_GROUP.test(p));
  }
  if (body.indexOf('::', gap + 1) >= 0) return false;
  const left = body.slice(0, gap);
  const right = body.slice(gap + 2);
  const parts = [...(left ? left.split(':') : []), ...(right ? right.split(':') : [])];
  return parts.every((p) => HEX_GROUP.test(p)) && parts.length <= groups - MIN_GROUPS_IN_GAP;
}
