// The client side of connection setup, sans-I/O: greeting, EHLO with HELO fallback (or LMTP's LHLO),
// STARTTLS per the TLS policy (RFC 3207), EHLO again, and AUTH PLAIN/LOGIN (RFC 4954) only under TLS.
import { type Capabilities, NO_CAPABILITIES, parseEhloReply } from './capabilities.ts';
import { AUTH_LOGIN, authPlain, authResponse, hello, STARTTLS } from './commands.ts';
import { type ClientReply, replyText } from './reply.ts';
import { fromReply, isClosing, local, softened, type Verdict } from './verdict.ts';
import { AUTH_NEEDS_TLS, AUTH_UNAVAILABLE, PROTOCOL_ERROR, TLS_FAILED } from './statuses.ts';

/** How hard to insist on TLS (src/delivery/types.ts TlsPolicy, repeated here: smtp/ imports only lib/). */
export type ClientTlsPolicy = 'none' | 'opportunistic' | 'require' | 'verify';

export interface HandshakeOptions {
  heloName: string;
  lmtp: boolean;
  tls: ClientTlsPolicy;
  /** SMTP AUTH credentials; sent only once TLS is up. */
  auth: { user: string; password: string } | null;
  /** Called on every state change (the host logs it at debug level). */
  onState?: (from: HandshakeState, to: HandshakeState) => void;
}

/** Why setting up this connection failed; the courier then tries the next address. */
export interface ConnectionFailure {
  verdict: Verdict;
  /** Opportunistic TLS broke in the handshake: this address may be tried once more without STARTTLS. */
  retryWithoutTls: boolean;
  /** The peer still expects a QUIT (RFC 5321 §3.1: even a 554 greeter waits for it); false after a 421. */
  quit: boolean;
}

/** What the host does next. */
export type HandshakeStep =
  | { kind: 'send'; data: string } // write it, then read one reply and call reply()
  | { kind: 'starttls' } // upgrade the socket, then call tlsStarted() or tlsFailed()
  | { kind: 'ready'; capabilities: Capabilities; tls: boolean; authenticated: boolean }
  | { kind: 'failed'; failure: ConnectionFailure };

export enum HandshakeState {
  Greeting,
  Hello,
  Helo,
  StartTls,
  Upgrading,
  HelloAgain,
  AuthPlain,
  AuthLogin,
  AuthLoginUser,
  AuthLoginPassword,
  Ready,
  Failed,
}

// RFC 3463 X.7.5 "cryptographic failure": the status the brief and Postfix use for TLS policy failures.

/**
 * One connection's setup. The host calls greeting() with the first reply, then reply() for every reply
 * after a 'send', and tlsStarted()/tlsFailed() after a 'starttls'. Never throws.
 */
export class Handshake {
  #state = HandshakeState.Greeting;
  #caps: Capabilities = NO_CAPABILITIES;
  #tls = false;
  readonly #o: HandshakeOptions;

  constructor(options: HandshakeOptions) {
    this.#o = options;
  }

  get state(): HandshakeState {
    return this.#state;
  }

  /** The capabilities last announced (after TLS, the second EHLO's: RFC 3207 §4.2 discards the first). */
  get capabilities(): Capabilities {
    return this.#caps;
  }

  greeting(r: ClientReply): HandshakeStep {
    if (r.code >= 200 && r.code < 300) {
      this.#enter(HandshakeState.Hello);
      return this.#send(hello(this.#o.lmtp ? 'LHLO' : 'EHLO', this.#o.heloName));
    }
    // RFC 5321 §3.1: a 554 greeting formally refuses the session, and the server still waits for QUIT.
    return this.#fail(fromReply(r), { quit: !isClosing(r) });
  }

