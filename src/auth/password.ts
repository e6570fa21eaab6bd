// Password hashing for SMTP AUTH users: scrypt (memory-hard) in PHC string form, verified in constant time.
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/** scrypt cost: N = 2^ln, block size r, parallelism p (RFC 7914 §2). */
export interface ScryptParams {
  ln: number;
  r: number;
  p: number;
}

/**
 * Measured on this project's build machine (2 cores), one hash at N=2^15, r=8, p=1 takes ~45-60 ms on Bun
 * and ~70-80 ms on Deno and Node, and needs 32 MiB (128·N·r octets). 2^16 doubles both (100-160 ms), 2^17 costs
 * 200-300 ms and 128 MiB per login: too much for a mail server under a password-guessing flood. Hashes
 * carry their own parameters, so raising these later rehashes each user on the next successful login.
 */
export const CURRENT_PARAMS: Readonly<ScryptParams> = { ln: 15, r: 8, p: 1 };

const SALT_BYTES = 16;
const HASH_BYTES = 32;

/**
 * Bounds on parameters read from the database: a corrupt or tampered row must not make one login
 * allocate gigabytes or spin for minutes (memory 128·2^ln·r, time ∝ 2^ln·r·p).
 */
const MAX_MEMORY = 256 * 1024 * 1024;
const LIMITS = { ln: [10, 20], r: [1, 32], p: [1, 16] } as const;

/**
 * At most this many hashes run at once (32 MiB each at the current parameters): a burst of AUTH attempts
 * queues here instead of allocating without bound. The rest wait their turn, in order.
 */
export const MAX_CONCURRENT_HASHES = 4;

/** Longest password accepted at creation, in UTF-8 octets; SASL PLAIN input is capped to fit it (sasl.ts). */
export const MAX_PASSWORD_BYTES = 1024;
/** Shortest password accepted at creation, in characters. */
export const MIN_PASSWORD_CHARS = 8;

export interface ParsedHash {
  params: ScryptParams;
  salt: Buffer;
  hash: Buffer;
}

export type VerifyResult = { ok: true; match: boolean; rehash: boolean } | { ok: false; error: string };

/**
 * RFC 8265 §4.2 (PRECIS OpaqueString, the successor of SASLprep that RFC 4616 §2 recommends): non-ASCII
 * spaces become U+0020, then NFC. Applied when hashing and when verifying, so "é" typed as one code point
 * or as e + combining accent is the same password.
 */
export function normalizePassword(password: string): string {
  return password.replace(/\p{Zs}/gu, ' ').normalize('NFC');
}

/** Why a new password is refused, or null when it is acceptable. */
export function checkNewPassword(password: string): string | null {
  const p = normalizePassword(password);
  if (p.length === 0) return 'the password is empty';
  if ([...p].length < MIN_PASSWORD_CHARS) return `the password is shorter than ${MIN_PASSWORD_CHARS} characters`;
  if (Buffer.byteLength(p, 'utf8') > MAX_PASSWORD_BYTES) return `the password is longer than ${MAX_PASSWORD_BYTES} octets`;
  // NUL separates the fields of SASL PLAIN (RFC 4616 §2); CR/LF could never be typed at a prompt or read
  // from the first line of stdin, so such a password could not be used.
  if (/[\0\r\n]/.test(p)) return 'the password contains NUL, CR or LF';
  return null;
}

let running = 0; // hashes in progress, at most MAX_CONCURRENT_HASHES
const waiting: Array<() => void> = [];

async function limited<T>(fn: () => Promise<T>): Promise<T> {
  // A finishing hash hands its slot straight to the next waiter (running stays the same), so a newcomer
  // arriving between the release and the waiter's wake-up cannot take the slot too and exceed the limit.
  if (running >= MAX_CONCURRENT_HASHES) await new Promise<void>((resolve) => waiting.push(resolve));
  else running++;
  try {
    return await fn();
  } finally {
    const next = waiting.shift();
    if (next) next();
    else running--;
  }
}

