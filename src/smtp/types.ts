// The contract between the sans-I/O SMTP session and whatever performs its effects (server/, tests).
// Nothing here touches a socket, a clock or the database: those come in as values or injected functions.

/** Which listener a connection arrived on; decides policy (relay rules, later AUTH requirements). */
export type ListenerKind = 'mx' | 'submission' | 'submissions';

/** Where a queued message came from: a listener, or 'local' (made by Tern itself, e.g. a DSN). */
export type MessageOrigin = ListenerKind | 'local';

/** What the TLS layer negotiated; goes into the Received header and the queue row. */
export interface TlsInfo {
  protocol: string; // e.g. 'TLSv1.3'
  cipher: string; // e.g. 'TLS_AES_256_GCM_SHA384'
}

/** Facts about one connection, fixed when it is accepted (tls changes after STARTTLS via tlsStarted). */
export interface ConnectionInfo {
  remoteAddress: string; // IPv4 dotted or IPv6 text; IPv4-mapped IPv6 already unwrapped
  remotePort: number;
  localAddress: string;
  localPort: number;
  listener: ListenerKind;
  tls: TlsInfo | null; // non-null from the first byte on an implicit-TLS listener
  trusted: boolean; // remote address is inside relay.trusted_networks: may relay
}

/** Extensions that configuration can switch off; each maps to one EHLO keyword. */
export interface ExtensionSwitches {
  pipelining: boolean;
  size: boolean;
  eightBitMime: boolean;
  smtpUtf8: boolean;
  chunking: boolean;
  dsn: boolean;
  enhancedStatusCodes: boolean;
}

/** Per-server policy, derived once from configuration and shared by every session. */
export interface SessionOptions {
  hostname: string; // our name in the greeting, EHLO reply and Received header
  maxMessageSize: number; // octets; SIZE advertisement and the streaming limit (RFC 1870)
  maxRecipients: number; // per transaction; >= 100 per RFC 5321 §4.5.3.1.8; excess gets 452
  maxReceivedHeaders: number; // loop detection, RFC 5321 §6.3; reaching it gets 554 5.4.6
  maxBadCommands: number; // errors before the session is ended with 421
  maxCommandLine: number; // octets including CRLF; RFC 5321 §4.5.3.1.4 says >= 512
  vrfy: 'ambiguous' | 'disabled'; // 'ambiguous' = 252 (RFC 5321 §3.5.3, §7.3); 'disabled' = 502
  localDomains: ReadonlySet<string>; // lower-case; mail for these is ours
  relayDomains: ReadonlySet<string>; // lower-case; we accept and pass on mail for these
  startTls: boolean; // a certificate is available, so STARTTLS may be offered on plaintext connections
  extensions: ExtensionSwitches;
  /**
   * Does this local domain have a mailbox for this local part? Asked at RCPT for local domains only;
   * false gets 550 5.1.1 (RFC 3463 X.1.1), so mail for unknown users is refused before it is accepted
   * rather than bounced later (backscatter). Absent: every local part is accepted.
   */
  localRecipient?: (localPart: string, domain: string) => boolean;
}

/** Injected so the session stays deterministic under test. */
export interface SessionDeps {
  now(): Date;
  newQueueId(): string;
}

/** RFC 3461 NOTIFY: either NEVER or a non-empty subset of the three events. */
export type DsnNotify = 'NEVER' | Array<'SUCCESS' | 'FAILURE' | 'DELAY'>;

/** RFC 3461 ORCPT: address type (usually rfc822 or utf-8) and the decoded address. */
export interface DsnOrcpt {
  type: string;
  address: string;
}

export interface EnvelopeRecipient {
  address: string; // forward-path as local@domain, or 'Postmaster' bare; domain lower-cased
  notify: DsnNotify | null;
  orcpt: DsnOrcpt | null;
}

/** Everything the queue stores about one accepted transaction besides the message bytes. */
export interface Envelope {
  queueId: string;
  sender: string; // '' for the null reverse-path <>; otherwise local@domain, domain lower-cased
  recipients: EnvelopeRecipient[];
  bodyType: '7BIT' | '8BITMIME' | null; // MAIL BODY= (RFC 6152); null when not given
  smtpUtf8: boolean; // MAIL SMTPUTF8 (RFC 6531)
  declaredSize: number | null; // MAIL SIZE= (RFC 1870)
  dsnRet: 'FULL' | 'HDRS' | null; // MAIL RET= (RFC 3461)
  dsnEnvid: string | null; // MAIL ENVID=, xtext-decoded
  helo: string; // the EHLO/HELO argument as given
  protocol: string; // the Received "with" value: SMTP, ESMTP, ESMTPS, ESMTPA, ESMTPSA, UTF8SMTP, UTF8SMTPS...
  clientAddress: string;
  clientPort: number;
  listener: MessageOrigin;
  tls: TlsInfo | null;
  authUser: string | null; // set once AUTH exists (later issue)
  receivedAt: Date;
}

/** Result of asking the queue to store a message; the 250 is sent only on ok. */
export type EnqueueOutcome = { ok: true } | { ok: false; reason: string };

/**
 * What the session asks its host to do, in order. The host performs them one by one:
 * send bytes; enqueue and later call session.enqueued(); upgrade to TLS and later call
 * session.tlsStarted() or session.tlsFailed(); close after everything before it was written.
 */
export type Effect =
  | { kind: 'send'; data: string }
  | { kind: 'enqueue'; envelope: Envelope; message: Uint8Array }
  | { kind: 'starttls' }
  | { kind: 'close' }
  | { kind: 'log'; event: string; fields: Record<string, unknown>; level?: LogEffectLevel };

/**
 * Added by the protocol core: how loud a 'log' effect is. Absent means 'info'. State changes are 'debug'
 * (one per command, so a host should drop them cheaply unless debugging); bugs caught by the dispatcher are 'error'.
 */
export type LogEffectLevel = 'debug' | 'info' | 'warn' | 'error';

/** Which timeout applies now (RFC 5321 §4.5.3.2): waiting for a command, or inside DATA/BDAT data. */
export type SessionPhase = 'command' | 'data';
