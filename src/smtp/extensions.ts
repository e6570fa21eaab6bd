// The ESMTP extensions as records: EHLO keyword, when it is offered, and which MAIL/RCPT params it brings.
// EHLO output and the accepted-parameter tables are generated from this list (STYLE §2, smtp-proto EXT_*).
import type { ExtensionSwitches, ListenerKind, SessionOptions } from './types.ts';
import {
  type MailParams,
  type ParamParser,
  parseAuthParam,
  parseBodyParam,
  parseEnvidParam,
  parseNotifyParam,
  parseOrcptParam,
  parseRetParam,
  parseSizeParam,
  parseSmtpUtf8Param,
  type RcptParams,
} from './params.ts';

/** What decides whether an extension is on for this session, besides its configuration switch. */
export interface OfferContext {
  options: SessionOptions;
  /** TLS is already active (implicit TLS or after STARTTLS). */
  tls: boolean;
  /** The listener; decides AUTH. Absent: 'mx'. */
  listener?: ListenerKind;
}

export interface ExtensionRecord {
  /** The EHLO keyword, or null for parameters honoured without being advertised (AUTH= for now). */
  keyword: string | null;
  /** Configuration switch; null when the extension is always on (or decided by `offered`). */
  switch: keyof ExtensionSwitches | null;
  /** Extra condition, e.g. STARTTLS needs a certificate and a plaintext connection. */
  offered?: (ctx: OfferContext) => boolean;
  /** The EHLO line; defaults to the keyword. */
  line?: (options: SessionOptions) => string;
  mailParams?: Readonly<Record<string, ParamParser<MailParams>>>;
  rcptParams?: Readonly<Record<string, ParamParser<RcptParams>>>;
}

/** In EHLO order. HELP is a command, not a keyword, so it has no record. */
export const EXTENSIONS: readonly ExtensionRecord[] = [
  { keyword: 'PIPELINING', switch: 'pipelining' }, // RFC 2920
  {
    keyword: 'SIZE', // RFC 1870 §4: "SIZE <max>"
    switch: 'size',
    line: (o) => `SIZE ${o.maxMessageSize}`,
    mailParams: { SIZE: parseSizeParam },
  },
  { keyword: '8BITMIME', switch: 'eightBitMime', mailParams: { BODY: parseBodyParam } }, // RFC 6152
  { keyword: 'ENHANCEDSTATUSCODES', switch: 'enhancedStatusCodes' }, // RFC 2034
  { keyword: 'SMTPUTF8', switch: 'smtpUtf8', mailParams: { SMTPUTF8: parseSmtpUtf8Param } }, // RFC 6531
  { keyword: 'CHUNKING', switch: 'chunking' }, // RFC 3030
  {
    keyword: 'DSN', // RFC 3461
    switch: 'dsn',
    mailParams: { RET: parseRetParam, ENVID: parseEnvidParam },
    rcptParams: { NOTIFY: parseNotifyParam, ORCPT: parseOrcptParam },
  },
  {
    keyword: 'STARTTLS', // RFC 3207 §4.2: not offered again once TLS is up
    switch: null,
    offered: (c) => c.options.startTls && !c.tls,
  },
  {
    keyword: 'AUTH', // RFC 4954 §3: "AUTH" and the mechanisms, space separated
    switch: null,
    offered: (c) => authOffered(c.options, c.listener ?? 'mx', c.tls),
    line: (o) => ['AUTH', ...(o.auth?.mechanisms ?? [])].join(' '),
  },
  // RFC 4954 §5: MAIL AUTH=<mailbox> or AUTH=<> is accepted after any EHLO and ignored (see parseAuthParam).
  { keyword: null, switch: null, mailParams: { AUTH: parseAuthParam } },
];

/** AUTH is configured for this listener at all (advertised or not, depending on TLS). */
export function authConfigured(options: SessionOptions, listener: ListenerKind): boolean {
  return options.auth !== undefined && options.auth.listeners.has(listener);
}

/**
 * Whether EHLO advertises AUTH: on the configured listeners, and only under TLS unless plaintext was
 * explicitly allowed (RFC 4954 §4 "SHOULD NOT advertise ... unless a strong SSF is in effect", RFC 8314).
 */
export function authOffered(options: SessionOptions, listener: ListenerKind, tls: boolean): boolean {
  return authConfigured(options, listener) && (tls || options.auth!.allowPlaintext);
}

function isOffered(rec: ExtensionRecord, ctx: OfferContext): boolean {
  if (rec.switch !== null && !ctx.options.extensions[rec.switch]) return false;
  return rec.offered === undefined || rec.offered(ctx);
}

/** The keyword lines of the EHLO reply (RFC 5321 §4.1.1.1), after the hostname line. */
export function ehloKeywords(ctx: OfferContext): string[] {
  const out: string[] = [];
  for (const rec of EXTENSIONS) {
    if (rec.keyword === null || !isOffered(rec, ctx)) continue;
    out.push(rec.line ? rec.line(ctx.options) : rec.keyword);
  }
  return out;
}

/** What MAIL and RCPT accept in this session: empty after HELO (no ESMTP was negotiated). */
export interface ParamTables {
  mail: ReadonlyMap<string, ParamParser<MailParams>>;
  rcpt: ReadonlyMap<string, ParamParser<RcptParams>>;
}

export const NO_PARAMS: ParamTables = { mail: new Map(), rcpt: new Map() };

/** The parameter tables after EHLO: only parameters of offered extensions are accepted. */
export function paramTables(ctx: OfferContext): ParamTables {
  const mail = new Map<string, ParamParser<MailParams>>();
  const rcpt = new Map<string, ParamParser<RcptParams>>();
  for (const rec of EXTENSIONS) {
    if (!isOffered(rec, ctx)) continue;
    for (const [k, p] of Object.entries(rec.mailParams ?? {})) mail.set(k, p);
    for (const [k, p] of Object.entries(rec.rcptParams ?? {})) rcpt.set(k, p);
  }
  return { mail, rcpt };
}

/** Everything EHLO decides, computed once per (options, TLS) since options are shared by all sessions. */
export interface Offer {
  keywords: readonly string[];
  tables: ParamTables;
}

const LISTENER_SLOT: Readonly<Record<ListenerKind, number>> = { mx: 0, submission: 2, submissions: 4 };
const offers = new WeakMap<SessionOptions, Array<Offer | null>>();

/**
 * Cached ehloKeywords + paramTables per (options, listener, TLS); the cache is keyed by the options object,
 * so treat options as frozen.
 */
export function offerFor(options: SessionOptions, tls: boolean, listener: ListenerKind = 'mx'): Offer {
  let slots = offers.get(options);
  if (slots === undefined) {
    slots = [null, null, null, null, null, null];
    offers.set(options, slots);
  }
  const slot = LISTENER_SLOT[listener] + (tls ? 1 : 0);
  let offer = slots[slot];
  if (offer === null) {
    const ctx = { options, tls, listener };
    offer = { keywords: ehloKeywords(ctx), tables: paramTables(ctx) };
    slots[slot] = offer;
  }
  return offer;
}
