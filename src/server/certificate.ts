// The TLS certificate for STARTTLS and implicit TLS: the operator's PEM files, or a self-signed one we make once.

import {
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  randomBytes,
  webcrypto,
  X509Certificate,
} from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import process from 'node:process';
import { ConfigError } from '../config/errors.ts';
import { loadX509 } from './x509.ts';

export interface CertificateOptions {
  /** PEM certificate (leaf first, then intermediates); with keyFile, or both empty for self-signed. */
  certFile: string;
  keyFile: string;
  /** The self-signed pair lives in `${dataDir}/tls/`. */
  dataDir: string;
  /** Goes into the self-signed CN and subjectAltName. */
  hostname: string;
  /** Clock, for tests of expiry. */
  now?: () => Date;
}

export interface LoadedCertificate {
  /** PEM private key and certificate chain, ready for tls.createSecureContext({ key, cert }). */
  key: string;
  cert: string;
  selfSigned: boolean;
  /** The certificate file used. */
  path: string;
  /** SHA-256 of the leaf certificate's DER, "AB:CD:…", for the start-up message and pinning. */
  fingerprint: string;
  /** When the leaf expires: the caller warns about an operator's certificate close to it. */
  notAfter: Date;
}

const SELF_SIGNED_DAYS = 365;
const RENEW_BEFORE_DAYS = 30;
const DAY = 86_400_000;

/**
 * Configured files: read, parsed and checked to belong together; any failure is a ConfigError naming the
 * file. No files configured: the self-signed pair under dataDir/tls, made on first start and made again when
 * it is within 30 days of expiry or does not name `hostname` (keeping the key, so SPKI pins survive).
 * Calling it again later (say daily) is how a long-running server renews.
 */
export function loadOrCreateCertificate(opts: CertificateOptions): Promise<LoadedCertificate> {
  if (opts.certFile !== '' || opts.keyFile !== '') return loadConfigured(opts);
  return loadOrCreateSelfSigned(opts);
}

async function readPem(file: string, key: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`${key} ${file}: cannot read: ${(e as Error).message}`, [], { cause: e });
  }
}

// Bun refuses createPublicKey() of a key that is already public, so only derive it from a private one.
const spki = (k: KeyObject): Buffer =>
  (k.type === 'public' ? k : createPublicKey(k)).export({ type: 'spki', format: 'der' });

async function loadConfigured(opts: CertificateOptions): Promise<LoadedCertificate> {
  if (opts.certFile === '' || opts.keyFile === '') {
    throw new ConfigError('tls.cert_file and tls.key_file must be set together (both empty = self-signed)', []);
  }
  const [cert, key] = await Promise.all([
    readPem(opts.certFile, 'tls.cert_file'),
    readPem(opts.keyFile, 'tls.key_file'),
  ]);
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert); // the first certificate in the file is the leaf
  } catch (e) {
    throw new ConfigError(`tls.cert_file ${opts.certFile}: not a PEM certificate`, [], { cause: e });
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch (e) {
    throw new ConfigError(`tls.key_file ${opts.keyFile}: not an unencrypted PEM private key`, [], { cause: e });
  }
  if (!spki(leaf.publicKey).equals(spki(privateKey))) {
    throw new ConfigError(`tls.key_file ${opts.keyFile} is not the key of the certificate in ${opts.certFile}`, []);
  }
  return {
    key,
    cert,
    selfSigned: false,
    path: opts.certFile,
    fingerprint: leaf.fingerprint256,
    notAfter: new Date(leaf.validTo),
  };
}

/** Reasons to make a new self-signed certificate, or none when the stored one can be used. */
function staleReason(leaf: X509Certificate, privateKey: KeyObject, hostname: string, now: Date): string | null {
  if (!spki(leaf.publicKey).equals(spki(privateKey))) return 'key does not match';
  if (new Date(leaf.validTo).getTime() - now.getTime() < RENEW_BEFORE_DAYS * DAY) return 'expires soon';
  const names = (leaf.subjectAltName ?? '').split(', ');
  if (!names.includes(`DNS:${hostname}`)) return 'hostname changed';
  return null;
}

