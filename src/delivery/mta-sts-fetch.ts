// Fetches https://mta-sts.<domain>/.well-known/mta-sts.txt as RFC 8461 §3.3 requires: verified TLS for the
// policy host's name, the host's addresses from Tern's own resolver, no redirects, a timeout and a size cap.
import { Buffer } from 'node:buffer';
import tls from 'node:tls';
import type { Resolver } from '../dns/types.ts';

/** §3.3 suggests 64 KiB as the largest policy body. */
export const MAX_POLICY_BYTES = 64 * 1024;
const MAX_HEADER_BYTES = 16 * 1024;

export type PolicyFetchResult = { ok: true; body: string } | { ok: false; reason: string };

export interface PolicyFetchOptions {
  resolver: Resolver;
  /** PEM certificates to trust: the system's roots plus the operator's caFile. */
  ca: readonly string[];
  port: number;
  timeoutMs: number;
  maxBytes?: number;
}

/**
 * One GET of the policy, answering a body or why there is none. HTTP/1.1 is spoken here over node:tls rather
 * than through fetch() or node:https because none of those lets the caller both pick the address (Bun and
 * Deno ignore https.request's lookup and createConnection options, as measured) and keep full certificate
 * verification against the host name: the address must come from Tern's resolver, like every other lookup
 * of the delivery path, so that its answers (and tests' loopback answers) hold here too.
 */
export async function fetchPolicyText(domain: string, o: PolicyFetchOptions): Promise<PolicyFetchResult> {
  const host = `mta-sts.${domain}`;
  const [a, aaaa] = await Promise.all([o.resolver.a(host), o.resolver.aaaa(host)]);
  const addresses = [...(a.ok ? a.records : []), ...(aaaa.ok ? aaaa.records : [])];
  if (addresses.length === 0) {
    return {
      ok: false,
      reason: `${host}: no address (${a.ok ? 'A empty' : a.error}, ${aaaa.ok ? 'AAAA empty' : aaaa.error})`,
    };
  }
  const deadline = Date.now() + o.timeoutMs;
  const errors: string[] = [];
  for (const address of addresses) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    const r = await getOnce(host, address, o, left);
    if (r.kind === 'answer') return r.result;
    errors.push(`${address}: ${r.reason}`);
  }
  if (errors.length < addresses.length) errors.push(`timeout after ${o.timeoutMs} ms`);
  return { ok: false, reason: `${host}: ${errors.join('; ')}` };
}

/** 'answer' ends the fetch (a policy, or an HTTP-level refusal); 'unreachable' moves on to the next address. */
type Attempt = { kind: 'answer'; result: PolicyFetchResult } | { kind: 'unreachable'; reason: string };

function getOnce(host: string, address: string, o: PolicyFetchOptions, timeoutMs: number): Promise<Attempt> {
  const maxBytes = o.maxBytes ?? MAX_POLICY_BYTES;
  return new Promise((resolve) => {
    let settled = false;
    let connected = false;
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (a: Attempt) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(a);
    };
    const fail = (reason: string) => finish({ kind: 'answer', result: { ok: false, reason } });
    // The policy host's certificate must be valid for its name and chain to a trusted root (§3.3);
    // rejectUnauthorized is node's default, spelled out because everything depends on it.
    const socket = tls.connect({
      host: address,
      port: o.port,
      servername: host,
      ca: [...o.ca],
      rejectUnauthorized: true,
      ALPNProtocols: ['http/1.1'],
    });
    const timer = setTimeout(() => {
      if (connected) fail(`no complete answer within ${timeoutMs} ms`);
      else finish({ kind: 'unreachable', reason: `timeout after ${timeoutMs} ms` });
    }, timeoutMs);
    socket.once('secureConnect', () => {
      connected = true;
      // §3.3: "HTTP caching MUST NOT be used": no conditional request, and ask intermediaries not to serve one.
      socket.write(
        `GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: Tern\r\nAccept: text/plain\r\n` +
          'Cache-Control: no-cache\r\nConnection: close\r\n\r\n',
      );
    });
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size > MAX_HEADER_BYTES + 2 * maxBytes + 1024) return fail(`answer larger than ${maxBytes} octets`);
      const r = parseResponse(Buffer.concat(chunks), maxBytes, false);
      if (r !== null) finish({ kind: 'answer', result: r });
    });
    socket.on('end', () => {
      if (!connected) return finish({ kind: 'unreachable', reason: 'closed during the TLS handshake' });
      const r = parseResponse(Buffer.concat(chunks), maxBytes, true);
      finish({ kind: 'answer', result: r ?? { ok: false, reason: 'connection closed mid-answer' } });
    });
    socket.on('close', () => {
      if (connected) fail('connection closed mid-answer');
      else finish({ kind: 'unreachable', reason: 'connection closed' });
    });
    socket.on('error', (e: Error & { code?: string }) => {
      const reason = `${e.code ?? 'error'}: ${e.message}`;
      if (connected) fail(reason);
      else finish({ kind: 'unreachable', reason });
    });
  });
}

