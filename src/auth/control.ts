// User management requests ("user.add", "user.list"…): validated once here, run by the daemon's control socket or by the CLI offline.
import type { ControlHandlers } from '../control/protocol.ts';
import { parsePhc } from './password.ts';
import { createUserRepo, validateAddress, validateDomain, validateUserName, type User, type UserRepo } from './users.ts';
import type { Store } from '../store/open.ts';

/**
 * The requests. Passwords arrive already hashed (a PHC string): `tern user` hashes on the CLI side so the
 * password itself never crosses the control socket, never sits in the daemon's memory and cannot end up in
 * a control-error log line. The daemon only checks that the hash is one it can verify.
 */
export type UserRequest =
  | { cmd: 'user.add'; name: string; passwordHash: string; addresses: string[]; domains: string[]; any: boolean }
  | { cmd: 'user.passwd'; name: string; passwordHash: string }
  | { cmd: 'user.del'; name: string }
  | { cmd: 'user.disable'; name: string }
  | { cmd: 'user.enable'; name: string }
  | { cmd: 'user.list' };

export const USER_COMMANDS = ['user.add', 'user.passwd', 'user.del', 'user.disable', 'user.enable', 'user.list'] as const;

/** Expected failures, as values: 'invalid' (bad input), 'exists' (add), 'unknown' (no such user). */
export type UserOutcome =
  | { ok: true; result: User | User[] | { name: string } }
  | { ok: false; error: 'invalid' | 'exists' | 'unknown'; message: string };

type Checked<T> = { ok: true; value: T } | { ok: false; error: string };

function stringList(v: unknown, what: string, check: (s: string) => Checked<string>): Checked<string[]> {
  if (v === undefined) return { ok: true, value: [] };
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) return { ok: false, error: `${what} must be a list of strings` };
  const out = new Set<string>();
  for (const item of v as string[]) {
    const r = check(item);
    if (!r.ok) return r;
    out.add(r.value);
  }
  return { ok: true, value: [...out] };
}

/**
 * Validates a request as parsed from JSON (the socket is local and owner-only, but its input is still
 * untrusted: a wrong CLI version or a hand-written request). Names and addresses come back canonical.
 */
export function parseUserRequest(req: Record<string, unknown>): Checked<UserRequest> {
  const cmd = req.cmd;
  if (cmd === 'user.list') return { ok: true, value: { cmd } };
  if (typeof cmd !== 'string' || !(USER_COMMANDS as readonly string[]).includes(cmd)) return { ok: false, error: `unknown user command ${String(cmd)}` };
  if (typeof req.name !== 'string') return { ok: false, error: 'name is missing' };
  const name = validateUserName(req.name);
  if (!name.ok) return name;
  if (cmd === 'user.del' || cmd === 'user.disable' || cmd === 'user.enable') return { ok: true, value: { cmd, name: name.value } };
  if (typeof req.passwordHash !== 'string' || !parsePhc(req.passwordHash).ok) return { ok: false, error: 'passwordHash is not a valid $scrypt$ hash' };
  if (cmd === 'user.passwd') return { ok: true, value: { cmd, name: name.value, passwordHash: req.passwordHash } };
  const addresses = stringList(req.addresses, 'addresses', validateAddress);
  if (!addresses.ok) return addresses;
  const domains = stringList(req.domains, 'domains', validateDomain);
  if (!domains.ok) return domains;
  if (req.any !== undefined && typeof req.any !== 'boolean') return { ok: false, error: 'any must be true or false' };
  return { ok: true, value: { cmd: 'user.add', name: name.value, passwordHash: req.passwordHash, addresses: addresses.value, domains: domains.value, any: req.any === true } };
}

const unknown = (name: string): UserOutcome => ({ ok: false, error: 'unknown', message: `no user ${name}` });

/** Runs one request against the users table. Database failures reject (they are not the request's fault). */
export async function performUserRequest(repo: UserRepo, req: UserRequest): Promise<UserOutcome> {
  switch (req.cmd) {
    case 'user.list':
      return { ok: true, result: await repo.list() };
    case 'user.add': {
      const r = await repo.add(req);
      return r.ok ? { ok: true, result: r.user } : { ok: false, error: 'exists', message: `user ${req.name} already exists` };
    }
    case 'user.passwd':
      return (await repo.setPassword(req.name, req.passwordHash)) ? { ok: true, result: { name: req.name } } : unknown(req.name);
    case 'user.del':
      return (await repo.remove(req.name)) ? { ok: true, result: { name: req.name } } : unknown(req.name);
    case 'user.disable':
    case 'user.enable':
      return (await repo.setDisabled(req.name, req.cmd === 'user.disable')) ? { ok: true, result: { name: req.name } } : unknown(req.name);
  }
}

export interface UserControlOptions {
  store: Store;
  /** Called after a change to a user, so the daemon's authenticator drops its cached row at once. */
  invalidate?: (name: string) => void;
}

/**
 * The daemon's handlers for `tern user …`. An expected failure throws with its message, which the control
 * server returns as {ok:false, error}; the message starts with the failure kind ("exists: …") so the CLI
 * can choose its exit code.
 */
export function createUserControl(opts: UserControlOptions): ControlHandlers {
  const repo = createUserRepo(opts.store);
  const handle = async (req: Record<string, unknown>): Promise<unknown> => {
    const parsed = parseUserRequest(req);
    if (!parsed.ok) throw new Error(`invalid: ${parsed.error}`);
    const out = await performUserRequest(repo, parsed.value);
    if ('name' in parsed.value) opts.invalidate?.(parsed.value.name);
    if (!out.ok) throw new Error(`${out.error}: ${out.message}`);
    return out.result;
  };
  return Object.fromEntries(USER_COMMANDS.map((cmd) => [cmd, handle]));
}
