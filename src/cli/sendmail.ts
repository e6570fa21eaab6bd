// `tern sendmail` (and the binary run as `sendmail`): the sendmail(8) command line that local programs expect.
//
// Postfix's sendmail(1) is the model: its options, its exit codes (sysexits), and -t adding the header's
// recipients to those on the command line. Only the mail-sending mode (-bm) is implemented.
import * as fs from 'node:fs';
import * as os from 'node:os';
import type { DsnNotify } from '../smtp/types.ts';
import { normaliseInput } from '../submit/input.ts';
import { headerRecipients, splitHeader } from '../submit/headers.ts';
import type { SubmitFailure } from '../submit/local.ts';
import { submitAnywhere } from '../submit/transport.ts';
import { loadConfigOrFail } from './context.ts';
import { CliError, EX_DATAERR, EX_TEMPFAIL, EX_UNAVAILABLE, EX_USAGE } from './exit-codes.ts';

/** sysexits(3) EX_NOINPUT: the message could not be read. */
export const EX_NOINPUT = 66;

export interface SendmailArgs {
  extract: boolean; // -t
  ignoreDots: boolean; // -i, -oi
  sender: string | null; // -f, -r; null: the login name @ hostname
  fullName: string | null; // -F
  notify: DsnNotify | null; // -N
  ret: 'FULL' | 'HDRS' | null; // -R
  envid: string | null; // -V
  verbose: boolean; // -v: say the queue id on stderr
  config: string | undefined; // -C: Tern's TOML file (Postfix's -C names a main.cf directory)
  recipients: string[];
}

export type ParsedArgs = { ok: true; args: SendmailArgs } | { ok: false; exitCode: number; message: string };

// Option letters that take a value (attached, "-fuser", or the next argument, "-f user"), as in Postfix's
// getopt string; the rest are flags. Values of -B, -h, -L, -O, -X, -e are accepted and ignored.
const WITH_VALUE = new Set(['B', 'C', 'F', 'L', 'N', 'O', 'R', 'V', 'X', 'b', 'e', 'f', 'h', 'o', 'r']);
const IGNORED_FLAGS = new Set(['G', 'U', 'c', 'm', 'n', 'x']);
// -b modes other than -bm: real sendmail modes Tern does not offer (-bs SMTP on stdin, -bp mailq, -bi
// newaliases, -bv verify, -bd daemon...). 69 rather than 64: the command line is right, the service is not here.
const UNSUPPORTED_MODES = new Set(['a', 'd', 'D', 'h', 'H', 'i', 'l', 'p', 's', 'v', 'V']);

/** Parses argv the getopt way (clusters "-ti", attached values, options after recipients, "--" ends them). */
export function parseSendmailArgs(argv: string[]): ParsedArgs {
  const a: SendmailArgs = {
    extract: false, ignoreDots: false, sender: null, fullName: null, notify: null, ret: null, envid: null,
    verbose: false, config: undefined, recipients: [],
  };
  const usage = (message: string): ParsedArgs => ({ ok: false, exitCode: EX_USAGE, message });
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      a.recipients.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      a.recipients.push(arg);
      continue;
    }
    for (let j = 1; j < arg.length; j++) {
      const opt = arg[j];
      if (opt === 'q') return { ok: false, exitCode: EX_UNAVAILABLE, message: '-q: Tern runs its queue itself (see tern queue)' };
      if (opt === 'I') return { ok: false, exitCode: EX_UNAVAILABLE, message: '-I: Tern has no aliases database to rebuild' };
      if (opt === 't') a.extract = true;
      else if (opt === 'i') a.ignoreDots = true;
      else if (opt === 'v') a.verbose = true;
      else if (IGNORED_FLAGS.has(opt)) continue;
      else if (WITH_VALUE.has(opt)) {
        let value = arg.slice(j + 1);
        if (value === '') {
          if (i + 1 >= argv.length) return usage(`option -${opt} requires a value`);
          value = argv[++i];
        }
        const problem = applyValue(a, opt, value);
        if (problem) return problem;
        break; // the value took the rest of this argument
      } else return usage(`unknown option -${opt}`);
    }
  }
  return { ok: true, args: a };
}

function applyValue(a: SendmailArgs, opt: string, value: string): ParsedArgs | null {
  const usage = (message: string): ParsedArgs => ({ ok: false, exitCode: EX_USAGE, message });
  switch (opt) {
    case 'f':
    case 'r':
      a.sender = value;
      return null;
    case 'F':
      a.fullName = value;
      return null;
    case 'C':
      a.config = value;
      return null;
    case 'V':
      a.envid = value;
      return null;
    case 'R': {
      const ret = value.toUpperCase();
      if (ret !== 'FULL' && ret !== 'HDRS') return usage(`-R ${value}: use full or hdrs`);
      a.ret = ret;
      return null;
    }
    case 'N': {
      const notify = parseNotify(value);
      if (notify === null) return usage(`-N ${value}: use never, or a list of success, failure, delay`);
      a.notify = notify;
      return null;
    }
    case 'b':
      if (value === 'm') return null;
      if (UNSUPPORTED_MODES.has(value[0])) {
        return { ok: false, exitCode: EX_UNAVAILABLE, message: `-b${value}: only -bm (read a message from stdin) is supported` };
      }
      return usage(`unknown mode -b${value}`);
    case 'o':
      // -oi is -i; the rest (-odb/-odi delivery mode, -om, -oem, -o7/-o8...) is for other MTAs' internals.
      if (value === 'i') a.ignoreDots = true;
      return null;
    default:
      return null; // -B, -e, -h, -L, -O, -X: accepted, ignored
  }
}

