// `tern user add|passwd|del|disable|enable|list`: manage SMTP AUTH users through the daemon, or on the store when none runs.
import { withOfflineStore } from './offline.ts';
import { parseArgs } from 'node:util';
import { isCancel, password as promptPassword } from '@clack/prompts';
import { performUserRequest, type UserRequest } from '../auth/control.ts';
import { checkNewPassword, hashPassword, MAX_PASSWORD_BYTES, MIN_PASSWORD_CHARS } from '../auth/password.ts';
import { createUserRepo, validateAddress, validateDomain, validateUserName, type User } from '../auth/users.ts';
import type { Parsed } from '../lib/units.ts';
import { controlRequest, NoDaemonError } from '../control/client.ts';
import { controlSocketPath } from '../control/lock.ts';
import type { ControlRequest } from '../control/protocol.ts';
import type { Config } from '../config/schema.ts';
import { loadConfigOrFail } from './context.ts';
import { CliError, EX_DATAERR, EX_UNAVAILABLE, EX_USAGE } from './exit-codes.ts';

const HELP = `usage: tern user <command> [options]

commands:
  add NAME [--address ADDR]... [--domain DOMAIN]... [--any] [--password-stdin]
                       create a user; NAME is an address (it may then send as itself) or a plain name
  passwd NAME [--password-stdin]
                       set a new password
  del NAME             delete the user
  disable NAME         refuse the user's logins (the row stays); enable NAME undoes it
  list [--json]        all users and the senders they may use
  help                 this text

options:
  --address ADDR       an envelope sender the user may use (repeatable)
  --domain DOMAIN      the user may send as any address in DOMAIN (repeatable)
  --any                the user may send as any address, the null sender included
  --password-stdin     read the password from the first line of standard input (for scripts);
                       otherwise it is asked twice on the terminal
  --config FILE        TOML configuration
  --json               machine-readable output (list)

Passwords need at least 8 characters. This command hashes them (scrypt): the password itself never
reaches the daemon or the database.
`;

/** Runs `tern user …`; `argv` is everything after "user". */
export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      config: { type: 'string', short: 'c' },
      address: { type: 'string', multiple: true },
      domain: { type: 'string', multiple: true },
      any: { type: 'boolean' },
      'password-stdin': { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [sub, rawName, ...extra] = positionals;
  if (values.help || sub === 'help' || sub === undefined) {
    process.stdout.write(HELP);
    return sub === undefined && !values.help ? EX_USAGE : 0;
  }
  if (extra.length > 0) throw new CliError(`unexpected argument '${extra[0]}'; see 'tern user help'`, EX_USAGE);
  const needsName = sub !== 'list';
  if (needsName && rawName === undefined) throw new CliError(`usage: tern user ${sub} NAME; see 'tern user help'`, EX_USAGE);
  if (!needsName && rawName !== undefined) throw new CliError(`unexpected argument '${rawName}'`, EX_USAGE);
  if (sub !== 'add' && (values.address || values.domain || values.any)) {
    throw new CliError('--address, --domain and --any go with add only', EX_USAGE);
  }
  const name = needsName ? must(validateUserName(rawName!)) : '';
  const { config } = loadConfigOrFail(values.config, process.env);

  let req: UserRequest;
  switch (sub) {
    case 'add': {
      const addresses = (values.address ?? []).map((a) => must(validateAddress(a)));
      const domains = (values.domain ?? []).map((d) => must(validateDomain(d)));
      const passwordHash = await hashPassword(await readNewPassword(values['password-stdin'] === true));
      req = { cmd: 'user.add', name, passwordHash, addresses, domains, any: values.any === true };
      break;
    }
    case 'passwd':
      req = { cmd: 'user.passwd', name, passwordHash: await hashPassword(await readNewPassword(values['password-stdin'] === true)) };
      break;
    case 'del':
    case 'disable':
    case 'enable':
      req = { cmd: `user.${sub}`, name };
      break;
    case 'list':
      req = { cmd: 'user.list' };
      break;
    default:
      throw new CliError(`unknown: tern user ${sub}; try 'tern user help'`, EX_USAGE);
  }

  const result = await askUsers(config, req);
  if (req.cmd === 'user.list') {
    const rows = result as User[];
    process.stdout.write((values.json ? JSON.stringify(rows, null, 2) : formatUsers(rows)) + '\n');
  } else {
    const done = { 'user.add': 'added', 'user.passwd': 'password changed for', 'user.del': 'deleted', 'user.disable': 'disabled', 'user.enable': 'enabled' };
    process.stdout.write(`${done[req.cmd]} user ${name}\n`);
  }
  return 0;
}

