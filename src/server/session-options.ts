// Derives the per-server SessionOptions from configuration, once at start.
import type { Config } from '../config/schema.ts';
import type { SessionOptions } from '../smtp/types.ts';

export function sessionOptionsFrom(config: Config, haveCertificate: boolean): SessionOptions {
  const s = config.smtp;
  return {
    hostname: config.hostname,
    maxMessageSize: s.maxMessageSize,
    maxRecipients: s.maxRecipients,
    maxReceivedHeaders: s.maxReceivedHeaders,
    maxBadCommands: s.maxBadCommands,
    maxCommandLine: s.maxCommandLine,
    vrfy: s.vrfy,
    localDomains: new Set(config.relay.localDomains.map((d) => d.toLowerCase())),
    relayDomains: new Set(config.relay.relayDomains.map((d) => d.toLowerCase())),
    startTls: haveCertificate,
    extensions: { ...s.extensions },
  };
}
