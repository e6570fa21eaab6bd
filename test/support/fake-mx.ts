// A scripted SMTP/LMTP peer for client tests: programmable capabilities and replies, STARTTLS, AUTH,
// dropped connections; it records every transaction (envelope, parameters, data, TLS, EHLO name).
import { randomBytes, webcrypto } from 'node:crypto';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { loadX509 } from '../../src/server/x509.ts';

export interface FakeCaps {
  pipelining: boolean;
  size: number | null; // null = no SIZE keyword
  eightBitMime: boolean;
  smtpUtf8: boolean;
  chunking: boolean;
  dsn: boolean;
  enhancedStatusCodes: boolean;
  startTls: boolean; // offered only when `tls` is set too
}

/** A reply override: one text for every use, or a list used in turn (the last repeats). */
export type Script = string | string[];

export interface FakeMxOptions {
  host?: string; // default 127.0.0.1
  port?: number; // default 0 (ephemeral)
  path?: string; // listen on this Unix socket instead (LMTP's usual transport)
  name?: string; // greeting and EHLO name
  lmtp?: boolean;
  greeting?: Script; // default "220 <name> ESMTP fake"
  refuseFirst?: number; // the first N connections get "421 4.3.2 busy" and are closed
  caps?: Partial<FakeCaps>;
  ehlo?: boolean; // false: EHLO/LHLO get 502 (a HELO-only peer)
  tls?: { key: string; cert: string };
  brokenTls?: boolean; // offers STARTTLS, says 220, then answers the ClientHello with junk
  auth?: { user: string; password: string }; // offers AUTH PLAIN LOGIN after TLS
  /** Per verb: MAIL RCPT DATA (the 354) BDAT (non-last chunks) END (after the data) EHLO HELO STARTTLS RSET AUTH. */
  replies?: Partial<Record<string, Script>>;
  rcpt?: Record<string, Script>; // per recipient address (as written in RCPT TO:<>)
  lmtpEnd?: Record<string, string>; // LMTP: the after-data reply per recipient (default 250)
  dropMidData?: number; // the first N data transfers lose their connection halfway
  endDelay?: number; // ms before the reply after the data (timeout tests)
  greetingDelay?: number; // ms before the greeting
}

export interface RecordedTransaction {
  connection: number;
  helo: string;
  tls: { protocol: string; cipher: string } | null;
  auth: string | null;
  mailFrom: string;
  mailParams: string[];
  rcpts: Array<{ address: string; params: string[]; accepted: boolean }>;
  mode: 'DATA' | 'BDAT';
  data: Buffer; // dot-unstuffed (DATA) or concatenated chunks (BDAT)
}

export interface FakeMx {
  host: string;
  port: number;
  connections: number;
  /** Transactions whose data was received completely, in order. */
  transactions: RecordedTransaction[];
  /** Every command line, per connection (index = connection number). */
  commands: string[][];
  close(): Promise<void>;
}

const DEFAULT_CAPS: FakeCaps = {
  pipelining: true,
  size: 10_000_000,
  eightBitMime: true,
  smtpUtf8: true,
  chunking: true,
  dsn: true,
  enhancedStatusCodes: true,
  startTls: true,
};

class Scripts {
  #used = new Map<string, number>();
  next(key: string, s: Script | undefined, fallback: string): string {
    if (s === undefined) return fallback;
    if (typeof s === 'string') return s;
    const n = this.#used.get(key) ?? 0;
    this.#used.set(key, n + 1);
    return s[Math.min(n, s.length - 1)] ?? fallback;
  }
}

