// Every SMTP reply Tern sends, each a named value with its enhanced status code (RFC 2034, RFC 3463).
// This is the only file with reply-code literals (STYLE §2). Texts are generic on purpose: details go to logs.

/** One reply, pre-formatted both ways so sending it allocates nothing. */
export interface Reply {
  readonly code: number;
  /** Enhanced status code "class.subject.detail" (RFC 3463); null for 220/354 and the EHLO/HELO replies. */
  readonly status: string | null;
  /** Human text (first line for multi-line replies), without codes. */
  readonly message: string;
  /** Short kebab-case name used as the 'reason' in log effects ('relay-denied', 'line-too-long', ...). */
  readonly tag: string;
  /** The complete reply as sent when ENHANCEDSTATUSCODES is on, CRLF included. */
  readonly text: string;
  /** The complete reply as sent when ENHANCEDSTATUSCODES is switched off, CRLF included. */
  readonly plain: string;
  /** Counts against the session's bad-command budget (500, 501, 502, 503, 504, 555). */
  readonly bad: boolean;
}

const CRLF = '\r\n';

// RFC 5321 §4.2.1 reply classes that mean "the client did something wrong": these feed the error budget
// (the dispatcher's defence against scanners and confused peers; chasquid and Postfix do the same).
const BAD_COMMAND_CODES: ReadonlySet<number> = new Set([500, 501, 502, 503, 504, 555]);

/** Formats the lines of one reply; multi-line replies use "250-" continuation (RFC 5321 §4.2.1). */
function wire(code: number, status: string | null, lines: readonly string[]): string {
  let out = '';
  const prefix = status === null ? '' : `${status} `;
  for (let i = 0; i < lines.length; i++) {
    const sep = i === lines.length - 1 ? ' ' : '-';
    out += `${code}${sep}${prefix}${lines[i]}${CRLF}`;
  }
  return out;
}

function make(code: number, status: string | null, lines: readonly string[], tag: string): Reply {
  return {
    code,
    status,
    message: lines[0],
    tag,
    text: wire(code, status, lines),
    plain: wire(code, null, lines),
    bad: BAD_COMMAND_CODES.has(code),
  };
}

/** Builds a reply; `tag` defaults to a kebab-case form of the text. */
export function reply(code: number, status: string | null, text: string, tag?: string): Reply {
  return make(code, status, [text], tag ?? toTag(text));
}

function toTag(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}

/** The verbs HELP lists; also the topics HELP explains one by one. */
const HELP_TOPICS: Readonly<Record<string, string>> = {
  EHLO: 'EHLO <domain>',
  HELO: 'HELO <domain>',
  MAIL: 'MAIL FROM:<address> [parameters]',
  RCPT: 'RCPT TO:<address> [parameters]',
  DATA: 'DATA',
  BDAT: 'BDAT <size> [LAST]',
  RSET: 'RSET',
  NOOP: 'NOOP [text]',
  QUIT: 'QUIT',
  VRFY: 'VRFY <address>',
  EXPN: 'EXPN <list>',
  HELP: 'HELP [command]',
  STARTTLS: 'STARTTLS',
};

const HELP_LINES = [
  'This is an SMTP server (RFC 5321)',
  `Commands: ${Object.keys(HELP_TOPICS).join(' ')}`,
  'HELP <command> gives its syntax; see https://www.rfc-editor.org/rfc/rfc5321',
];

