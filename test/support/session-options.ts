// The SessionOptions, SessionDeps and ConnectionInfo the dialogue runners (memory and TCP) and unit tests share.
import type { ConnectionInfo, ExtensionSwitches, SessionDeps, SessionOptions } from '../../src/smtp/types.ts';

/** Overrides; `extensions` may be partial and is merged over "all on". */
export type SessionOptionOverrides = Partial<Omit<SessionOptions, 'extensions'>> & {
  extensions?: Partial<ExtensionSwitches>;
};

export const TEST_HOSTNAME = 'mx.tern.test';
/** 2026-01-02T03:04:05Z, a Friday: the clock of every test session. */
export const TEST_NOW = new Date('2026-01-02T03:04:05Z');

/**
 * Small limits so size tests stay cheap: 10 000-octet messages, 100 recipients, 100 Received fields,
 * 10 bad commands, 2048-octet command lines (Postfix's line_length_limit; RFC 5321 §4.5.3.1.4 asks >= 512).
 */
export function testSessionOptions(overrides: SessionOptionOverrides = {}): SessionOptions {
  const { extensions, ...rest } = overrides;
  return {
    hostname: TEST_HOSTNAME,
    maxMessageSize: 10000,
    maxRecipients: 100,
    maxReceivedHeaders: 100,
    maxBadCommands: 10,
    maxCommandLine: 2048,
    vrfy: 'ambiguous',
    localDomains: new Set(['tern.test']),
    relayDomains: new Set(['relay.test']),
    startTls: true,
    ...rest,
    extensions: {
      pipelining: true,
      size: true,
      eightBitMime: true,
      smtpUtf8: true,
      chunking: true,
      dsn: true,
      enhancedStatusCodes: true,
      ...extensions,
    },
  };
}

/** Fixed clock and queue ids 'Q0001', 'Q0002', ... (fresh counter per call). */
export function testSessionDeps(): SessionDeps {
  let n = 0;
  return {
    now: () => new Date(TEST_NOW),
    newQueueId: () => `Q${String(++n).padStart(4, '0')}`,
  };
}

/** A plaintext MX connection from 192.0.2.1 (TEST-NET-1), untrusted unless overridden. */
export function testConnection(overrides: Partial<ConnectionInfo> = {}): ConnectionInfo {
  return {
    remoteAddress: '192.0.2.1',
    remotePort: 40000,
    localAddress: '192.0.2.25',
    localPort: 25,
    listener: 'mx',
    tls: null,
    trusted: false,
    ...overrides,
  };
}
