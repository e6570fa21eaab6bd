// Who exists in Tern's local domains: recipient lists, aliases, catch-alls and +subaddresses, answered at
// RCPT time (accepts) and at delivery time (expand), from configuration alone, with no I/O.
//
// Local parts of our own domains are compared case-insensitively. RFC 5321 §2.4 lets only the host that
// owns a domain decide how to interpret its local parts; nearly every MTA (Postfix, Exim, chasquid) folds
// them for its own domains, and users expect Alice@ and alice@ to be one person. Addresses in other domains
// keep their case (they are not ours to interpret).
import { domainDefaults } from '../../config/defaults.ts';
import type { DomainConfig } from '../../config/schema.ts';
import { parsePath } from '../../smtp/address.ts';

/** RFC 3461 §5.2.7 alias expansion can fan out and chain; these bound both (sendmail's MaxAliasRecursion). */
export const MAX_ALIAS_DEPTH = 10;
export const MAX_EXPANSION = 1000;

/** The separator of RFC 5233 subaddresses ("user+tag"), as Postfix's recipient_delimiter. */
const SUBADDRESS = '+';

/**
 * Settings of a domain that is local (listed in relay.localDomains) but has no [domains] entry: the same
 * defaults a [domains] entry starts from, i.e. the built-in mailbox store, everyone accepted.
 */
export const DEFAULT_DOMAIN: Readonly<DomainConfig> = domainDefaults;

/** A target that an expansion could not use; delivery logs these (they are configuration mistakes). */
export interface BrokenTarget {
  target: string;
  reason: 'unknown' | 'invalid' | 'depth' | 'limit';
}

export type Expansion =
  | { unknown: true }
  | {
    unknown: false;
    /** Canonical local mailboxes, "local@domain" lower-cased, each once. */
    local: string[];
    /** Addresses in other domains, each once, local part as written. */
    remote: string[];
    broken: BrokenTarget[];
    /** The address was rewritten by an alias or catch-all (not merely folded or stripped of its +tag). */
    expanded: boolean;
  };

/** Read-only view of the local domains. Pure: the same configuration always gives the same answers. */
export interface Directory {
  isLocal(domain: string): boolean;
  /** The settings of a local domain (DEFAULT_DOMAIN when it has no [domains] entry); null if not local. */
  config(domain: string): DomainConfig | null;
  /**
   * For RCPT time: false only when a local domain has a recipient list and the local part is none of a
   * recipient, an alias, a +subaddress of either, or postmaster (RFC 5321 §4.5.1), and there is no
   * catch-all. Domains that are not local are not ours to refuse: true.
   */
  accepts(localPart: string, domain: string): boolean;
  /**
   * Resolves an envelope recipient ("local@domain", or "Postmaster" meaning the first local domain's
   * postmaster, RFC 5321 §4.1.1.3) to the mailboxes and remote addresses it stands for. Aliases expand
   * recursively; a target already on the path being expanded is taken as its own mailbox (the sendmail
   * and Postfix convention "user: user, user@backup", which also ends alias loops); depth and fan-out
   * are capped. `unknown` when the address itself has no mailbox (or its domain is not local).
   */
  expand(address: string): Expansion;
}

interface Domain {
  config: DomainConfig;
  recipients: Set<string>;
  aliases: Map<string, string[]>;
}

type Step = { kind: 'mailbox'; address: string } | { kind: 'alias'; targets: string[] } | { kind: 'unknown' };

type Target = { local: string; domain: string } | { remote: string } | { invalid: string };

