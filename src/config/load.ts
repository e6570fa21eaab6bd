// Builds the running Config: defaults, then the TOML file, then TERN_* variables, then flags (STYLE §9).

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { parse as parseToml } from 'smol-toml';
import { isDomainName } from '../lib/domain.ts';
import { defaults, domainDefaults, routeDefaults } from './defaults.ts';
import { domainLabel, normaliseDomains, readDomains } from './domains.ts';
import { ConfigError } from './errors.ts';
import {
  closest,
  CONFIG_TABLES,
  type ConfigKey,
  fromEnv,
  fromToml,
  keyByEnv,
  keyByPath,
  keyByToml,
  snake,
  STRUCTURED_KEYS,
} from './keys.ts';
import { readRoutes } from './routes.ts';
import type { Config, DomainConfig, RouteConfig } from './schema.ts';
import { resolveSecrets, secretEnvNames } from './secrets.ts';
import { checkFiles } from './validate-delivery.ts';
import { checkConfig, configWarnings, type Problem } from './validate.ts';

export { ENV_VARS } from './keys.ts';

/** Any subset of the Config, e.g. from command-line flags; lists are replaced whole, not merged. */
export type ConfigOverrides = DeepPartial<Config>;
type DeepPartial<T> = {
  [K in keyof T]?: T[K] extends readonly unknown[] ? T[K] : T[K] extends object ? DeepPartial<T[K]> : T[K];
};

export interface LoadOptions {
  /** Config file named on the command line; it must exist. */
  file?: string;
  /** The process environment (passed in: nothing else in Tern reads it). */
  env: Record<string, string | undefined>;
  /** Applied last. */
  flags?: ConfigOverrides;
  /** Where relative file names and ./tern.toml are looked up; default process.cwd(). */
  cwd?: string;
}

export interface LoadedConfig {
  config: Config;
  /**
   * What was read besides the defaults, in order, for the start-up message: "file /etc/tern.toml",
   * "env TERN_LOG_LEVEL", "flag log.level". Empty = the dev defaults alone.
   */
  source: string[];
  /** Allowed but risky settings (configWarnings): log each at warn on every start. */
  warnings: string[];
}

/** Variables under TERN_ that are not configuration keys. */
const ENV_EXEMPT = (name: string): boolean => name === 'TERN_CONFIG' || name.startsWith('TERN_TEST_');

/** TERN_ROUTES, TERN_DOMAINS_EXAMPLE_COM_…: what someone would try for the keys that only the file can hold. */
const STRUCTURED_ENV = /^TERN_(ROUTES|DOMAINS)(_|$)/;

/**
 * Loads, merges, normalises (domains lower-cased) and validates the configuration.
 * Throws ConfigError listing every problem (unknown keys, bad values, failed validation), each naming the key
 * and where it came from; it never returns an invalid Config.
 */
export function loadConfig(opts: LoadOptions): LoadedConfig {
  const config = structuredClone(defaults) as Config;
  const source: string[] = [];
  const problems: string[] = [];
  const origin = new Map<string, string>(); // TOML key -> where its value came from, for messages

  const file = findFile(opts);
  if (file) {
    applyFile(file, config, origin, problems);
    source.push(`file ${file}`);
  }
  // Routes and domains from flags go in before the environment: nothing in the environment can set them, and a
  // password they name as "env:TERN_…" must not be taken for a mistyped setting below.
  const { routes: flagRoutes, domains: flagDomains, ...flags } = opts.flags ?? {};
  applyStructuredFlags(flagRoutes, flagDomains, config, origin, source);
  const referenced = secretEnvNames(config);
  for (const [name, raw] of Object.entries(opts.env)) {
    if (raw === undefined || !name.startsWith('TERN_') || ENV_EXEMPT(name)) continue;
    const key = keyByEnv.get(name);
    if (!key && referenced.has(name)) continue; // a password's variable, not a setting
    const structured = STRUCTURED_ENV.exec(name);
    if (!key && structured) {
      const table = structured[1].toLowerCase();
      problems.push(
        `${name}: ${table} cannot be set from the environment (a table does not fit in a variable): write ` +
          `${table === 'routes' ? '[[routes]]' : '[domains."example.com"]'} in the config file; a password there ` +
          'can stay in the environment as "env:NAME"',
      );
      continue;
    }
    if (!key) {
      const hint = closest(name, keyByEnv.keys());
      problems.push(`${name}: unknown environment variable${hint ? ` (did you mean ${hint}?)` : ''}`);
      continue;
    }
    const r = fromEnv(key, raw);
    if (!r.ok) problems.push(`${name}: ${r.error}`);
    else set(config, key, r.value, origin, name);
    source.push(`env ${name}`);
  }
  applyFlags(flags, [], config, origin, problems, source);

  const withOrigin = (p: Problem) => {
    const from = originOf(origin, p.key);
    return `${p.key}: ${p.message}${from ? ` (set in ${from})` : ''}`;
  };
  problems.push(...normalise(config).map(withOrigin));
  problems.push(...resolveSecrets(config, opts.env).map(withOrigin));
  problems.push(...[...checkConfig(config), ...checkFiles(config)].map(withOrigin));
  if (problems.length) {
    throw new ConfigError(`${problems.length} problem${problems.length === 1 ? '' : 's'}`, problems);
  }
  return { config, source, warnings: configWarnings(config) };
}

