// The contract between the delivery engine (claims, routes, records results) and the couriers that move mail.
import type { DsnNotify, DsnOrcpt, TlsInfo } from '../smtp/types.ts';

/** How hard to insist on TLS toward a next hop (per route; MTA-STS may raise it per domain). */
export type TlsPolicy =
  | 'none' // never STARTTLS (a broken peer, or a local LMTP socket)
  | 'opportunistic' // STARTTLS when offered, certificate not checked; plaintext when not offered (default)
  | 'require' // STARTTLS or fail temporarily (4.7.5); certificate not checked
  | 'verify'; // STARTTLS with a certificate valid for the host name, or fail temporarily

/** Where a route's mail goes next. */
export type NextHop =
  | { kind: 'mx'; port: number } // RFC 5321 §5: the recipient domain's MX hosts (or implicit MX)
  | { kind: 'smtp'; host: string; port: number; lookupMx: boolean } // a fixed relay; lookupMx: host is a domain whose MX to use (Postfix "smtp:domain" vs "smtp:[host]")
  | { kind: 'lmtp'; host: string; port: number } // RFC 2033 over TCP
  | { kind: 'lmtp-unix'; path: string } // RFC 2033 over a Unix socket (Dovecot's default)
  | { kind: 'local' }; // a local domain: mailbox, Maildir, LMTP or webhook per domain settings

/** The routing decision for one recipient domain. */
export interface Route {
  /** Destination key: recipients with equal keys share connections, concurrency and rate limits. */
  key: string;
  domain: string; // the recipient domain this route was chosen for (lower-case)
  nextHop: NextHop;
  tls: TlsPolicy;
  /** SMTP AUTH toward a smarthost (PLAIN or LOGIN, only over TLS); null for none. */
  auth: { user: string; password: string } | null;
}

export interface JobMessage {
  id: string; // queue id
  sender: string; // '' = null reverse-path
  size: number;
  bodyType: '7BIT' | '8BITMIME' | null;
  smtpUtf8: boolean;
  dsnRet: 'FULL' | 'HDRS' | null;
  dsnEnvid: string | null;
  receivedAt: Date;
}

export interface JobRecipient {
  id: number; // recipients.id
  address: string;
  notify: DsnNotify | null;
  orcpt: DsnOrcpt | null;
}

/** One message to one destination: all its recipients routed there go in one SMTP transaction. */
export interface DeliveryJob {
  message: JobMessage;
  recipients: JobRecipient[];
  route: Route;
  body: Uint8Array; // the message as stored (our Received header included)
}

export type Outcome = 'delivered' | 'temporary' | 'permanent';

export interface RecipientResult {
  outcome: Outcome;
  /** RFC 3463 enhanced status: the peer's when it gave one, else derived from the reply code or the local reason. */
  status: string;
  /** The exact reply (all lines, joined with '\n') from the peer, or a local reason ("no MX host answered"). */
  reply: string;
  /** 'smtp' when reply is a remote SMTP/LMTP reply (DSN Diagnostic-Code type), 'x-tern' for a local reason. */
  replyType: 'smtp' | 'x-tern';
  /** The host that gave the reply, as 'name [ip]:port'; null when none was reached. */
  remote: string | null;
  /** Delivered to a peer that took our DSN parameters (RFC 3461 §4): it, not we, reports success. */
  dsnRelayed: boolean;
  /**
   * Set when local delivery rewrote the recipient by an alias or catch-all (RFC 3461 §5.2.7): the
   * mailboxes and remote addresses it reached (remote ones were handed to the engine to queue). One
   * target is a single-recipient alias (§5.2.7.2: no DSN of its own); several make Action "expanded".
   */
  expandedTo?: string[];
}

/** One connection attempt, kept in the event log (the console shows it). */
export interface AttemptTrace {
  host: string;
  ip: string;
  port: number;
  tls: TlsInfo | null;
  /** The dialogue's replies, exact lines, in order (no message data). */
  replies: string[];
  /** Why the attempt ended early (connect refused, timeout, TLS failure...), if it did. */
  error: string | null;
}

export interface DeliveryReport {
  results: Map<number, RecipientResult>; // by JobRecipient.id: every recipient of the job has one
  attempts: AttemptTrace[];
}

/**
 * Moves one job. Contract: resolves with a result for every recipient; expected failures (refused
 * connections, 4xx/5xx, DNS trouble, TLS policy) are results, classified where they arise, defaulting to
 * temporary. A throw is a bug: the engine treats it as temporary for every recipient and logs it. The
 * signal aborts a delivery whose lease is lost or whose daemon stops (results: temporary).
 */
export interface Courier {
  deliver(job: DeliveryJob, signal: AbortSignal): Promise<DeliveryReport>;
}

/** An MTA-STS policy (RFC 8461 §3.2) as the SMTP client applies it. */
export interface MtaStsPolicy {
  mode: 'enforce' | 'testing' | 'none';
  /** MX patterns: "mail.example.com" or "*.example.com" (one leftmost label). */
  mx: string[];
  maxAge: number; // seconds
  id: string; // the _mta-sts TXT id it was fetched for
}

/**
 * Policy source for the SMTP client (src/delivery/mta-sts.ts implements it). null = the domain has no
 * policy (or MTA-STS is off). A temporary failure to refresh keeps using a cached policy (RFC 8461 §5.1).
 */
export interface MtaStsProvider {
  policyFor(domain: string): Promise<MtaStsPolicy | null>;
}
