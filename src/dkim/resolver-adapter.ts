// Lets mailauth (DKIM, SPF, DMARC, ARC) do every DNS lookup through Tern's own resolver (src/dns).
import type { DnsAnswer, DnsFailure, Resolver } from '../dns/types.ts';

/**
 * mailauth's resolver contract, read from its source (4.x: lib/spf/index.js, lib/spf/spf-verify.js,
 * lib/dkim/dkim-verifier.js, lib/dmarc/get-dmarc-record.js, lib/tools.js getPublicKey) and shaped like
 * node:dns.promises.resolve:
 * - TXT -> string[][] (one array of character-strings per record; mailauth joins them itself);
 * - MX -> Array<{ exchange, priority }>;  A / AAAA -> string[];
 * - no records -> a rejection whose `code` tells why. mailauth tells apart exactly these:
 *   ENOTFOUND (the name does not exist) and ENODATA (no record of that type) mean "no record": DKIM
 *   "neutral, no key", SPF "none" or a void lookup (RFC 7208 §4.6.4), DMARC "no policy";
 *   ETIMEOUT and EREFUSED are SPF temperrors (RFC 7208 §2.6.6); any other code (ESERVFAIL, EFORMERR,
 *   ECONNREFUSED) is a temperror in SPF, DKIM ("DNS failure") and ARC alike.
 */
export type MailauthResolver = (name: string, rrtype: string) => Promise<unknown>;

/** Node's dns error codes for each of Tern's failure kinds, the vocabulary mailauth switches on. */
const CODES: Record<DnsFailure, string> = {
  nxdomain: 'ENOTFOUND',
  nodata: 'ENODATA',
  timeout: 'ETIMEOUT',
  servfail: 'ESERVFAIL',
  refused: 'EREFUSED',
  formerr: 'EFORMERR',
  network: 'ECONNREFUSED',
};

/** An Error carrying a node:dns-style `code`, as mailauth expects from a failed lookup. */
export class DnsLookupError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly hostname: string,
  ) {
    super(message);
    this.name = 'DnsLookupError';
  }
}

function unwrap<T>(name: string, answer: DnsAnswer<T>): T[] {
  if (answer.ok) return answer.records;
  throw new DnsLookupError(answer.message, CODES[answer.error], name);
}

/**
 * Adapts a Tern Resolver to mailauth's `resolver(name, rrtype)` option. Tern's resolver joins each TXT
 * record's character-strings (RFC 7208 §3.3, RFC 6376 §3.6.2.2 read them joined), so each record comes back
 * as a one-string array: the same result for every consumer that joins, which mailauth always does.
 *
 * PTR: Tern's resolver has no reverse lookups, and the only user is SPF's "ptr" mechanism and %{p} macro,
 * which RFC 7208 §5.5 says SHOULD NOT be used and must "fail to match" when the lookup fails. An empty
 * answer gives exactly that, without charging a void lookup. Any other type is a bug in the caller: the
 * rejection says so (and mailauth reports a temperror rather than a wrong verdict).
 */
export function mailauthResolver(resolver: Resolver): MailauthResolver {
  return async (name: string, rrtype: string): Promise<unknown> => {
    const host = name.replace(/\.$/, '');
    switch (rrtype.toUpperCase()) {
      case 'TXT':
        return unwrap(host, await resolver.txt(host)).map((record) => [record]);
      case 'MX':
        return unwrap(host, await resolver.mx(host)).map((mx) => ({ exchange: mx.exchange, priority: mx.preference }));
      case 'A':
        return unwrap(host, await resolver.a(host));
      case 'AAAA':
        return unwrap(host, await resolver.aaaa(host));
      case 'PTR':
        return [];
      default:
        throw new DnsLookupError(`${rrtype} ${host}: record type not supported by Tern's resolver`, 'ENOTIMP', host);
    }
  };
}
