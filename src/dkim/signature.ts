// Makes one DKIM-Signature header field (RFC 6376 §5) over a message with node:crypto: relaxed/relaxed,
// rsa-sha256 or ed25519-sha256 (RFC 8463), the From field over-signed.
//
// Why not mailauth's dkimSign: it builds h= only from the fields present and cannot list a name more often
// than it occurs, so it cannot over-sign From (RFC 6376 §8.15), which the issue asks for. Verification stays
// with mailauth (verify.ts); the tests check these signatures with mailauth and with dkimpy.
import { Buffer } from 'node:buffer';
import { createHash, sign, type KeyObject } from 'node:crypto';
import { type HeaderField, relaxedBody, relaxedHeader, splitMessage } from './canon.ts';
import type { DkimAlgorithm } from './keys.ts';

export interface SigningKey {
  domain: string; // d=, lower-case A-labels
  selector: string; // s=
  algorithm: DkimAlgorithm;
  key: KeyObject; // private key of that algorithm
}

export interface SignOptions {
  /** Field names to sign when present, any case; From is added when missing (RFC 6376 §5.4: MUST). */
  signedHeaders: readonly string[];
  /** The t= tag (RFC 6376 §3.5): when the signature was made. */
  now: Date;
  /** Seconds after `now` for an x= tag; none by default (an expired signature hurts forwarded mail). */
  expireAfter?: number;
}

// RFC 5322 §3.6.8: a field name is printable US-ASCII except the colon. Anything else could not be in h=.
const FIELD_NAME = /^[\x21-\x39\x3b-\x7e]+$/;

/** Names in the order given, lower-case, each once; From first when the list lacks it. */
function normaliseNames(names: readonly string[]): string[] {
  const out: string[] = [];
  for (const n of names.map((x) => x.trim().toLowerCase())) if (FIELD_NAME.test(n) && !out.includes(n)) out.push(n);
  if (!out.includes('from')) out.unshift('from');
  return out;
}

/**
 * The h= list: each configured name once per instance present (RFC 6376 §5.4.2), plus one more "from" so a
 * From field added later in transit breaks the signature (§8.15: a name listed more often than it occurs
 * signs the absence of further instances).
 */
export function headerList(headers: readonly HeaderField[], signedHeaders: readonly string[]): string[] {
  const h: string[] = [];
  for (const name of normaliseNames(signedHeaders)) {
    const count = headers.filter((f) => f.key === name).length;
    for (let i = 0; i < count; i++) h.push(name);
    if (name === 'from') h.push('from');
  }
  return h;
}

/**
 * RFC 6376 §5.4.2: instances are taken from the bottom of the header up, one per occurrence of the name in
 * h=; a name with no instance left contributes nothing.
 */
function signedFieldsText(headers: readonly HeaderField[], h: readonly string[]): string {
  const used = new Set<number>();
  let text = '';
  for (const name of h) {
    for (let i = headers.length - 1; i >= 0; i--) {
      if (headers[i].key === name && !used.has(i)) {
        used.add(i);
        text += relaxedHeader(headers[i].raw);
        break;
      }
    }
  }
  return text;
}

/** Joins tags into a field folded before ~76 columns (RFC 5322 §2.1.1 recommends lines of at most 78). */
function foldTags(tags: string[]): string {
  let out = 'DKIM-Signature:';
  let line = out.length;
  for (const tag of tags) {
    if (line + 1 + tag.length > 76) {
      out += '\r\n\t' + tag;
      line = 8 + tag.length;
    } else {
      out += ' ' + tag;
      line += 1 + tag.length;
    }
  }
  return out;
}

/** h= can be long; its colon-separated names may be folded (RFC 6376 §3.5 allows FWS around them). */
function foldHeaderNames(h: string[]): string[] {
  const parts: string[] = [];
  let cur = 'h=';
  for (const [i, name] of h.entries()) {
    const piece = name + (i < h.length - 1 ? ':' : ';');
    if (cur.length + piece.length > 68) {
      parts.push(cur);
      cur = piece;
    } else cur += piece;
  }
  parts.push(cur);
  return parts;
}

/**
 * Returns the DKIM-Signature field (with its CRLF) to prepend to `message` (wire form: CRLF line ends).
 * Algorithm, RFC 6376 §3.7: bh = hash of the relaxed body; then the signed fields, relaxed, followed by this
 * DKIM-Signature field itself with an empty b= and no final CRLF, are signed. RFC 8463 §3: Ed25519 signs the
 * SHA-256 hash of that data (PureEdDSA over the hash), RSA signs it with PKCS#1 v1.5 and SHA-256.
 */
export function dkimSignatureField(message: Uint8Array, key: SigningKey, opts: SignOptions): string {
  const { headers, body } = splitMessage(message);
  const bh = createHash('sha256').update(relaxedBody(body)).digest('base64');
  const h = headerList(headers, opts.signedHeaders);
  const t = Math.floor(opts.now.getTime() / 1000);
  const tags = [
    'v=1;',
    `a=${key.algorithm};`,
    'c=relaxed/relaxed;',
    `d=${key.domain};`,
    `s=${key.selector};`,
    `t=${t};`,
    ...(opts.expireAfter ? [`x=${t + opts.expireAfter};`] : []),
    ...foldHeaderNames(h),
    `bh=${bh};`,
  ];
  const unsigned = foldTags(tags) + '\r\n\tb=';
  // The field being made is hashed last, relaxed, with b= empty and without its CRLF (RFC 6376 §3.7).
  const data = Buffer.from(signedFieldsText(headers, h) + relaxedHeader(unsigned).slice(0, -2), 'latin1');
  const b =
    key.algorithm === 'rsa-sha256'
      ? sign('sha256', data, key.key)
      : sign(null, createHash('sha256').update(data).digest(), key.key);
  // b= is folded too; verifiers ignore whitespace in it (RFC 6376 §3.5).
  const b64 = b.toString('base64');
  const chunks = b64.match(/.{1,70}/g) ?? [''];
  return unsigned + chunks.join('\r\n\t') + '\r\n';
}

/** The message with the signature field prepended (RFC 6376 §5.6: signatures go at the top). */
export function signMessage(message: Uint8Array, key: SigningKey, opts: SignOptions): Uint8Array {
  const field = Buffer.from(dkimSignatureField(message, key, opts), 'latin1');
  return Buffer.concat([field, message]);
}
