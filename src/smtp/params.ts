// MAIL and RCPT esmtp-params (RFC 5321 §4.1.2): splitting, and one parser per keyword for SIZE (RFC 1870),
// BODY (RFC 6152), SMTPUTF8 (RFC 6531), RET/ENVID/NOTIFY/ORCPT (RFC 3461) and AUTH (RFC 4954), with xtext.
import type { DsnNotify, DsnOrcpt, SessionOptions } from './types.ts';
import { R, type Reply } from './replies.ts';

/** One esmtp-param as written; keyword upper-cased, value null when there was no "=". */
export interface RawParam {
  keyword: string;
  value: string | null;
}

/** What MAIL parameters set on the transaction. */
export interface MailParams {
  size: number | null;
  body: '7BIT' | '8BITMIME' | null;
  smtpUtf8: boolean;
  ret: 'FULL' | 'HDRS' | null;
  envid: string | null;
}

/** What RCPT parameters set on one recipient. */
export interface RcptParams {
  notify: DsnNotify | null;
  orcpt: DsnOrcpt | null;
}

/** Parses one parameter's value into `into`; returns a reply when the value is refused. */
export type ParamParser<T> = (value: string | null, into: T, options: SessionOptions) => Reply | null;

export type ParamError = { reply: Reply; detail: string };

export function emptyMailParams(): MailParams {
  return { size: null, body: null, smtpUtf8: false, ret: null, envid: null };
}

export function emptyRcptParams(): RcptParams {
  return { notify: null, orcpt: null };
}

// RFC 3461 §4.4: ENVID is at most 100 characters.
export const MAX_ENVID_LENGTH = 100;
// RFC 3461 §4.2: ORCPT's value, encoded, may be up to 500 characters.
export const MAX_ORCPT_LENGTH = 500;
// RFC 1870 §3: size-value ::= 1*20DIGIT.
const MAX_SIZE_DIGITS = 20;

const KEYWORD = /^[A-Za-z0-9][A-Za-z0-9-]*$/;
// esmtp-value = 1*(%d33-60 / %d62-126), plus UTF8-non-ascii (RFC 6531 §3.3).
const VALUE = /^[\x21-\x3c\x3e-\x7e\u0080-\uffff]+$/;

/**
 * Splits "KEY=VALUE KEY2" into params; null when any token breaks the esmtp-param grammar. Runs of spaces are
 * tolerated (Postfix and chasquid do the same); the grammar's single SP buys nothing.
 */
export function splitParams(text: string): RawParam[] | null {
  const out: RawParam[] = [];
  for (const token of text.split(/[ \t]+/)) {
    if (token === '') continue;
    const eq = token.indexOf('=');
    const keyword = eq < 0 ? token : token.slice(0, eq);
    if (!KEYWORD.test(keyword)) return null;
    if (eq < 0) {
      out.push({ keyword: keyword.toUpperCase(), value: null });
      continue;
    }
    const value = token.slice(eq + 1);
    if (!VALUE.test(value)) return null;
    out.push({ keyword: keyword.toUpperCase(), value });
  }
  return out;
}

/**
 * Applies params through the table of parsers the session offers (built from extensions.ts for what EHLO
 * advertised). Unknown or not-offered keyword: 555 5.5.4 (RFC 5321 §4.1.1.11); repeated: 501 5.5.4.
 */
export function applyParams<T>(
  raw: readonly RawParam[],
  table: ReadonlyMap<string, ParamParser<T>>,
  into: T,
  options: SessionOptions,
): ParamError | null {
  const seen = new Set<string>();
  for (const p of raw) {
    if (seen.has(p.keyword)) return { reply: R.paramRepeated, detail: p.keyword };
    seen.add(p.keyword);
    const parse = table.get(p.keyword);
    if (parse === undefined) return { reply: R.paramUnsupported, detail: p.keyword };
    const refused = parse(p.value, into, options);
    if (refused !== null) return { reply: refused, detail: p.keyword };
  }
  return null;
}

/** SIZE=n (RFC 1870 §6): a number; above our limit is 552 5.3.4 before any data is sent. */
export const parseSizeParam: ParamParser<MailParams> = (value, into, options) => {
  if (value === null || !/^\d+$/.test(value) || value.length > MAX_SIZE_DIGITS) return R.paramValue;
  const size = Number(value);
  if (size > options.maxMessageSize) return R.sizeExceeded;
  into.size = size;
  return null;
};

/** BODY=7BIT|8BITMIME (RFC 6152 §2). BINARYMIME (RFC 3030 §3) needs binary storage we don't offer. */
export const parseBodyParam: ParamParser<MailParams> = (value, into) => {
  const v = value?.toUpperCase();
  if (v === '7BIT' || v === '8BITMIME') {
    into.body = v;
    return null;
  }
  // RFC 5321 §4.1.1.11: a parameter the server "cannot implement" gets 555.
  if (v === 'BINARYMIME') return R.paramUnsupported;
  return R.paramValue;
};