export async function startFakeMx(o: FakeMxOptions = {}): Promise<FakeMx> {
  const host = o.host ?? '127.0.0.1';
  const name = o.name ?? 'fake.mx.test';
  const caps = { ...DEFAULT_CAPS, ...o.caps };
  const scripts = new Scripts();
  const sockets = new Set<net.Socket>();
  const ctx = o.tls ? tls.createSecureContext({ key: o.tls.key, cert: o.tls.cert }) : null;
  let dropsLeft = o.dropMidData ?? 0;
  const fake: FakeMx = { host, port: 0, connections: 0, transactions: [], commands: [], close };

  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true); // replies are separate writes: Nagle plus delayed ACKs would add 40 ms each
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const index = fake.connections++;
    fake.commands.push([]);
    if (index < (o.refuseFirst ?? 0)) {
      socket.end('421 4.3.2 busy, try again later\r\n');
      return;
    }
    serve(socket, index);
  });

  function serve(plain: net.Socket, index: number): void {
    let socket: net.Socket = plain;
    let buf = Buffer.alloc(0);
    let mode: 'command' | 'data' | 'bdat' | 'auth-user' | 'auth-pass' | 'closed' = 'command';
    let bdatLeft = 0;
    let bdatLast = false;
    let helo = '';
    let tlsInfo: RecordedTransaction['tls'] = null;
    let authUser: string | null = null;
    let loginUser = '';
    let tx: RecordedTransaction | null = null;
    let chunks: Buffer[] = [];
    const send = (text: string): void => {
      if (mode === 'closed') return;
      if (text === '<drop>') return drop();
      socket.write(text.split('\n').join('\r\n') + '\r\n');
      if (text.startsWith('421')) {
        mode = 'closed';
        socket.end();
      }
    };
    const drop = (): void => {
      mode = 'closed';
      socket.destroy();
    };
    const enh = (status: string): string => (caps.enhancedStatusCodes ? `${status} ` : '');
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk]);
      pump();
    };
    const pump = (): void => {
      while (mode !== 'closed') {
        if (mode === 'data') {
          if (dropsLeft > 0 && buf.length > 0) {
            dropsLeft--;
            return drop();
          }
          const end = buf.length >= 3 && buf.subarray(0, 3).toString() === '.\r\n' ? -2 : buf.indexOf('\r\n.\r\n');
          if (end === -1) return;
          const raw = end === -2 ? Buffer.alloc(0) : buf.subarray(0, end + 2);
          buf = buf.subarray(end === -2 ? 3 : end + 5);
          finish(Buffer.from(raw.toString('latin1').replace(/^\./gm, ''), 'latin1'));
          continue;
        }
        if (mode === 'bdat') {
          if (buf.length < bdatLeft) return;
          chunks.push(buf.subarray(0, bdatLeft));
          buf = buf.subarray(bdatLeft);
          if (!bdatLast) {
            mode = 'command';
            send(scripts.next('BDAT', o.replies?.BDAT, `250 ${enh('2.0.0')}chunk ok`));
            continue;
          }
          finish(Buffer.concat(chunks));
          continue;
        }
        const lf = buf.indexOf('\n');
        if (lf < 0) return;
        const line = buf.subarray(0, lf).toString('utf8').replace(/\r$/, '');
        buf = buf.subarray(lf + 1);
        fake.commands[index].push(line);
        command(line);
      }
    };
    const finish = (data: Buffer): void => {
      mode = 'command';
      const t = tx!;
      tx = null;
      chunks = [];
      if (dropsLeft > 0) {
        dropsLeft--;
        return drop();
      }
      t.data = data;
      fake.transactions.push(t);
      const accepted = t.rcpts.filter((r) => r.accepted);
      const replies = o.lmtp
        ? accepted.map((r) => o.lmtpEnd?.[r.address] ?? `250 ${enh('2.1.5')}<${r.address}> delivered`)
        : [scripts.next('END', o.replies?.END, `250 ${enh('2.0.0')}Ok: queued`)];
      const go = (): void => replies.forEach(send);
      if (o.endDelay) setTimeout(go, o.endDelay);
      else go();
    };
    const command = (line: string): void => {
      if (mode === 'auth-user' || mode === 'auth-pass') return authStep(line);
      const sp = line.indexOf(' ');
      const verb = (sp < 0 ? line : line.slice(0, sp)).toUpperCase();
      const arg = sp < 0 ? '' : line.slice(sp + 1);
      const over = (fallback: string): string => scripts.next(verb, o.replies?.[verb], fallback);
      switch (verb) {
        case 'EHLO':
        case 'LHLO': {
          if (o.ehlo === false) return send(over('502 5.5.1 command not recognized'));
          helo = arg;
          const lines = [name];
          if (caps.pipelining) lines.push('PIPELINING');
          if (caps.size !== null) lines.push(`SIZE ${caps.size}`);
          if (caps.eightBitMime) lines.push('8BITMIME');
          if (caps.smtpUtf8) lines.push('SMTPUTF8');
          if (caps.chunking) lines.push('CHUNKING');
          if (caps.dsn) lines.push('DSN');
          if (caps.enhancedStatusCodes) lines.push('ENHANCEDSTATUSCODES');
          if (caps.startTls && (ctx || o.brokenTls) && !tlsInfo) lines.push('STARTTLS');
          if (o.auth && tlsInfo) lines.push('AUTH PLAIN LOGIN');
          const text = lines.map((l, i) => `250${i === lines.length - 1 ? ' ' : '-'}${l}`).join('\n');
          return send(over(text));
        }
        case 'HELO':
          helo = arg;
          return send(over(`250 ${name}`));
        case 'STARTTLS': {
          const r = over(`220 ${enh('2.0.0')}go ahead`);
          send(r);
          if (r.startsWith('220') && o.brokenTls) {
            socket.off('data', onData);
            socket.once('data', () => socket.end('this is not TLS\r\n'));
            return;
          }
          if (!r.startsWith('220') || !ctx) return;
          socket.off('data', onData);
          buf = Buffer.alloc(0);
          const secure = new tls.TLSSocket(socket, { isServer: true, secureContext: ctx });
          secure.on('error', () => drop());
          secure.once('secure', () => {
            tlsInfo = { protocol: secure.getProtocol() ?? 'TLS', cipher: secure.getCipher()?.name ?? '' };
            helo = '';
          });
          secure.on('data', onData);
          socket = secure;
          return;
        }
        case 'AUTH': {
          const [mech, initial] = arg.split(' ');
          if (mech?.toUpperCase() === 'PLAIN' && initial) {
            const [, user, pass] = Buffer.from(initial, 'base64').toString('utf8').split('\u0000');
            return authDone(user, pass);
          }
          mode = 'auth-user';
          return send('334 VXNlcm5hbWU6');
        }
        case 'MAIL': {
          const m = /^FROM:<([^>]*)>\s*(.*)$/i.exec(arg);
          const r = over(`250 ${enh('2.1.0')}sender ok`);
          if (m && r.startsWith('2')) {
            tx = {
              connection: index,
              helo,
              tls: tlsInfo,
              auth: authUser,
              mailFrom: m[1],
              mailParams: m[2] ? m[2].split(/\s+/) : [],
              rcpts: [],
              mode: 'DATA',
              data: Buffer.alloc(0),
            };
          }
          return send(m ? r : `501 ${enh('5.5.2')}syntax`);
        }
        case 'RCPT': {
          const m = /^TO:<([^>]*)>\s*(.*)$/i.exec(arg);
          if (!tx || !m) return send(`503 ${enh('5.5.1')}need MAIL`);
          const r = scripts.next(`RCPT ${m[1]}`, o.rcpt?.[m[1]], over(`250 ${enh('2.1.5')}recipient ok`));
          tx.rcpts.push({ address: m[1], params: m[2] ? m[2].split(/\s+/) : [], accepted: r.startsWith('2') });
          return send(r);
        }
        case 'DATA': {
          if (!tx || !tx.rcpts.some((r) => r.accepted)) return send(`503 ${enh('5.5.1')}no valid recipients`);
          const r = over('354 go ahead');
          send(r);
          if (r.startsWith('354')) mode = 'data';
          return;
        }
        case 'BDAT': {
          const [size, last] = arg.split(' ');
          bdatLeft = Number(size);
          bdatLast = last?.toUpperCase() === 'LAST';
          mode = 'bdat';
          if (tx) tx.mode = 'BDAT';
          if (dropsLeft > 0 && bdatLeft > 0) {
            dropsLeft--;
            return drop();
          }
          return;
        }
        case 'RSET':
          tx = null;
          chunks = [];
          return send(over(`250 ${enh('2.0.0')}ok`));
        case 'NOOP':
          return send(`250 ${enh('2.0.0')}ok`);
        case 'QUIT':
          send(`221 ${enh('2.0.0')}bye`);
          mode = 'closed';
          socket.end();
          return;
        default:
          return send(`502 ${enh('5.5.1')}not implemented`);
      }
    };
    const authStep = (line: string): void => {
      const text = Buffer.from(line, 'base64').toString('utf8');
      if (mode === 'auth-user') {
        loginUser = text;
        mode = 'auth-pass';
        return send('334 UGFzc3dvcmQ6');
      }
      mode = 'command';
      authDone(loginUser, text);
    };
    const authDone = (user: string | undefined, pass: string | undefined): void => {
      const good = o.auth !== undefined && user === o.auth.user && pass === o.auth.password;
      if (good) authUser = user ?? null;
      send(scripts.next('AUTH', o.replies?.AUTH, good ? `235 ${enh('2.7.0')}ok` : `535 ${enh('5.7.8')}bad credentials`));
    };

    socket.on('data', onData);
    const greet = (): void => send(scripts.next('GREETING', o.greeting, `220 ${name} ESMTP fake`));
    if (o.greetingDelay) setTimeout(greet, o.greetingDelay);
    else greet();
  }

  async function close(): Promise<void> {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const ready = (): void => {
      server.off('error', reject);
      resolve();
    };
    if (o.path !== undefined) server.listen(o.path, ready);
    else server.listen(o.port ?? 0, host, ready);
  });
  fake.port = o.path !== undefined ? 0 : (server.address() as net.AddressInfo).port;
  return fake;
}

