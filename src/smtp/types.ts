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
  /** SMTP AUTH (RFC 4954): what is offered, and where. Absent = no AUTH at all. */
  auth?: AuthOptions;
  /** Stages at which the session asks the host for a policy verdict ('policy' effect); empty = never. */
  policyStages?: ReadonlySet<PolicyStage>;
  /**
   * RFC 6409 §8.1/§8.3: on submission (an authenticated session, or the submission listeners), add Date
   * and Message-ID when the message lacks them.
   */
  fixSubmissions?: boolean;
  /**
   * Does this local domain have a mailbox for this local part? Asked at RCPT for local domains only;
   * false gets 550 5.1.1 (RFC 3463 X.1.1), so mail for unknown users is refused before it is accepted
   * rather than bounced later (backscatter). Absent: every local part is accepted.
   */
  localRecipient?: (localPart: string, domain: string) => boolean;
}

/** SMTP AUTH settings, derived from configuration. */
export interface AuthOptions {
  /** SASL mechanisms offered, e.g. ['PLAIN', 'LOGIN'] (RFC 4616, draft-murchison-sasl-login). */
  mechanisms: readonly string[];
  /** Listeners on which AUTH is offered; on 'submission' and 'submissions' MAIL needs it first (530 5.7.0). */
  listeners: ReadonlySet<ListenerKind>;
  /**
   * Offer and accept AUTH without TLS. Off, AUTH is not advertised before STARTTLS and answers 538 5.7.11
   * (RFC 4954 §4): passwords never cross the network in clear. Config: auth.i_know_passwords_travel_in_clear.
   */
  allowPlaintext: boolean;
}

/** Who authenticated, and which envelope senders that identity may use (the 553 5.7.1 rule). */
export interface AuthIdentity {
  user: string;
  /** Exact addresses the user owns (lower-case domain), its aliases included. */
  addresses: readonly string[];
  /** Domains whose every address the user may send as. */
  domains: readonly string[];
  /** May send as anyone (an administrator or an application relay); also allows the null sender. */
  any: boolean;
}

/**
 * The host's answer to an 'auth' effect: another challenge (334), success (235) or failure. 'invalid' is
 * 535 5.7.8; 'temporary' is 454 4.7.0 (the user database is unreachable); 'locked' is 454 4.7.0 too, for a
 * client or user throttled after failed attempts (RFC 4954 §6 leaves throttling to the server).
 */
export type AuthAnswer =
  | { kind: 'challenge'; data: Uint8Array }
  | { kind: 'success'; identity: AuthIdentity }
  | { kind: 'failure'; reason: 'invalid' | 'temporary' | 'locked' };

/** Where the host may veto: before the greeting, at EHLO/HELO, at MAIL, at each RCPT. */
export type PolicyStage = 'connect' | 'helo' | 'mail' | 'rcpt';

export interface PolicyQuery {
  stage: PolicyStage;
  helo: string | null;
  sender: string | null; // '' for <>
  recipient: string | null;
  authUser: string | null;
}

/** A reply the host chose, formatted by the session (enhanced code only when ENHANCEDSTATUSCODES is on). */
export interface HostReply {
  code: number; // 4xx or 5xx
  status: string; // RFC 3463, e.g. 4.7.1
  text: string; // one line, no CR/LF
}

/**
 * 'accept' lets the command proceed; 'reject' answers the command with the reply (the session goes on);
 * 'disconnect' answers with the reply and closes (421/554 at connect: RFC 5321 §3.1).
 */
export type PolicyVerdict = { action: 'accept' } | { action: 'reject'; reply: HostReply } | { action: 'disconnect'; reply: HostReply };

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
  authUser: string | null; // the authenticated identity, when AUTH was used
  receivedAt: Date;
  /** Quarantine: store the recipients as 'held' with this reason instead of queueing them (console releases). */
  hold?: string | null;
}

/**
 * Result of asking the queue to store a message; the 250 is sent only on ok. A failure without `reply` is
 * 451 4.3.0 (try again); with `reply` the host refused the message itself (e.g. DMARC reject: 550 5.7.1).
 */
export type EnqueueOutcome = { ok: true } | { ok: false; reason: string; reply?: HostReply };

/**
 * What the session asks its host to do, in order. The host performs them one by one:
 * send bytes; enqueue and later call session.enqueued(); upgrade to TLS and later call
 * session.tlsStarted() or session.tlsFailed(); close after everything before it was written.
 */
export type Effect =
  | { kind: 'send'; data: string }
  | { kind: 'enqueue'; envelope: Envelope; message: Uint8Array }
  | { kind: 'starttls' }
  // SASL step (RFC 4954): the decoded client response (null: the client sent none yet); answered by authAnswer()
  | { kind: 'auth'; mechanism: string; response: Uint8Array | null; tls: boolean }
  // policy check at a stage; answered by policyAnswer()
  | { kind: 'policy'; query: PolicyQuery }
  | { kind: 'close' }
  | { kind: 'log'; event: string; fields: Record<string, unknown>; level?: LogEffectLevel };

/**
 * Added by the protocol core: how loud a 'log' effect is. Absent means 'info'. State changes are 'debug'
 * (one per command, so a host should drop them cheaply unless debugging); bugs caught by the dispatcher are 'error'.
 */
export type LogEffectLevel = 'debug' | 'info' | 'warn' | 'error';

/** Which timeout applies now (RFC 5321 §4.5.3.2): waiting for a command, or inside DATA/BDAT data. */
export type SessionPhase = 'command' | 'data';