/** SMTPUTF8 takes no value (RFC 6531 §3.4). */
export const parseSmtpUtf8Param: ParamParser<MailParams> = (value, into) => {
  if (value !== null) return R.paramValue;
  into.smtpUtf8 = true;
  return null;
};

/** RET=FULL|HDRS (RFC 3461 §4.3). */
export const parseRetParam: ParamParser<MailParams> = (value, into) => {
  const v = value?.toUpperCase();
  if (v !== 'FULL' && v !== 'HDRS') return R.paramValue;
  into.ret = v;
  return null;
};

/** ENVID=xtext, at most 100 characters once decoded (RFC 3461 §4.4). */
export const parseEnvidParam: ParamParser<MailParams> = (value, into) => {
  const decoded = value === null ? null : decodeXtext(value);
  if (decoded === null || decoded.length > MAX_ENVID_LENGTH) return R.paramValue;
  into.envid = decoded;
  return null;
};

/**
 * AUTH=<> or AUTH=xtext (RFC 4954 §5). The value is checked for syntax and then ignored, on every listener:
 * from an unauthenticated client §5 says the server "MAY ignore" a claim it cannot trust, and from our own
 * authenticated client the identity is already known from the exchange (Envelope.authUser), so recording
 * the client's assertion would add nothing but a second, unverified source.
 */
export const parseAuthParam: ParamParser<MailParams> = (value) => {
  if (value === '<>') return null;
  return value !== null && decodeXtext(value) !== null ? null : R.paramValue;
};

/** NOTIFY=NEVER or a comma list of SUCCESS, FAILURE, DELAY (RFC 3461 §4.1); NEVER stands alone. */
export const parseNotifyParam: ParamParser<RcptParams> = (value, into) => {
  if (value === null) return R.paramValue;
  const items = value.toUpperCase().split(',');
  if (items.length === 1 && items[0] === 'NEVER') {
    into.notify = 'NEVER';
    return null;
  }
  const events: Array<'SUCCESS' | 'FAILURE' | 'DELAY'> = [];
  for (const item of items) {
    if (item !== 'SUCCESS' && item !== 'FAILURE' && item !== 'DELAY') return R.paramValue;
    // Repeats ("SUCCESS,SUCCESS") mean nothing more; keep one.
    if (!events.includes(item)) events.push(item);
  }
  into.notify = events;
  return null;
};

/** ORCPT=addr-type;value (RFC 3461 §4.2): xtext for most types, RFC 6533 §3 escapes for "utf-8". */
export const parseOrcptParam: ParamParser<RcptParams> = (value, into) => {
  if (value === null || value.length > MAX_ORCPT_LENGTH) return R.paramValue;
  const semi = value.indexOf(';');
  if (semi <= 0) return R.paramValue;
  const type = value.slice(0, semi);
  // addr-type is an atom (RFC 3461 §4.2); registered types are rfc822 and utf-8.
  if (!/^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+$/.test(type)) return R.paramValue;
  const encoded = value.slice(semi + 1);
  const address = type.toLowerCase() === 'utf-8' ? decodeUtf8AddrXtext(encoded) : decodeXtext(encoded);
  if (address === null || address === '') return R.paramValue;
  into.orcpt = { type, address };
  return null;
};

/**
 * xtext (RFC 3461 §4): printable ASCII except "+" and "=", with "+HH" for anything else. RFC 3461 asks
 * for upper-case hex; lower case is accepted since nothing is ambiguous about it. Null when malformed.
 */
export function decodeXtext(text: string): string | null {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2b) {
      const hex = text.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return null;
      out += String.fromCharCode(parseInt(hex, 16));
      i += 2;
    } else if (c >= 0x21 && c <= 0x7e && c !== 0x3d) {
      out += text[i];
    } else {
      return null;
    }
  }
  return out;
}

/**
 * The "utf-8" ORCPT forms of RFC 6533 §3: utf-8-addr-xtext (ASCII with "\x{HEX}" escapes) and
 * utf-8-addr-unitext (raw UTF-8 allowed). "+", "=" and a lone "\" must be escaped. Null when malformed.
 */
export function decodeUtf8AddrXtext(text: string): string | null {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5c) {
      const m = /^\\x\{([0-9A-Fa-f]{1,6})\}/.exec(text.slice(i, i + 11));
      if (m === null) return null;
      const cp = parseInt(m[1], 16);
      if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return null;
      out += String.fromCodePoint(cp);
      i += m[0].length - 1;
    } else if ((c >= 0x21 && c <= 0x7e && c !== 0x2b && c !== 0x3d) || c >= 0x80) {
      out += text[i];
    } else {
      return null;
    }
  }
  return out;
}