/**
 * Several fake MXes on 127.0.0.2, .3, ... sharing one port, as MX delivery uses one port for every host.
 * The port is whatever the first listener got; if another address has it taken, all start again.
 */
export async function startFakeMxGroup(options: FakeMxOptions[]): Promise<FakeMx[]> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const started: FakeMx[] = [];
    try {
      for (let i = 0; i < options.length; i++) {
        const host = options[i].host ?? `127.0.0.${i + 2}`;
        started.push(await startFakeMx({ ...options[i], host, port: i === 0 ? 0 : started[0].port }));
      }
      return started;
    } catch {
      await Promise.all(started.map((f) => f.close()));
    }
  }
  throw new Error('no common free port for the fake MX group');
}

/** A throwaway CA and leaf certificates signed by it, for STARTTLS tests (ECDSA P-256: fast to make). */
export interface TestPki {
  caCert: string;
  issue(dnsNames: string[], ips?: string[]): Promise<{ key: string; cert: string }>;
  /** A self-signed leaf no CA vouches for. */
  selfSigned(dnsNames: string[]): Promise<{ key: string; cert: string }>;
}

const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const HOUR = 3_600_000;

export async function makeTestPki(): Promise<TestPki> {
  const x509 = await loadX509();
  const newKeys = () => webcrypto.subtle.generateKey(EC, true, ['sign', 'verify']) as Promise<CryptoKeyPair>;
  const serial = () => '01' + randomBytes(8).toString('hex');
  const now = Date.now();
  const caKeys = await newKeys();
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: 'CN=Tern Test CA',
    notBefore: new Date(now - HOUR),
    notAfter: new Date(now + 24 * HOUR),
    signingAlgorithm: EC,
    keys: caKeys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const leafExtensions = async (keys: CryptoKeyPair, dns: string[], ips: string[]) => [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
    new x509.SubjectAlternativeNameExtension([
      ...dns.map((value) => ({ type: 'dns' as const, value })),
      ...ips.map((value) => ({ type: 'ip' as const, value })),
    ]),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  const pem = async (keys: CryptoKeyPair) =>
    x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey), 'PRIVATE KEY');
  return {
    caCert: ca.toString('pem'),
    async issue(dns, ips = []) {
      const keys = await newKeys();
      const cert = await x509.X509CertificateGenerator.create({
        serialNumber: serial(),
        subject: `CN=${dns[0] ?? ips[0]}`,
        issuer: ca.subject,
        notBefore: new Date(now - HOUR),
        notAfter: new Date(now + 24 * HOUR),
        signingAlgorithm: EC,
        publicKey: keys.publicKey,
        signingKey: caKeys.privateKey,
        extensions: [
          ...(await leafExtensions(keys, dns, ips)),
          await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
        ],
      });
      return { key: await pem(keys), cert: cert.toString('pem') };
    },
    async selfSigned(dns) {
      const keys = await newKeys();
      const cert = await x509.X509CertificateGenerator.createSelfSigned({
        serialNumber: serial(),
        name: `CN=${dns[0]}`,
        notBefore: new Date(now - HOUR),
        notAfter: new Date(now + 24 * HOUR),
        signingAlgorithm: EC,
        keys,
        extensions: await leafExtensions(keys, dns, []),
      });
      return { key: await pem(keys), cert: cert.toString('pem') };
    },
  };
}