/** The fixed replies. Keys are what the code says; `tag` is what the logs say. */
export const replies = {
  // 2xx
  ok: reply(250, '2.0.0', 'Ok'),
  senderOk: reply(250, '2.1.0', 'Ok', 'sender-ok'),
  recipientOk: reply(250, '2.1.5', 'Ok', 'recipient-ok'),
  bye: reply(221, '2.0.0', 'Bye'),
  help: make(214, '2.0.0', HELP_LINES, 'help'),
  // RFC 5321 §3.5.3 and §7.3: the honest answer of a server that does not disclose its users.
  vrfyAmbiguous: reply(252, '2.5.0', 'Cannot VRFY user, but will accept message and attempt delivery', 'vrfy'),
  startTlsReady: reply(220, '2.0.0', 'Ready to start TLS', 'starttls'),
  authSuccessful: reply(235, '2.7.0', 'Authentication successful', 'auth-ok'), // RFC 4954 §6
  // RFC 5321 §4.2.2: 354 is an intermediate reply; RFC 2034 §4 gives it no enhanced code.
  dataStart: reply(354, null, 'End data with <CR><LF>.<CR><LF>', 'data'),

  // 4xx
  tooManyRecipients: reply(452, '4.5.3', 'Too many recipients'), // RFC 5321 §4.5.3.1.10
  enqueueFailed: reply(451, '4.3.0', 'Temporary failure, please try again later', 'enqueue-failed'),
  localError: reply(421, '4.3.0', 'Internal error, closing connection', 'internal-error'),
  timeout: reply(421, '4.4.2', 'Timeout exceeded, closing connection', 'timeout'),
  shuttingDown: reply(421, '4.3.2', 'Service shutting down, closing connection', 'shutting-down'),
  tooManyErrors: reply(421, '4.7.0', 'Too many errors, closing connection', 'too-many-errors'),
  httpRejected: reply(421, '4.7.0', 'This is an SMTP server, closing connection', 'http-command'),
  tooManyConnections: reply(421, '4.7.0', 'Too many connections, try again later', 'too-many-connections'),
  // RFC 4954 §6: 454 4.7.0 for a temporary server failure (user database down, or a throttled client).
  authTemporary: reply(454, '4.7.0', 'Temporary authentication failure', 'auth-temporary'),
  // Last resort when the host's policy hook itself failed at MAIL/RCPT (see server/connection.ts).
  policyFailed: reply(451, '4.3.0', 'Temporary policy failure, please try again later', 'policy-failed'),
  insufficientResourcesClosing: reply(
    421,
    '4.3.1',
    'Insufficient system resources, closing connection',
    'no-resources',
  ),

  // 5xx: command syntax (RFC 5321 §4.2.4, RFC 3463 X.5.x)
  unknownCommand: reply(500, '5.5.2', 'Command not recognized', 'unknown-command'),
  lineTooLong: reply(500, '5.5.2', 'Line too long', 'line-too-long'),
  invalidCharacters: reply(500, '5.5.2', 'Invalid characters in command', 'invalid-characters'),
  notImplemented: reply(502, '5.5.1', 'Command not implemented', 'not-implemented'),
  vrfyDisabled: reply(502, '5.5.1', 'VRFY command is disabled', 'vrfy-disabled'),
  expnDisabled: reply(502, '5.5.1', 'EXPN command is disabled', 'expn-disabled'),
  startTlsUnavailable: reply(502, '5.5.1', 'STARTTLS not available', 'starttls-unavailable'),
  chunkingUnavailable: reply(502, '5.5.1', 'BDAT not available', 'chunking-unavailable'),
  ehloSyntax: reply(501, '5.5.4', 'Syntax: EHLO hostname', 'ehlo-syntax'),
  heloSyntax: reply(501, '5.5.4', 'Syntax: HELO hostname', 'helo-syntax'),
  invalidDomain: reply(501, '5.5.2', 'Invalid domain name', 'invalid-domain'), // RFC 5321 §4.1.2 demands 501
  mailSyntax: reply(501, '5.5.2', 'Syntax: MAIL FROM:<address>', 'mail-syntax'),
  rcptSyntax: reply(501, '5.5.2', 'Syntax: RCPT TO:<address>', 'rcpt-syntax'),
  badSenderAddress: reply(501, '5.1.7', 'Bad sender address syntax', 'bad-sender-syntax'), // RFC 3463 X.1.7
  badRecipientAddress: reply(501, '5.1.3', 'Bad recipient address syntax', 'bad-recipient-syntax'), // X.1.3
  noParameters: reply(501, '5.5.4', 'Syntax error (no parameters allowed)', 'unexpected-argument'),
  vrfySyntax: reply(501, '5.5.4', 'Syntax: VRFY address', 'vrfy-syntax'),
  bdatSyntax: reply(501, '5.5.4', 'Syntax: BDAT size [LAST]', 'bdat-syntax'),
  paramSyntax: reply(501, '5.5.4', 'Invalid parameter syntax', 'param-syntax'),
  paramValue: reply(501, '5.5.4', 'Invalid parameter value', 'param-value'),
  paramRepeated: reply(501, '5.5.4', 'Parameter given more than once', 'param-repeated'),
  paramUnsupported: reply(555, '5.5.4', 'Unsupported parameter', 'param-unsupported'), // RFC 5321 §4.1.1.11
  helpUnknownTopic: reply(504, '5.5.4', 'HELP topic not known', 'help-unknown-topic'),
  // RFC 4954 §4 and §6: AUTH syntax, base64 and the client's "*" cancelling the exchange.
  authSyntax: reply(501, '5.5.4', 'Syntax: AUTH mechanism [initial-response]', 'auth-syntax'),
  authBadBase64: reply(501, '5.5.2', 'Cannot decode base64 response', 'auth-bad-base64'),
  authCancelled: reply(501, '5.7.0', 'Authentication cancelled', 'auth-cancelled'),
  authUnknownMechanism: reply(504, '5.5.4', 'Unrecognized authentication mechanism', 'auth-unknown-mechanism'),
  authLineTooLong: reply(500, '5.5.6', 'Authentication exchange line is too long', 'auth-line-too-long'),

  // 5xx: sequence (RFC 5321 §4.1.4, RFC 3030 §2, RFC 3207 §4)
  needHelo: reply(503, '5.5.1', 'Send EHLO/HELO first', 'need-helo'),
  nestedMail: reply(503, '5.5.1', 'Sender already specified', 'nested-mail'),
  needMail: reply(503, '5.5.1', 'Need MAIL command', 'need-mail'),
  needRcpt: reply(503, '5.5.1', 'No valid recipients', 'need-rcpt'),
  dataAfterBdat: reply(503, '5.5.1', 'DATA not allowed after BDAT', 'data-after-bdat'),
  tlsActive: reply(503, '5.5.1', 'TLS already active', 'tls-active'),
  tlsInTransaction: reply(503, '5.5.1', 'Mail transaction in progress', 'starttls-in-transaction'),
  authNeedsEhlo: reply(503, '5.5.1', 'Send EHLO first', 'auth-needs-ehlo'), // AUTH is an ESMTP extension
  authAlready: reply(503, '5.5.1', 'Already authenticated', 'auth-already'), // RFC 4954 §4
  authInTransaction: reply(503, '5.5.1', 'AUTH not allowed during a mail transaction', 'auth-in-transaction'),

  // 5xx: policy and content
  relayDenied: reply(554, '5.7.1', 'Relay access denied', 'relay-denied'),
  // RFC 4954 §6: 530 5.7.0 where policy demands AUTH first (RFC 6409 §4.3 on the submission port).
  authRequired: reply(530, '5.7.0', 'Authentication required', 'auth-required'),
  // RFC 4954 §6: 535 5.7.8. It does count against the error budget: a guessing client is cut off with 421.
  authInvalid: { ...reply(535, '5.7.8', 'Authentication credentials invalid', 'auth-invalid'), bad: true },
  // RFC 4954 §4 and §6: 538 5.7.11 when the mechanism needs TLS first (for us, every mechanism: RFC 8314).
  authNeedsTls: reply(538, '5.7.11', 'Encryption required for requested authentication mechanism', 'auth-needs-tls'),
  // RFC 5321 §4.3.1, RFC 2920 §3.1: nothing may be sent before the 220 greeting (spam software does).
  earlyTalker: reply(554, '5.7.0', 'Protocol error: talked before the greeting', 'early-talker'),
  unknownUser: reply(550, '5.1.1', 'No such user here', 'unknown-user'), // RFC 3463 X.1.1, RFC 5321 §3.3
  sizeExceeded: reply(552, '5.3.4', 'Message size exceeds fixed limit', 'size-exceeded'), // RFC 1870 §6
  // RFC 6531 §3.5: MAIL gets 550 and RCPT gets 553, both with X.6.7.
  nonAsciiSender: reply(550, '5.6.7', 'Non-ASCII addresses not permitted for that sender', 'non-ascii-sender'),
  nonAsciiRecipient: reply(553, '5.6.7', 'Non-ASCII addresses not permitted for that recipient', 'non-ascii-recipient'),
  bareLineEnding: reply(
    550,
    '5.6.0',
    'Bare CR or LF in message data is not allowed (RFC 5321 section 2.3.8)',
    'bare-cr-lf',
  ),
  tooManyHops: reply(554, '5.4.6', 'Too many hops', 'too-many-hops'), // RFC 5321 §6.3
} as const;

