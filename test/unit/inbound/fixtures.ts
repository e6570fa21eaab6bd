// Shared pieces for the inbound-check tests: envelopes, connections, messages, DKIM keys and a quiet logger.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { Buffer } from 'node:buffer';
import { dkimSign } from 'mailauth';
import type { Logger } from '../../../src/lib/log.ts';
import type { ConnectionInfo, Envelope } from '../../../src/smtp/types.ts';
import { txt, type ZoneRecord } from '../../support/dns-server.ts';

export const CLIENT_IP = '192.0.2.10';
export const AUTHSERV_ID = 'mx.tern.test';

export function envelope(sender: string, recipients: string[], helo = 'client.example.test'): Envelope {
  return {
    queueId: 'Q1',
    sender,
    recipients: recipients.map((address) => ({ address, notify: null, orcpt: null })),
    bodyType: null,
    smtpUtf8: false,
    declaredSize: null,
    dsnRet: null,
    dsnEnvid: null,
    helo,
    protocol: 'ESMTP',
    clientAddress: CLIENT_IP,
    clientPort: 40000,
    listener: 'mx',
    tls: null,
    authUser: null,
    receivedAt: new Date('2026-11-28T12:00:00Z'),
  };
}

export const conn = (remoteAddress = CLIENT_IP): ConnectionInfo => ({
  remoteAddress,
  remotePort: 40000,
  localAddress: '127.0.0.1',
  localPort: 25,
  listener: 'mx',
  tls: null,
  trusted: false,
});

/** A message as the sender wrote it (no trace fields). */
export function authored(from: string, extraHeaders = '', body = 'Hello.\r\n'): string {
  return `${extraHeaders}From: ${from}\r\nTo: rcpt@local.test\r\nSubject: test\r\n` +
    `Date: Sat, 28 Nov 2026 12:00:00 +0000\r\nMessage-ID: <m1@sender.test>\r\n\r\n${body}`;
}

/** Our Received field on top, as the stored message has it. */
export const received = (text: string): Uint8Array =>
  new TextEncoder().encode(
    `Received: from client.example.test ([${CLIENT_IP}]) by ${AUTHSERV_ID} with ESMTP id Q1;\r\n` +
      ` Sat, 28 Nov 2026 12:00:01 +0000\r\n${text}`,
  );

export const asText = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

export interface DkimKey {
  privateKey: string;
  record: ZoneRecord;
}

/** A key pair and its DKIM key record (RFC 6376 §3.6.1), p= split into 255-octet character-strings. */
export function dkimKey(type: 'rsa' | 'ed25519' = 'rsa'): DkimKey {
  const { privateKey, publicKey } = type === 'rsa'
    ? generateKeyPairSync('rsa', { modulusLength: 2048 })
    : generateKeyPairSync('ed25519');
  const der = (publicKey as KeyObject).export({ type: 'spki', format: 'der' });
  // RFC 8463 §4.2: an ed25519 key record carries the bare 32-octet key, not the SPKI structure.
  const p = (type === 'rsa' ? der : der.subarray(der.length - 32)).toString('base64');
  const value = `v=DKIM1; k=${type}; p=${p}`;
  const parts: string[] = [];
  for (let i = 0; i < value.length; i += 255) parts.push(value.slice(i, i + 255));
  return {
    privateKey: (privateKey as KeyObject).export({ type: 'pkcs8', format: 'pem' }).toString(),
    record: txt(...parts),
  };
}

/** The message with a DKIM-Signature by d=domain, s=selector on top. */
export async function signed(
  text: string,
  key: DkimKey,
  domain: string,
  selector = 'sel',
  algorithm = 'rsa-sha256',
): Promise<string> {
  // mailauth signs only what signatureData lists (top-level key options alone produce no signature).
  const result = await dkimSign(Buffer.from(text), {
    signingDomain: domain,
    selector,
    privateKey: key.privateKey,
    signatureData: [{
      signingDomain: domain,
      selector,
      privateKey: key.privateKey,
      algorithm,
      canonicalization: 'relaxed/relaxed',
    }],
  });
  if (result.errors.length > 0) throw result.errors[0];
  if (!result.signatures.startsWith('DKIM-Signature:')) throw new Error('dkimSign produced no signature');
  return result.signatures + text;
}

export interface LogLine {
  level: string;
  event: string;
  fields: Record<string, unknown>;
}

/** A Logger that records every call. */
export function recordingLogger(lines: LogLine[] = [], base: Record<string, unknown> = {}): Logger {
  const at = (level: string) => (event: string, fields: Record<string, unknown> = {}) => {
    lines.push({ level, event, fields: { ...base, ...fields } });
  };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (fields) => recordingLogger(lines, { ...base, ...fields }),
    enabled: () => true,
  };
}
