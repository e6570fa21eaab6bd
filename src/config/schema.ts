// The one typed shape of Tern's configuration; defaults.ts fills it, load.ts reads TOML and environment into it.
// Every key here is documented in README.md and tern.example.toml. Durations are milliseconds, sizes octets.

export interface ListenerConfig {
  /** "host:port" or "[v6]:port"; empty string disables the listener. */
  address: string;
}

export type TlsPolicyName = 'none' | 'opportunistic' | 'require' | 'verify';

/** One transport-map entry (TOML [[routes]]), like a line of Postfix's transport(5). */
export interface RouteConfig {
  /** "example.org" (that domain), ".example.org" (its subdomains) or "*" (everything not local). */
  domain: string;
  /**
   * "mx" (the domain's MX, the default), "mx:PORT", "smtp:[HOST]:PORT" (that host, no MX lookup),
   * "smtp:DOMAIN:PORT" (DOMAIN's MX hosts), "lmtp:HOST:PORT", "lmtp:unix:/path". A left-out smtp port is
   * delivery.smtpPort. Parse it with parseNextHop (next-hop.ts), the code validation uses.
   */
  nextHop: string;
  /** "" = the global delivery.tls. */
  tls: TlsPolicyName | '';
  /**
   * SMTP AUTH toward this next hop (PLAIN/LOGIN, only over TLS: validation refuses tls "none"/"opportunistic");
   * both empty = none. The file may say authPassword = "env:NAME"; the loaded Config holds the value itself.
   */
  authUser: string;
  authPassword: string;
}

/** How mail for one local domain is delivered (TOML [domains."example.com"]); such a domain is local. */
export interface DomainConfig {
  delivery: 'mailbox' | 'maildir' | 'lmtp' | 'webhook';
  /** Maildir path template: %d = domain, %u = local part (lower-cased), %a = address. */
  maildir: string;
  /** "HOST:PORT" or "unix:/path" of an LMTP server (RFC 2033), e.g. Dovecot. */
  lmtp: string;
  /** HTTPS (or HTTP) URL that receives each message as a POST (message/rfc822). */
  webhook: string;
  /**
   * If set, each POST carries X-Tern-Signature: HMAC-SHA256 of the body with this secret. The file may say
   * "env:NAME"; the loaded Config holds the value itself.
   */
  webhookSecret: string;
  /** Known local parts (lower-cased on load); when non-empty, other local parts get 550 5.1.1 at RCPT time. */
  recipients: string[];
  /**
   * Local part -> targets (local parts of this domain or full addresses elsewhere); names and local targets are
   * lower-cased on load.
   */
  aliases: Record<string, string[]>;
  /** Target for local parts that are neither recipients nor aliases; "" = none. */
  catchAll: string;
  /**
   * DMARC (RFC 7489) for mail arriving for this domain: "record" (Authentication-Results only), "enforce"
   * (honour the sender domain's p=reject with 550 5.7.1 and p=quarantine by holding the message), or ""
   * (= inbound.dmarc).
   */
  dmarc: 'record' | 'enforce' | '';
}

export interface Config {
  /** Our name in the greeting, EHLO and Received headers. */
  hostname: string;
  /** Directory for the embedded database, the self-signed certificate and the control socket. */
  dataDir: string;

  database: {
    /** postgres://… URL; empty = embedded PGlite under dataDir/pglite. */
    url: string;
    /** Connections in the postgres pool (ignored for PGlite). */
    poolSize: number;
  };

  listeners: {
    mx: ListenerConfig; // SMTP relay/MX, plaintext with STARTTLS (RFC 5321, 3207)
    submission: ListenerConfig; // message submission with STARTTLS (RFC 6409)
    submissions: ListenerConfig; // implicit TLS submission (RFC 8314)
  };

  console: {
    /** Admin web console "host:port"; empty disables it. */
    address: string;
  };

  tls: {
    /** PEM files; both empty = a self-signed certificate made on first start under dataDir/tls. */
    certFile: string;
    keyFile: string;
  };

