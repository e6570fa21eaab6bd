// The one defaults object: a development server that runs with no config file, on loopback high ports.

import os from 'node:os';
import { isDomainName } from '../lib/domain.ts';
import type { Config, DomainConfig, RouteConfig } from './schema.ts';

const MiB = 1024 * 1024;
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** os.hostname() when it is a usable domain name; containers and odd hosts can give "" or "my_box". */
function defaultHostname(): string {
  try {
    const h = os.hostname().toLowerCase();
    if (isDomainName(h)) return h;
  } catch {
    // Some sandboxes refuse the syscall; 'localhost' still lets a dev server start.
  }
  return 'localhost';
}

/**
 * Every key with its default. load.ts walks this object to know the keys, their TOML and TERN_* names and
 * their types, so a key added to the schema and here is configurable everywhere at once. Frozen: copy it
 * (structuredClone) before changing anything.
 */
export const defaults: Readonly<Config> = deepFreeze({
  hostname: defaultHostname(),
  dataDir: './data',
  database: { url: '', poolSize: 10 },
  // High ports on loopback: a developer needs no root and exposes nothing.
  listeners: {
    mx: { address: '127.0.0.1:2525' },
    submission: { address: '127.0.0.1:2587' },
    submissions: { address: '127.0.0.1:2465' },
  },
  console: { address: '127.0.0.1:8025' },
  tls: { certFile: '', keyFile: '' },
  smtp: {
    maxMessageSize: 35 * MiB,
    maxRecipients: 1000,
    maxReceivedHeaders: 100, // RFC 5321 §6.3: "a simple counting ... of 100 has been found to be reasonable"
    maxBadCommands: 20,
    maxCommandLine: 4096,
    vrfy: 'ambiguous',
    commandTimeout: 300_000, // RFC 5321 §4.5.3.2.7: server timeout 5 minutes
    dataTimeout: 300_000,
    extensions: {
      pipelining: true,
      size: true,
      eightBitMime: true,
      smtpUtf8: true,
      chunking: true,
      dsn: true,
      enhancedStatusCodes: true,
    },
  },
  relay: {
    localDomains: ['localhost'],
    relayDomains: [],
    trustedNetworks: ['127.0.0.0/8', '::1/128'],
    iKnowThisIsAnOpenRelay: false,
  },
  limits: {
    maxConnections: 1000,
    maxConnectionsPerIp: 50,
    maxInflightBytes: 512 * MiB,
    shutdownGrace: 10_000,
  },
  delivery: {
    enabled: true,
    concurrency: 100,
    destinationConcurrency: 10,
    destinationRate: 0,
    // RFC 5321 §4.5.4.1: intervals "SHOULD be at least 30 minutes" but "more sophisticated and variable
    // strategies" are welcome: greylisting, the commonest 4xx, lets a retry in after minutes. So start short,
    // back off to an hour and repeat the last step until delivery.max_queue_lifetime.
    retrySchedule: [5 * MINUTE, 10 * MINUTE, 20 * MINUTE, 40 * MINUTE, 60 * MINUTE],
    maxQueueLifetime: 5 * 24 * HOUR, // §4.5.4.1: "the give-up time generally needs to be at least 4-5 days"
    delayWarning: 4 * HOUR, // RFC 3464 "delayed" DSN, as Postfix's delay_warning_time suggests
    lease: 10 * MINUTE,
    smtpPort: 25,
    heloName: '',
    tls: 'opportunistic', // STARTTLS (RFC 3207) when offered, else plaintext: what Internet MX hosts expect
    caFile: '',
    mtaSts: true,
    ipv6: true,
    smarthost: '',
    smarthostTls: 'require', // credentials are only ever sent over TLS
    smarthostUser: '',
    smarthostPassword: '',
    connectTimeout: 30 * SECOND,
    commandTimeout: 5 * MINUTE, // RFC 5321 §4.5.3.2.1-2.4: greeting, MAIL, RCPT: 5 minutes
    dataTimeout: 10 * MINUTE, // RFC 5321 §4.5.3.2.6: DATA termination: 10 minutes
    connectionIdle: 5 * SECOND,
    maxInflightBytes: 256 * MiB,
  },
  dns: { servers: [], timeout: 3 * SECOND, attempts: 2 },
  routes: [],
  domains: {},
  auth: {
    // SCRAM-SHA-256 is left out: it needs PBKDF2-derived keys stored beside the memory-hard hash, and those
    // keys fall to a stolen database as fast as PBKDF2 does. PLAIN and LOGIN are offered only over TLS.
    mechanisms: ['PLAIN', 'LOGIN'],
    // Not 'mx': AUTH on port 25 invites password guessing from the whole Internet; RFC 6409 §3.1 gives
    // submission its own port, relay stays on 25.
    listeners: ['submission', 'submissions'],
    iKnowPasswordsTravelInClear: false, // RFC 4954 §4: a password only under TLS
    maxFailuresPerIp: 10,
    maxFailuresPerUser: 5,
    failureWindow: 15 * MINUTE,
    lockout: 15 * MINUTE,
  },
  submission: { addMissingHeaders: true }, // RFC 6409 §8.1, §8.3
  dkim: {
    sign: true,
    // RFC 6376 §5.4: From MUST be signed; §5.4.1 lists what SHOULD be. One-click unsubscribe needs a signature
    // covering List-Unsubscribe and List-Unsubscribe-Post (RFC 8058 §4).
    signedHeaders: [
      'From',
      'To',
      'Cc',
      'Subject',
      'Date',
      'Message-ID',
      'Reply-To',
      'In-Reply-To',
      'References',
      'MIME-Version',
      'Content-Type',
      'Content-Transfer-Encoding',
      'List-Unsubscribe',
      'List-Unsubscribe-Post',
    ],
  },
  inbound: { checks: true, authservId: '', dmarc: 'record' },
  abuse: {
    // Off, as Postfix's anvil limits are (smtpd_client_connection_rate_limit = 0): a sensible value depends on
    // the traffic, and a wrong one turns away a big sender. The example file shows production values.
    connectionRate: 0,
    messageRate: 0,
    greetDelay: 0,
    dnsbl: [], // every public list has usage terms: the operator has to choose one
    allowNetworks: [],
    greylisting: false, // it delays every first message from a new sender
    greylistDelay: 5 * MINUTE, // postgrey's --delay; RFC 6647 §5 (2) suggests at least a minute
    greylistWindow: 24 * HOUR, // RFC 6647 §5 (2): "The default range SHOULD be from one minute to 24 hours"
    greylistExpiry: 35 * DAY, // postgrey's --max-age; RFC 6647 §5 (3): "at least one week"
    greylistAllowDomains: [],
    rejectHeloAsUs: true,
    // Off: Postfix's reject_non_fqdn_helo_hostname is off by default too, and misconfigured but legitimate
    // MTAs still greet with bare names ("EHLO EXCHANGE01").
    requireFqdnHelo: false,
  },
  log: { format: 'text', level: 'info' },
});

/** The keys a [[routes]] entry may leave out (domain is required). */
export const routeDefaults: Readonly<Omit<RouteConfig, 'domain'>> = deepFreeze({
  nextHop: 'mx',
  tls: '',
  authUser: '',
  authPassword: '',
});

/** What a [domains."example.com"] entry holds for each key it leaves out: the built-in mailbox store. */
export const domainDefaults: Readonly<DomainConfig> = deepFreeze({
  delivery: 'mailbox',
  maildir: '',
  lmtp: '',
  webhook: '',
  webhookSecret: '',
  recipients: [],
  aliases: {},
  catchAll: '',
  dmarc: '', // = inbound.dmarc
});

function deepFreeze<T>(o: T): T {
  if (typeof o === 'object' && o !== null) {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
