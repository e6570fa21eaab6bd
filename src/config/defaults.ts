// The one defaults object: a development server that runs with no config file, on loopback high ports.

import os from 'node:os';
import { isDomainName } from '../lib/domain.ts';
import type { Config } from './schema.ts';

const MiB = 1024 * 1024;

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
  log: { format: 'text', level: 'info' },
});

function deepFreeze<T>(o: T): T {
  if (typeof o === 'object' && o !== null) {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