/** RFC 3461 §4.1 NOTIFY as Postfix's -N takes it: "never", or a comma list of success, failure, delay. */
export function parseNotify(text: string): DsnNotify | null {
  const words = text.split(',').map((w) => w.trim().toUpperCase());
  if (words.length === 1 && words[0] === 'NEVER') return 'NEVER';
  const out: Array<'SUCCESS' | 'FAILURE' | 'DELAY'> = [];
  for (const w of words) {
    if (w !== 'SUCCESS' && w !== 'FAILURE' && w !== 'DELAY') return null;
    if (!out.includes(w)) out.push(w);
  }
  return out.length > 0 ? out : null;
}

const EXIT_FOR: Record<SubmitFailure, number> = { dataerr: EX_DATAERR, unavailable: EX_UNAVAILABLE, tempfail: EX_TEMPFAIL };

/** The command: parse, load the configuration, read stdin, submit. Silent on success, like sendmail. */
export async function run(argv: string[]): Promise<number> {
  const parsed = parseSendmailArgs(argv);
  if (!parsed.ok) throw new CliError(`sendmail: ${parsed.message}`, parsed.exitCode);
  const a = parsed.args;
  if (!a.extract && a.recipients.length === 0) {
    throw new CliError('sendmail: no recipients: give them as arguments, or use -t to read them from the message', EX_USAGE);
  }
  const { config } = loadConfigOrFail(a.config, process.env);
  const raw = await readStdin(config.smtp.maxMessageSize);
  if (raw === 'too-big') throw new CliError(`sendmail: message too big (the limit is ${config.smtp.maxMessageSize} octets)`, EX_DATAERR);
  const message = normaliseInput(raw, { dotEnds: !a.ignoreDots });
  const recipients = [...a.recipients];
  if (a.extract) {
    const text = Buffer.from(message).toString('latin1');
    recipients.push(...headerRecipients(splitHeader(text)));
    if (recipients.length === 0) throw new CliError('sendmail: no recipient addresses found in the message header', EX_DATAERR);
  }
  const uid = typeof process.getuid === 'function' ? process.getuid() : null;
  const result = await submitAnywhere(config, {
    sender: a.sender ?? `${loginName(uid)}@${config.hostname}`,
    recipients,
    message,
    fullName: a.fullName,
    notify: a.notify,
    ret: a.ret,
    envid: a.envid,
    uid,
  });
  if (!result.ok) throw new CliError(`sendmail: ${result.reason}`, EXIT_FOR[result.kind]);
  if (a.verbose) process.stderr.write(`sendmail: queued as ${result.queueId}\n`);
  return 0;
}

/**
 * Postfix's default sender is the login name (@ myorigin). Looked up by uid in /etc/passwd first: Bun's
 * os.userInfo() reports $USER (or "unknown"), not the account the process runs as, while Deno asks getpwuid.
 */
function loginName(uid: number | null): string {
  if (uid !== null) {
    try {
      for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
        const f = line.split(':');
        if (f.length >= 3 && f[2] === String(uid) && f[0] !== '') return f[0];
      }
    } catch {
      // no passwd file (or not readable): fall through to the runtime's idea
    }
  }
  let name = '';
  try {
    name = os.userInfo().username;
  } catch {
    // no entry for this uid, e.g. a container's arbitrary user
  }
  if (name === '' || name === 'unknown') {
    throw new CliError(`sendmail: no login name for user id ${uid ?? '?'}; give the sender with -f`, EX_UNAVAILABLE);
  }
  return name;
}

/**
 * All of stdin, or 'too-big' past the limit (no point reading 1 GB to refuse it). Synchronous reads
 * with a retry on EAGAIN: both runtimes report a read error (stdin opened write-only, or a directory) the
 * same way there, while their stream wrappers differ. Any error is EX_NOINPUT.
 */
async function readStdin(limit: number): Promise<Uint8Array | 'too-big'> {
  const chunks: Buffer[] = [];
  let total = 0;
  const buf = Buffer.alloc(256 * 1024);
  for (;;) {
    let n: number;
    try {
      n = fs.readSync(0, buf, 0, buf.length, null);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') {
        await new Promise((r) => setTimeout(r, 5));
        continue;
      }
      throw new CliError(`sendmail: cannot read the message from stdin: ${(err as Error).message}`, EX_NOINPUT);
    }
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
    total += n;
    // Line-end conversion can only grow the message, so past the limit here it is too big for sure.
    if (total > limit) return 'too-big';
  }
  return new Uint8Array(Buffer.concat(chunks));
}
