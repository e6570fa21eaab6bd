// Builders for verb tests: a Context in a chosen state, and parsed commands.
import assert from 'node:assert/strict';
import { Context } from '../../../../src/smtp/context.ts';
import { type Command, parseCommand } from '../../../../src/smtp/parser.ts';
import type { ConnectionInfo, Effect } from '../../../../src/smtp/types.ts';
import { proceedEhlo } from '../../../../src/smtp/verbs/ehlo.ts';
import {
  type SessionOptionOverrides,
  testConnection,
  testSessionDeps,
  testSessionOptions,
} from '../../../support/session-options.ts';

export function context(o: { options?: SessionOptionOverrides; conn?: Partial<ConnectionInfo> } = {}): Context {
  return new Context(testConnection(o.conn), testSessionOptions(o.options), testSessionDeps());
}

/** A Context after EHLO (or HELO), its effects cleared. */
export function greeted(o: Parameters<typeof context>[0] = {}, verb: 'EHLO' | 'HELO' = 'EHLO'): Context {
  const c = context(o);
  proceedEhlo(c, { verb, domain: 'client.test' });
  c.take();
  return c;
}

/** Parses a command line that must be a command of the given verb. */
export function command<V extends Command['verb']>(verb: V, line: string): Extract<Command, { verb: V }> {
  const p = parseCommand(line);
  assert.equal(p.kind, 'command', line);
  const c = (p as { command: Command }).command;
  assert.equal(c.verb, verb);
  return c as Extract<Command, { verb: V }>;
}

/** The reply text and non-log effects produced since the last take(). */
export function output(c: Context): { sent: string; effects: Effect[] } {
  const all = c.take();
  return {
    sent: all.filter((e) => e.kind === 'send').map((e) => (e as { data: string }).data).join(''),
    effects: all.filter((e) => e.kind !== 'log' && e.kind !== 'send'),
  };
}
