// What to do with a message once its DMARC result is known (RFC 7489 §6.6): pure functions of the results, the
// recipients' settings and a random number, so every branch is tested without DNS.
import type { EnvelopeRecipient, HostReply } from '../smtp/types.ts';

/** 'record': Authentication-Results only. 'enforce': honour p=reject (550) and p=quarantine (hold). */
export type DmarcMode = 'record' | 'enforce';

/**
 * The mode for a message with several recipients: 'enforce' as soon as one recipient's domain asks for it.
 * One transaction carries one message, so a single disposition applies to all its recipients; the stricter
 * one wins because a domain that asked for enforcement must never receive mail its sender's policy rejects
 * just because a more lenient domain was copied. A bare "Postmaster" (RFC 5321 §4.5.1) has no domain: it is
 * ours, so our hostname stands for it.
 */
export function strictestMode(
  recipients: readonly EnvelopeRecipient[],
  dmarcFor: (domain: string) => DmarcMode,
  hostname: string,
): DmarcMode {
  const domains = new Set(recipients.map((r) => {
    const at = r.address.lastIndexOf('@');
    return at < 0 ? hostname.toLowerCase() : r.address.slice(at + 1).toLowerCase();
  }));
  for (const d of domains) if (dmarcFor(d) === 'enforce') return 'enforce';
  return 'record';
}

/** The DMARC facts the decision needs, taken from the checks' results. */
export interface DmarcFacts {
  /** The DMARC result: pass, fail, none, temperror, permerror ('' when DMARC was not evaluated). */
  result: string;
  /** The policy that applies to the From domain: p=, or sp= for a subdomain (RFC 7489 §6.3). */
  policy: string;
  /** pct= (RFC 7489 §6.3); undefined = 100. */
  pct: number | undefined;
  /** The RFC5322.From domain. */
  fromDomain: string;
  /** More than one From address: DMARC cannot pick one domain (RFC 7489 §6.6.1). */
  severalFrom: boolean;
  /** SPF or a DKIM signature ended in temperror: a DNS failure may have hidden an aligned pass. */
  temporary: boolean;
}

export type Disposition =
  | { action: 'accept'; why: string }
  | { action: 'reject'; reply: HostReply; why: string }
  | { action: 'hold'; reason: string; why: string };

/** Only letters, digits, dots and hyphens of a domain go into a reply or a reason (no injected text). */
const safeDomain = (d: string): string => d.replace(/[^A-Za-z0-9.-]/g, '?').slice(0, 253);

export const dmarcRejectReply = (domain: string): HostReply => ({
  code: 550,
  status: '5.7.1', // RFC 3463: delivery not authorized, message refused
  text: `Message rejected by the DMARC policy of ${safeDomain(domain)}`,
});

export const severalFromReply: HostReply = {
  code: 550,
  status: '5.7.1',
  text: 'Message rejected: DMARC needs exactly one From address',
};

/** The policy in force after pct= sampling (RFC 7489 §6.6.4): outside the sample, one step more lenient. */
export function sampledPolicy(policy: string, pct: number | undefined, random: () => number): string {
  const p = Math.min(100, Math.max(0, pct ?? 100));
  if (p >= 100 || random() * 100 < p) return policy;
  return policy === 'reject' ? 'quarantine' : 'none';
}

/**
 * The disposition under a mode. Never a rejection for anything temporary: a DMARC temperror, or a fail
 * while SPF or DKIM had DNS trouble, is accepted (a bounce caused by our resolver would lose real mail).
 */
export function dmarcDisposition(facts: DmarcFacts, mode: DmarcMode, random: () => number = Math.random): Disposition {
  if (mode === 'record') return { action: 'accept', why: 'record only' };
  // RFC 7489 §6.6.1: messages with several From domains "are typically rejected": otherwise adding a second
  // address would be an easy way around a p=reject.
  if (facts.severalFrom) return { action: 'reject', reply: severalFromReply, why: 'several From addresses' };
  if (facts.result !== 'fail') return { action: 'accept', why: `dmarc=${facts.result || 'none'}` };
  if (facts.temporary) return { action: 'accept', why: 'dmarc=fail with a temporary SPF/DKIM error' };
  const raw = facts.policy.toLowerCase();
  // RFC 7489 §6.6.3: an unknown p= value is treated as "none".
  const policy = sampledPolicy(raw === 'reject' || raw === 'quarantine' ? raw : 'none', facts.pct, random);
  const domain = safeDomain(facts.fromDomain);
  const why = `dmarc=fail p=${policy}${policy !== raw ? ` (p=${raw} pct=${facts.pct})` : ''} header.from=${domain}`;
  if (policy === 'reject') return { action: 'reject', reply: dmarcRejectReply(facts.fromDomain), why };
  if (policy === 'quarantine') return { action: 'hold', reason: `DMARC quarantine: ${domain} (dmarc=fail)`, why };
  return { action: 'accept', why };
}
