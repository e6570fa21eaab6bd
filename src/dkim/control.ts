// The `tern dkim` commands as control-socket handlers and as one dispatcher the offline CLI calls directly.
import type { ControlHandlers } from '../control/protocol.ts';
import type { Store } from '../store/open.ts';
import { parseAlgorithm } from './keys.ts';
import { activate, generate, type KeyResult, list, records, retire } from './repo.ts';

export const DKIM_COMMANDS = ['dkim.generate', 'dkim.list', 'dkim.activate', 'dkim.retire', 'dkim.dns'] as const;
export type DkimCommand = (typeof DKIM_COMMANDS)[number];

/** An operator's mistake (unknown selector, bad domain): the message is the whole story, no stack. */
export class DkimCommandError extends Error {}

function str(req: Record<string, unknown>, field: string, required: true): string;
function str(req: Record<string, unknown>, field: string, required: false): string | undefined;
function str(req: Record<string, unknown>, field: string, required: boolean): string | undefined {
  const v = req[field];
  if (v === undefined || v === null) {
    if (required) throw new DkimCommandError(`${String(req.cmd)}: ${field} is required`);
    return undefined;
  }
  if (typeof v !== 'string') throw new DkimCommandError(`${String(req.cmd)}: ${field} must be a string`);
  return v;
}

function unwrap<T>(r: KeyResult<T>): T {
  if (!r.ok) throw new DkimCommandError(r.error);
  return r.value;
}

/**
 * Runs one dkim.* request against the store. Fields: generate {domain, selector?, algorithm? ("rsa" |
 * "ed25519", default rsa: every verifier knows it, RFC 8463 keys are not yet universally understood),
 * activate?}; list {domain?}; activate / retire {domain, selector}; dns {domain, selector?}.
 * Throws DkimCommandError for a bad request; `changed` is called after anything that alters the active set.
 */
export async function runDkimCommand(store: Store, req: Record<string, unknown>, changed: () => void = () => {}): Promise<unknown> {
  switch (req.cmd) {
    case 'dkim.generate': {
      const algorithmText = str(req, 'algorithm', false) ?? 'rsa';
      const algorithm = parseAlgorithm(algorithmText);
      if (!algorithm) throw new DkimCommandError(`unknown algorithm ${algorithmText}: use rsa or ed25519`);
      const result = unwrap(
        await generate(store, {
          domain: str(req, 'domain', true),
          selector: str(req, 'selector', false),
          algorithm,
          activate: req.activate === true,
        }),
      );
      if (result.active) changed();
      return result;
    }
    case 'dkim.list':
      return unwrap(await list(store, str(req, 'domain', false)));
    case 'dkim.activate': {
      const result = unwrap(await activate(store, str(req, 'domain', true), str(req, 'selector', true)));
      changed();
      return result;
    }
    case 'dkim.retire': {
      const result = unwrap(await retire(store, str(req, 'domain', true), str(req, 'selector', true)));
      changed();
      return result;
    }
    case 'dkim.dns':
      return unwrap(await records(store, str(req, 'domain', true), str(req, 'selector', false)));
    default:
      throw new DkimCommandError(`unknown command ${String(req.cmd)}`);
  }
}

/**
 * The handlers the daemon adds to its control socket. `invalidate` is the signer's, so a rotation done
 * through this daemon takes effect at the next message (other nodes pick it up within KEY_REFRESH_MS).
 */
export function dkimControlHandlers(store: Store, invalidate: () => void = () => {}): ControlHandlers {
  const handlers: ControlHandlers = {};
  for (const cmd of DKIM_COMMANDS) handlers[cmd] = (req) => runDkimCommand(store, { ...req, cmd }, invalidate);
  return handlers;
}