/** Explicit file, else TERN_CONFIG, else ./tern.toml when present, else none (the dev default). */
function findFile(opts: LoadOptions): string | undefined {
  const cwd = opts.cwd ?? process.cwd();
  const named = opts.file ?? (opts.env.TERN_CONFIG || undefined);
  if (named !== undefined) {
    const p = path.resolve(cwd, named);
    if (!existsSync(p)) {
      const by = opts.file !== undefined ? 'named on the command line' : 'named by TERN_CONFIG';
      throw new ConfigError(`config file ${p} (${by}) does not exist`, []);
    }
    return p;
  }
  const local = path.resolve(cwd, 'tern.toml');
  return existsSync(local) ? local : undefined;
}

function applyFile(file: string, config: Config, origin: Map<string, string>, problems: string[]): void {
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(readFileSync(file, 'utf8'));
  } catch (e) {
    const err = e as { line?: number; column?: number; message?: string; code?: string };
    if (err.line !== undefined) {
      // smol-toml's message is "Invalid TOML document: <why>\n\n<excerpt>": keep the why, give the position.
      const why = String(err.message).split('\n')[0].replace(/^Invalid TOML document: /, '');
      throw new ConfigError(`${file}:${err.line}:${err.column}: invalid TOML: ${why}`, [], { cause: e });
    }
    throw new ConfigError(`cannot read config file ${file}: ${err.message ?? String(e)}`, [], { cause: e });
  }
  walkToml(doc, '', file, config, origin, problems);
}

const isTable = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);

function walkToml(
  table: Record<string, unknown>,
  prefix: string,
  file: string,
  config: Config,
  origin: Map<string, string>,
  problems: string[],
): void {
  for (const [name, value] of Object.entries(table)) {
    const full = prefix ? `${prefix}.${name}` : name;
    const key = keyByToml.get(full);
    if (prefix === '' && STRUCTURED_KEYS.has(name)) {
      applyStructured(name, value, file, config, origin, problems);
    } else if (key) {
      const r = fromToml(key, value);
      if (!r.ok) problems.push(`${file}: ${full}: ${r.error}`);
      else set(config, key, r.value, origin, file);
    } else if (CONFIG_TABLES.has(full)) {
      if (isTable(value)) walkToml(value, full, file, config, origin, problems);
      else problems.push(`${file}: ${full}: must be a table ([${full}])`);
    } else {
      // A typo must not be silently ignored: the operator believes the setting is in force.
      const hint = closest(full, [...keyByToml.keys(), ...CONFIG_TABLES, ...STRUCTURED_KEYS]);
      problems.push(`${file}: unknown key ${full}${hint ? ` (did you mean ${hint}?)` : ''}`);
    }
  }
}

/** [[routes]] and [domains."…"]: read by their own modules, each route and domain remembered as from this file. */
function applyStructured(
  name: string,
  value: unknown,
  file: string,
  config: Config,
  origin: Map<string, string>,
  problems: string[],
): void {
  if (name === 'routes') {
    const r = readRoutes(value, file);
    config.routes = r.routes;
    problems.push(...r.problems);
    origin.set('routes', file);
  } else {
    const r = readDomains(value, file);
    config.domains = r.domains;
    problems.push(...r.problems);
    for (const d of Object.keys(r.domains)) origin.set(domainLabel(d.toLowerCase()), file);
    origin.set('domains', file);
  }
}