/** Alias in the style of OpenSMTPD's esc tables: `R.needMail`. */
export { replies as R };

/** Queue acknowledgement after the end of data (RFC 5321 §4.2.5). */
export function queued(queueId: string): Reply {
  return reply(250, '2.0.0', `Ok: queued as ${queueId}`, 'queued');
}

/**
 * RFC 6409 §8 ownership check failed (Postfix's reject_sender_login_mismatch wording). The user name is the
 * client's own login, echoed back to it; it is reduced to printable ASCII so it cannot break the reply line.
 */
export function senderNotOwned(user: string): Reply {
  const safe = user.slice(0, 64).replace(/[^\x21-\x7e]/g, '?');
  return reply(553, '5.7.1', `Sender address rejected: not owned by user ${safe}`, 'sender-not-owned');
}

/**
 * A reply the host chose (policy verdict, enqueue refusal). Text reduced to printable one-line ASCII; never
 * charged to the error budget (the client did nothing wrong syntactically).
 */
export function hostReply(h: { code: number; status: string; text: string }, tag: string): Reply {
  const code = Number.isInteger(h.code) && h.code >= 400 && h.code <= 599 ? h.code : 451;
  const status = /^[245]\.\d{1,3}\.\d{1,3}$/.test(h.status) ? h.status : `${Math.floor(code / 100)}.0.0`;
  const text = h.text.replace(/[^\x20-\x7e]/g, ' ').slice(0, 400) || 'Refused';
  return { ...reply(code, status, text, tag), bad: false };
}