async function loadOrCreateSelfSigned(opts: CertificateOptions): Promise<LoadedCertificate> {
  const now = opts.now?.() ?? new Date();
  const dir = path.join(opts.dataDir, 'tls');
  const certPath = path.join(dir, 'self-signed.crt');
  const keyPath = path.join(dir, 'self-signed.key');

  let privateKey: KeyObject | undefined;
  let keyPem: string | undefined;
  try {
    keyPem = await readFile(keyPath, 'utf8');
    privateKey = createPrivateKey(keyPem);
  } catch {
    keyPem = privateKey = undefined; // absent or damaged: make a new key
  }
  if (privateKey && keyPem) {
    try {
      const certPem = await readFile(certPath, 'utf8');
      const leaf = new X509Certificate(certPem);
      if (staleReason(leaf, privateKey, opts.hostname, now) === null) return selfSigned(keyPem, certPem, certPath);
    } catch {
      // Missing or unreadable certificate: issue a new one below.
    }
  }

  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (!privateKey || !keyPem) {
    const made = await newKey();
    keyPem = made.pem;
    privateKey = createPrivateKey(keyPem);
    await writeAtomically(keyPath, keyPem, 0o600);
  } else {
    await chmod(keyPath, 0o600); // tighten a key file someone loosened
  }
  const certPem = await issue(keyPem, opts.hostname, now);
  await writeAtomically(certPath, certPem, 0o644);
  return selfSigned(keyPem, certPem, certPath);
}

function selfSigned(key: string, cert: string, path: string) {
  const leaf = new X509Certificate(cert);
  return { key, cert, selfSigned: true, path, fingerprint: leaf.fingerprint256, notAfter: new Date(leaf.validTo) };
}

// RSA rather than ECDSA: an MX hears from every kind of old sender, and some only do RSA key exchange or
// signatures. 2048 bits with SHA-256 is what every TLS stack accepts.
const RSA = {
  name: 'RSASSA-PKCS1-v1_5',
  hash: 'SHA-256',
  publicExponent: new Uint8Array([1, 0, 1]),
  modulusLength: 2048,
};

async function newKey(): Promise<{ pem: string }> {
  const x509 = await loadX509();
  const pair = await webcrypto.subtle.generateKey(RSA, true, ['sign', 'verify']);
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', pair.privateKey);
  return { pem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') };
}

/**
 * A one-year leaf for `hostname`, 'localhost', 127.0.0.1 and ::1. One year (not ten): Apple's TLS stack refuses
 * server certificates valid for more than 825 days even when the user trusts them. Not a CA (cA=false): rustls
 * (Deno's TLS) rejects a CA certificate used as the server's own.
 */
async function issue(keyPem: string, hostname: string, now: Date): Promise<string> {
  const x509 = await loadX509();
  const der = createPrivateKey(keyPem).export({ type: 'pkcs8', format: 'der' });
  const pub = createPublicKey(keyPem).export({ type: 'spki', format: 'der' });
  // node:crypto's CryptoKey type and the DOM one x509 declares are the same object at run time.
  const keys = {
    privateKey: await webcrypto.subtle.importKey('pkcs8', der, RSA, false, ['sign']),
    publicKey: await webcrypto.subtle.importKey('spki', pub, RSA, true, ['verify']),
  } as unknown as CryptoKeyPair;
  const serial = randomBytes(16);
  serial[0] &= 0x7f; // DER INTEGER: keep the serial positive (RFC 5280 §4.1.2.2)
  const dns = [...new Set([hostname, 'localhost'])].map((value) => ({ type: 'dns' as const, value }));
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial.toString('hex'),
    name: `CN=${hostname}`,
    notBefore: new Date(now.getTime() - 3_600_000), // an hour back: peers with slow clocks
    notAfter: new Date(now.getTime() + SELF_SIGNED_DAYS * DAY),
    signingAlgorithm: RSA,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([...dns, { type: 'ip', value: '127.0.0.1' }, {
        type: 'ip',
        value: '::1',
      }]),
    ],
  });
  return cert.toString('pem') + '\n';
}

/** Temp file then rename, so a crash or a second process never sees half a key. */
async function writeAtomically(file: string, data: string, mode: number): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, data, { mode });
  await chmod(tmp, mode); // the mode given to writeFile is filtered by the umask
  await rename(tmp, file);
}
