#!/usr/bin/env bun
// Tern's one entry point: parse argv, load config, run the command (STYLE §1: main wires, others work).
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger } from './lib/log.ts';
import { DataDirLockedError } from './control/lock.ts';
import type { ControlRequest } from './control/protocol.ts';
import { startDaemon } from './server/daemon.ts';
import { VERSION } from './version.ts';
import { loadConfigOrFail } from './cli/context.ts';
import { askQueue, formatList } from './cli/queue.ts';
import { CliError, EX_SOFTWARE, EX_TEMPFAIL, EX_USAGE } from './cli/exit-codes.ts';
import type { QueuedMessageSummary } from './queue/types.ts';
import { errorText } from './lib/errors.ts';

const HELP = `Tern ${VERSION}: a single-binary mail transfer agent

usage: tern <command> [options]

commands:
  serve                      run the mail server (SMTP, submission, console)
  status                     show the running daemon's status
  queue list [--state S] [--limit N]
                             list queued messages (S: queued|deferred|delivered|bounced|held)
  queue show ID [--body]     one message: envelope, recipients, events (and the raw message)
  queue stats                message and recipient counts by state
  config check               validate the configuration and print the effective values
  user add|passwd|del|list   SMTP AUTH users (see 'tern user help')
  dkim generate|list|activate|retire|dns
                             DKIM signing keys (see 'tern dkim help')
  sendmail [options] [recipient...]
                             the sendmail(8) interface: submit a message from stdin
  version                    print the version
  help                       this text

options:
  --config FILE              TOML configuration (default: $TERN_CONFIG, else ./tern.toml if present,
                             else the built-in dev defaults)
  --json                     machine-readable output (status, queue)

Without any configuration, 'tern serve' runs the dev defaults: SMTP on 127.0.0.1:2525, submission
127.0.0.1:2587, implicit TLS 127.0.0.1:2465, console 127.0.0.1:8025, embedded database in ./data.
`;

/**
 * Commands with their own argument syntax live in their own modules, loaded only when used. Each exports
 * `run(argv)`: the arguments after the command name; it loads the configuration itself (--config included)
 * and returns the exit code, or throws CliError.
 */
const MODULES: Record<string, () => Promise<{ run(argv: string[]): Promise<number> }>> = {
  user: () => import('./cli/user.ts'),
  dkim: () => import('./cli/dkim.ts'),
  sendmail: () => import('./cli/sendmail.ts'),
};

/**
 * Run as `sendmail` (a symlink or copy with that name), Tern speaks sendmail(8)'s command line. Where the
 * name shows: a compiled binary has it in argv0 (argv[1] is the embedded "/$bunfs/..." entry); Deno keeps
 * the script path as given in argv[1]; Bun resolves the script's symlink there, so only the raw command
 * line (/proc/self/cmdline, Linux) still has the name.
 */
function invokedAsSendmail(): boolean {
  const named = (p: string | undefined) => p !== undefined && basename(p) === 'sendmail';
  if (named(process.argv0) || named(process.argv[1])) return true;
  if (process.argv[1]?.startsWith('/$bunfs/')) return false; // compiled: argv0 was the only place
  try {
    const raw = readFileSync('/proc/self/cmdline', 'latin1').split('\0');
    return named(raw.slice(1).find((a) => !a.startsWith('-') && a !== 'run'));
  } catch {
    return false;
  }
}

