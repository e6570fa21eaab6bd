// Signs outbound mail with the active DKIM key of its From domain, keys cached in memory from dkim_keys.
import type { Logger } from '../lib/log.ts';
import type { Envelope } from '../smtp/types.ts';
import type { Store } from '../store/open.ts';
import { splitMessage } from './canon.ts';
import { type DkimAlgorithm, loadPrivateKey, normaliseDomain } from './keys.ts';
import { activeKeys } from './repo.ts';
import { signMessage, type SigningKey } from './signature.ts';
import { errorText } from '../lib/errors.ts';

/** How long a node may keep signing with a key another node (or the CLI offline) rotated away. */
export const KEY_REFRESH_MS = 60_000;

export interface DkimSignerOptions {
  store: Store;
  /** config.dkim.signedHeaders: names signed when present; From is always signed, and over-signed. */
  signedHeaders: readonly string[];
  log: Logger;
  now?: () => Date;
  refreshMs?: number;
}

/**
 * Contract: sign() returns the message with one DKIM-Signature field prepended when the From field's domain
 * has an active key, and the very same bytes otherwise. Which messages to sign (mail originated here) is the
 * caller's decision. It rejects only when the keys could never be loaded (the database is down at the first
 * use): the caller should then answer 451 rather than send unsigned mail a DMARC policy may reject.
 * invalidate() makes the next sign() reload the keys (after `tern dkim activate` and friends).
 */
export interface DkimSigner {
  sign(envelope: Envelope, message: Uint8Array): Promise<Uint8Array>;
  invalidate(): void;
}

/** Drops comments and quoted strings (RFC 5322 §3.2.2, §3.2.4), where an "@" says nothing about the address. */
function stripCommentsAndQuotes(value: string): string {
  let out = '';
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === '\\' && (quoted || depth > 0)) {
      i++;
      continue;
    }
    if (quoted) {
      if (c === '"') quoted = false;
    } else if (depth > 0) {
      if (c === '(') depth++;
      else if (c === ')') depth--;
    } else if (c === '"') quoted = true;
    else if (c === '(') depth = 1;
    else out += c;
  }
  return out;
}

/**
 * The domain to sign for: the domain of the From field's address(es), RFC 5322 §3.6.2. Exactly that
 * domain: a key for example.com does not sign mail from sub.example.com (d= may be a parent under relaxed
 * DMARC alignment, but one key per exact domain keeps the operator's model simple and never surprises).
 * Null when there is no single From field or its mailboxes do not share one domain: such mail fails DMARC
 * whatever we do (RFC 7489 §6.6.1), and a signature would only lend it weight.
 */
export function fromDomain(message: Uint8Array): string | null {
  const froms = splitMessage(message).headers.filter((h) => h.key === 'from');
  if (froms.length !== 1) return null;
  const raw = froms[0].raw;
  const value = stripCommentsAndQuotes(raw.slice(raw.indexOf(':') + 1).replace(/\r\n/g, ''));
  const domains = new Set<string>();
  for (const m of value.matchAll(/@([^\s<>,;:@[\]]+)/g)) {
    const d = normaliseDomain(m[1]);
    if (!d) return null;
    domains.add(d);
  }
  return domains.size === 1 ? [...domains][0] : null;
}

/**
 * A CR or LF that is not part of a CRLF. Such a message is not in SMTP wire form: relays normalise it, the
 * canonical form changes on the way, and the signature would fail where it is checked (RFC 6376 §5.3 signs
 * the message "as it will be transmitted"). It is left unsigned, and the log says why.
 */
export function hasBareLineEnd(message: Uint8Array): boolean {
  for (let i = 0; i < message.length; i++) {
    const c = message[i];
    if (c === 0x0d ? message[i + 1] !== 0x0a : c === 0x0a && (i === 0 || message[i - 1] !== 0x0d)) return true;
  }
  return false;
}

export function createDkimSigner(opts: DkimSignerOptions): DkimSigner {
  const now = opts.now ?? (() => new Date());
  const refreshMs = opts.refreshMs ?? KEY_REFRESH_MS;
  let keys: Map<string, SigningKey> | null = null;
  let loadedAt = 0;
  let loading: Promise<Map<string, SigningKey>> | null = null;

  async function load(): Promise<Map<string, SigningKey>> {
    const map = new Map<string, SigningKey>();
    for (const row of await activeKeys(opts.store)) {
      const algorithm = row.algorithm as DkimAlgorithm;
      const key = loadPrivateKey(row.privateKey, algorithm);
      if (!key) {
        opts.log.error('dkim-key-unusable', { domain: row.domain, selector: row.selector, algorithm });
        continue;
      }
      map.set(row.domain, { domain: row.domain, selector: row.selector, algorithm, key });
    }
    return map;
  }

  async function current(): Promise<Map<string, SigningKey>> {
    if (keys && Date.now() - loadedAt < refreshMs) return keys;
    loading ??= load().finally(() => (loading = null));
    try {
      keys = await loading;
      loadedAt = Date.now();
    } catch (err) {
      // A stale set beats none: keep signing with what we had and try again at the next message.
      if (!keys) throw new Error('cannot load DKIM keys', { cause: err });
      opts.log.warn('dkim-keys-reload-failed', { error: errorText(err) });
    }
    return keys;
  }

  return {
    async sign(envelope, message) {
      const all = await current();
      if (all.size === 0) return message; // the common case on a relay without keys: no header parsing
      const domain = fromDomain(message);
      if (!domain) return message;
      const key = all.get(domain);
      if (!key) return message;
      if (hasBareLineEnd(message)) {
        opts.log.warn('dkim-not-signed', { queueId: envelope.queueId, domain, reason: 'bare CR or LF in the message' });
        return message;
      }
      opts.log.debug('dkim-signed', { queueId: envelope.queueId, domain, selector: key.selector });
      return signMessage(message, key, { signedHeaders: opts.signedHeaders, now: now() });
    },
    invalidate() {
      loadedAt = 0;
    },
  };
}
