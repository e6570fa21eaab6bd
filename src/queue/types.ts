// Ports of the queue as the rest of Tern sees it: what the SMTP server writes and what operators read.
import type { Envelope } from '../smtp/types.ts';

export type RecipientState = 'queued' | 'deferred' | 'delivered' | 'bounced' | 'held';

/**
 * Durable intake. enqueue() resolves only after the transaction holding the message, its
 * recipients and its 'received' event has committed (and, on the embedded database, been
 * flushed to disk); it rejects if anything failed, in which case nothing of it is stored.
 * Concurrent calls are grouped into shared transactions, so sessions do not wait in line.
 */
export interface QueueWriter {
  enqueue(envelope: Envelope, message: Uint8Array): Promise<void>;
}

export interface QueuedRecipient {
  id: number;
  address: string;
  state: RecipientState;
  attempts: number;
  nextAttemptAt: Date | null;
  lastReply: string | null;
}

export interface QueuedMessageSummary {
  id: string;
  sender: string;
  size: number;
  receivedAt: Date;
  clientAddress: string;
  recipients: QueuedRecipient[];
}

export interface QueueEvent {
  at: Date;
  kind: string;
  recipientId: number | null;
  detail: Record<string, unknown>;
}

export interface QueuedMessage extends QueuedMessageSummary {
  envelope: Envelope;
  events: QueueEvent[];
}

export interface QueueStats {
  messages: number;
  recipients: Record<RecipientState, number>;
}

/** Read side for the CLI and (later) the console. */
export interface QueueReader {
  list(opts: { limit: number; state?: RecipientState }): Promise<QueuedMessageSummary[]>;
  get(id: string, opts?: { withBody?: boolean }): Promise<(QueuedMessage & { body?: Uint8Array }) | null>;
  stats(): Promise<QueueStats>;
}
