// Webhook delivery: one HTTP POST of the message (message/rfc822) per local mailbox, signed when the domain
// has a secret; the answer's status decides delivered / temporary / permanent.
//
// One POST per mailbox, not per message: each request then has one X-Tern-Envelope-To and one
// Delivered-To header, its answer maps to exactly one result, and a retry re-posts only the mailboxes
// that failed. (X-Tern-Queue-Id, X-Tern-Envelope-To) identifies a delivery, so a receiver can drop the
// duplicates that at-least-once delivery allows.
import { createHmac } from 'node:crypto';
import { VERSION } from '../../version.ts';
import { delivered, type LocalOutcome, permanent, temporary, withTraceHeaders } from './common.ts';

/** How long a POST may take, answer included, before it counts as failed (temporary). */
export const WEBHOOK_TIMEOUT_MS = 30_000;

export interface WebhookDelivery {
  url: string;
  secret: string; // '' = unsigned
  queueId: string;
  sender: string; // '' = null reverse-path, sent as "<>"
  address: string; // the local mailbox
  body: Uint8Array; // as queued; Return-Path and Delivered-To are added here
  timeoutMs?: number;
  signal?: AbortSignal; // the engine's: lease lost or shutting down
}

/** "sha256=<hex>" of HMAC-SHA256(secret, body): the receiver recomputes it over the raw request body. */
export function signature(secret: string, body: Uint8Array): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/**
 * Envelope addresses as HTTP header values, which must be Latin-1 text without controls: '%' and every
 * octet outside printable ASCII are percent-encoded (UTF-8, RFC 3986 style). An ordinary address is
 * unchanged; a receiver decodes every value with decodeURIComponent.
 */
export function headerValue(address: string): string {
  // deno-lint-ignore no-control-regex
  return address.replace(/[%\u0000-\u001f\u007f-\u{10ffff}]/gu, (c) => encodeURIComponent(c));
}

/**
 * POSTs one copy. Never throws. 2xx: delivered. 408, 429, 5xx, redirects, network errors and timeouts:
 * temporary 4.3.0, so the engine's retry schedule posts again (the "retries on failure"). Any other
 * 4xx: permanent 5.3.0, the receiver refused this message. A URL that is not http(s): temporary 4.3.5,
 * the operator's to fix. Redirects are not followed: a POST body does not survive 301/302, and the
 * configured URL should be the final one.
 */
export async function postToWebhook(w: WebhookDelivery): Promise<LocalOutcome> {
  let url: URL;
  try {
    url = new URL(w.url);
  } catch {
    return temporary('4.3.5', 'local delivery misconfigured', `webhook URL "${w.url}" is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return temporary('4.3.5', 'local delivery misconfigured', `webhook URL scheme ${url.protocol} is not http(s)`);
  }
  // The URL may carry a token, and replies reach senders in DSNs: only its origin goes in details.
  const where = url.origin;
  const body = withTraceHeaders(w.body, w.sender, w.address);
  const headers: Record<string, string> = {
    'content-type': 'message/rfc822',
    'user-agent': `Tern/${VERSION}`,
    'x-tern-queue-id': w.queueId,
    'x-tern-envelope-from': w.sender === '' ? '<>' : headerValue(w.sender),
    'x-tern-envelope-to': headerValue(w.address),
  };
  if (w.secret !== '') headers['x-tern-signature'] = signature(w.secret, body);
  const timeout = AbortSignal.timeout(w.timeoutMs ?? WEBHOOK_TIMEOUT_MS);
  const signal = w.signal ? AbortSignal.any([w.signal, timeout]) : timeout;
  let response: Response;
  try {
    response = await fetch(url, { method: 'POST', headers, body, redirect: 'manual', signal });
  } catch (err) {
    const why = timeout.aborted ? 'timed out' : w.signal?.aborted ? 'interrupted' : 'failed';
    // Some runtimes name the whole URL in their errors (Deno: "error sending request for url (…)").
    const message = (err as Error).message.replaceAll(url.href, where).replaceAll(w.url, where);
    return temporary('4.3.0', `webhook request ${why}`, `${where}: ${message}`);
  }
  // Read (a little of) the answer for the log; it also frees the connection for reuse.
  const text = await readSome(response, 300).catch(() => '');
  const detail = `${where} answered ${response.status}${text === '' ? '' : `: ${text}`}`;
  const s = response.status;
  if (s >= 200 && s < 300) return delivered(`webhook accepted (HTTP ${s})`, detail);
  if (s >= 400 && s < 500 && s !== 408 && s !== 429) return permanent('5.3.0', `webhook refused (HTTP ${s})`, detail);
  return temporary('4.3.0', `webhook unavailable (HTTP ${s})`, detail);
}

/** Up to max characters of the body, controls flattened; the rest is cancelled, not downloaded. */
async function readSome(response: Response, max: number): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < max) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) all.set(c, (at += c.length) - c.length);
  // deno-lint-ignore no-control-regex
  return new TextDecoder().decode(all.subarray(0, max)).replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
}
