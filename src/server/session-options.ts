// Derives the SessionOptions of each listener from configuration, once at start.
import type { Config } from '../config/schema.ts';
import type { AuthOptions, ListenerKind, PolicyStage, SessionOptions } from '../smtp/types.ts';

const LISTENERS: readonly ListenerKind[] = ['mx', 'submission', 'submissions'];

/**
 * The options for one listener (default 'mx'). AUTH settings are the same everywhere (AuthOptions.listeners
 * says where it is offered); policy stages exist only on the MX listener, since the anti-abuse checks are
 * about strangers delivering to us, not our users submitting (RFC 6409 §4.3 has its own AUTH requirement).
 */
export function sessionOptionsFrom(config: Config, haveCertificate: boolean, listener: ListenerKind = 'mx'): SessionOptions {
  const s = config.smtp;
  const options: SessionOptions = {
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
  const auth = authOptionsFrom(config);
  if (auth !== undefined) options.auth = auth;
  if (listener === 'mx') {
    const stages = policyStagesFrom(config);
    if (stages.size > 0) options.policyStages = stages;
  }
  if (config.submission?.addMissingHeaders) options.fixSubmissions = true;
  return options;
}

/** One SessionOptions per listener kind, each with `extra` (e.g. localRecipient) merged in. */
export function listenerSessionOptions(
  config: Config,
  haveCertificate: boolean,
  extra: Partial<SessionOptions> = {},
): Record<ListenerKind, SessionOptions> {
  const out = {} as Record<ListenerKind, SessionOptions>;
  for (const l of LISTENERS) out[l] = { ...sessionOptionsFrom(config, haveCertificate, l), ...extra };
  return out;
}

/** Absent when no mechanism or no listener is configured: then AUTH is "not implemented" (502). */
export function authOptionsFrom(config: Config): AuthOptions | undefined {
  const a = config.auth;
  if (a === undefined || a.mechanisms.length === 0 || a.listeners.length === 0) return undefined;
  return {
    mechanisms: [...a.mechanisms],
    listeners: new Set(a.listeners),
    allowPlaintext: a.iKnowPasswordsTravelInClear,
  };
}

/** Which stages the anti-abuse policy needs, from which of its features are switched on. */
export function policyStagesFrom(config: Config): Set<PolicyStage> {
  const a = config.abuse;
  const stages = new Set<PolicyStage>();
  if (a === undefined) return stages;
  if (a.dnsbl.length > 0 || a.connectionRate > 0) stages.add('connect');
  if (a.rejectHeloAsUs || a.requireFqdnHelo) stages.add('helo');
  if (a.messageRate > 0) stages.add('mail');
  if (a.greylisting) stages.add('rcpt');
  return stages;
}
