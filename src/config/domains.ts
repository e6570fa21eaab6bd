// [domains."example.com"], how each local domain's mail is delivered: read from TOML, normalised, checked.

import path from 'node:path';
import { isDomainName } from '../lib/domain.ts';
import { domainDefaults } from './defaults.ts';
import { type EntrySpec, entryTypeProblems, isTable, readEntry, tomlKey } from './entries.ts';
import { parseLmtpTarget } from './next-hop.ts';
import type { Config, DomainConfig } from './schema.ts';
import type { Problem } from './validate.ts';

const DOMAIN_SPEC: EntrySpec = {
  delivery: 'string',
  maildir: 'string',
  lmtp: 'string',
  webhook: 'string',
  webhookSecret: 'string',
  recipients: 'list',
  aliases: 'aliases',
  catchAll: 'string',
  dmarc: 'string',
};

const DELIVERIES: readonly DomainConfig['delivery'][] = ['mailbox', 'maildir', 'lmtp', 'webhook'];
const DMARC: readonly DomainConfig['dmarc'][] = ['', 'record', 'enforce'];

/** The dotted name of a domain's table in messages: domains."example.com". */
export const domainLabel = (name: string): string => `domains.${tomlKey(name)}`;

/** The [domains] table of a TOML file, each entry filled from domainDefaults, and its problems. */
export function readDomains(raw: unknown, file: string): { domains: Record<string, DomainConfig>; problems: string[] } {
  if (!isTable(raw)) {
    return { domains: {}, problems: [`${file}: domains: must be a table of domains, written [domains."example.com"]`] };
  }
  const domains: Record<string, DomainConfig> = {};
  const problems: string[] = [];
  for (const [name, entry] of Object.entries(raw)) {
    if (!isTable(entry)) {
      problems.push(`${file}: ${domainLabel(name)}: must be a table, written [${domainLabel(name)}]`);
      continue;
    }
    const r = readEntry(entry, DOMAIN_SPEC, `${file}: ${domainLabel(name)}`);
    problems.push(...r.problems);
    domains[name] = { ...structuredClone(domainDefaults), ...r.fields } as DomainConfig;
  }
  return { domains, problems };
}

/**
 * Domain names, recipients, alias names and targets compared case-insensitively from here on, so they are
 * lower-cased once (the domain part of a remote target too; its local part is the remote server's business).
 * Two names that differ only in case are a problem: one would silently replace the other.
 */
export function normaliseDomains(domains: Record<string, DomainConfig>): Problem[] {
  const problems: Problem[] = [];
  // Rebuilt in place and in file order (the caller holds this object), each name lower-cased.
  const entries = Object.entries(domains);
  for (const [name] of entries) delete domains[name];
  const firstName = new Map<string, string>();
  for (const [name, d] of entries) {
    const lower = name.toLowerCase();
    const other = firstName.get(lower);
    if (other !== undefined) {
      problems.push({ key: domainLabel(name), message: `"${name}" and "${other}" are the same domain` });
      continue;
    }
    firstName.set(lower, name);
    domains[lower] = d;
  }
  for (const [name, d] of Object.entries(domains)) {
    if (entryTypeProblems(d, DOMAIN_SPEC).length) continue; // checkDomainTypes reports it
    d.recipients = d.recipients.map((r) => r.toLowerCase());
    const aliases: Record<string, string[]> = {};
    for (const [local, targets] of Object.entries(d.aliases)) {
      const key = local.toLowerCase();
      if (Object.hasOwn(aliases, key)) {
        problems.push({
          key: `${domainLabel(name)}.aliases`,
          message: `"${local}" is given twice (case does not matter)`,
        });
      }
      aliases[key] = targets.map(normaliseTarget);
    }
    d.aliases = aliases;
    d.catchAll = normaliseTarget(d.catchAll);
  }
  return problems;
}

function normaliseTarget(t: string): string {
  const at = t.lastIndexOf('@');
  return at < 0 ? t.toLowerCase() : t.slice(0, at + 1) + t.slice(at + 1).toLowerCase();
}

/** Types of [domains] entries that did not come from TOML (flags, the wizard). */
export function checkDomainTypes(domains: unknown): Problem[] {
  if (!isTable(domains)) return [{ key: 'domains', message: 'must be a table of domain name -> settings' }];
  return Object.entries(domains).flatMap(([name, d]) =>
    entryTypeProblems(d, DOMAIN_SPEC).map((p) => ({
      key: p.field ? `${domainLabel(name)}.${p.field}` : domainLabel(name),
      message: p.message,
    }))
  );
}

/** Every local domain's settings; assumes checkDomainTypes passed and normaliseDomains ran. */
export function checkDomains(c: Config): Problem[] {
  const out: Problem[] = [];
  for (const [name, d] of Object.entries(c.domains)) {
    const label = domainLabel(name);
    const bad = (field: string, message: string) => out.push({ key: field ? `${label}.${field}` : label, message });
    if (!isDomainName(name)) bad('', `"${name}" is not a domain name (use the xn-- form for IDNs)`);
    else if (name !== name.toLowerCase()) bad('', `"${name}" must be lower-case`);
    if (c.relay.relayDomains.includes(name)) {
      bad('', `"${name}" is also in relay.relay_domains: a domain is either delivered here or relayed, not both`);
    }
    if (!DELIVERIES.includes(d.delivery)) {
      bad('delivery', `must be ${DELIVERIES.map((x) => `"${x}"`).join(', ')}, got ${JSON.stringify(d.delivery)}`);
    } else checkTarget(d, bad);
    checkAddressing(d, bad);
    if (!DMARC.includes(d.dmarc)) {
      bad('dmarc', `must be "" (inbound.dmarc), "record" or "enforce", got ${JSON.stringify(d.dmarc)}`);
    }
  }
  return out;
}