function must<T>(r: Parsed<T>): T {
  if (!r.ok) throw new CliError(r.error, EX_USAGE);
  return r.value;
}

/** The first line of stdin (--password-stdin), or asked twice on a terminal; refused when too weak. */
async function readNewPassword(fromStdin: boolean): Promise<string> {
  let pw: string;
  if (fromStdin) {
    pw = await firstLineOfStdin();
  } else if (process.stdin.isTTY) {
    pw = await ask('New password');
    if ((await ask('Repeat the password')) !== pw) throw new CliError('the two passwords differ; nothing changed', EX_USAGE);
  } else {
    throw new CliError('no terminal to ask the password on: pass it with --password-stdin', EX_USAGE);
  }
  const weak = checkNewPassword(pw);
  if (weak) {
    // A short password falls to online guessing despite the throttle, and to offline guessing despite scrypt.
    const why = pw.length < MIN_PASSWORD_CHARS ? ': short passwords are guessed despite hashing and login throttling' : '';
    throw new CliError(`refused: ${weak}${why}`, EX_USAGE);
  }
  return pw;
}

async function ask(message: string): Promise<string> {
  const answer = await promptPassword({ message });
  if (isCancel(answer)) throw new CliError('cancelled; nothing changed', EX_USAGE);
  return answer;
}

/** Reads up to the first newline (CRLF or LF) and stops: the rest of stdin is not ours to consume. */
async function firstLineOfStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer | string>) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    chunks.push(buf);
    size += buf.length;
    if (buf.includes(0x0a) || size > 4 * MAX_PASSWORD_BYTES) break;
  }
  const text = Buffer.concat(chunks).toString('utf8');
  const nl = text.indexOf('\n');
  return (nl < 0 ? text : text.slice(0, nl)).replace(/\r$/, '');
}

/**
 * Through the running daemon when one answers (it owns the embedded database, and its authenticator drops
 * the changed user from its cache at once); otherwise on the store directly, holding the data-dir lock
 * like `tern queue` does (askQueue in ./queue.ts). PostgreSQL needs no lock: it serialises access itself.
 */
async function askUsers(config: Config, req: UserRequest): Promise<unknown> {
  try {
    // The control protocol's union lists only the queue's own commands; modules add theirs by name.
    const res = await controlRequest(controlSocketPath(config.dataDir), req as unknown as ControlRequest);
    if (res.ok) return res.result;
    if (res.error.startsWith('unknown control command')) throw new CliError('the running daemon does not manage users (older version?)', EX_UNAVAILABLE);
    throw new CliError(res.error.replace(/^(invalid|exists|unknown): /, ''), res.error.startsWith('invalid:') ? EX_USAGE : EX_DATAERR);
  } catch (err) {
    if (!(err instanceof NoDaemonError)) throw err;
  }
  return withOfflineStore(config, async (store) => {
    const out = await performUserRequest(createUserRepo(store), req);
    if (!out.ok) throw new CliError(out.message, out.error === 'invalid' ? EX_USAGE : EX_DATAERR);
    return out.result;
  });
}

/** One line per user: name, what it may send as, and a marker when disabled. */
export function formatUsers(rows: User[]): string {
  if (rows.length === 0) return 'no users';
  const width = Math.max(4, ...rows.map((u) => u.name.length));
  const lines = rows.map((u) => {
    const may = u.any ? ['any sender'] : [...u.addresses, ...u.domains.map((d) => `*@${d}`)];
    if (!u.any && u.name.includes('@') && !u.addresses.includes(u.name)) may.unshift(u.name);
    return `${u.name.padEnd(width)}  ${u.disabled ? 'disabled' : 'active  '}  ${may.length ? may.join(', ') : '(no sender allowed)'}`;
  });
  return [`${'name'.padEnd(width)}  state     may send as`, ...lines].join('\n');
}
