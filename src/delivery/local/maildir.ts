// Maildir delivery: one file per message, written in tmp/ and renamed into new/, so a reader never sees a
// partial message and a crash leaves at most a stray file in tmp/ (the Maildir spec, cr.yp.to/proto/maildir.html).
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import process from 'node:process';
import { crlfToLf, delivered, type LocalOutcome, permanent, temporary, traceHeaders } from './common.ts';
import { concat } from '../../lib/bytes.ts';

export interface MaildirDelivery {
  template: string; // DomainConfig.maildir
  address: string; // the canonical local mailbox "local@domain"
  sender: string;
  body: Uint8Array; // as queued (CRLF)
}

export type MaildirPath = { ok: true; path: string } | { ok: false; outcome: LocalOutcome };

/**
 * Each substituted value becomes one safe path component: '%', '/', '\', controls and a leading '.' are
 * percent-encoded, so "../../etc" or ".ssh" in a local part can never leave the base directory or hide
 * there (path traversal), and distinct local parts never share a Maildir (the encoding is one-to-one).
 */
export function sanitiseComponent(value: string): string {
  const hex = (c: string) => `%${c.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase()}`;
  // deno-lint-ignore no-control-regex
  const encoded = value.replace(/[%/\\\u0000-\u001f\u007f]/g, hex);
  return encoded.startsWith('.') ? `%2E${encoded.slice(1)}` : encoded;
}

/**
 * The Maildir for an address: %d domain, %u local part, %a address (all lower-case as the directory
 * made them), %% a percent sign. A template that is empty, relative, or names something else is the
 * operator's mistake: temporary 4.3.5 (RFC 3463 "system incorrectly configured"), so mail waits in the
 * queue for the fix instead of bouncing.
 */
export function maildirPath(template: string, address: string): MaildirPath {
  const misconfigured = (why: string): MaildirPath => ({
    ok: false,
    outcome: temporary('4.3.5', 'local delivery misconfigured', `maildir template "${template}": ${why}`),
  });
  if (template === '' || !path.isAbsolute(template)) return misconfigured('must be an absolute path');
  if (template.split('/').some((s) => s === '..')) return misconfigured('must not contain ".."');
  const at = address.lastIndexOf('@');
  const values: Record<string, string> = {
    d: address.slice(at + 1),
    u: address.slice(0, at),
    a: address,
    '%': '%',
  };
  let bad = '';
  const result = template.replace(/%(.)/g, (_m, key: string) => {
    if (!(key in values)) bad = `unknown placeholder %${key}`;
    return key === '%' ? '%' : sanitiseComponent(values[key] ?? '');
  });
  if (bad !== '') return misconfigured(bad);
  // Belt and braces: sanitised values cannot form "." or ".." (not even beside a literal dot, since their
  // own leading dot is encoded), but should a later change allow it, refuse rather than resolve.
  const segments = result.split('/');
  if (segments.some((s) => s === '.' || s === '..')) {
    return { ok: false, outcome: permanent('5.1.3', 'mailbox name not allowed', `maildir path "${result}"`) };
  }
  return { ok: true, path: path.normalize(result) };
}

let counter = 0;

/** A name unique over time, processes and hosts: "sec.MusecPpidQnRrandom.host,S=size" (Maildir spec, Dovecot). */
export function uniqueName(size: number, now = Date.now()): string {
  // The spec asks for '/' and ':' in the host name to be encoded as octal escapes.
  const host = os.hostname().replace(/\//g, '\\057').replace(/:/g, '\\072');
  const random = Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, '0')).join('');
  const sec = Math.floor(now / 1000);
  const usec = (now % 1000) * 1000;
  counter = (counter + 1) % 1_000_000;
  // ",S=" is the Maildir++ size that Dovecot's quota reads without opening the file.
  return `${sec}.M${usec}P${process.pid}Q${counter}R${random}.${host},S=${size}`;
}

/**
 * Writes one copy with Return-Path and Delivered-To on top. The file and the directories are fsynced
 * before this resolves delivered, so a copy reported delivered survives a power cut.
 */
export async function deliverToMaildir(m: MaildirDelivery): Promise<LocalOutcome> {
  const where = maildirPath(m.template, m.address);
  if (!where.ok) return where.outcome;
  const dir = where.path;
  const head = new TextEncoder().encode(traceHeaders(m.sender, m.address).replaceAll('\r\n', '\n'));
  const data = concat(head, crlfToLf(m.body));
  const name = uniqueName(data.length);
  const tmp = path.join(dir, 'tmp', name);
  try {
    await ensureMaildir(dir);
    const handle = await fs.open(tmp, 'wx', 0o600);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(tmp, path.join(dir, 'new', name));
    // The new/ entry is what must survive; a tmp/ entry left by a crash is only litter (readers skip it).
    await syncDir(path.join(dir, 'new'));
    return delivered('delivered to maildir', path.join(dir, 'new', name));
  } catch (err) {
    await fs.rm(tmp, { force: true }).catch(() => {});
    return classifyFsError(err, dir);
  }
}

/** Creates dir/{cur,new,tmp} (mode 0700, like Dovecot and Postfix) when missing, durably. */
async function ensureMaildir(dir: string): Promise<void> {
  try {
    await fs.access(path.join(dir, 'tmp'));
    await fs.access(path.join(dir, 'new'));
    return;
  } catch {
    // first delivery to this mailbox
  }
  const created = await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  for (const sub of ['cur', 'new', 'tmp']) await fs.mkdir(path.join(dir, sub), { mode: 0o700 }).catch(ignoreExists);
  await syncDir(dir);
  // New parent directories must reach the disk too, or the whole Maildir can vanish after a crash.
  let p = dir;
  const top = created ?? dir;
  while (p !== top && p !== path.dirname(p)) {
    p = path.dirname(p);
    await syncDir(p);
  }
  await syncDir(path.dirname(top));
}

function ignoreExists(err: unknown): void {
  if ((err as { code?: string }).code !== 'EEXIST') throw err;
}

async function syncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } catch (err) {
    // Some filesystems cannot fsync a directory; the rename is then as durable as they make it.
    const code = (err as { code?: string }).code;
    if (code !== 'EINVAL' && code !== 'ENOTSUP' && code !== 'EISDIR') throw err;
  } finally {
    await handle.close();
  }
}

/** File system errors as delivery results; the system's message goes to the log only. */
export function classifyFsError(err: unknown, dir: string): LocalOutcome {
  const code = (err as { code?: string }).code ?? '';
  const detail = `${dir}: ${(err as Error).message}`;
  switch (code) {
    case 'EDQUOT': // this user's quota: RFC 3463 X.2.2 mailbox full
      return temporary('4.2.2', 'mailbox full', detail);
    case 'ENOSPC': // the whole file system: X.3.1 mail system full
      return temporary('4.3.1', 'mail system full', detail);
    case 'ENAMETOOLONG': // the address cannot name a mailbox here, whatever the operator does
      return permanent('5.1.3', 'mailbox name too long', detail);
    default: // EACCES, EPERM, EROFS, ENOTDIR, EIO...: an operator can fix these; the queue waits
      return temporary('4.3.0', 'mailbox unavailable', detail);
  }
}

