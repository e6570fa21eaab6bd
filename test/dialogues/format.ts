// Parser for the .smtp dialogue transcripts, shared by the in-memory runner and the TCP runner.
//
// Format, one item per line:
//   @option <name>=<value>   SessionOptions override; "extensions.<switch>=false" for extensions;
//                            values: true/false, integers, comma lists for localDomains/relayDomains;
//                            localRecipients=a,b: the local parts local domains accept (others: 550 5.1.1)
//   @trusted                 the client is in trusted networks (TCP runner: 127.0.0.0/8)
//   @tls                     implicit TLS from the first byte (the 'submissions' listener)
//   @listener <kind>         mx (default), submission, or submissions (implies @tls)
//   @auth user=U pass=P [addresses=a,b] [domains=d,e] [any=true]
//                            a user of the fake authenticator (PLAIN, LOGIN); any @auth line (or an
//                            auth.* option) turns AUTH on: mechanisms PLAIN,LOGIN on every listener, TLS only;
//                            "@option auth.allowPlaintext=true", "auth.listeners=..", "auth.mechanisms=.."
//   @policy <stage>[=<subject>] accept|reject|disconnect [<code> <status> <text>]
//                            a scripted policy verdict; the stage joins policyStages; subject is the HELO
//                            name, sender or recipient the rule applies to (any when absent)
//   @greet-delay             the greeting is delayed: memory runner greets at the first expectation, the
//                            TCP server waits GREET_DELAY ms; a send before it is an early talker
//   @enqueue-reject <code> <status> <text>   the host refuses every message with this reply
//   -> text                  send text + CRLF
//   ~> text                  send raw bytes, escapes \r \n \t \\ \xHH, nothing appended
//   <- text                  expect exactly this reply line (without CRLF)
//   <~ regex                 expect one reply line matching this JavaScript regex
//   <- [close]               expect the server to have closed the connection
//   -- starttls              perform the TLS upgrade now (after the 220 to STARTTLS)
//   # text                   comment naming the rule or attack; blank lines are ignored
// Directives come before the first step.
import type { HostReply, ListenerKind, PolicyStage, PolicyVerdict } from '../../src/smtp/types.ts';
import type { SessionOptionOverrides } from '../support/session-options.ts';

export type Step =
  | { kind: 'send'; bytes: Uint8Array; raw: boolean; line: number }
  | { kind: 'expect'; text: string; line: number }
  | { kind: 'match'; pattern: RegExp; line: number }
  | { kind: 'close'; line: number }
  | { kind: 'starttls'; line: number };

export interface DialogueUser {
  user: string;
  pass: string;
  addresses: string[];
  domains: string[];
  any: boolean;
}

export interface PolicyRule {
  stage: PolicyStage;
  match: string | null;
  verdict: PolicyVerdict;
}

export interface Dialogue {
  options: SessionOptionOverrides;
  trusted: boolean;
  tls: boolean;
  listener: ListenerKind;
  users: DialogueUser[];
  policies: PolicyRule[];
  greetDelay: boolean;
  enqueueReject: HostReply | null;
  steps: Step[];
}

const encoder = new TextEncoder();

/** Parses a transcript; throws (with the line number) on anything malformed, since test files are ours. */
export function parseDialogue(text: string): Dialogue {
  const d: Dialogue = {
    options: {},
    trusted: false,
    tls: false,
    listener: 'mx',
    users: [],
    policies: [],
    greetDelay: false,
    enqueueReject: null,
    steps: [],
  };
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const n = i + 1;
    const line = lines[i];
    if (line.trim() === '' || line.startsWith('#')) continue;
    const fail = (why: string): never => {
      throw new Error(`dialogue line ${n}: ${why}: ${JSON.stringify(line)}`);
    };
    if (line.startsWith('@')) {
      if (d.steps.length > 0) fail('directive after the first step');
      parseDirective(d, line, fail);
      continue;
    }
    const op = line.slice(0, 2);
    if (line.length > 2 && line[2] !== ' ') fail('expected one space after the operator');
    const arg = line.slice(3);
    switch (op) {
      case '->':
        d.steps.push({ kind: 'send', bytes: encoder.encode(`${arg}\r\n`), raw: false, line: n });
        break;
      case '~>':
        d.steps.push({ kind: 'send', bytes: unescape(arg, fail), raw: true, line: n });
        break;
      case '<-':
        d.steps.push(arg === '[close]' ? { kind: 'close', line: n } : { kind: 'expect', text: arg, line: n });
        break;
      case '<~':
        try {
          d.steps.push({ kind: 'match', pattern: new RegExp(arg), line: n });
        } catch {
          fail('bad regex');
        }
        break;
      case '--':
        if (arg !== 'starttls') fail('unknown action');
        d.steps.push({ kind: 'starttls', line: n });
        break;
      default:
        fail('unknown operator');
    }
  }
  return d;
}

