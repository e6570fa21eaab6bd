// MTA-STS syntax (RFC 8461): the _mta-sts TXT record (§3.1), the policy file (§3.2) and MX pattern matching
// (§4.1). Pure; malformed input is a value naming the problem, never a throw.
import { isDomainName } from '../lib/domain.ts';
import type { MtaStsPolicy } from './types.ts';

/** §3.2: max_age is at most 31557600 seconds (about a year); larger values are capped, not refused. */
export const MAX_AGE_CAP = 31_557_600;

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

const FIELD_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;
const TXT_VALUE = /^[\x21-\x3a\x3c\x3e-\x7e]+$/; // §3.1 sts-ext-value: no "=", ";", space or CTL
const STS_ID = /^[A-Za-z0-9]{1,32}$/;

/**
 * The policy id from the TXT records at _mta-sts.<domain> (each record's strings already joined, §3.1).
 * Records not starting with "v=STSv1;" are discarded; anything but exactly one left, or one that breaks
 * the grammar, means "no usable record" (the caller may still apply a cached policy, §5.1).
 */
export function parseStsTxt(records: readonly string[]): Parsed<{ id: string }> {
  // The ABNF allows white space before the ";" (sts-field-delim), so "v=STSv1 ;" counts as a start too.
  const sts = records.filter((r) => /^v=STSv1[ \t]*;/.test(r));
  if (sts.length === 0) return { ok: false, reason: 'no v=STSv1 record' };
  if (sts.length > 1) return { ok: false, reason: `${sts.length} v=STSv1 records` };
  const fields = sts[0].replace(/[ \t]*;?[ \t]*$/, '').split(/[ \t]*;[ \t]*/);
  let id: string | null = null;
  for (const f of fields.slice(1)) {
    const eq = f.indexOf('=');
    const name = f.slice(0, eq);
    const value = f.slice(eq + 1);
    if (eq <= 0 || !FIELD_NAME.test(name) || !TXT_VALUE.test(value)) return { ok: false, reason: `bad field "${f}"` };
    if (name === 'id' && id === null) {
      // §3.2's rule for duplicates (first wins) read as applying to the record too.
      if (!STS_ID.test(value)) return { ok: false, reason: `bad id "${value}"` };
      id = value;
    }
  }
  if (id === null) return { ok: false, reason: 'no id field' };
  return { ok: true, value: { id } };
}

/**
 * The policy file (§3.2): "key: value" lines ended by LF or CRLF. version, mode and max_age are required,
 * mx at least once unless mode is none; keys are case-sensitive (%s in the ABNF); unknown keys are ignored;
 * of a repeated key other than mx the first counts. Blank lines are tolerated (the grammar has none, but
 * refusing a policy for an extra newline would only switch protection off).
 */
export function parseStsPolicy(text: string): Parsed<Omit<MtaStsPolicy, 'id'>> {
  const seen = new Map<string, string>();
  const mx: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') continue;
    const m = /^([A-Za-z0-9][A-Za-z0-9_.-]{0,31}):[ \t]*(.*?)[ \t]*$/.exec(line);
    if (m === null || m[2] === '') return { ok: false, reason: `bad line "${line.slice(0, 80)}"` };
    // deno-lint-ignore no-control-regex
    if (/[\x00-\x1f\x7f]/.test(m[2])) return { ok: false, reason: `control character in "${m[1]}"` };
    if (m[1] === 'mx') {
      const pattern = m[2].toLowerCase().replace(/\.$/, '');
      if (!isDomainName(pattern.startsWith('*.') ? pattern.slice(2) : pattern)) {
        return { ok: false, reason: `bad mx pattern "${m[2]}"` };
      }
      mx.push(pattern);
    } else if (!seen.has(m[1])) {
      seen.set(m[1], m[2]);
    }
  }
  if (seen.get('version') !== 'STSv1') return { ok: false, reason: 'version is not STSv1' };
  const mode = seen.get('mode');
  if (mode !== 'enforce' && mode !== 'testing' && mode !== 'none') return { ok: false, reason: `bad mode "${mode}"` };
  const age = seen.get('max_age') ?? '';
  if (!/^\d{1,10}$/.test(age)) return { ok: false, reason: `bad max_age "${age}"` };
  if (mx.length === 0 && mode !== 'none') return { ok: false, reason: 'no mx' };
  return { ok: true, value: { mode, mx, maxAge: Math.min(Number(age), MAX_AGE_CAP) } };
}

/**
 * Does an MX host name match a policy's mx pattern (§4.1)? Exact names match case-insensitively; "*.x.y"
 * matches exactly one more label ("mail.x.y", not "x.y" nor "a.b.x.y"). Trailing dots are ignored.
 */
export function mxMatches(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase().replace(/\.$/, '');
  const h = host.toLowerCase().replace(/\.$/, '');
  if (!p.startsWith('*.')) return p === h;
  const suffix = p.slice(1); // ".example.com"
  if (!h.endsWith(suffix)) return false;
  const label = h.slice(0, h.length - suffix.length);
  return label !== '' && !label.includes('.') && label !== '*';
}
