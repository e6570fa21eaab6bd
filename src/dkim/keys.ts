// DKIM key material: generating signing keys, the public key's DNS form, and the TXT record to publish.
import { Buffer } from 'node:buffer';
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { domainToASCII } from 'node:url';
import { isDomainName } from '../lib/domain.ts';

/** The algorithms Tern signs with: RFC 6376 §3.3.1 (RSA, 2048 bits) and RFC 8463 §3 (Ed25519). */
export type DkimAlgorithm = 'rsa-sha256' | 'ed25519-sha256';
export const DKIM_ALGORITHMS: readonly DkimAlgorithm[] = ['rsa-sha256', 'ed25519-sha256'];

/** RFC 8301 §3.2: signers MUST use at least 1024 bits and SHOULD use 2048. */
export const RSA_BITS = 2048;

export interface GeneratedKey {
  algorithm: DkimAlgorithm;
  /** PKCS#8 PEM, as stored in dkim_keys.private_key. */
  privateKey: string;
  /** The DNS p= value: base64, no whitespace. */
  publicKey: string;
}

/** The TXT record that publishes one key (RFC 6376 §3.6.2.1). */
export interface DnsRecord {
  /** `<selector>._domainkey.<domain>`, no trailing dot. */
  name: string;
  /** The record's text as one string, e.g. `v=DKIM1; k=ed25519; p=…`. */
  value: string;
  /** The same text cut into character-strings of at most 255 octets (RFC 1035 §3.3.14), in order. */
  strings: string[];
  /** A zone-file line: `name. IN TXT ( "…" "…" )`. */
  zoneLine: string;
}

/** "rsa" | "ed25519" (the CLI's words, also the k= tag) or the full algorithm name -> the algorithm. */
export function parseAlgorithm(text: string): DkimAlgorithm | null {
  const t = text.trim().toLowerCase();
  if (t === 'rsa' || t === 'rsa-sha256') return 'rsa-sha256';
  if (t === 'ed25519' || t === 'ed25519-sha256') return 'ed25519-sha256';
  return null;
}

/** The k= tag of the key record (RFC 6376 §3.6.1; RFC 8463 §4.1 registers "ed25519"). */
export function keyType(algorithm: DkimAlgorithm): 'rsa' | 'ed25519' {
  return algorithm === 'rsa-sha256' ? 'rsa' : 'ed25519';
}

/**
 * The p= value of a public key. RSA: base64 of the DER SubjectPublicKeyInfo, which is what every verifier
 * (and opendkim-genkey) uses. Ed25519: RFC 8463 §4.2 says the bare 32-octet public key, not wrapped in ASN.1.
 */
export function dnsPublicKey(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  if (pub.asymmetricKeyType === 'ed25519') {
    const jwk = pub.export({ format: 'jwk' });
    return Buffer.from(String(jwk.x), 'base64url').toString('base64');
  }
  return Buffer.from(pub.export({ format: 'der', type: 'spki' })).toString('base64');
}

/**
 * A fresh key pair. RSA-2048 generation is synchronous and takes tens to a few hundred milliseconds; in the
 * daemon that stalls the event loop once per `tern dkim generate`, acceptable for a rare operator command.
 */
export function generateKey(algorithm: DkimAlgorithm): GeneratedKey {
  const pair =
    algorithm === 'rsa-sha256'
      ? generateKeyPairSync('rsa', { modulusLength: RSA_BITS, publicExponent: 0x10001 })
      : generateKeyPairSync('ed25519');
  return {
    algorithm,
    privateKey: String(pair.privateKey.export({ format: 'pem', type: 'pkcs8' })),
    publicKey: dnsPublicKey(pair.publicKey),
  };
}

/** Parses a stored PEM and checks it is a key of the algorithm it is stored under; null when it is not. */
export function loadPrivateKey(pem: string, algorithm: DkimAlgorithm): KeyObject | null {
  try {
    const key = createPrivateKey(pem);
    return key.asymmetricKeyType === keyType(algorithm) ? key : null;
  } catch {
    return null;
  }
}

/**
 * Signing domains are stored and compared in lower-case A-label form (RFC 6376 §3.5: d= is compared
 * case-insensitively; an IDN is published in DNS by its A-labels). Null when it is not a domain name.
 */
export function normaliseDomain(text: string): string | null {
  let d = text.trim().toLowerCase().replace(/\.$/, '');
  if (/[^\x20-\x7e]/.test(d)) d = domainToASCII(d);
  return d !== '' && isDomainName(d) ? d : null;
}

// RFC 6376 §3.1: selector = sub-domain *( "." sub-domain ), sub-domain being RFC 5321's Let-dig labels.
const SELECTOR_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Lower-case selector, or null when it is not valid selector syntax (RFC 6376 §3.1). */
export function normaliseSelector(text: string): string | null {
  const s = text.trim().toLowerCase();
  if (s === '' || s.length > 63) return null; // one label's worth: `<selector>._domainkey.<domain>` must fit 253
  return s.split('.').every((label) => SELECTOR_LABEL.test(label)) ? s : null;
}

/**
 * The default selector for a key made now: `tern<yyyymm>` (a date in the name tells an operator at a
 * glance which record is old), with a letter appended when that name is taken for the domain.
 */
export function defaultSelector(now: Date, taken: ReadonlySet<string>): string {
  const base = `tern${now.getUTCFullYear()}${String(now.getUTCMonth() + 1).padStart(2, '0')}`;
  if (!taken.has(base)) return base;
  for (let i = 1; i < 26; i++) {
    const s = base + String.fromCharCode(0x61 + i); // tern202611b, …c
    if (!taken.has(s)) return s;
  }
  return `${base}-${Date.now().toString(36)}`;
}

/** RFC 1035 §3.3.14: a character-string is at most 255 octets; the key record is ASCII. */
export const MAX_TXT_STRING = 255;

/** Splits ASCII text into character-strings of at most `max` octets. */
export function splitTxt(value: string, max = MAX_TXT_STRING): string[] {
  const out: string[] = [];
  for (let i = 0; i < value.length; i += max) out.push(value.slice(i, i + max));
  return out.length ? out : [''];
}

/**
 * The key record for a selector (RFC 6376 §3.6.1). A revoked key is published with an empty p= (same
 * section): verifiers then fail its signatures instead of reporting "no key".
 */
export function dnsRecord(domain: string, selector: string, algorithm: DkimAlgorithm, publicKey: string): DnsRecord {
  const name = `${selector}._domainkey.${domain}`;
  const value = `v=DKIM1; k=${keyType(algorithm)}; p=${publicKey}`;
  const strings = splitTxt(value);
  return { name, value, strings, zoneLine: `${name}. IN TXT ( ${strings.map((s) => `"${s}"`).join(' ')} )` };
}