  reply(r: ClientReply): HandshakeStep {
    const ok = r.code >= 200 && r.code < 300;
    switch (this.#state) {
      case HandshakeState.Hello:
        if (ok) return this.#afterHello(parseEhloReply(r));
        // RFC 5321 §3.2: a server without EHLO answers 500/502 and the client falls back to HELO. LMTP
        // has no fallback (RFC 2033 §4.1), and a 4yz is not "EHLO unknown".
        if (this.#o.lmtp || r.code < 500 || r.code >= 600) return this.#fail(temporaryOf(r), { quit: !isClosing(r) });
        this.#enter(HandshakeState.Helo);
        return this.#send(hello('HELO', this.#o.heloName));
      case HandshakeState.Helo:
        // A 5yz to both EHLO and HELO refuses us as firmly as a 554 greeting does.
        if (ok) return this.#afterHello({ ...NO_CAPABILITIES });
        return this.#fail(fromReply(r), { quit: !isClosing(r) });
      case HandshakeState.StartTls:
        if (ok) {
          this.#enter(HandshakeState.Upgrading);
          return { kind: 'starttls' };
        }
        if (isClosing(r)) return this.#fail(fromReply(r), { quit: false });
        // RFC 3207 §4.1: after a refused STARTTLS the client may go on in plaintext, if its policy allows.
        if (this.#o.tls === 'opportunistic') return this.#auth();
        return this.#fail(local('temporary', TLS_FAILED, `TLS is required but STARTTLS was refused: ${replyText(r)}`), {
          quit: true,
        });
      case HandshakeState.HelloAgain:
        if (ok) {
          this.#caps = parseEhloReply(r);
          return this.#auth();
        }
        return this.#fail(temporaryOf(r), { quit: !isClosing(r) });
      case HandshakeState.AuthPlain:
      case HandshakeState.AuthLoginPassword:
        if (ok) return this.#ready(true);
        return this.#fail(softened(r), { quit: !isClosing(r) });
      case HandshakeState.AuthLogin:
      case HandshakeState.AuthLoginUser: {
        // RFC 4954 §4: 334 asks for the next response; the LOGIN mechanism asks for user, then password.
        if (r.code !== 334 || this.#o.auth === null) return this.#fail(softened(r), { quit: !isClosing(r) });
        const user = this.#state === HandshakeState.AuthLogin;
        this.#enter(user ? HandshakeState.AuthLoginUser : HandshakeState.AuthLoginPassword);
        return this.#send(authResponse(user ? this.#o.auth.user : this.#o.auth.password));
      }
      default:
        return this.#fail(local('temporary', PROTOCOL_ERROR, `unexpected reply ${r.code} during connection setup`), {
          quit: false,
        });
    }
  }

  /** The TLS handshake succeeded (and, under 'verify', the certificate matched): greet again. */
  tlsStarted(): HandshakeStep {
    this.#tls = true;
    this.#caps = NO_CAPABILITIES; // RFC 3207 §4.2: forget everything learnt before TLS
    this.#enter(HandshakeState.HelloAgain);
    return this.#send(hello(this.#o.lmtp ? 'LHLO' : 'EHLO', this.#o.heloName));
  }

  /**
   * The TLS handshake failed, or the certificate did not verify under 'verify'. Opportunistic TLS asks
   * for one more connection without STARTTLS (Postfix does the same): a peer with a broken TLS stack
   * would otherwise never get mail from us, which plaintext SMTP would have delivered anyway.
   */
  tlsFailed(detail: string): HandshakeStep {
    const retry = this.#o.tls === 'opportunistic';
    return this.#fail(local('temporary', TLS_FAILED, `TLS failed: ${detail}`), { quit: false, retry });
  }

  #afterHello(caps: Capabilities): HandshakeStep {
    this.#caps = caps;
    const policy = this.#o.tls;
    if (policy === 'none') return this.#auth();
    if (caps.startTls) {
      this.#enter(HandshakeState.StartTls);
      return this.#send(STARTTLS);
    }
    if (policy === 'opportunistic') return this.#auth();
    return this.#fail(local('temporary', TLS_FAILED, 'TLS is required but the peer does not offer STARTTLS'), {
      quit: true,
    });
  }

  #auth(): HandshakeStep {
    const auth = this.#o.auth;
    if (auth === null) return this.#ready(false);
    // Credentials never travel in plaintext, whatever the peer offers (RFC 4954 §4 leaves it to policy).
    if (!this.#tls) {
      return this.#fail(local('temporary', AUTH_NEEDS_TLS, 'AUTH is configured but the connection is not encrypted'), {
        quit: true,
      });
    }
    // Configured credentials mean the peer expects them (a smarthost): without AUTH it would most likely
    // refuse to relay, which bounces; waiting for the operator to look is the safer failure.
    if (this.#caps.auth.includes('PLAIN')) {
      this.#enter(HandshakeState.AuthPlain);
      return this.#send(authPlain(auth.user, auth.password));
    }
    if (this.#caps.auth.includes('LOGIN')) {
      this.#enter(HandshakeState.AuthLogin);
      return this.#send(AUTH_LOGIN);
    }
    const offered = this.#caps.auth.length === 0 ? 'no AUTH' : `only ${this.#caps.auth.join(' ')}`;
    return this.#fail(local('temporary', AUTH_UNAVAILABLE, `AUTH is configured but the peer offers ${offered}`), {
      quit: true,
    });
  }

  #ready(authenticated: boolean): HandshakeStep {
    this.#enter(HandshakeState.Ready);
    return { kind: 'ready', capabilities: this.#caps, tls: this.#tls, authenticated };
  }

  #send(data: string): HandshakeStep {
    return { kind: 'send', data };
  }

  #fail(verdict: Verdict, o: { quit: boolean; retry?: boolean }): HandshakeStep {
    this.#enter(HandshakeState.Failed);
    return { kind: 'failed', failure: { verdict, quit: o.quit, retryWithoutTls: o.retry ?? false } };
  }

  #enter(to: HandshakeState): void {
    const from = this.#state;
    this.#state = to;
    this.#o.onState?.(from, to);
  }
}

/** A failed setup step is never the peer's verdict on the message: even a 5yz there means "try later". */
function temporaryOf(r: ClientReply): Verdict {
  const v = fromReply(r);
  return v.outcome === 'permanent' ? { ...v, outcome: 'temporary', status: `4${v.status.slice(1)}` } : v;
}