  smtp: {
    maxMessageSize: number;
    maxRecipients: number;
    maxReceivedHeaders: number;
    maxBadCommands: number;
    maxCommandLine: number;
    vrfy: 'ambiguous' | 'disabled';
    /** Waiting for the next command, RFC 5321 §4.5.3.2.7 (server timeout, 5 minutes). */
    commandTimeout: number;
    /** Waiting for more DATA/BDAT octets, RFC 5321 §4.5.3.2.7. */
    dataTimeout: number;
    extensions: {
      pipelining: boolean;
      size: boolean;
      eightBitMime: boolean;
      smtpUtf8: boolean;
      chunking: boolean;
      dsn: boolean;
      enhancedStatusCodes: boolean;
    };
  };

  relay: {
    /** Domains whose mail we deliver locally (lower-cased on load). */
    localDomains: string[];
    /** Domains we accept from anyone and pass on. */
    relayDomains: string[];
    /** CIDR blocks allowed to relay anywhere (like Postfix mynetworks). */
    trustedNetworks: string[];
    /**
     * Must be true for trustedNetworks to hold a block as broad as 0.0.0.0/0 or ::/0 (wider than an IPv4 /8,
     * or an IPv6 /16 reaching global unicast): that makes an open relay, so it takes a loudly named switch.
     */
    iKnowThisIsAnOpenRelay: boolean;
  };

  limits: {
    /** Simultaneous connections over all listeners; beyond it 421 4.7.0. */
    maxConnections: number;
    /** Simultaneous connections from one IP address; beyond it 421 4.7.0. */
    maxConnectionsPerIp: number;
    /** Octets of message data buffered over all sessions at once; past it the session gets 421 4.3.1 and is closed. */
    maxInflightBytes: number;
    /** How long shutdown waits for sessions in flight before closing them. */
    shutdownGrace: number;
  };

  delivery: {
    /** Run delivery workers in this process (a node may only accept, leaving delivery to others). */
    enabled: boolean;
    /** Deliveries in progress at once over all destinations. */
    concurrency: number;
    /** Deliveries in progress at once to one destination (one domain's MX set or one next hop). */
    destinationConcurrency: number;
    /** Messages per second to one destination; 0 = no limit. */
    destinationRate: number;
    /** Delays before each retry, the last one repeating (RFC 5321 §4.5.4.1). */
    retrySchedule: number[];
    /** After this long in the queue a message bounces (RFC 5321 §4.5.4.1: 4-5 days). */
    maxQueueLifetime: number;
    /** Send a "delayed" DSN once a recipient has waited this long; 0 = never. */
    delayWarning: number;
    /** How long a claim on a recipient lasts before another worker may take it over. */
    lease: number;
    /** TCP port of MX hosts (RFC 5321: 25); tests and odd networks override it. */
    smtpPort: number;
    /** Our EHLO name toward other servers; "" = hostname. */
    heloName: string;
    /** Default TLS policy toward MX hosts and routes without their own. */
    tls: TlsPolicyName;
    /** PEM file of extra trusted CAs for verified TLS and MTA-STS (the system's are always trusted). */
    caFile: string;
    /** Fetch, cache and enforce MTA-STS policies (RFC 8461). */
    mtaSts: boolean;
    /** Try IPv6 addresses of MX hosts too. */
    ipv6: boolean;
    /**
     * Global smarthost for everything not routed otherwise: "[HOST]:PORT", "HOST:PORT" (MX of HOST), the port
     * optional (smtpPort); "" = none. parseSmarthost (next-hop.ts) reads it.
     */
    smarthost: string;
    smarthostTls: TlsPolicyName;
    smarthostUser: string;
    smarthostPassword: string;
    /** TCP connect timeout per address. */
    connectTimeout: number;
    /** Waiting for the greeting and for replies to commands (RFC 5321 §4.5.3.2: 5 minutes). */
    commandTimeout: number;
    /** Waiting for the reply after the end of data (RFC 5321 §4.5.3.2.6: 10 minutes). */
    dataTimeout: number;
    /** How long an idle connection is kept for the next message to the same destination. */
    connectionIdle: number;
    /** Octets of message bodies held by deliveries in progress; jobs wait beyond it (one always runs). */
    maxInflightBytes: number;
  };

