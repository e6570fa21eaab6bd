// What happens to a message between the end of DATA and the queue: inbound checks for mail from strangers, a DKIM signature for our own.
import type { Logger } from '../lib/log.ts';
import type { QueueWriter } from '../queue/types.ts';
import { MessageRefused } from '../queue/refused.ts';
import type { ConnectionInfo, Envelope, ListenerKind } from '../smtp/types.ts';
import type { InboundChecker, InboundResult } from '../inbound/checker.ts';
import type { DkimSigner } from '../dkim/signer.ts';

export interface PipelineDeps {
  intake: QueueWriter;
  /** Absent when inbound.checks is off. */
  inbound?: InboundChecker;
  /** Absent when dkim.sign is off. */
  signer?: Pick<DkimSigner, 'sign'>;
  isTrusted: (ip: string) => boolean;
  log: Logger;
}

/**
 * Which way a message travels decides what it needs. Mail a stranger hands to the MX listener is checked
 * (SPF, DKIM, DMARC) and never signed: signing it would vouch for someone else's mail. Mail our users,
 * trusted networks or local programs hand in is ours: it is signed, and checking it against our own SPF would
 * only find our clients' dynamic addresses. Relay-domain mail from a stranger is checked like local mail.
 */
export function classify(envelope: Envelope, trusted: boolean): 'inbound' | 'originated' {
  if (envelope.authUser !== null || trusted) return 'originated';
  return envelope.listener === 'mx' ? 'inbound' : 'originated';
}

/**
 * A QueueWriter in front of the intake. A DMARC reject comes out as MessageRefused (the session answers with
 * its reply); a quarantine verdict stores the recipients held. A failing checker never costs the message: it
 * is queued unchecked and the failure logged, because refusing strangers' mail over our DNS trouble loses it.
 * A failing signer is a 451 instead: the client retries, whereas mail sent unsigned from a domain that
 * publishes DMARC p=reject would be refused by every receiver.
 */
export function createPipeline(deps: PipelineDeps): QueueWriter {
  const { intake, inbound, signer, log } = deps;
  return {
    async enqueue(envelope, message) {
      const way = classify(envelope, deps.isTrusted(envelope.clientAddress));
      if (way === 'inbound' && inbound) {
        let verdict: InboundResult;
        try {
          verdict = await inbound.check({ envelope, message, conn: connOf(envelope) });
        } catch (err) {
          log.error('inbound-check-failed', { id: envelope.queueId, error: String(err) });
          verdict = { action: 'accept', message };
        }
        if (verdict.action === 'reject') {
          log.info('reject', { id: envelope.queueId, ip: envelope.clientAddress, reason: 'dmarc', reply: verdict.reply.text });
          throw new MessageRefused(verdict.reply);
        }
        if (verdict.action === 'hold') {
          log.info('quarantine', { id: envelope.queueId, ip: envelope.clientAddress, reason: verdict.reason });
          return intake.enqueue({ ...envelope, hold: verdict.reason }, verdict.message);
        }
        return intake.enqueue(envelope, verdict.message);
      }
      if (way === 'originated' && signer) {
        let signed: Uint8Array;
        try {
          signed = await signer.sign(envelope, message);
        } catch (err) {
          log.error('dkim-sign-failed', { id: envelope.queueId, error: String(err) });
          throw err; // any error but MessageRefused is 451 4.3.0
        }
        return intake.enqueue(envelope, signed);
      }
      return intake.enqueue(envelope, message);
    },
  };
}

/** The envelope keeps what the checker needs of the connection; local submissions have no socket at all. */
function connOf(e: Envelope): ConnectionInfo {
  const listener: ListenerKind = e.listener === 'local' ? 'submission' : e.listener;
  return {
    remoteAddress: e.clientAddress,
    remotePort: e.clientPort,
    localAddress: '',
    localPort: 0,
    listener,
    tls: e.tls,
    trusted: false,
  };
}
