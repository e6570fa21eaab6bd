// The one typed shape of Tern's configuration; defaults.ts fills it, load.ts reads TOML and environment into it.
// Every key here is documented in README.md and tern.example.toml. Durations are milliseconds, sizes octets.

export interface ListenerConfig {
  /** "host:port" or "[v6]:port"; empty string disables the listener. */
  address: string;
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

  log: {
    format: 'text' | 'json';
    level: 'debug' | 'info' | 'warn' | 'error';
  };
}
