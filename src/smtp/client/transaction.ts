// One mail transaction, sans-I/O: checks against the peer's capabilities, MAIL/RCPT/DATA or BDAT (pipelined
// as one group when offered, RFC 2920 §3.1), replies consumed in order, one verdict per recipient.
import type { DsnNotify, DsnOrcpt } from '../types.ts';
import type { Capabilities } from './capabilities.ts';
import { bdat, DATA, mailCommand, rcptCommand, RSET, safeInCommand } from './commands.ts';
import { checkMessage } from './checks.ts';
import { bdatChunks, dotStuff } from './data.ts';
import type { ClientReply } from './reply.ts';
import { fromReply, isClosing, local, type Verdict } from './verdict.ts';
import { BAD_RECIPIENT, BAD_SENDER, LOST_IN_DATA } from './statuses.ts';

/** The message as the transaction needs it (a DeliveryJob's message and body fit this shape). */
export interface TxMessage {
  sender: string; // '' = null reverse-path
  bodyType: '7BIT' | '8BITMIME' | null;
  smtpUtf8: boolean;
  dsnRet: 'FULL' | 'HDRS' | null;
  dsnEnvid: string | null;
  body: Uint8Array; // CRLF line endings, not dot-stuffed
}

export interface TxRecipient {
  id: number;
  address: string;
  notify: DsnNotify | null;
  orcpt: DsnOrcpt | null;
}

export interface TxOptions {
  /** RFC 2033: after the data, one reply per accepted recipient instead of one for all. */
  lmtp: boolean;
  /** BDAT chunk size (tests make it small). */
  chunkSize?: number;
}

export interface TxResult {
  /**
   * By recipient id. A recipient without a verdict is undecided: nothing final happened to it. With an
   * interruption, try it elsewhere; without one (a recipient limit), in the next transaction here.
   */
  verdicts: Map<number, Verdict>;
  /** The peer is back in its initial state (RFC 5321 §4.1.1.4, or after RSET): the connection may be reused. */
  reusable: boolean;
  /** Why the transaction stopped early (a 421, a lost connection): the reason for undecided recipients. */
  interruption: Verdict | null;
}

/** After 'continue', write `send` (possibly nothing), then read one reply and pass it to reply(). */
export type TxStep = { kind: 'continue'; send: Array<string | Uint8Array> } | { kind: 'done'; result: TxResult };

/** Which reply is expected next; replies arrive in command order (RFC 2920 §3.1). */
type Expect =
  | { kind: 'MAIL' }
  | { kind: 'RCPT'; index: number } // index into #active
  | { kind: 'DATA' }
  | { kind: 'BDAT'; last: boolean }
  | { kind: 'FINAL'; index: number | null } // after the data: null = for all (SMTP), else one recipient (LMTP)
  | { kind: 'DOT' } // a lone "." after a 354 nobody needed: its reply changes nothing
  | { kind: 'RSET' };

/**
 * RFC 5321 §4.5.3.1.10: a server over its recipient limit answers 452 and the client sends the rest in a
 * later transaction. 452 also means "insufficient storage" (§4.2.3), so it is read as the limit only once
 * someone in this transaction was accepted (Postfix's reading too). Such recipients stay undecided; the
 * courier sends them in the next transaction on the same connection.
 */
function tooManyRecipients(r: ClientReply, accepted: number): boolean {
  return r.code === 452 && accepted > 0;
}

/** RFC 3463 X.4.2 "bad connection", the status Postfix also gives a connection lost or timed out in data. */

/**
 * The state is the queue of replies still expected (`#expect`): with pipelining several are outstanding at
 * once, so one state enum cannot describe it (the server side's session has one; this side has a queue).
 *
 * The host calls start(), then for each 'continue' writes the data and feeds the next reply to reply(),
 * until 'done'. If the connection breaks or a reply times out, fail() ends it. `phase` says which timeout
 * applies to the reply awaited (RFC 5321 §4.5.3.2). Never throws.
 */
export class Transaction {
  readonly #msg: TxMessage;
  readonly #caps: Capabilities;
  readonly #o: TxOptions;
  readonly #verdicts = new Map<number, Verdict>();
  #active: TxRecipient[] = []; // recipients the commands are sent for
  #accepted: TxRecipient[] = []; // RCPT got 2yz
  #expect: Expect[] = [];
  #mailVerdict: Verdict | null = null; // MAIL refused: every recipient gets this
  #chunks: Uint8Array[] = [];
  #dataSent = false; // message octets have gone out: a broken connection now may mean a duplicate
  #done = false;
  #interruption: Verdict | null = null;

