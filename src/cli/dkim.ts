// `tern dkim generate|list|activate|retire|dns`: DKIM signing keys, through the daemon or offline.
import { withOfflineStore } from './offline.ts';
import { parseArgs } from 'node:util';
import { controlRequest, NoDaemonError } from '../control/client.ts';
import { controlSocketPath } from '../control/lock.ts';
import type { ControlRequest } from '../control/protocol.ts';
import type { Config } from '../config/schema.ts';
import { DkimCommandError, runDkimCommand } from '../dkim/control.ts';
import type { KeyInfo } from '../dkim/repo.ts';
import { loadConfigOrFail } from './context.ts';
import { CliError, EX_DATAERR, EX_USAGE } from './exit-codes.ts';

const HELP = `usage: tern dkim <command> [options]

  generate DOMAIN [--selector S] [--algorithm rsa|ed25519] [--activate]
                          make a key (RSA 2048 by default) and print the TXT record to publish;
                          the selector defaults to tern<yyyymm>. Publish the record, then activate.
  list [DOMAIN] [--json]  every key: active, ready (not yet active) or retired (its record may go)
  activate DOMAIN SELECTOR
                          sign new mail from DOMAIN with this key (the domain's other keys stop)
  retire DOMAIN SELECTOR  stop signing with this key; it stays listed until its record is removed
  dns DOMAIN [SELECTOR]   the records to publish (every key not retired, or one selector)
  help                    this text

Mail is signed when its From domain is exactly DOMAIN (not a subdomain) and that domain has an active key.
options: --config FILE, --json (machine-readable output)
`;

/**
 * The daemon owns the embedded database, so the request goes to its control socket; with no daemon, the
 * CLI takes the data-dir lock and opens the store itself (as `tern queue` does). A real PostgreSQL needs
 * no lock, and a running daemon's signer sees an offline change within its key refresh interval.
 */
export async function askDkim(config: Config, req: Record<string, unknown> & { cmd: string }): Promise<unknown> {
  try {
    // ControlRequest lists the daemon's built-in commands; module commands travel the same wire untyped.
    const res = await controlRequest(controlSocketPath(config.dataDir), req as unknown as ControlRequest);
    if (!res.ok) throw new CliError(res.error, EX_DATAERR);
    return res.result;
  } catch (err) {
    if (!(err instanceof NoDaemonError)) throw err;
  }
  return withOfflineStore(config, async (store) => {
    try {
      return await runDkimCommand(store, req);
    } catch (err) {
      if (err instanceof DkimCommandError) throw new CliError(err.message, EX_DATAERR);
      throw err;
    }
  });
}

function state(k: KeyInfo): string {
  if (k.active) return 'active';
  return k.retiredAt ? `retired ${k.retiredAt.slice(0, 10)}` : 'ready';
}

export function formatKeys(keys: KeyInfo[]): string {
  if (keys.length === 0) return "no DKIM keys; make one with 'tern dkim generate DOMAIN'";
  const rows = keys.map((k) => [k.domain, k.selector, k.algorithm, state(k), k.createdAt.slice(0, 10)]);
  const head = ['domain', 'selector', 'algorithm', 'state', 'created'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [head, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n');
}

/** The record in zone-file form, then name and value apart for DNS providers' web forms. */
export function formatRecord(k: KeyInfo): string {
  return [`; ${k.domain} selector ${k.selector} (${k.algorithm}, ${state(k)})`, k.record.zoneLine, `name:  ${k.record.name}`, `value: ${k.record.value}`].join('\n');
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      config: { type: 'string', short: 'c' },
      selector: { type: 'string', short: 's' },
      algorithm: { type: 'string', short: 'a' },
      activate: { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [sub, domain, selector, extra] = positionals;
  if (values.help || sub === 'help' || sub === undefined) {
    process.stdout.write(HELP);
    return sub === undefined && !values.help ? EX_USAGE : 0;
  }
  const usage = (text: string) => new CliError(`usage: tern dkim ${text}`, EX_USAGE);
  if (sub !== 'generate' && (values.selector !== undefined || values.algorithm !== undefined || values.activate)) {
    throw new CliError('--selector, --algorithm and --activate go with generate only', EX_USAGE);
  }
  let req: Record<string, unknown> & { cmd: string };
  switch (sub) {
    case 'generate':
      if (!domain || selector !== undefined) throw usage('generate DOMAIN [--selector S] [--algorithm rsa|ed25519] [--activate]');
      req = { cmd: 'dkim.generate', domain, selector: values.selector, algorithm: values.algorithm, activate: values.activate === true };
      break;
    case 'list':
      if (selector !== undefined) throw usage('list [DOMAIN] [--json]');
      req = { cmd: 'dkim.list', domain };
      break;
    case 'activate':
    case 'retire':
      if (!domain || !selector || extra !== undefined) throw usage(`${sub} DOMAIN SELECTOR`);
      req = { cmd: `dkim.${sub}`, domain, selector };
      break;
    case 'dns':
      if (!domain || extra !== undefined) throw usage('dns DOMAIN [SELECTOR]');
      req = { cmd: 'dkim.dns', domain, selector };
      break;
    default:
      throw new CliError(`unknown: tern dkim ${sub}; try 'tern dkim help'`, EX_USAGE);
  }
  const { config } = loadConfigOrFail(values.config, process.env);
  const result = await askDkim(config, req);
  const out = (text: string) => process.stdout.write(text + '\n');
  if (values.json) {
    out(JSON.stringify(result, null, 2));
    return 0;
  }
  switch (req.cmd) {
    case 'dkim.list':
      out(formatKeys(result as KeyInfo[]));
      break;
    case 'dkim.dns':
      out((result as KeyInfo[]).map(formatRecord).join('\n\n') || `no key to publish for ${domain}`);
      break;
    case 'dkim.generate': {
      const k = result as KeyInfo;
      out(`generated ${k.algorithm} key for ${k.domain}, selector ${k.selector} (${state(k)})\n`);
      out(`publish this TXT record:\n${formatRecord(k)}\n`);
      if (!k.active) out(`then start signing with it: tern dkim activate ${k.domain} ${k.selector}`);
      break;
    }
    default: {
      const k = result as KeyInfo;
      out(`${k.domain} selector ${k.selector}: ${state(k)}`);
      if (req.cmd === 'dkim.retire' && k.record) out(`mail from ${k.domain} is no longer signed with it; remove ${k.record.name} once its mail is delivered`);
    }
  }
  return 0;
}
