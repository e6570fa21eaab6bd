// Validation of logins and email authentication: [auth], [submission], [dkim] and [inbound].

import { isDomainName } from '../lib/domain.ts';
import { formatDuration } from '../lib/units.ts';
import { checkEntries, oneOf } from './lists.ts';
import type { Config } from './schema.ts';
import type { Problem } from './validate.ts';

export const AUTH_MECHANISMS: readonly Config['auth']['mechanisms'][number][] = ['PLAIN', 'LOGIN'];
export const AUTH_LISTENERS: readonly Config['auth']['listeners'][number][] = ['mx', 'submission', 'submissions'];
export const DMARC_MODES: readonly Config['inbound']['dmarc'][] = ['record', 'enforce'];

const SECOND = 1000;

/**
 * Why SCRAM is not offered, for the operator who asks for it. SCRAM (RFC 5802, RFC 7677) makes the server keep
 * StoredKey and ServerKey, derived from the password with PBKDF2; kept beside the memory-hard hash they would be
 * the weakest copy of every password in a stolen database. PLAIN and LOGIN go only over TLS.
 */
const SCRAM_WHY = 'SCRAM would need PBKDF2-derived keys stored beside the memory-hard password hash, ' +
  'which a stolen database gives up as fast as PBKDF2 does; PLAIN and LOGIN are offered only over TLS';

// RFC 5322 §3.6.8: field-name = 1*ftext, ftext = printable US-ASCII except ":" (%d33-57 / %d59-126).
const FIELD_NAME = /^[\x21-\x39\x3b-\x7e]+$/;

/** Ranges, enums and syntax of [auth], [submission], [dkim] and [inbound]; assumes the types are right. */
export function checkAuth(c: Config): Problem[] {
  const out: Problem[] = [];
  const bad = (key: string, message: string) => out.push({ key, message });
  const a = c.auth;

  checkEntries(
    'auth.mechanisms',
    a.mechanisms,
    (m) => /^SCRAM-/i.test(m) ? `"${m}" is not offered: ${SCRAM_WHY}` : oneOf(AUTH_MECHANISMS)(m),
    bad,
  );
  // On submission AUTH is how users get in (RFC 6409 §4.3): offering it with no mechanism locks everyone out.
  if (a.mechanisms.length === 0 && a.listeners.length > 0) {
    bad(
      'auth.mechanisms',
      'must name at least one mechanism while auth.listeners offers AUTH ' +
        '(auth.listeners = [] turns AUTH off)',
    );
  }
  checkEntries('auth.listeners', a.listeners, oneOf(AUTH_LISTENERS), bad);
  if (a.maxFailuresPerIp < 1) bad('auth.max_failures_per_ip', `must be at least 1, got ${a.maxFailuresPerIp}`);
  if (a.maxFailuresPerUser < 1) bad('auth.max_failures_per_user', `must be at least 1, got ${a.maxFailuresPerUser}`);
  for (const [key, v] of [['auth.failure_window', a.failureWindow], ['auth.lockout', a.lockout]] as const) {
    if (v < SECOND) bad(key, `must be at least 1s, got ${formatDuration(v)}`);
  }

  checkEntries(
    'dkim.signed_headers',
    c.dkim.signedHeaders,
    (h) =>
      FIELD_NAME.test(h)
        ? null
        : `"${h}" is not a header field name (RFC 5322 §3.6.8: printable ASCII, no space or ":")`,
    bad,
  );
  if (!c.dkim.signedHeaders.some((h) => h.toLowerCase() === 'from')) {
    bad('dkim.signed_headers', 'must contain "From" (RFC 6376 §5.4: the From header field MUST be signed)');
  }

  const id = c.inbound.authservId;
  if (id !== '' && !isDomainName(id)) {
    bad(
      'inbound.authserv_id',
      `must be "" (= hostname) or a domain name such as "example.com", got ${JSON.stringify(id)}`,
    );
  } else if (id !== id.toLowerCase()) {
    bad('inbound.authserv_id', `${JSON.stringify(id)} must be lower-case`);
  }
  if (!DMARC_MODES.includes(c.inbound.dmarc)) {
    bad('inbound.dmarc', `must be "record" or "enforce", got ${JSON.stringify(c.inbound.dmarc)}`);
  }
  return out;
}

/** Allowed but risky: logged at warn on every start. Assumes a valid config. */
export function authWarnings(c: Config): string[] {
  const out: string[] = [];
  if (c.auth.iKnowPasswordsTravelInClear) {
    // RFC 4954 §4: sites "SHOULD NOT use any configuration which permits a plaintext password mechanism"
    // without protection against password snooping.
    out.push(
      'auth.i_know_passwords_travel_in_clear: PASSWORDS IN CLEAR: AUTH is offered before STARTTLS, so anyone ' +
        'on the network path can read the passwords users send (RFC 4954 §4)',
    );
  }
  if (c.auth.listeners.includes('mx') && c.auth.mechanisms.length > 0) {
    out.push(
      'auth.listeners: AUTH is offered on the MX listener (port 25), where the whole Internet can guess ' +
        'passwords; users belong on submission (587) and submissions (465)',
    );
  }
  if (!c.inbound.checks && c.inbound.dmarc === 'enforce') {
    out.push('inbound.dmarc: "enforce" has no effect while inbound.checks = false (no DMARC check is made)');
  }
  return out;
}