  dns: {
    /** Recursive resolvers "IP" or "IP:PORT" ("[v6]:port"); empty = the nameserver lines of /etc/resolv.conf. */
    servers: string[];
    /** Per query attempt. */
    timeout: number;
    /** Attempts per server before the next one. */
    attempts: number;
  };

  /**
   * Transport map, first match wins (exact domain, then ".parent" entries, then "*"). File only: no TERN_*
   * variable can hold a list of tables.
   */
  routes: RouteConfig[];

  /**
   * Per local domain delivery settings, keyed by lower-case domain; every domain named here is local (loadConfig
   * adds it to relay.localDomains). File only, like routes.
   */
  domains: Record<string, DomainConfig>;

  auth: {
    /** SASL mechanisms offered (RFC 4954): PLAIN (RFC 4616) and LOGIN. */
    mechanisms: Array<'PLAIN' | 'LOGIN'>;
    /** Listeners offering AUTH; on submission/submissions it is required before MAIL (RFC 6409). */
    listeners: Array<'mx' | 'submission' | 'submissions'>;
    /** Offer AUTH before TLS. Unsafe: passwords in clear. Default false, and loudly named. */
    iKnowPasswordsTravelInClear: boolean;
    /** Failed logins from one IP within failureWindow before it is refused for lockout. */
    maxFailuresPerIp: number;
    /** Failed logins for one user name within failureWindow before it is refused for lockout. */
    maxFailuresPerUser: number;
    failureWindow: number; // ms
    lockout: number; // ms
  };

  submission: {
    /** RFC 6409 §8.1/§8.3: add Date and Message-ID to submitted mail that lacks them. */
    addMissingHeaders: boolean;
  };

  dkim: {
    /** Sign mail we originate (submission, trusted networks, sendmail) whose From domain has an active key. */
    sign: boolean;
    /** Header fields signed when present (RFC 6376 §5.4); From is always signed. */
    signedHeaders: string[];
  };

  inbound: {
    /** Check SPF, DKIM, DMARC and ARC on mail arriving on the MX listener and add Authentication-Results. */
    checks: boolean;
    /** The authserv-id of our Authentication-Results (RFC 8601 §2.5); "" = hostname. */
    authservId: string;
    /** Default DMARC policy handling for local domains without their own: "record" or "enforce". */
    dmarc: 'record' | 'enforce';
  };

  abuse: {
    /** New connections per IP per minute on the MX listener; 0 = no limit (421 4.7.0). */
    connectionRate: number;
    /** Messages per IP per minute on the MX listener; 0 = no limit (451 4.7.1). */
    messageRate: number;
    /** Wait this long before the greeting; a client that talks first is refused (554 5.7.0). 0 = off. */
    greetDelay: number;
    /** DNS blocklist zones (e.g. "zen.spamhaus.org"); a listed client gets 554 5.7.1 naming the list. */
    dnsbl: string[];
    /** CIDRs never checked against DNSBLs, greylisting or rate limits (trusted networks never are). */
    allowNetworks: string[];
    /** RFC 6647 greylisting of unknown (network, sender, recipient) triplets on the MX listener. */
    greylisting: boolean;
    greylistDelay: number; // ms before a retry passes
    greylistWindow: number; // ms after the first attempt within which a retry must come
    greylistExpiry: number; // ms a passed triplet stays known
    /** Sender domains (and CIDRs via allowNetworks) never greylisted. */
    greylistAllowDomains: string[];
    /** Refuse EHLO/HELO names that claim to be us (our hostname or a local domain): 550 5.7.1. */
    rejectHeloAsUs: boolean;
    /** Refuse EHLO/HELO names that are not a fully qualified domain or an address literal: 550 5.7.1. */
    requireFqdnHelo: boolean;
  };

  log: {
    format: 'text' | 'json';
    level: 'debug' | 'info' | 'warn' | 'error';
  };
}
