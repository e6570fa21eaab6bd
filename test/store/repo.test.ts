// The queue reader: list (newest first, state filter, limit), get (events, optional body) and stats.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'drizzle-orm';
import { createIntake } from '../../src/queue/intake.ts';
import { createQueueReader } from '../../src/queue/repo.ts';
import { openTestStore } from '../support/db.ts';
import { fullEnvelope, minimalEnvelope, textBody } from './fixtures.ts';

const T = { timeout: 60_000 };

test('list, get and stats over a small queue', T, async () => {
  const t = await openTestStore();
  try {
    const intake = createIntake(t.store);
    const base = Date.parse('2025-01-01T00:00:00Z');
    const envs = [0, 1, 2].map((i) => ({ ...minimalEnvelope(undefined, i + 1), receivedAt: new Date(base + i * 1000) }));
    for (const e of envs) await intake.enqueue(e, textBody(100 * (envs.indexOf(e) + 1)));
    const reader = createQueueReader(t.store);

    const all = await reader.list({ limit: 10 });
    assert.deepEqual(all.map((m) => m.id), [envs[2].queueId, envs[1].queueId, envs[0].queueId], 'newest first');
    assert.deepEqual(all.map((m) => m.recipients.length), [3, 2, 1]);
    assert.equal(all[0].receivedAt.getTime(), base + 2000);
    assert.equal(all[2].size, 100);
    assert.equal(all[0].clientAddress, '192.0.2.1');
    assert.equal((await reader.list({ limit: 2 })).length, 2);

    // Move one recipient along, as a delivery worker would.
    const target = all[1].recipients[0].id;
    await t.store.execute(sql`update recipients set state = 'deferred', attempts = 1, last_reply = '451 4.7.1 try later' where id = ${target}`);
    const deferred = await reader.list({ limit: 10, state: 'deferred' });
    assert.deepEqual(deferred.map((m) => m.id), [envs[1].queueId]);
    const r = deferred[0].recipients.find((x) => x.id === target);
    assert.deepEqual([r?.state, r?.attempts, r?.lastReply], ['deferred', 1, '451 4.7.1 try later']);
    assert.deepEqual(await reader.list({ limit: 10, state: 'held' }), []);

    const stats = await reader.stats();
    assert.deepEqual(stats, { messages: 3, recipients: { queued: 5, deferred: 1, delivered: 0, bounced: 0, held: 0 } });
    assert.deepEqual(await reader.counts(), { messages: 3, recipients: 6, events: 3 });
    assert.deepEqual(await reader.ids(), envs.map((e) => e.queueId));
    assert.equal(await reader.get('no-such-id'), null);
    await intake.close();
  } finally {
    await t.cleanup();
  }
});

test('get returns events in order with their detail', T, async () => {
  const t = await openTestStore();
  try {
    const intake = createIntake(t.store);
    const e = fullEnvelope();
    await intake.enqueue(e, textBody(2000));
    const reader = createQueueReader(t.store);
    const before = await reader.get(e.queueId);
    const rcpt = before?.recipients[1].id ?? 0;
    await t.store.execute(
      sql`insert into events (message_id, recipient_id, kind, detail, at) values (${e.queueId}, ${rcpt}, 'attempt', ${JSON.stringify({ reply: '250 ok' })}::jsonb, now() + interval '1 second')`,
    );
    const got = await reader.get(e.queueId);
    assert.deepEqual(got?.events.map((x) => [x.kind, x.recipientId]), [['received', null], ['attempt', rcpt]]);
    assert.deepEqual(got?.events[1].detail, { reply: '250 ok' });
    assert.equal(got?.events[0].detail.client, '2001:db8::25:49152');
    assert.equal(got?.events[0].detail.tls, 'TLSv1.3 TLS_AES_256_GCM_SHA384');
    assert.ok((got?.events[0].at.getTime() ?? 0) <= (got?.events[1].at.getTime() ?? 0));
    // Deleting a message takes its recipients and events with it (ON DELETE CASCADE).
    await t.store.execute(sql`delete from messages where id = ${e.queueId}`);
    assert.deepEqual(await reader.counts(), { messages: 0, recipients: 0, events: 0 });
    await intake.close();
  } finally {
    await t.cleanup();
  }
});
