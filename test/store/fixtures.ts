// Envelopes and bodies for the store tests: every optional field set, and the plainest possible message.
import type { Envelope } from '../../src/smtp/types.ts';

let seq = 0;

/** A unique queue id in the session's style (the store only requires uniqueness). */
export function queueId(prefix = 'T'): string {
  seq++;
  return `${prefix}${Date.now().toString(36)}${process.pid.toString(36)}${seq.toString(36).padStart(4, '0')}`.toUpperCase();
}

/** Every field that can be set, set to something distinctive. */
export function fullEnvelope(id = queueId()): Envelope {
  return {
    queueId: id,
    sender: 'rené@exämple.org',
    recipients: [
      { address: 'alice@tern.test', notify: ['SUCCESS', 'FAILURE'], orcpt: { type: 'rfc822', address: 'Alice@Tern.Test' } },
      { address: 'bob@tern.test', notify: 'NEVER', orcpt: null },
      { address: 'Postmaster', notify: null, orcpt: { type: 'utf-8', address: 'пользователь@пример.рф' } },
      { address: 'carol@tern.test', notify: ['DELAY'], orcpt: null },
    ],
    bodyType: '8BITMIME',
    smtpUtf8: true,
    declaredSize: 123456,
    dsnRet: 'HDRS',
    dsnEnvid: 'env+id=42',
    helo: 'mail.exämple.org',
    protocol: 'UTF8SMTPSA',
    clientAddress: '2001:db8::25',
    clientPort: 49152,
    listener: 'submission',
    tls: { protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' },
    authUser: 'rene',
    receivedAt: new Date('2024-02-29T23:59:59.987Z'),
  };
}

/** The null reverse-path (a bounce), nothing optional given. */
export function minimalEnvelope(id = queueId(), recipients = 1): Envelope {
  return {
    queueId: id,
    sender: '',
    recipients: Array.from({ length: recipients }, (_, i) => ({ address: `r${i}@tern.test`, notify: null, orcpt: null })),
    bodyType: null,
    smtpUtf8: false,
    declaredSize: null,
    dsnRet: null,
    dsnEnvid: null,
    helo: 'client.example',
    protocol: 'SMTP',
    clientAddress: '192.0.2.1',
    clientPort: 25025,
    listener: 'mx',
    tls: null,
    authUser: null,
    receivedAt: new Date(),
  };
}

/** Every byte value 0..255, twice, so no encoding or text conversion can go unnoticed. */
export function allBytes(): Uint8Array {
  const b = new Uint8Array(512);
  for (let i = 0; i < b.length; i++) b[i] = i & 255;
  return b;
}

export function textBody(n: number, marker = ''): Uint8Array {
  const line = 'x'.repeat(76) + '\r\n';
  return new TextEncoder().encode(`Subject: ${marker}\r\n\r\n${line.repeat(Math.ceil(n / line.length))}`.slice(0, Math.max(n, 12 + marker.length)));
}
