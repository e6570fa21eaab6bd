// Structured logging: one line per event, logfmt-style text or JSON, with per-session fields via child().

import process from 'node:process';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'text' | 'json';
export type LogFields = Record<string, unknown>;
export type LogMethod = (event: string, fields?: LogFields) => void;

/** Methods never throw; a level below the configured one is a no-op function, so filtered calls cost a call. */
export interface Logger {
  debug: LogMethod;
  info: LogMethod;
  warn: LogMethod;
  error: LogMethod;
  /** A logger that adds these fields (session id, remote ip ...) to every line. */
  child(fields: LogFields): Logger;
  /** For callers that would build expensive fields: is this level written at all? */
  enabled(level: LogLevel): boolean;
}

export interface LoggerOptions {
  format: LogFormat;
  level: LogLevel;
  /** Receives each line without its newline; default appends "\n" and writes to stderr. */
  write?: (line: string) => void;
  /** Clock for the timestamp; injected in tests. */
  now?: () => Date;
}

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
const LEVELS = Object.keys(RANK) as LogLevel[];

// Characters that could break or disguise a log line: C0/C1 controls, DEL, Unicode line and paragraph
// separators, and bidi controls ("Trojan Source"). Attacker data (EHLO names, addresses) reaches the log, so
// these are always escaped: a CR/LF in a value must never start a forged line (log injection).
// deno-lint-ignore no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
// deno-lint-ignore no-control-regex
const NEEDS_QUOTES = /[\s"=\\\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const SAFE_KEY = /[^A-Za-z0-9_.\-]/g;
const RESERVED = new Set(['ts', 'level', 'event']);

const escapeUnsafe = (s: string): string =>
  s.replace(UNSAFE, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));

/** JSON text that can't fail (cycles, BigInt) and has no raw line breaks. */
function safeJson(value: unknown): string {
  try {
    const seen = new WeakSet<object>();
    return escapeUnsafe(
      JSON.stringify(value, (_k, v: unknown) => {
        if (typeof v === 'bigint') return v.toString();
        if (v instanceof Error) return errorObject(v);
        if (typeof v === 'object' && v !== null) {
          if (seen.has(v)) return '[circular]';
          seen.add(v);
        }
        return v;
      }) ?? 'null',
    );
  } catch {
    return JSON.stringify(String(value));
  }
}

function errorObject(e: Error): Record<string, unknown> {
  const o: Record<string, unknown> = { name: e.name, message: e.message };
  const code = (e as { code?: unknown }).code;
  if (code !== undefined) o.code = code;
  if (e.cause !== undefined) o.cause = e.cause instanceof Error ? errorObject(e.cause) : String(e.cause);
  return o;
}

/** logfmt value: bare when harmless, else a JSON-style quoted string with every unsafe character escaped. */
function textValue(v: unknown): string {
  let s: string;
  if (typeof v === 'string') s = v;
  else if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  else if (v === null) return 'null';
  else if (v instanceof Date) return Number.isNaN(v.getTime()) ? 'invalid-date' : v.toISOString();
  else if (v instanceof Error) s = errorText(v);
  else s = safeJson(v);
  return s !== '' && !NEEDS_QUOTES.test(s) ? s : escapeUnsafe(JSON.stringify(s));
}

function errorText(e: Error): string {
  const code = (e as { code?: unknown }).code;
  let s = `${e.name}: ${e.message}${code !== undefined ? ` (${String(code)})` : ''}`;
  if (e.cause instanceof Error) s += `; cause: ${errorText(e.cause)}`;
  return s;
}

function textFields(fields: LogFields): string {
  let out = '';
  for (const k in fields) {
    const v = fields[k];
    if (v === undefined) continue;
    out += ' ' + (k.replace(SAFE_KEY, '_') || '_') + '=' + textValue(v);
  }
  return out;
}

/** Fields named like the fixed ones get a trailing "_" so they can't overwrite ts/level/event in JSON. */
function jsonFields(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const k in fields) if (fields[k] !== undefined) out[RESERVED.has(k) ? k + '_' : k] = fields[k];
  return out;
}

/**
 * Lines written in one turn of the event loop go out in one write: a busy server logs several lines per
 * message (connect, transaction, disconnect), and one syscall per line was measured at 3 writes per
 * message under smtp-source. Flushed on setImmediate and on exit, so at most one turn of lines can be lost
 * to a SIGKILL.
 */
let pending: string[] = [];
let scheduled = false;
function flushPending(): void {
  scheduled = false;
  if (pending.length === 0) return;
  const text = pending.join('');
  pending = [];
  // node:process is the same object on Bun, Deno and Node.
  process.stderr.write(text);
}
process.on('exit', flushPending);

const defaultWrite = (line: string): void => {
  pending.push(line + '\n');
  if (!scheduled) {
    scheduled = true;
    setImmediate(flushPending);
  }
};

const noop: LogMethod = () => {};

/** A logger writing lines at or above `level` in `format`. */
export function createLogger(opts: LoggerOptions): Logger {
  return build(opts, {});
}

function build(opts: LoggerOptions, base: LogFields): Logger {
  const write = opts.write ?? defaultWrite;
  const now = opts.now ?? (() => new Date());
  const min = RANK[opts.level];
  // Child fields are rendered once, not on every line.
  const baseText = textFields(base);
  const baseJson = jsonFields(base);

  const method = (level: LogLevel): LogMethod => {
    if (RANK[level] < min) return noop;
    if (opts.format === 'json') {
      return (event, fields) => {
        const line = { ts: now().toISOString(), level, event, ...baseJson, ...(fields ? jsonFields(fields) : {}) };
        write(safeJson(line));
      };
    }
    return (event, fields) => {
      const ev = event !== '' && !NEEDS_QUOTES.test(event) ? event : textValue(event);
      write(`${now().toISOString()} ${level} ${ev}${baseText}${fields ? textFields(fields) : ''}`);
    };
  };

  return {
    debug: method('debug'),
    info: method('info'),
    warn: method('warn'),
    error: method('error'),
    child: (fields) => build(opts, { ...base, ...fields }),
    enabled: (level) => RANK[level] >= min,
  };
}

/** The levels, lowest first (config validation and CLI help use it). */
export const LOG_LEVELS: readonly LogLevel[] = LEVELS;
export const LOG_FORMATS: readonly LogFormat[] = ['text', 'json'];