async function main(argv: string[]): Promise<number> {
  if (invokedAsSendmail()) return (await MODULES.sendmail()).run(argv);
  const module = MODULES[argv[0] ?? ''];
  if (module) return (await module()).run(argv.slice(1));
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      config: { type: 'string', short: 'c' },
      json: { type: 'boolean' },
      body: { type: 'boolean' },
      state: { type: 'string' },
      limit: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [cmd, sub, arg] = positionals;
  if (values.help || cmd === 'help' || cmd === undefined) {
    process.stdout.write(HELP);
    return cmd === undefined && !values.help ? EX_USAGE : 0;
  }
  if (cmd === 'version') {
    process.stdout.write(`tern ${VERSION}\n`);
    return 0;
  }
  const { config, source, warnings } = loadConfigOrFail(values.config, process.env);
  const print = (result: unknown, human: () => string) =>
    process.stdout.write((values.json ? JSON.stringify(result, null, 2) : human()) + '\n');

  switch (cmd) {
    case 'serve':
      return serve(config, source, warnings);
    case 'config':
      if (sub !== 'check') throw new CliError(`unknown: tern config ${sub ?? ''}; try 'tern config check'`, EX_USAGE);
      process.stdout.write(`configuration OK (${source.length ? source.join(', ') : 'built-in defaults'})\n`);
      process.stdout.write(JSON.stringify(config, null, 2) + '\n');
      return 0;
    case 'status': {
      const result = await askQueue(config, { cmd: 'status' });
      print(result, () => JSON.stringify(result, null, 2));
      return 0;
    }
    case 'queue': {
      let req: ControlRequest;
      if (sub === 'list') {
        const limit = values.limit === undefined ? 100 : Number(values.limit);
        if (!Number.isInteger(limit) || limit < 1) throw new CliError('--limit must be a positive integer', EX_USAGE);
        req = { cmd: 'queue.list', limit, state: values.state };
      } else if (sub === 'show') {
        if (!arg) throw new CliError('usage: tern queue show ID [--body]', EX_USAGE);
        req = { cmd: 'queue.show', id: arg, body: values.body === true };
      } else if (sub === 'stats') {
        req = { cmd: 'queue.stats' };
      } else {
        throw new CliError(`unknown: tern queue ${sub ?? ''}; try list, show or stats`, EX_USAGE);
      }
      const result = await askQueue(config, req);
      print(result, () => (req.cmd === 'queue.list' ? formatList(result as QueuedMessageSummary[]) : JSON.stringify(result, null, 2)));
      return 0;
    }
    default:
      throw new CliError(`unknown command '${cmd}'; try 'tern help'`, EX_USAGE);
  }
}

async function serve(config: Parameters<typeof startDaemon>[0], source: string[], warnings: string[]): Promise<number> {
  const log = createLogger({ format: config.log.format, level: config.log.level });
  for (const warning of warnings) log.warn('config-warning', { warning });
  const file = source.find((s) => s.startsWith('file '));
  const overrides = source.filter((s) => s !== file);
  const notes = [
    file
      ? `configuration: ${file.slice(5)}`
      : 'no configuration file: running the dev defaults (loopback high ports, data in ./data); see tern.example.toml',
    ...(overrides.length ? [`overrides: ${overrides.join(', ')}`] : []),
  ];
  // Handlers go in before start-up so a signal during it (or right after 'ready') still stops cleanly.
  let stop: ((signal: string) => void) | null = null;
  let pending: string | null = null;
  let signals = 0;
  const onSignal = (signal: string) => {
    // A second signal means the operator does not want to wait for sessions in flight.
    if (++signals > 1) process.exit(EX_TEMPFAIL);
    if (stop) stop(signal);
    else pending = signal;
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  let daemon;
  try {
    daemon = await startDaemon(config, log, notes);
  } catch (err) {
    if (err instanceof DataDirLockedError) throw new CliError(err.message, EX_TEMPFAIL);
    throw new CliError(`cannot start: ${errorText(err)}`, EX_SOFTWARE);
  }
  const d = daemon;
  stop = (signal) => void d.stop(signal);
  if (pending) stop(pending);
  await d.stopped;
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof CliError) {
      process.stderr.write(`tern: ${err.message}\n`);
      process.exit(err.exitCode);
    }
    const e = err as { code?: string; message?: string };
    if (e?.code?.startsWith?.('ERR_PARSE_ARGS')) {
      process.stderr.write(`tern: ${e.message}\n`);
      process.exit(EX_USAGE);
    }
    process.stderr.write(`tern: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(EX_SOFTWARE);
  },
);