/** The asynchronous scrypt: it runs on the runtime's thread pool, never blocking the event loop. */
function derive(password: string, salt: Buffer, params: ScryptParams, length: number): Promise<Buffer> {
  const N = 2 ** params.ln;
  const maxmem = 2 * 128 * N * params.r; // Node's default maxmem (32 MiB) is exactly our need: leave room
  return limited(
    () =>
      new Promise<Buffer>((resolve, reject) =>
        scrypt(normalizePassword(password), salt, length, { N, r: params.r, p: params.p, maxmem }, (err, key) =>
          err ? reject(err) : resolve(key),
        ),
      ),
  );
}

/** PHC base64: the standard alphabet without padding. */
const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64').replace(/=+$/, '');

export function formatPhc(h: ParsedHash): string {
  return `$scrypt$ln=${h.params.ln},r=${h.params.r},p=${h.params.p}$${b64(h.salt)}$${b64(h.hash)}`;
}

const PHC = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

/** Parses `$scrypt$ln=..,r=..,p=..$salt$hash`; parameters outside LIMITS are an error, not a slow login. */
export function parsePhc(text: string): { ok: true; value: ParsedHash } | { ok: false; error: string } {
  const m = PHC.exec(text);
  if (!m) return { ok: false, error: 'not a $scrypt$ PHC string' };
  const params = { ln: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  for (const key of ['ln', 'r', 'p'] as const) {
    const [min, max] = LIMITS[key];
    if (params[key] < min || params[key] > max) return { ok: false, error: `scrypt ${key}=${params[key]} is outside ${min}..${max}` };
  }
  if (128 * 2 ** params.ln * params.r > MAX_MEMORY) return { ok: false, error: 'scrypt parameters need too much memory' };
  const salt = Buffer.from(m[4], 'base64');
  const hash = Buffer.from(m[5], 'base64');
  // A length that does not round-trip means stray characters base64 decoding silently dropped.
  if (b64(salt) !== m[4] || b64(hash) !== m[5]) return { ok: false, error: 'bad base64 in the hash' };
  if (salt.length < 8 || hash.length < 16 || hash.length > 64) return { ok: false, error: 'salt or hash too short' };
  return { ok: true, value: { params, salt, hash } };
}

/** True when a stored hash is cheaper than the current parameters in any dimension: rehash it on login. */
export function needsRehash(h: ParsedHash, current: Readonly<ScryptParams> = CURRENT_PARAMS): boolean {
  return h.params.ln < current.ln || h.params.r < current.r || h.params.p < current.p || h.hash.length < HASH_BYTES;
}

/** A fresh random salt; returns the PHC string to store. Never store or log the password itself. */
export async function hashPassword(password: string, params: Readonly<ScryptParams> = CURRENT_PARAMS): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(password, salt, params, HASH_BYTES);
  return formatPhc({ params: { ...params }, salt, hash });
}

/**
 * Recomputes with the stored salt and parameters and compares in constant time. `ok: false` means the
 * stored string is unusable (a data problem to log), not a wrong password.
 */
export async function verifyPassword(password: string, stored: string): Promise<VerifyResult> {
  const parsed = parsePhc(stored);
  if (!parsed.ok) return parsed;
  const h = parsed.value;
  const candidate = await derive(password, h.salt, h.params, h.hash.length);
  return { ok: true, match: timingSafeEqual(candidate, h.hash), rehash: needsRehash(h) };
}

/**
 * Verified against when the user does not exist (or is disabled), so a failed login costs one scrypt at
 * the current parameters either way and response time does not reveal which names exist. Its all-zero
 * hash matches no password in practice (that needs a preimage of scrypt).
 */
export const DUMMY_HASH: string = formatPhc({
  params: { ...CURRENT_PARAMS },
  salt: Buffer.alloc(SALT_BYTES),
  hash: Buffer.alloc(HASH_BYTES),
});
