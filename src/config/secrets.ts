// The "env:NAME" indirection: a password in the config file may name an environment variable that holds it.
//
// Routes and domains exist only in the file (a table does not fit in a TERN_* variable), but a password is
// better kept out of a file that gets copied, diffed and backed up. So auth_password, webhook_secret and
// delivery.smarthost_password may be written "env:NAME"; loadConfig replaces that with the value of NAME from
// the environment it was given (nothing else in Tern reads the environment). NAME is any variable, TERN_ or not.
// A value starting "env:" is always a reference: a password that really starts so must itself come from one.

import { domainLabel } from './domains.ts';
import { routeLabel } from './routes.ts';
import type { Config } from './schema.ts';
import type { Problem } from './validate.ts';

const PREFIX = 'env:';
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

interface SecretSlot {
  key: string; // dotted TOML name, for messages
  value: unknown;
  set(v: string): void;
}

function slots(c: Config): SecretSlot[] {
  const out: SecretSlot[] = [
    {
      key: 'delivery.smarthost_password',
      value: c.delivery.smarthostPassword,
      set: (v) => (c.delivery.smarthostPassword = v),
    },
  ];
  // Flags and the wizard can hand in anything: only well-typed entries are looked at (validation reports the rest).
  if (Array.isArray(c.routes)) {
    c.routes.forEach((r, i) => {
      if (r && typeof r === 'object') {
        out.push({ key: `${routeLabel(i)}.auth_password`, value: r.authPassword, set: (v) => (r.authPassword = v) });
      }
    });
  }
  if (c.domains && typeof c.domains === 'object') {
    for (const [name, d] of Object.entries(c.domains)) {
      if (d && typeof d === 'object') {
        out.push({
          key: `${domainLabel(name)}.webhook_secret`,
          value: d.webhookSecret,
          set: (v) => (d.webhookSecret = v),
        });
      }
    }
  }
  return out;
}

const isRef = (v: unknown): v is string => typeof v === 'string' && v.startsWith(PREFIX);

/** The variables the config refers to, so that a TERN_-named one is not taken for a mistyped setting. */
export function secretEnvNames(c: Config): Set<string> {
  return new Set(slots(c).flatMap((s) => (isRef(s.value) ? [s.value.slice(PREFIX.length)] : [])));
}

/**
 * Replaces each "env:NAME" with the value of NAME in env. A missing or empty variable is a problem (the
 * password would otherwise be the literal text "env:NAME", failing AUTH with a confusing remote error).
 */
export function resolveSecrets(c: Config, env: Record<string, string | undefined>): Problem[] {
  const problems: Problem[] = [];
  for (const slot of slots(c)) {
    if (!isRef(slot.value)) continue;
    const name = slot.value.slice(PREFIX.length);
    if (!NAME.test(name)) {
      problems.push({ key: slot.key, message: `"${slot.value}" must name an environment variable, as "env:NAME"` });
      continue;
    }
    const value = env[name];
    if (value === undefined || value === '') {
      problems.push({ key: slot.key, message: `"${slot.value}": the environment variable ${name} is not set` });
      continue;
    }
    slot.set(value);
  }
  return problems;
}
