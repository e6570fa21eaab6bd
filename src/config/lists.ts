// Checks each entry of a list-valued key, once per entry, and reports entries given twice.

/** A list entry's problem as a message, or null when it is fine. */
export type EntryCheck = (entry: string) => string | null;

/**
 * Calls `bad(key, message)` for each entry `check` refuses and for each entry given a second time. Entries are
 * compared case-insensitively: every list this is used on (mechanisms, header field names, domains) names
 * things whose case does not matter, so "From" and "from" twice is a mistake, not two entries.
 */
export function checkEntries(
  key: string,
  list: readonly string[],
  check: EntryCheck,
  bad: (key: string, message: string) => void,
): void {
  const first = new Map<string, string>(); // lower-cased entry -> its first spelling
  for (const entry of list) {
    const problem = check(entry);
    if (problem) bad(key, problem);
    const earlier = first.get(entry.toLowerCase());
    if (earlier === undefined) first.set(entry.toLowerCase(), entry);
    else if (earlier === entry) bad(key, `"${entry}" is given twice`);
    else bad(key, `"${entry}" and "${earlier}" are the same (case does not matter)`);
  }
}

/** An EntryCheck for a fixed set of words: "x" is not one of "a", "b". */
export const oneOf = (allowed: readonly string[]): EntryCheck => (entry) =>
  allowed.includes(entry) ? null : `"${entry}" is not one of ${allowed.map((a) => `"${a}"`).join(', ')}`;