function parseDirective(d: Dialogue, line: string, fail: (why: string) => never): void {
  if (line === '@trusted') {
    d.trusted = true;
    return;
  }
  if (line === '@tls') {
    d.tls = true;
    d.listener = 'submissions';
    return;
  }
  if (line === '@greet-delay') {
    d.greetDelay = true;
    return;
  }
  const listener = /^@listener (mx|submission|submissions)$/.exec(line);
  if (listener !== null) {
    d.listener = listener[1] as ListenerKind;
    d.tls = d.listener === 'submissions';
    return;
  }
  if (line.startsWith('@auth ')) {
    d.users.push(parseUser(line.slice(6), fail));
    enableAuth(d);
    return;
  }
  const policy = /^@policy (connect|helo|mail|rcpt)(?:=(\S*))? (accept|reject|disconnect)(?: (\d{3}) (\S+) (.+))?$/.exec(line);
  if (policy !== null) {
    const [, stage, match, action, code, status, text] = policy;
    let verdict: PolicyVerdict;
    if (action === 'accept') verdict = { action: 'accept' };
    else if (code === undefined) return fail('reject/disconnect needs a reply');
    else verdict = { action: action as 'reject' | 'disconnect', reply: { code: Number(code), status, text } };
    d.policies.push({ stage: stage as PolicyStage, match: match ?? null, verdict });
    const stages = (d.options.policyStages ??= new Set<PolicyStage>()) as Set<PolicyStage>;
    stages.add(stage as PolicyStage);
    return;
  }
  const enqueue = /^@enqueue-reject (\d{3}) (\S+) (.+)$/.exec(line);
  if (enqueue !== null) {
    d.enqueueReject = { code: Number(enqueue[1]), status: enqueue[2], text: enqueue[3] };
    return;
  }
  const m = /^@option ([A-Za-z.]+)=(.*)$/.exec(line);
  if (m === null) return fail('unknown directive');
  const [, name, text] = m;
  const value: unknown = /^(true|false)$/.test(text) ? text === 'true' : /^\d+$/.test(text) ? Number(text) : text;
  const opts = d.options as Record<string, unknown>;
  if (name.startsWith('auth.')) {
    const auth = enableAuth(d) as unknown as Record<string, unknown>;
    const key = name.slice('auth.'.length);
    if (key === 'allowPlaintext') auth.allowPlaintext = value === true;
    else if (key === 'listeners') auth.listeners = new Set(text.split(','));
    else if (key === 'mechanisms') auth.mechanisms = text.split(',');
    else fail('unknown auth option');
  } else if (name.startsWith('extensions.')) {
    const ext = (d.options.extensions ??= {}) as Record<string, unknown>;
    ext[name.slice('extensions.'.length)] = value;
  } else if (name === 'localRecipients') {
    // The local parts every local domain knows (SessionOptions.localRecipient); `list` keeps the option
    // comparable, so the TCP runner can tell two dialogues' option sets apart.
    const known = new Set(text.split(',').map((l) => l.toLowerCase()));
    opts.localRecipient = Object.assign((local: string) => known.has(local.toLowerCase()), { list: text });
  } else if (name === 'localDomains' || name === 'relayDomains') {
    opts[name] = new Set(text === '' ? [] : text.split(','));
  } else {
    opts[name] = value;
  }
}

/** AUTH on with the test defaults, unless already configured. */
function enableAuth(d: Dialogue): NonNullable<SessionOptionOverrides['auth']> {
  d.options.auth ??= {
    mechanisms: ['PLAIN', 'LOGIN'],
    listeners: new Set<ListenerKind>(['mx', 'submission', 'submissions']),
    allowPlaintext: false,
  };
  return d.options.auth;
}

function parseUser(text: string, fail: (why: string) => never): DialogueUser {
  const u: DialogueUser = { user: '', pass: '', addresses: [], domains: [], any: false };
  for (const pair of text.split(/\s+/)) {
    const eq = pair.indexOf('=');
    if (eq < 0) fail('expected key=value');
    const key = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    if (key === 'user') u.user = value;
    else if (key === 'pass') u.pass = value;
    else if (key === 'addresses') u.addresses = value.split(',');
    else if (key === 'domains') u.domains = value.split(',');
    else if (key === 'any') u.any = value === 'true';
    else fail(`unknown user key ${key}`);
  }
  if (u.user === '') fail('user= is required');
  return u;
}

/** \r \n \t \\ \xHH; other characters as UTF-8. */
export function unescape(text: string, fail: (why: string) => never): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const slash = text.indexOf('\\', i);
    if (slash !== i) {
      const end = slash < 0 ? text.length : slash;
      out.push(...encoder.encode(text.slice(i, end)));
      i = end - 1;
      continue;
    }
    const e = text[++i];
    if (e === 'r') out.push(13);
    else if (e === 'n') out.push(10);
    else if (e === 't') out.push(9);
    else if (e === '\\') out.push(92);
    else if (e === 'x' && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) {
      out.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else fail(`bad escape \\${e ?? ''}`);
  }
  return new Uint8Array(out);
}
