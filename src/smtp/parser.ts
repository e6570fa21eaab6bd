// Command side of the protocol: bytes -> complete lines (bounded), lines -> Command | syntax error.
// Never throws; partial input yields nothing (STYLE §2, smtp-proto's NeedsMoreData).
import { isDomain, type Mailbox, normaliseAddressLiteral, parsePath } from './address.ts';
import type { InputBuffer } from './input.ts';
import { type RawParam, splitParams } from './params.ts';
import { R, type Reply } from './replies.ts';

/** A parsed command: the discriminated union every verb handler takes its slice of. */
export type Command =
  | { verb: 'EHLO' | 'HELO'; domain: string }
  | { verb: 'MAIL'; from: Mailbox | null; params: RawParam[] }
  | { verb: 'RCPT'; to: Mailbox; params: RawParam[] }
  | { verb: 'DATA' }
  | { verb: 'BDAT'; size: number; last: boolean; badSyntax: boolean }
  | { verb: 'RSET' }
  | { verb: 'NOOP' }
  | { verb: 'QUIT' }
  | { verb: 'STARTTLS' }
  | { verb: 'VRFY'; target: string }
  | { verb: 'EXPN'; target: string }
  | { verb: 'HELP'; topic: string | null }
  // RFC 4954 §4: mechanism upper-cased; initial response as written (base64 or "="), decoded by the verb
  | { verb: 'AUTH'; mechanism: string; initial: string | null };

export type Verb = Command['verb'];

/**
 * What one line turned into. 'error' is answered and the session goes on; 'fatal' is answered and the
 * session closes (HTTP on the SMTP port, or a BDAT whose size cannot be read so the stream is lost).
 */
export type Parsed =
  | { kind: 'command'; command: Command }
  | { kind: 'error'; verb: string; reply: Reply; detail?: string }
  | { kind: 'fatal'; verb: string; reply: Reply; detail: string };

const LF = 0x0a;
const CR = 0x0d;
const HT = 0x09;
const DEL = 0x7f;

/** Marker for a line that exceeded the limit (it has been skipped up to and including its LF). */
export const TOO_LONG = Symbol('line too long');

/**
 * Splits the input into command lines. A line ends at LF, with or without CR before it: many tools send
 * bare LF in commands, and it is safe because the DATA terminator stays strict (data-reader.ts).
 * Memory stays bounded: once `maxLine` octets arrive without an LF, the line is dropped as it streams
 * in and reported once, when its LF finally comes (RFC 5321 §4.5.3.1.4, §4.5.3.1.9).
 */
export class LineReader {
  #scanned = 0; // unread octets already known to hold no LF
  #discarding = false;

  /** Settable: the SASL exchange reads its lines with a larger bound (RFC 4954 §4). */
  maxLine: number;

  constructor(maxLine: number) {
    this.maxLine = maxLine;
  }