  constructor(msg: TxMessage, recipients: readonly TxRecipient[], caps: Capabilities, options: TxOptions) {
    this.#msg = msg;
    this.#caps = caps;
    this.#o = options;
    this.#active = [...recipients];
  }

  /** 'data' while awaiting the reply to the end of the message data (RFC 5321 §4.5.3.2.6), else 'command'. */
  get phase(): 'command' | 'data' {
    const head = this.#expect[0];
    return head !== undefined && (head.kind === 'FINAL' || head.kind === 'BDAT') ? 'data' : 'command';
  }

  start(): TxStep {
    const msg = this.#msg;
    if (!safeInCommand(msg.sender)) {
      return this.#finishAll(local('permanent', BAD_SENDER, 'sender address holds control characters'));
    }
    this.#active = this.#active.filter((r) => {
      if (safeInCommand(r.address)) return true;
      this.#verdicts.set(r.id, local('permanent', BAD_RECIPIENT, 'recipient address holds control characters'));
      return false;
    });
    const check = checkMessage(msg, this.#active, this.#caps);
    if (check.all !== null) return this.#finishAll(check.all);
    for (const [id, v] of check.recipients) this.#verdicts.set(id, v);
    this.#active = this.#active.filter((r) => !check.recipients.has(r.id));
    if (this.#active.length === 0) return this.#finish(true);

    const mail = mailCommand({
      sender: msg.sender,
      size: msg.body.length,
      body: check.body,
      smtpUtf8: check.smtpUtf8,
      ret: msg.dsnRet,
      envid: msg.dsnEnvid,
    }, this.#caps);
    this.#expect.push({ kind: 'MAIL' });
    if (!this.#caps.pipelining) return { kind: 'continue', send: [mail] };
    // RFC 2920 §3.1: MAIL, every RCPT and DATA in one group; DATA must be last. BDAT waits for the RCPT
    // replies instead, so no message octets are sent to a peer that refused everyone.
    const send = [mail];
    this.#active.forEach((r, index) => {
      send.push(rcptCommand(r, this.#caps));
      this.#expect.push({ kind: 'RCPT', index });
    });
    if (!this.#caps.chunking) {
      send.push(DATA);
      this.#expect.push({ kind: 'DATA' });
    }
    return { kind: 'continue', send };
  }

  reply(r: ClientReply): TxStep {
    if (this.#done) return this.#finish(false);
    const e = this.#expect.shift();
    if (e === undefined) return this.fail('protocol', `unexpected reply ${r.code}`);
    // RFC 5321 §3.8: 421 means the peer is closing. Whatever was decided stays; the rest may go elsewhere.
    if (isClosing(r) && e.kind !== 'DOT' && e.kind !== 'RSET') return this.#closing(r);
    const ok = r.code >= 200 && r.code < 300;
    switch (e.kind) {
      case 'MAIL':
        if (!ok) {
          this.#mailVerdict = fromReply(r);
          for (const rc of this.#active) this.#verdicts.set(rc.id, this.#mailVerdict);
          // No transaction is open (RFC 5321 §4.1.1.2), so no RSET; pipelined replies still to come are read.
          if (this.#expect.length === 0) return this.#finish(true);
          return this.#wait();
        }
        return this.#caps.pipelining ? this.#wait() : this.#sendRcpt(0);
      case 'RCPT':
        if (this.#mailVerdict !== null) return this.#expect.length === 0 ? this.#finish(true) : this.#wait();
        if (ok) this.#accepted.push(this.#active[e.index]);
        else if (!tooManyRecipients(r, this.#accepted.length)) this.#verdicts.set(this.#active[e.index].id, fromReply(r));
        if (!this.#caps.pipelining) {
          return e.index + 1 < this.#active.length ? this.#sendRcpt(e.index + 1) : this.#dataStage();
        }
        return this.#expect.length === 0 ? this.#dataStage() : this.#wait();
      case 'DATA':
        return this.#afterData(r);
      case 'BDAT':
        if (!ok) return this.#refused(fromReply(r));
        if (e.last) return this.#settle(fromReply(r));
        return this.#sendChunk();
      case 'FINAL':
        if (e.index === null) return this.#settle(fromReply(r));
        this.#verdicts.set(this.#accepted[e.index].id, fromReply(r));
        return this.#expect.length === 0 ? this.#finish(true) : this.#wait();
      case 'DOT':
        return this.#finish(true);
      case 'RSET':
        return this.#finish(ok);
      default:
        e satisfies never;
        return this.#finish(false);
    }
  }

  /**
   * The connection broke, a reply timed out, or the peer broke the protocol. Once message data went out,
   * the accepted recipients are temporary failures here and are not tried elsewhere now: the peer may have
   * the message already (RFC 5321 §6.1 warns of duplicates); the queue retries later.
   */
  fail(kind: 'lost' | 'timeout' | 'protocol', detail: string): TxStep {
    if (this.#done) return this.#finish(false);
    const what = kind === 'timeout' ? 'timeout' : kind === 'lost' ? 'lost connection' : 'protocol error';
    if (this.#dataSent) {
      const v = local('temporary', LOST_IN_DATA, `${what} with host while sending message data: ${detail}`);
      for (const rc of this.#accepted) if (!this.#verdicts.has(rc.id)) this.#verdicts.set(rc.id, v);
    }
    this.#interruption = local('temporary', LOST_IN_DATA, `${what} with host: ${detail}`);
    // Before any message data, recipients without a verdict stay undecided: nothing was transferred.
    return this.#finish(false);
  }

  #afterData(r: ClientReply): TxStep {
    if (r.code === 354) {
      if (this.#mailVerdict !== null || this.#accepted.length === 0) {
        // RFC 2920 §3.1: DATA accepted with no valid recipient; "the client SMTP should send a single dot".
        this.#expect.push({ kind: 'DOT' });
        return { kind: 'continue', send: ['.\r\n'] };
      }
      this.#dataSent = true;
      this.#expectFinal();
      return { kind: 'continue', send: [dotStuff(this.#msg.body)] };
    }
    // MAIL was refused, so DATA's refusal (503) is expected and no transaction is open.
    if (this.#mailVerdict !== null) return this.#finish(true);
    if (this.#accepted.length === 0) return this.#rset();
    return this.#refused(fromReply(r));
  }

  #dataStage(): TxStep {
    if (this.#accepted.length === 0) return this.#rset(); // MAIL is open: close it (RFC 5321 §4.1.1.5)
    if (!this.#caps.chunking) {
      this.#expect.push({ kind: 'DATA' });
      return { kind: 'continue', send: [DATA] };
    }
    this.#chunks = bdatChunks(this.#msg.body, this.#o.chunkSize);
    return this.#sendChunk();
  }

  /** The next BDAT chunk; each waits for its 250 (no chunk pipelining: see data.ts BDAT_CHUNK). */
  #sendChunk(): TxStep {
    const chunk = this.#chunks.shift() ?? new Uint8Array(0);
    const last = this.#chunks.length === 0;
    this.#dataSent = true;
    // RFC 2033 §4.3: in LMTP, BDAT LAST gets one reply per accepted recipient.
    if (last && this.#o.lmtp) this.#expectFinal();
    else this.#expect.push({ kind: 'BDAT', last });
    return { kind: 'continue', send: [bdat(chunk.length, last), chunk] };
  }

  #expectFinal(): void {
    if (!this.#o.lmtp) this.#expect.push({ kind: 'FINAL', index: null });
    else this.#accepted.forEach((_, index) => this.#expect.push({ kind: 'FINAL', index }));
  }

  #sendRcpt(index: number): TxStep {
    this.#expect.push({ kind: 'RCPT', index });
    return { kind: 'continue', send: [rcptCommand(this.#active[index], this.#caps)] };
  }

  /** The end of data was answered for everyone (SMTP): the transaction is over either way. */
  #settle(v: Verdict): TxStep {
    for (const rc of this.#accepted) this.#verdicts.set(rc.id, v);
    return this.#finish(true);
  }

  /** DATA or a BDAT chunk was refused: every accepted recipient gets it; RSET clears the transaction. */
  #refused(v: Verdict): TxStep {
    for (const rc of this.#accepted) this.#verdicts.set(rc.id, v);
    return this.#rset();
  }

  #rset(): TxStep {
    this.#expect = [{ kind: 'RSET' }];
    return { kind: 'continue', send: [RSET] };
  }

  /**
   * A 421. Verdicts given before it stay (an LMTP recipient answered before it is settled); recipients not
   * yet answered for the message stay undecided, since nothing was accepted for them.
   */
  #closing(r: ClientReply): TxStep {
    this.#interruption = fromReply(r);
    return this.#finish(false);
  }

  #finishAll(v: Verdict): TxStep {
    for (const rc of this.#active) this.#verdicts.set(rc.id, v);
    this.#active = [];
    return this.#finish(true);
  }

  #wait(): TxStep {
    return { kind: 'continue', send: [] };
  }

  #finish(reusable: boolean): TxStep {
    this.#done = true;
    this.#expect = [];
    return { kind: 'done', result: { verdicts: this.#verdicts, reusable, interruption: this.#interruption } };
  }
}