export function createDirectory(domains: Record<string, DomainConfig>, localDomains: string[]): Directory {
  const table = new Map<string, Domain>();
  const add = (name: string, config: DomainConfig) => {
    table.set(name.toLowerCase(), {
      config,
      recipients: new Set(config.recipients.map((r) => r.trim().toLowerCase())),
      aliases: new Map(Object.entries(config.aliases).map(([k, v]) => [k.trim().toLowerCase(), v])),
    });
  };
  for (const name of localDomains) add(name, DEFAULT_DOMAIN);
  for (const [name, config] of Object.entries(domains)) add(name, config);
  const primary = table.keys().next().value ?? '';

  /** One step of resolution for a folded local part; the order below is the documented precedence. */
  function resolve(local: string, domain: string, d: Domain): Step {
    const alias = d.aliases.get(local);
    if (alias) return { kind: 'alias', targets: alias };
    if (d.recipients.has(local)) return { kind: 'mailbox', address: `${local}@${domain}` };
    const plus = local.indexOf(SUBADDRESS);
    const base = plus > 0 ? local.slice(0, plus) : local;
    if (base !== local) {
      const baseAlias = d.aliases.get(base);
      if (baseAlias) return { kind: 'alias', targets: baseAlias };
      if (d.recipients.has(base)) return { kind: 'mailbox', address: `${base}@${domain}` };
    }
    if (d.config.catchAll.trim() !== '') return { kind: 'alias', targets: [d.config.catchAll] };
    // Without a recipient list every local part is a mailbox: the +tag still folds into its owner's.
    if (d.recipients.size === 0) return { kind: 'mailbox', address: `${base}@${domain}` };
    if (local === 'postmaster') return { kind: 'mailbox', address: `postmaster@${domain}` };
    return { kind: 'unknown' };
  }

  /** A configured target: a bare local part means "in the alias's own domain". */
  function parseTarget(text: string, domain: string): Target {
    const t = text.trim();
    const full = t.includes('@') ? t : `${t}@${domain}`;
    const r = parsePath(`<${full}>`, 0, { allowNull: false, allowPostmaster: false });
    if (!r.ok || r.mailbox === null || r.end !== full.length + 2) return { invalid: t };
    const m = r.mailbox;
    if (!m.literal && table.has(m.domain)) return { local: m.local.toLowerCase(), domain: m.domain };
    return { remote: `${m.local}@${m.domain}` };
  }

  function expand(address: string): Expansion {
    const top = parseTarget(address.includes('@') ? address : `${address}@${primary}`, primary);
    if (!('local' in top)) return { unknown: true };
    const d = table.get(top.domain)!;
    const first = resolve(top.local, top.domain, d);
    if (first.kind === 'unknown') return { unknown: true };
    if (first.kind === 'mailbox') {
      return { unknown: false, local: [first.address], remote: [], broken: [], expanded: false };
    }
    const local = new Set<string>();
    const remote = new Set<string>();
    const broken: BrokenTarget[] = [];
    const full = () => local.size + remote.size >= MAX_EXPANSION;

    const visitTargets = (targets: string[], domain: string, path: string[]) => {
      for (const text of targets) {
        const t = parseTarget(text, domain);
        if ('invalid' in t) broken.push({ target: t.invalid, reason: 'invalid' });
        else if (full()) broken.push({ target: 'remote' in t ? t.remote : `${t.local}@${t.domain}`, reason: 'limit' });
        else if ('remote' in t) remote.add(t.remote);
        else visit(t.local, t.domain, path);
      }
    };
    const visit = (localPart: string, domain: string, path: string[]) => {
      const key = `${localPart}@${domain}`;
      if (path.includes(key)) return void local.add(key);
      const step = resolve(localPart, domain, table.get(domain)!);
      if (step.kind === 'mailbox') local.add(step.address);
      else if (step.kind === 'unknown') broken.push({ target: key, reason: 'unknown' });
      else if (path.length >= MAX_ALIAS_DEPTH) broken.push({ target: key, reason: 'depth' });
      else visitTargets(step.targets, domain, [...path, key]);
    };
    visitTargets(first.targets, top.domain, [`${top.local}@${top.domain}`]);
    return { unknown: false, local: [...local], remote: [...remote], broken, expanded: true };
  }

  return {
    isLocal: (domain) => table.has(domain.toLowerCase()),
    config: (domain) => table.get(domain.toLowerCase())?.config ?? null,
    accepts(localPart, domain) {
      const d = table.get(domain.toLowerCase());
      if (!d) return true;
      const local = localPart.toLowerCase();
      return local === 'postmaster' || resolve(local, domain.toLowerCase(), d).kind !== 'unknown';
    },
    expand,
  };
}
