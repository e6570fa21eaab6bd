// DMARC identifier alignment in strict mode (RFC 7489 §3.1), re-checked over mailauth's answer.
//
// mailauth 4.13's getAlignment() tries the organizational-domain match even when adkim=s or aspf=s, so a
// signature by example.com passes DMARC for From: a.example.com under strict alignment. Strict means the
// domains are identical (RFC 7489 §3.1.1, §3.1.2); this module turns such a wrong pass into the fail the
// domain owner asked for. Relaxed alignment is left to mailauth (it knows the public suffix list).
import type { DmarcOutcome } from './mailauth.ts';

const norm = (d: string): string => d.toLowerCase().replace(/\.$/, '');

/** Evidence DMARC is computed from: the From domain and the identifiers that passed SPF and DKIM. */
export interface AlignmentInput {
  fromDomain: string;
  /** The SPF-authenticated domain (MAIL FROM's, or HELO's for a null sender) when SPF passed, else null. */
  spfPassDomain: string | null;
  /** d= of every DKIM signature that verified. */
  dkimPassDomains: readonly string[];
}

/** Which identifiers align, honouring adkim=s / aspf=s. */
export function aligned(d: DmarcOutcome, input: AlignmentInput): { dkim: boolean; spf: boolean } {
  const from = norm(input.fromDomain);
  const dkim = d.strictDkim ? input.dkimPassDomains.some((x) => norm(x) === from) : d.dkimAligned;
  const spf = d.strictSpf ? input.spfPassDomain !== null && norm(input.spfPassDomain) === from : d.spfAligned;
  return { dkim, spf };
}

/**
 * The DMARC outcome with strict alignment enforced: a "pass" with no identifier aligned under the record's
 * modes becomes "fail" (RFC 7489 §4.2: pass needs at least one aligned pass), its resinfo rewritten to match.
 * Every other result is returned unchanged.
 */
export function enforceStrictAlignment(d: DmarcOutcome, input: AlignmentInput): DmarcOutcome {
  if (d.status.result !== 'pass' || (!d.strictDkim && !d.strictSpf)) return d;
  const a = aligned(d, input);
  if (a.dkim || a.spf) return d;
  return {
    ...d,
    status: { ...d.status, result: 'fail' },
    dkimAligned: false,
    spfAligned: false,
    info: d.info.replace(/^dmarc=pass\b/, 'dmarc=fail') + ' (strict alignment)',
  };
}
