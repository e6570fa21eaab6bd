// Parses and formats the human units of Tern's configuration: durations ("5m", "250ms") and sizes ("35MiB", "512k").

/** A parse result: the value, or a message saying what was expected (errors are values; the caller adds the key). */
export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

const DURATION_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

// Sizes follow coreutils (dd, du): a bare letter and the IEC "KiB" forms are powers of 1024, "KB" forms
// powers of 1000. So "512k" is 524288 octets and "10MB" is 10000000: what most operators expect of each spelling.
const SIZE_OCTETS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kib: 1024,
  kb: 1000,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  mb: 1000 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  gb: 1000 ** 3,
  t: 1024 ** 4,
  tib: 1024 ** 4,
  tb: 1000 ** 4,
};

const NUMBER_UNIT = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i;

function scaled(input: string, table: Record<string, number>, what: string): Parsed<number> {
  const m = NUMBER_UNIT.exec(input);
  const factor = m ? table[m[2].toLowerCase()] : undefined;
  if (!m || factor === undefined) return { ok: false, error: what };
  const value = Math.round(Number(m[1]) * factor);
  if (!Number.isSafeInteger(value)) return { ok: false, error: `${what} (too large)` };
  return { ok: true, value };
}

/**
 * Milliseconds from "250ms", "300s", "5m", "1h", "2d" (decimals allowed: "1.5s"), or a bare
 * integer of SECONDS (a number from TOML, or a digits-only string from the environment).
 */
export function parseDuration(input: string | number): Parsed<number> {
  const expected = 'expected a duration like "300s", "5m", "1h", "250ms" or a whole number of seconds';
  if (typeof input === 'number') {
    return Number.isSafeInteger(input) && input >= 0
      ? { ok: true, value: input * 1000 }
      : { ok: false, error: expected };
  }
  if (/^\s*\d+\s*$/.test(input)) return parseDuration(Number(input));
  return scaled(input, DURATION_MS, expected);
}

/** Octets from "35MiB", "10MB", "512k", "1.5G", or a bare integer of octets. */
export function parseSize(input: string | number): Parsed<number> {
  const expected = 'expected a size like "35MiB", "10MB", "512k" or a whole number of octets';
  if (typeof input === 'number') {
    return Number.isSafeInteger(input) && input >= 0 ? { ok: true, value: input } : { ok: false, error: expected };
  }
  return scaled(input, SIZE_OCTETS, expected);
}

const SIZE_UNITS: Array<[string, number]> = [['TiB', 1024 ** 4], ['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]];

/**
 * "35MiB" for 36700160: the largest IEC unit that divides the value exactly, so the text parses back to the
 * same number; otherwise the largest unit not above it with one decimal ("1.4MiB"), for people to read.
 */
export function formatSize(octets: number): string {
  for (const [unit, n] of SIZE_UNITS) if (octets >= n && octets % n === 0) return `${octets / n}${unit}`;
  for (const [unit, n] of SIZE_UNITS) if (octets >= n) return `${(octets / n).toFixed(1)}${unit}`;
  return String(octets);
}

const DURATION_UNITS: Array<[string, number]> = [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]];

/** "5m" for 300000: the largest unit that divides exactly (so it parses back), else milliseconds ("250ms"). */
export function formatDuration(ms: number): string {
  for (const [unit, n] of DURATION_UNITS) if (ms >= n && ms % n === 0) return `${ms / n}${unit}`;
  return `${ms}ms`;
}