  /** The next line including its LF; TOO_LONG; or null when no complete line is buffered. */
  next(input: InputBuffer): Uint8Array | typeof TOO_LONG | null {
    const lf = input.indexOf(LF, this.#scanned);
    if (lf < 0) {
      if (this.#discarding || input.size >= this.maxLine) {
        this.#discarding = true;
        input.clear();
        this.#scanned = 0;
      } else {
        this.#scanned = input.size;
      }
      return null;
    }
    this.#scanned = 0;
    if (this.#discarding || lf + 1 > this.maxLine) {
      this.#discarding = false;
      input.skip(lf + 1);
      return TOO_LONG;
    }
    return input.take(lf + 1);
  }

  /** Forget a partly seen line (the input was discarded, e.g. after STARTTLS). */
  reset(): void {
    this.#scanned = 0;
    this.#discarding = false;
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The text of a command line without its line ending, or null when it holds control characters (NUL,
 * bare CR, ...) or invalid UTF-8. HT is tolerated as white space.
 */
export function decodeLine(line: Uint8Array): string | null {
  let end = line.length;
  if (end > 0 && line[end - 1] === LF) end--;
  if (end > 0 && line[end - 1] === CR) end--;
  for (let i = 0; i < end; i++) {
    const b = line[i];
    if ((b < 0x20 && b !== HT) || b === DEL) return null;
  }
  try {
    return utf8.decode(line.subarray(0, end));
  } catch {
    return null; // invalid UTF-8
  }
}

// Cross-protocol attacks (a browser made to POST to port 25; HTTP proxies): lines no SMTP client sends.
const HTTP_LINE = /^(?:(?:GET|POST|HEAD|CONNECT|PUT|OPTIONS|DELETE|PATCH|TRACE) |(?:Host|User-Agent):)/i;

// Verbs that exist in the SMTP registries but Tern does not implement (RFC 5321 §4.2.4: 502).
const NOT_IMPLEMENTED: ReadonlySet<string> = new Set(['TURN', 'ETRN', 'ATRN', 'SEND', 'SOML', 'SAML']);

/** How much of an unknown verb goes into the log. */
const LOGGED_VERB_LENGTH = 32;

type LineParser = (rest: string, verb: string) => Parsed;

function command(c: Command): Parsed {
  return { kind: 'command', command: c };
}

function error(verb: string, reply: Reply, detail?: string): Parsed {
  return { kind: 'error', verb, reply, detail };
}

/** For verbs whose grammar is just the verb (RFC 5321 §4.1.1.4, .5, .10; RFC 3207 §4). */
function bare(c: Command): LineParser {
  return (rest, verb) => (rest === '' ? command(c) : error(verb, R.noParameters));
}

const PARSERS: Readonly<Record<string, LineParser>> = {
  EHLO: (rest) => parseHello('EHLO', rest),
  HELO: (rest) => parseHello('HELO', rest),
  MAIL: parseMail,
  RCPT: parseRcpt,
  DATA: bare({ verb: 'DATA' }),
  BDAT: parseBdat,
  RSET: bare({ verb: 'RSET' }),
  QUIT: bare({ verb: 'QUIT' }),
  STARTTLS: bare({ verb: 'STARTTLS' }),
  NOOP: () => command({ verb: 'NOOP' }), // RFC 5321 §4.1.1.9: a String argument is allowed and ignored
  VRFY: (rest, verb) => (rest === '' ? error(verb, R.vrfySyntax) : command({ verb: 'VRFY', target: rest })),
  EXPN: (rest) => command({ verb: 'EXPN', target: rest }),
  HELP: (rest) => command({ verb: 'HELP', topic: rest === '' ? null : rest }),
  AUTH: parseAuth,
};

/** One decoded command line -> Parsed. Verbs are case-insensitive (RFC 5321 §2.4). */
export function parseCommand(line: string): Parsed {
  if (HTTP_LINE.test(line)) {
    return { kind: 'fatal', verb: 'HTTP', reply: R.httpRejected, detail: sanitise(line) };
  }
  let sp = 0;
  while (sp < line.length && line[sp] !== ' ' && line[sp] !== '\t') sp++;
  const verb = line.slice(0, sp).toUpperCase();
  const rest = line.slice(sp).replace(/^[ \t]+|[ \t]+$/g, '');
  const parse = PARSERS[verb];
  if (parse !== undefined) return parse(rest, verb);
  if (NOT_IMPLEMENTED.has(verb)) return error(verb, R.notImplemented);
  return error(sanitise(verb), R.unknownCommand);
}

/** Attacker-controlled text for logs: printable ASCII only, bounded. */
export function sanitise(text: string): string {
  return text.slice(0, LOGGED_VERB_LENGTH).replace(/[^\x20-\x7e]/g, '?');
}

/** EHLO/HELO Domain / address-literal (RFC 5321 §4.1.1.1). */
function parseHello(verb: 'EHLO' | 'HELO', rest: string): Parsed {
  if (rest === '') return error(verb, verb === 'EHLO' ? R.ehloSyntax : R.heloSyntax);
  if (!isHelloName(rest)) return error(verb, R.invalidDomain, sanitise(rest));
  return command({ verb, domain: rest });
}

/**
 * EHLO/HELO argument check. Underscores are tolerated (Windows hosts send "EHLO my_pc") since RFC 5321
 * §4.1.4 forbids refusing mail over the EHLO name anyway; the name only ends up in the Received header.
 */
export function isHelloName(text: string): boolean {
  if (text.startsWith('[')) return normaliseAddressLiteral(text) !== null;
  return isDomain(text, false, true);
}

function parseMail(rest: string, verb: string): Parsed {
  const m = /^FROM:[ \t]*/i.exec(rest);
  if (m === null || rest[m[0].length] !== '<') return error(verb, R.mailSyntax);
  const path = parsePath(rest, m[0].length, { allowNull: true, allowPostmaster: false });
  if (!path.ok) return error(verb, R.badSenderAddress, path.reason);
  const params = parseParamList(rest.slice(path.end));
  if (params === null) return error(verb, R.paramSyntax);
  return command({ verb: 'MAIL', from: path.mailbox, params });
}

function parseRcpt(rest: string, verb: string): Parsed {
  const m = /^TO:[ \t]*/i.exec(rest);
  if (m === null || rest[m[0].length] !== '<') return error(verb, R.rcptSyntax);
  const path = parsePath(rest, m[0].length, { allowNull: false, allowPostmaster: true });
  if (!path.ok || path.mailbox === null) return error(verb, R.badRecipientAddress, path.ok ? 'null path' : path.reason);
  const params = parseParamList(rest.slice(path.end));
  if (params === null) return error(verb, R.paramSyntax);
  return command({ verb: 'RCPT', to: path.mailbox, params });
}

/** What follows the path: nothing, or white space then esmtp-params. */
function parseParamList(after: string): RawParam[] | null {
  if (after === '') return [];
  if (after[0] !== ' ' && after[0] !== '\t') return null;
  return splitParams(after);
}

// RFC 4422 §3.1: a mechanism name is 1-20 of upper-case letters, digits, "-" and "_".
const SASL_MECHANISM = /^[A-Z0-9_-]{1,20}$/;

/** AUTH mechanism [initial-response] (RFC 4954 §4). The response is never echoed into logs. */
function parseAuth(rest: string, verb: string): Parsed {
  const tokens = rest === '' ? [] : rest.split(/[ \t]+/);
  if (tokens.length < 1 || tokens.length > 2) return error(verb, R.authSyntax);
  const mechanism = tokens[0].toUpperCase();
  if (!SASL_MECHANISM.test(mechanism)) return error(verb, R.authSyntax);
  return command({ verb: 'AUTH', mechanism, initial: tokens[1] ?? null });
}

/**
 * BDAT chunk-size [LAST] (RFC 3030 §2). A readable size always yields a command, even with a bad rest, so
 * the session can consume the chunk and stay in sync; an unreadable size is fatal: the stream is lost.
 */
function parseBdat(rest: string, verb: string): Parsed {
  const tokens = rest === '' ? [] : rest.split(/[ \t]+/);
  const sizeText = tokens[0] ?? '';
  const size = /^\d+$/.test(sizeText) ? Number(sizeText) : Number.NaN;
  if (!Number.isSafeInteger(size)) {
    return { kind: 'fatal', verb, reply: R.bdatSyntax, detail: `unreadable chunk size ${sanitise(sizeText)}` };
  }
  const marker = tokens[1];
  const last = marker !== undefined && marker.toUpperCase() === 'LAST';
  const badSyntax = tokens.length > 2 || (marker !== undefined && !last);
  return command({ verb: 'BDAT', size, last, badSyntax });
}
