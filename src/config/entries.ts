// Reads and type-checks one entry of a table list ([[routes]], [domains."example.com"]) against its field list.

import { closest, snake } from './keys.ts';

/** string, list of strings, or a table of local part -> string or list of strings (aliases). */
export type FieldKind = 'string' | 'list' | 'aliases';

/** An entry's fields by their Config (camelCase) name; the TOML name is the snake_case of it. */
export type EntrySpec = Readonly<Record<string, FieldKind>>;

export const isTable = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);

/** A key as TOML writes it in a dotted name: bare when it can be, else quoted ("example.com", "first.last"). */
export const tomlKey = (k: string): string => (/^[A-Za-z0-9_-]+$/.test(k) ? k : JSON.stringify(k));

const describe = (v: unknown): string =>
  typeof v === 'string' ? JSON.stringify(v) : isTable(v) ? 'a table' : Array.isArray(v) ? 'a list' : String(v);

const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

/**
 * The fields of a TOML entry, renamed to camelCase and typed (an alias given as one string becomes a list of
 * one), and one problem per unknown key or wrong type, as "<label>.<key>: …". Unknown keys are errors for the
 * same reason as everywhere in the file: a typo would otherwise leave a route or a mailbox silently unset.
 */
export function readEntry(
  raw: Record<string, unknown>,
  spec: EntrySpec,
  label: string,
): { fields: Record<string, unknown>; problems: string[] } {
  const byToml = new Map(Object.keys(spec).map((camel) => [snake(camel), camel]));
  const fields: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [name, value] of Object.entries(raw)) {
    const camel = byToml.get(name);
    if (camel === undefined) {
      const hint = closest(name, byToml.keys());
      problems.push(`${label}: unknown key ${name}${hint ? ` (did you mean ${hint}?)` : ''}`);
      continue;
    }
    const kind = spec[camel];
    if (kind === 'aliases' && isTable(value)) {
      fields[camel] = aliasesFromToml(value, `${label}.${name}`, problems);
      continue;
    }
    const wrong = fieldTypeProblem(kind, value);
    if (wrong) problems.push(`${label}.${name}: ${wrong}, got ${describe(value)}`);
    else fields[camel] = value;
  }
  return { fields, problems };
}

/** For an entry that did not come from TOML (flags, the wizard): each field of the wrong type, as "<key>: …". */
export function entryTypeProblems(entry: unknown, spec: EntrySpec): Array<{ field: string; message: string }> {
  if (!isTable(entry)) return [{ field: '', message: `must be a table, got ${describe(entry)}` }];
  const out: Array<{ field: string; message: string }> = [];
  for (const [camel, kind] of Object.entries(spec)) {
    const wrong = fieldTypeProblem(kind, entry[camel]);
    if (wrong) out.push({ field: snake(camel), message: `${wrong}, got ${JSON.stringify(entry[camel])}` });
  }
  return out;
}

function fieldTypeProblem(kind: FieldKind, v: unknown): string | null {
  switch (kind) {
    case 'string':
      return typeof v === 'string' ? null : 'expected a string';
    case 'list':
      return isStringList(v) ? null : 'expected a list of strings';
    case 'aliases':
      return isTable(v) && Object.values(v).every(isStringList)
        ? null
        : 'expected a table of local part = "target" or ["target", …]';
  }
}

/** { info = "alice", sales = ["a", "b"] } -> { info: ["alice"], sales: ["a", "b"] }; other values are problems. */
function aliasesFromToml(table: Record<string, unknown>, label: string, problems: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [local, v] of Object.entries(table)) {
    if (typeof v === 'string') out[local] = [v];
    else if (isStringList(v)) out[local] = [...v];
    else problems.push(`${label}.${tomlKey(local)}: expected "target" or a list of targets, got ${describe(v)}`);
  }
  return out;
}
