// Internationalised domains in envelope addresses as A-labels (RFC 5890), so that only mail with a truly
// non-ASCII address needs SMTPUTF8 from the peer (RFC 6531 §3.2: an A-label domain is not "internationalized").
import { domainToASCII } from 'node:url';

// deno-lint-ignore no-control-regex
const ASCII = /^[\x00-\x7f]*$/;

/**
 * "user@bücher.example" -> "user@xn--bcher-kva.example". A non-ASCII local part cannot be converted (there is
 * no ASCII form of it), so such an address is returned unchanged, as is a domain IDNA refuses: SMTPUTF8 then
 * decides. RFC 6531 §3.2 lets an SMTPUTF8 client send either form, so converting every time is safe.
 */
export function asciiDomain(address: string): string {
  const at = address.lastIndexOf('@');
  if (at < 0 || ASCII.test(address)) return address;
  const local = address.slice(0, at);
  const domain = address.slice(at + 1);
  if (!ASCII.test(local) || domain.startsWith('[')) return address;
  const converted = domainToASCII(domain);
  return converted !== '' && ASCII.test(converted) ? `${local}@${converted}` : address;
}
