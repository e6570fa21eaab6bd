// Who gets a DSN for which event: RFC 3461 NOTIFY, the default for recipients without it, and the null
// reverse-path rule of RFC 5321 §4.5.5 / §6.1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_NOTIFY,
  DSN_EVENTS,
  type DsnEvent,
  dsnRecipients,
  successEvent,
  wantsDsn,
} from '../../../src/delivery/dsn-select.ts';
import type { DsnNotify } from '../../../src/smtp/types.ts';

const F = 'failed', Dl = 'delayed', Dv = 'delivered', R = 'relayed', E = 'expanded';

test('NOTIFY against each event (RFC 3461 §4.1, §5.2)', () => {
  // [NOTIFY, the events that produce a DSN]
  const table: Array<[DsnNotify | null, DsnEvent[]]> = [
    ['NEVER', []],
    [null, [F, Dl]], // absent: FAILURE,DELAY (§4.1 allows either; §5.2.5(b) allows the delay warning)
    [['FAILURE'], [F]],
    [['DELAY'], [Dl]],
    [['SUCCESS'], [Dv, R, E]],
    [['SUCCESS', 'FAILURE'], [F, Dv, R, E]],
    [['FAILURE', 'DELAY'], [F, Dl]],
    [['SUCCESS', 'FAILURE', 'DELAY'], [F, Dl, Dv, R, E]],
    [['DELAY', 'SUCCESS'], [Dl, Dv, R, E]],
  ];
  for (const [notify, wanted] of table) {
    for (const event of DSN_EVENTS) {
      assert.equal(wantsDsn(event, notify), wanted.includes(event), `${JSON.stringify(notify)} / ${event}`);
    }
  }
  assert.deepEqual([...DEFAULT_NOTIFY], ['FAILURE', 'DELAY']);
});

test('keywords are matched without regard to case (§4.1 note b)', () => {
  const lower = ['success'] as unknown as DsnNotify;
  assert.equal(wantsDsn('delivered', lower), true);
  assert.equal(wantsDsn('failed', lower), false);
});

test('dsnRecipients keeps the order and only those that asked', () => {
  const rcpts = [
    { id: 1, notify: null },
    { id: 2, notify: 'NEVER' as const },
    { id: 3, notify: ['SUCCESS' as const] },
    { id: 4, notify: ['FAILURE' as const, 'SUCCESS' as const] },
    { id: 5, notify: ['DELAY' as const] },
  ];
  const ids = (event: DsnEvent) => dsnRecipients(event, rcpts, 'alice@example.org').map((r) => r.id);
  assert.deepEqual(ids('failed'), [1, 4]);
  assert.deepEqual(ids('delayed'), [1, 5]);
  assert.deepEqual(ids('delivered'), [3, 4]);
  assert.deepEqual(ids('relayed'), [3, 4]);
  assert.deepEqual(ids('expanded'), [3, 4]);
  assert.deepEqual(dsnRecipients('failed', [], 'alice@example.org'), []);
});

test('a null reverse-path never gets a DSN, whatever NOTIFY says (RFC 5321 §4.5.5, §6.1)', () => {
  const rcpts = [
    { notify: null },
    { notify: ['SUCCESS', 'FAILURE', 'DELAY'] as DsnNotify },
  ];
  for (const event of DSN_EVENTS) assert.deepEqual(dsnRecipients(event, rcpts, ''), [], event);
  // A sender that merely looks empty-ish is a sender.
  assert.equal(dsnRecipients('failed', rcpts, 'MAILER-DAEMON@example.org').length, 2);
});

test('success events: delivered, relayed, or nothing when the next hop took the DSN parameters', () => {
  const table: Array<[boolean, boolean, 'delivered' | 'relayed' | null]> = [
    [true, true, null], // §5.2.1: the DSN-aware peer reports from now on
    [true, false, null],
    [false, true, 'delivered'], // §5.2.3: mailbox, Maildir
    [false, false, 'relayed'], // §5.2.2(b): a peer without DSN; §5.2.4(b): a webhook
  ];
  for (const [dsnRelayed, final, event] of table) {
    assert.equal(successEvent(dsnRelayed, final), event, `dsnRelayed=${dsnRelayed} final=${final}`);
  }
});