/**
 * An HTTP/1.1 response (RFC 9112) from the bytes so far: null while incomplete, else the policy body or the
 * reason it is refused. `ended`: the server closed the connection, which ends a body without length.
 */
export function parseResponse(buf: Buffer, maxBytes: number, ended: boolean): PolicyFetchResult | null {
  const headEnd = buf.indexOf('\r\n\r\n');
  if (headEnd < 0) return buf.length > MAX_HEADER_BYTES ? { ok: false, reason: 'header too large' } : null;
  const lines = buf.subarray(0, headEnd).toString('latin1').split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
  if (status === null) return { ok: false, reason: `not an HTTP response: ${lines[0].slice(0, 60)}` };
  const code = Number(status[1]);
  // §3.3: only 200 is a policy; "HTTP 3xx redirects MUST NOT be followed".
  if (code >= 300 && code < 400) return { ok: false, reason: `HTTP ${code}: redirect refused (RFC 8461 §3.3)` };
  if (code !== 200) return { ok: false, reason: `HTTP ${code}` };
  const headers = new Map<string, string>();
  for (const l of lines.slice(1)) {
    const colon = l.indexOf(':');
    if (colon > 0) headers.set(l.slice(0, colon).trim().toLowerCase(), l.slice(colon + 1).trim());
  }
  // §3.2: "senders SHOULD validate that the media type is text/plain" (a user-uploaded file is not a policy).
  const type = (headers.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'text/plain') return { ok: false, reason: `media type "${type}" is not text/plain` };
  const rest = buf.subarray(headEnd + 4);
  let body: Buffer;
  if (/\bchunked\b/i.test(headers.get('transfer-encoding') ?? '')) {
    const d = dechunk(rest, maxBytes);
    if (typeof d === 'string') return { ok: false, reason: d };
    if (d === null) return ended ? { ok: false, reason: 'truncated chunked body' } : null;
    body = d;
  } else if (headers.has('content-length')) {
    const length = Number(headers.get('content-length'));
    if (!Number.isSafeInteger(length) || length < 0) return { ok: false, reason: 'bad Content-Length' };
    if (length > maxBytes) return { ok: false, reason: `body larger than ${maxBytes} octets` };
    if (rest.length < length) return ended ? { ok: false, reason: 'truncated body' } : null;
    body = rest.subarray(0, length);
  } else {
    if (rest.length > maxBytes) return { ok: false, reason: `body larger than ${maxBytes} octets` };
    if (!ended) return null;
    body = rest;
  }
  return { ok: true, body: new TextDecoder().decode(body) };
}

/** A chunked body (RFC 9112 §7.1): the data, null while incomplete, or why it is refused. */
function dechunk(buf: Buffer, maxBytes: number): Buffer | null | string {
  const parts: Buffer[] = [];
  let total = 0;
  let at = 0;
  for (;;) {
    const eol = buf.indexOf('\r\n', at);
    if (eol < 0) return null;
    const digits = buf.subarray(at, eol).toString('latin1').split(';')[0].trim();
    if (!/^[0-9A-Fa-f]{1,8}$/.test(digits)) return `bad chunk size "${digits.slice(0, 20)}"`;
    const size = parseInt(digits, 16);
    if (size === 0) return Buffer.concat(parts); // trailers, if any, are not needed
    total += size;
    if (total > maxBytes) return `body larger than ${maxBytes} octets`;
    if (buf.length < eol + 2 + size + 2) return null;
    parts.push(buf.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}