type Bad = (field: string, message: string) => void;

/** The setting the chosen delivery needs is present and parses; settings of another delivery are mistakes. */
function checkTarget(d: DomainConfig, bad: Bad): void {
  for (const kind of ['maildir', 'lmtp', 'webhook'] as const) {
    const value = d[kind];
    if (d.delivery !== kind) {
      if (value !== '') bad(kind, `is set but delivery = "${d.delivery}": set delivery = "${kind}" or remove it`);
      continue;
    }
    if (value === '') {
      bad(kind, `is required when delivery = "${kind}"`);
      continue;
    }
    const problem = kind === 'maildir'
      ? maildirProblem(value)
      : kind === 'lmtp'
      ? lmtpProblem(value)
      : webhookProblem(value);
    if (problem) bad(kind, problem);
  }
  if (d.webhookSecret !== '' && d.delivery !== 'webhook') {
    bad('webhook_secret', `is set but delivery = "${d.delivery}" (it signs webhook POSTs only)`);
  }
}

/** An absolute path template; %d domain, %u local part, %a address, %% a percent sign. */
function maildirProblem(template: string): string | null {
  // Relative paths would depend on the daemon's working directory, which service managers change.
  if (!path.isAbsolute(template)) return `"${template}" must be an absolute path, e.g. "/var/mail/%d/%u/Maildir"`;
  // Known escapes (%% included) removed first, so "%%x" is a percent sign and an x, not an unknown "%x".
  const unknown = template.replace(/%[dua%]/g, '').match(/%.?/u);
  return unknown ? `"${template}" has an unknown escape "${unknown[0]}": use %d, %u, %a or %%` : null;
}

function lmtpProblem(target: string): string | null {
  const r = parseLmtpTarget(target);
  return r.ok ? null : r.error;
}

function webhookProblem(url: string): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return `"${url}" is not a URL`;
  }
  return u.protocol === 'https:' || u.protocol === 'http:' ? null : `"${url}" must be an https:// or http:// URL`;
}

// A dot-atom local part (RFC 5321 §4.1.2, RFC 5322 §3.2.3 atext), UTF-8 allowed as in RFC 6531 §3.3. Quoted
// local parts are not supported here: no one names a mailbox "john smith" in a config file.
const ATEXT = "[A-Za-z0-9!#$%&'*+\\-/=?^_`{|}~\\u{80}-\\u{10FFFF}]+";
const DOT_ATOM = new RegExp(`^${ATEXT}(?:\\.${ATEXT})*$`, 'u');
const octets = (s: string): number => new TextEncoder().encode(s).length;

function localPartProblem(local: string): string | null {
  if (!DOT_ATOM.test(local)) return `"${local}" is not a local part (letters, digits, dots and !#$%&'*+-/=?^_\`{|}~)`;
  // RFC 5321 §4.5.3.1.1: a local part is at most 64 octets.
  return octets(local) > 64 ? `"${local}" is longer than 64 octets (RFC 5321 §4.5.3.1.1)` : null;
}

/** A target is a local part of this domain, or a full address (local@domain) anywhere. */
function targetProblem(target: string): string | null {
  const at = target.lastIndexOf('@');
  if (at < 0) return localPartProblem(target);
  const domain = target.slice(at + 1);
  if (!isDomainName(domain)) return `"${target}": "${domain}" is not a domain name (use the xn-- form for IDNs)`;
  return localPartProblem(target.slice(0, at));
}

/** Recipients, aliases and catch-all: syntax, and that a local target names someone who exists. */
function checkAddressing(d: DomainConfig, bad: Bad): void {
  for (const r of d.recipients) {
    const p = localPartProblem(r);
    if (p) bad('recipients', p);
  }
  // With a recipient list, a local target that is neither a recipient nor an alias would accept mail at
  // RCPT and then bounce it: refuse the configuration instead. "user+tag" counts as "user" (subaddressing).
  const exists = (local: string) =>
    d.recipients.length === 0 ||
    [local, local.split('+')[0]].some((l) => d.recipients.includes(l) || Object.hasOwn(d.aliases, l));
  const checkTarget = (field: string, t: string) => {
    const p = targetProblem(t);
    if (p) bad(field, p);
    else if (!t.includes('@') && !exists(t)) bad(field, `"${t}" is neither in recipients nor an alias of this domain`);
  };
  for (const [local, targets] of Object.entries(d.aliases)) {
    const field = `aliases.${tomlKey(local)}`;
    const p = localPartProblem(local);
    if (p) bad(field, p);
    if (targets.length === 0) bad(field, 'needs at least one target');
    for (const t of targets) checkTarget(field, t);
  }
  if (d.catchAll !== '') checkTarget('catch_all', d.catchAll);
}

/** Allowed but worth a warning: messages POSTed in clear to another machine, a DMARC policy never applied. */
export function domainWarnings(c: Config): string[] {
  const out: string[] = [];
  for (const [name, d] of Object.entries(c.domains)) {
    if (d.dmarc === 'enforce' && !c.inbound.checks) {
      out.push(`${domainLabel(name)}.dmarc: "enforce" has no effect while inbound.checks = false`);
    }
    if (d.delivery !== 'webhook' || !URL.canParse(d.webhook)) continue;
    const u = new URL(d.webhook);
    if (u.protocol !== 'http:') continue;
    const host = u.hostname;
    const loopback = host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
    if (!loopback) {
      out.push(
        `${domainLabel(name)}.webhook: "${d.webhook}" sends every message in clear over the network; use https://`,
      );
    }
  }
  return out;
}
