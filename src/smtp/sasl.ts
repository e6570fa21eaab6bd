// SASL framing for SMTP AUTH (RFC 4954 §4): base64 in both directions, "=" for an empty initial response,
// "*" to cancel, and the bound on a response line. The mechanisms themselves are the host's business.

/**
 * Longest AUTH response line we read, CRLF included. RFC 4954 §4 requires servers to accept at least 12288
 * octets per line; beyond that the exchange is refused with 500 5.5.6 (never buffered without bound).
 */
export const MAX_SASL_LINE = 12288 + 2;

/** A client line during the exchange: the decoded data, a cancel ("*"), or undecodable base64. */
export type SaslResponse = { kind: 'data'; data: Uint8Array } | { kind: 'cancel' } | { kind: 'bad' };

// RFC 4648 §4 alphabet with padding; RFC 4954 §4 forbids anything else in a response line.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Strict base64 (RFC 4648 §4): no white space, no missing padding; null when the text is not base64. */
export function decodeBase64(text: string): Uint8Array | null {
  if (!BASE64.test(text)) return null;
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

export function encodeBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
  return btoa(binary);
}

/** The initial response on the AUTH line: absent (null), "=" (empty, RFC 4954 §4) or base64. */
export function parseInitialResponse(text: string | null): Uint8Array | null | 'bad' {
  if (text === null) return null;
  if (text === '=') return new Uint8Array(0);
  return decodeBase64(text) ?? 'bad';
}

/** A response line (its CRLF or LF already stripped): "*" cancels, anything else must be base64. */
export function parseSaslResponse(line: string): SaslResponse {
  if (line === '*') return { kind: 'cancel' };
  const data = decodeBase64(line);
  return data === null ? { kind: 'bad' } : { kind: 'data', data };
}
