// When a recipient that failed temporarily is tried again, or that it has been in the queue too long: a pure
// function of (attempts, first-queued time, now, random), after chasquid's nextDelay.

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * Delays before the 1st, 2nd, 3rd... retry; the last one repeats. RFC 5321 §4.5.4.1 asks for "at least 30
 * minutes" between retries but allows "more sophisticated and variable strategies". The short first steps
 * are deliberate: the commonest temporary failure today is greylisting (RFC 6647 §2.1; postgrey's default
 * delay is 5 minutes), which a retry after 5-10 minutes passes, and short network or DNS hiccups clear as
 * fast. The delay then doubles, so a peer that is really down is not hammered, and from the 4th retry on
 * (40 and then 60 minutes) the RFC's 30-minute floor holds. An hour as the ceiling is Postfix's
 * (maximal_backoff_time 4000 s, minimal 300 s): about 120 attempts over the 5-day lifetime, a delay of at
 * most an hour once the peer is back.
 */
export const DEFAULT_RETRY_SCHEDULE: readonly number[] = Object.freeze([
  5 * MINUTE,
  10 * MINUTE,
  20 * MINUTE,
  40 * MINUTE,
  60 * MINUTE,
]);

/** RFC 5321 §4.5.4.1: "the give-up time generally needs to be at least 4-5 days". Postfix: 5 days. */
export const DEFAULT_MAX_QUEUE_LIFETIME = 5 * DAY;

/** A "delayed" DSN after 4 hours, as Postfix's delay_warning_time and Sendmail's Timeout.queuewarn. */
export const DEFAULT_DELAY_WARNING = 4 * HOUR;

/**
 * ±10%: recipients that failed together (one MX down, one greylisting peer) then come back spread over a
 * window instead of in one burst, and several Tern nodes sharing a queue do not retry in lock-step.
 */
export const RETRY_JITTER = 0.1;

export interface RetryInput {
  /** Failed attempts so far, >= 1 (the one that just failed included). */
  attempts: number;
  /** When the message was queued: the lifetime counts from here (RFC 5321 §4.5.4.1). */
  firstQueuedAt: Date;
  now: Date;
  /** Uniform in [0, 1), like Math.random; injected so tests are exact. */
  random: () => number;
  /** Delays in ms, the last repeating; an empty schedule means DEFAULT_RETRY_SCHEDULE. */
  schedule: readonly number[];
  /** Queue lifetime in ms. */
  maxLifetime: number;
}

export type RetryPlan = { kind: 'retry'; at: Date } | { kind: 'expired' };

/**
 * The next attempt after a temporary failure, or 'expired' when the message has used up its lifetime and
 * the recipient must bounce (a "failed" DSN with the last temporary status, RFC 3464 §2.3.3's note).
 *
 * The delay is schedule[attempts - 1] (the last step once past the end) times a factor in [0.9, 1.1). A retry
 * that would fall after the lifetime's end is moved to that end, so the message gets one last try exactly
 * when it would otherwise expire; when that try fails too, now >= the end and the answer is 'expired'. With
 * several nodes, a node whose clock is behind may give one more try; the queue's clocks should be in sync.
 */
export function planRetry(opts: RetryInput): RetryPlan {
  const deadline = opts.firstQueuedAt.getTime() + Math.max(0, opts.maxLifetime);
  const now = opts.now.getTime();
  if (now >= deadline) return { kind: 'expired' };
  const at = now + jittered(stepFor(opts.schedule, opts.attempts), opts.random());
  return { kind: 'retry', at: new Date(Math.min(at, deadline)) };
}

/** The un-jittered delay before the retry that follows the attempts-th failure. */
export function stepFor(schedule: readonly number[], attempts: number): number {
  // A config validator rejects an empty schedule; this guard keeps a bad value from stalling delivery.
  const steps = schedule.length > 0 ? schedule : DEFAULT_RETRY_SCHEDULE;
  const i = Math.min(Math.max(1, Math.floor(attempts)), steps.length) - 1;
  return Math.max(0, steps[i]);
}

function jittered(delay: number, r: number): number {
  // A random() outside [0, 1) (a broken stub) is clamped rather than allowed to make a negative delay.
  const u = Math.min(Math.max(r, 0), 1);
  return Math.round(delay * (1 + RETRY_JITTER * (2 * u - 1)));
}
