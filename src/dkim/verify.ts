// Checks a message's DKIM signatures with mailauth, every key lookup going through Tern's resolver.
import { Buffer } from 'node:buffer';
import { dkimVerify } from 'mailauth';
import type { Resolver } from '../dns/types.ts';
import { type MailauthResolver, mailauthResolver } from './resolver-adapter.ts';

/** RFC 8601 §2.7.1 results (mailauth also says "policy" for a key below the minimum size). */
export type DkimResult = 'pass' | 'fail' | 'neutral' | 'none' | 'temperror' | 'permerror' | 'policy';

export interface DkimSignatureCheck {
  result: DkimResult;
  domain: string; // d=
  selector: string; // s=
  algorithm: string; // a=
  /** Why, when not pass: "no key", "body hash did not verify", "DNS failure: ESERVFAIL"… */
  comment: string;
  /** The Authentication-Results resinfo mailauth formats for this signature. */
  info: string;
}

export interface VerifyOptions {
  /** RFC 8301 §3.2: verifiers MUST NOT accept RSA keys under 1024 bits; mailauth's default is that. */
  minBitLength?: number;
  /** For tests of t=/x=. */
  now?: Date;
}

function asResult(text: string): DkimResult {
  if (text === 'temperr') return 'temperror';
  const known: DkimResult[] = ['pass', 'fail', 'neutral', 'none', 'temperror', 'permerror', 'policy'];
  return known.includes(text as DkimResult) ? (text as DkimResult) : 'neutral';
}

/**
 * One entry per DKIM-Signature field, top first; none when the message has no signature (RFC 8601 "none").
 * Never rejects for an expected failure: DNS trouble is a temperror entry, a bad signature a fail, a body
 * that changed neutral "body hash did not verify" (mailauth says what OpenDKIM says).
 */
export async function verifyDkim(
  message: Uint8Array,
  resolver: Resolver | MailauthResolver,
  opts: VerifyOptions = {},
): Promise<DkimSignatureCheck[]> {
  const lookup = typeof resolver === 'function' ? resolver : mailauthResolver(resolver);
  const out = await dkimVerify(Buffer.from(message.buffer, message.byteOffset, message.byteLength), {
    // mailauth's typings narrow the answer to TXT/A shapes; at run time it also takes MX objects (node:dns).
    resolver: lookup as (name: string, rrtype: string) => Promise<string[][] | string[]>,
    minBitLength: opts.minBitLength,
    curTime: opts.now,
  });
  return out.results
    .filter((r) => r.status.result !== 'none')
    .map((r) => ({
      result: asResult(r.status.result),
      domain: r.signingDomain ?? '',
      selector: r.selector ?? '',
      // The typings say `algorithm`; mailauth 4.x fills `algo` and the parsed a= tag.
      algorithm: String((r as { algo?: string }).algo ?? r.algorithm ?? r.status.header?.a ?? ''),
      comment: r.status.comment ?? '',
      info: r.info,
    }));
}