/** Flags replace routes and domains whole; keys an entry leaves out get the same defaults as in the file. */
function applyStructuredFlags(
  routes: unknown,
  domains: unknown,
  config: Config,
  origin: Map<string, string>,
  source: string[],
): void {
  if (routes !== undefined) {
    config.routes = Array.isArray(routes)
      ? routes.map((r) => (isTable(r) ? { ...routeDefaults, ...structuredClone(r) } as RouteConfig : r))
      : routes as RouteConfig[]; // validation says what is wrong with it
    origin.set('routes', 'flag routes');
    source.push('flag routes');
  }
  if (domains !== undefined) {
    const fill = (d: unknown) => (isTable(d) ? { ...structuredClone(domainDefaults), ...structuredClone(d) } : d);
    config.domains = (isTable(domains)
      ? Object.fromEntries(Object.entries(domains).map(([name, d]) => [name, fill(d)]))
      : domains) as Record<string, DomainConfig>; // validation says what is wrong with it
    origin.set('domains', 'flag domains');
    source.push('flag domains');
  }
}

function applyFlags(
  flags: Record<string, unknown>,
  at: string[],
  config: Config,
  origin: Map<string, string>,
  problems: string[],
  source: string[],
): void {
  for (const [name, value] of Object.entries(flags)) {
    if (value === undefined) continue;
    const p = [...at, name];
    const key = keyByPath.get(p.join('.'));
    const toml = p.map(snake).join('.');
    if (key) {
      // Flags come typed from the CLI parser; validation checks the types.
      set(config, key, Array.isArray(value) ? [...value] : value, origin, `flag ${toml}`);
      source.push(`flag ${toml}`);
    } else if (CONFIG_TABLES.has(toml) && isTable(value)) {
      applyFlags(value, p, config, origin, problems, source);
    } else {
      problems.push(`flag ${toml}: unknown configuration key`);
    }
  }
}

function set(config: Config, key: ConfigKey, value: unknown, origin: Map<string, string>, from: string): void {
  let node = config as unknown as Record<string, unknown>;
  for (const part of key.path.slice(0, -1)) node = node[part] as Record<string, unknown>;
  node[key.path[key.path.length - 1]] = value;
  origin.set(key.toml, from);
}

/**
 * Domain comparisons are case-insensitive (RFC 5321 §2.4), so domains are stored lower-case once; SASL mechanism
 * names are upper-case (RFC 4422 §3.1), so "plain" is stored as "PLAIN". A domain with a [domains] table is
 * local, so it joins relay.local_domains: everything that asks "is this domain ours?" (RCPT, the router) then
 * reads one list, and the operator need not write the name twice.
 */
function normalise(config: Config): Problem[] {
  const cased = (list: unknown, fold: (s: string) => string) =>
    Array.isArray(list) ? list.map((d: unknown) => (typeof d === 'string' ? fold(d) : d)) : list;
  const lower = (list: unknown) => cased(list, (s) => s.toLowerCase());
  config.relay.localDomains = lower(config.relay.localDomains) as string[];
  config.relay.relayDomains = lower(config.relay.relayDomains) as string[];
  config.auth.mechanisms = cased(config.auth.mechanisms, (s) => s.toUpperCase()) as Config['auth']['mechanisms'];
  if (typeof config.inbound.authservId === 'string') {
    config.inbound.authservId = config.inbound.authservId.toLowerCase();
  }
  config.abuse.dnsbl = lower(config.abuse.dnsbl) as string[];
  config.abuse.greylistAllowDomains = lower(config.abuse.greylistAllowDomains) as string[];
  if (Array.isArray(config.routes)) {
    for (const r of config.routes) if (isTable(r) && typeof r.domain === 'string') r.domain = r.domain.toLowerCase();
  }
  if (!isTable(config.domains)) return [];
  const problems = normaliseDomains(config.domains);
  if (Array.isArray(config.relay.localDomains)) {
    // An invalid name is reported once, by checkDomains, not a second time as a bad relay.local_domains entry.
    for (const d of Object.keys(config.domains)) {
      if (isDomainName(d) && !config.relay.localDomains.includes(d)) config.relay.localDomains.push(d);
    }
  }
  return problems;
}

/** Where the value behind a problem came from: the key itself, else its route or domain entry, else the table. */
function originOf(origin: Map<string, string>, key: string): string | undefined {
  const entry = /^domains\.(?:"(?:[^"\\]|\\.)*"|[A-Za-z0-9_-]+)/.exec(key)?.[0];
  return origin.get(key) ?? (entry && origin.get(entry)) ?? origin.get(key.split(/[.[]/)[0]);
}
