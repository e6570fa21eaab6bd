// The one place that talks to mailauth: runs its checks and copies the few fields Tern reads into local types,
// so the rest of src/inbound depends on what mailauth 4.x actually returns, not on its hand-written typings.
//
// The shapes below were read from mailauth's JavaScript (lib/mailauth.js, lib/spf/index.js,
// lib/dkim/dkim-verifier.js, lib/dmarc/verify.js). Its bundled index.d.ts differs in places (it types a DKIM
// status's `aligned` as boolean where the code puts a domain or false), so nothing here relies on it beyond
// the function signatures.
import { Buffer } from 'node:buffer';
import { authenticate, dmarc, type DNSResolver, spf } from 'mailauth';
import type { MailauthResolver } from '../dkim/resolver-adapter.ts';

/** One result as mailauth reports it: the RFC 8601 result keyword and a human comment. */
export interface CheckStatus {
  result: string;
  comment?: string;
}

export interface DkimOutcome {
  id?: string;
  signingDomain: string;
  status: CheckStatus;
  /** The resinfo for Authentication-Results ("dkim=pass header.i=@example.com ..."). */
  info: string;
}

export interface SpfOutcome {
  /** The domain whose record was evaluated: the MAIL FROM domain, or the HELO name for a null sender. */
  domain: string;
  status: CheckStatus;
}

export interface DmarcOutcome {
  status: CheckStatus;
  /** The policy that applies to the From domain: sp= for a subdomain when given, else p= (RFC 7489 §6.3). */
  policy?: string;
  pct?: number;
  /** adkim=s / aspf=s (RFC 7489 §6.3). */
  strictDkim: boolean;
  strictSpf: boolean;
  /** Whether mailauth found a DKIM / SPF domain aligned; see alignment.ts for why strict mode is re-checked. */
  dkimAligned: boolean;
  spfAligned: boolean;
  info: string;
}

export interface ArcOutcome {
  status: CheckStatus;
  info?: string;
}

export interface MailauthOutcome {
  /** Addresses of the From field, in order (several when the field lists several mailboxes). */
  headerFrom: string[];
  dkim: DkimOutcome[];
  spf: SpfOutcome | null;
  arc: ArcOutcome | null;
  /** null when mailauth skipped DMARC: no From address, or several (RFC 7489 §6.6.1). */
  dmarc: DmarcOutcome | null;
}

export interface MailauthInput {
  message: Uint8Array;
  /** MAIL FROM ('' for the null reverse-path). */
  sender: string;
  ip: string;
  helo: string;
  /** Our hostname, for SPF's %{r} macro and mailauth's comments. */
  mta: string;
  dns: MailauthResolver;
}

/**
 * mailauth's own resolver type says TXT answers only; its code also reads MX objects and A/AAAA strings,
 * which is exactly what the adapter returns (src/dkim/resolver-adapter.ts documents the contract).
 */
const asDnsResolver = (dns: MailauthResolver): DNSResolver => dns as DNSResolver;

interface RawStatus {
  result: string;
  comment?: string;
}

const status = (
  s: RawStatus,
): CheckStatus => (s.comment ? { result: s.result, comment: s.comment } : { result: s.result });

interface RawDmarc {
  status: RawStatus;
  policy?: string;
  pct?: number;
  // result: the aligned domain, or false/undefined when none aligned.
  alignment?: { spf: { result?: string | false; strict: boolean }; dkim: { result?: string | false; strict: boolean } };
  info: string;
}

function dmarcOutcome(d: RawDmarc | false): DmarcOutcome | null {
  if (!d) return null;
  return {
    status: status(d.status),
    policy: d.policy,
    pct: typeof d.pct === 'number' ? d.pct : undefined,
    // Absent for none/temperror results: no record, so nothing strict either.
    strictDkim: d.alignment?.dkim.strict === true,
    strictSpf: d.alignment?.spf.strict === true,
    dkimAligned: typeof d.alignment?.dkim.result === 'string' && d.alignment.dkim.result !== '',
    spfAligned: typeof d.alignment?.spf.result === 'string' && d.alignment.spf.result !== '',
    info: d.info,
  };
}

/** SPF, DKIM, ARC and DMARC on one message (BIMI off: nothing here displays logos). */
export async function runMailauth(input: MailauthInput): Promise<MailauthOutcome> {
  const auth = await authenticate(Buffer.from(input.message.buffer, input.message.byteOffset, input.message.length), {
    sender: input.sender,
    ip: input.ip,
    helo: input.helo,
    mta: input.mta,
    resolver: asDnsResolver(input.dns),
    disableBimi: true,
  });
  return {
    headerFrom: [...(auth.dkim.headerFrom ?? [])],
    dkim: (auth.dkim.results ?? []).map((r) => ({
      id: r.id,
      signingDomain: r.signingDomain,
      status: status(r.status),
      info: r.info,
    })),
    spf: auth.spf ? { domain: auth.spf.domain, status: status(auth.spf.status) } : null,
    arc: auth.arc ? { status: status(auth.arc.status), info: auth.arc.info } : null,
    dmarc: dmarcOutcome(auth.dmarc),
  };
}

/** SPF alone for an identity: the HELO check (RFC 7208 §2.3) beside authenticate()'s MAIL FROM one. */
export async function runSpf(opts: { sender: string; ip: string; helo: string; mta: string; dns: MailauthResolver }) {
  const r = await spf({
    sender: opts.sender,
    ip: opts.ip,
    helo: opts.helo,
    mta: opts.mta,
    resolver: asDnsResolver(opts.dns),
  });
  return { domain: r.domain, status: status(r.status) } satisfies SpfOutcome;
}

/** DMARC for one From address, with the SPF domain and DKIM domains that passed. */
export async function runDmarc(opts: {
  from: string;
  spfDomains: string[];
  dkimDomains: string[];
  dns: MailauthResolver;
}): Promise<DmarcOutcome | null> {
  const d = await dmarc({
    headerFrom: opts.from,
    spfDomains: opts.spfDomains,
    dkimDomains: opts.dkimDomains.map((domain) => ({ domain })),
    resolver: asDnsResolver(opts.dns),
  });
  return dmarcOutcome(d);
}