/** SASL challenge (RFC 4954 §4): "334 " and the base64 text, no enhanced code (it is intermediate). */
export function authChallenge(base64: string): string {
  return `334 ${base64}${CRLF}`;
}

/** Acknowledges one non-final BDAT chunk (RFC 3030 §2: a 250 for every successful chunk). */
export function chunkReceived(octets: number): Reply {
  return reply(250, '2.0.0', `${octets} octets received`, 'chunk-received');
}

/** HELP <verb>: the syntax line, or null when the topic is unknown (RFC 5321 §4.1.1.8). */
export function helpTopic(topic: string): Reply | null {
  const syntax = HELP_TOPICS[topic.toUpperCase()];
  return syntax === undefined ? null : reply(214, '2.0.0', syntax, 'help');
}

/** The 220 greeting (RFC 5321 §4.2: "220 <domain> ..."); RFC 2034 gives greetings no enhanced code. */
export function greeting(hostname: string): string {
  return `220 ${hostname} ESMTP Tern${CRLF}`;
}

/** HELO reply: one line, no enhanced code (RFC 2034 §3 applies only after EHLO's 250). */
export function heloReply(hostname: string): string {
  return wire(250, null, [hostname]);
}

/** EHLO reply: the hostname, then one keyword line per offered extension (RFC 5321 §4.1.1.1). */
export function ehloReply(hostname: string, keywords: readonly string[]): string {
  return wire(250, null, [hostname, ...keywords]);
}

/** The reply as it goes on the wire for this session's ENHANCEDSTATUSCODES setting. */
export function render(r: Reply, enhanced: boolean): string {
  return enhanced ? r.text : r.plain;
}
