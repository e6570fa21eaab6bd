// DMARC disposition (RFC 7489 §6.6): the mode per recipient domain, pct sampling, and every result.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  dmarcDisposition,
  type DmarcFacts,
  type DmarcMode,
  sampledPolicy,
  strictestMode,
} from '../../../src/inbound/policy.ts';
import type { EnvelopeRecipient } from '../../../src/smtp/types.ts';

const rcpts = (...a: string[]): EnvelopeRecipient[] => a.map((address) => ({ address, notify: null, orcpt: null }));
const modes: Record<string, DmarcMode> = { 'strict.test': 'enforce', 'mx.tern.test': 'enforce' };
const dmarcFor = (d: string): DmarcMode => modes[d] ?? 'record';

const facts = (over: Partial<DmarcFacts> = {}): DmarcFacts => ({
  result: 'fail',
  policy: 'reject',
  pct: undefined,
  fromDomain: 'bank.test',
  severalFrom: false,
  temporary: false,
  ...over,
});

describe('strictestMode', () => {
  test('record when no recipient domain enforces', () => {
    assert.equal(strictestMode(rcpts('a@lax.test', 'b@other.test'), dmarcFor, 'mx.tern.test'), 'record');
  });
  test('enforce as soon as one recipient domain enforces, any case', () => {
    assert.equal(strictestMode(rcpts('a@lax.test', 'b@STRICT.test'), dmarcFor, 'mx.tern.test'), 'enforce');
  });
  test('a bare Postmaster stands for our hostname', () => {
    assert.equal(strictestMode(rcpts('Postmaster'), dmarcFor, 'MX.tern.test'), 'enforce');
  });
  test('each domain is asked once', () => {
    const asked: string[] = [];
    strictestMode(rcpts('a@x.test', 'b@x.test', 'c@y.test'), (d) => (asked.push(d), 'record'), 'h');
    assert.deepEqual(asked, ['x.test', 'y.test']);
  });
});

describe('sampledPolicy', () => {
  test('pct absent or 100: the policy', () => {
    assert.equal(sampledPolicy('reject', undefined, () => 0.99), 'reject');
    assert.equal(sampledPolicy('quarantine', 100, () => 0.99), 'quarantine');
  });
  test('outside the sample: one step more lenient (RFC 7489 §6.6.4)', () => {
    assert.equal(sampledPolicy('reject', 50, () => 0.7), 'quarantine');
    assert.equal(sampledPolicy('quarantine', 50, () => 0.7), 'none');
    assert.equal(sampledPolicy('reject', 0, () => 0), 'quarantine');
  });
  test('inside the sample: the policy', () => {
    assert.equal(sampledPolicy('reject', 50, () => 0.2), 'reject');
  });
});

describe('dmarcDisposition', () => {
  test('record mode accepts everything', () => {
    assert.equal(dmarcDisposition(facts(), 'record').action, 'accept');
    assert.equal(dmarcDisposition(facts({ severalFrom: true }), 'record').action, 'accept');
  });
  test('fail + p=reject: 550 5.7.1 naming DMARC and the domain', () => {
    const d = dmarcDisposition(facts(), 'enforce');
    assert.ok(d.action === 'reject');
    assert.deepEqual(d.reply, {
      code: 550,
      status: '5.7.1',
      text: 'Message rejected by the DMARC policy of bank.test',
    });
  });
  test('fail + p=quarantine: hold with a reason', () => {
    const d = dmarcDisposition(facts({ policy: 'quarantine' }), 'enforce');
    assert.ok(d.action === 'hold');
    assert.equal(d.reason, 'DMARC quarantine: bank.test (dmarc=fail)');
  });
  test('fail + p=none or an unknown policy: accept (RFC 7489 §6.6.3)', () => {
    assert.equal(dmarcDisposition(facts({ policy: 'none' }), 'enforce').action, 'accept');
    assert.equal(dmarcDisposition(facts({ policy: 'bounce' }), 'enforce').action, 'accept');
  });
  for (const result of ['pass', 'none', 'temperror', 'permerror', '']) {
    test(`dmarc=${result || '(not evaluated)'}: accept`, () => {
      assert.equal(dmarcDisposition(facts({ result }), 'enforce').action, 'accept');
    });
  }
  test('fail while SPF or DKIM had a temporary DNS error: accept, never bounce on DNS trouble', () => {
    assert.equal(dmarcDisposition(facts({ temporary: true }), 'enforce').action, 'accept');
  });
  test('several From domains: reject under enforce (RFC 7489 §6.6.1)', () => {
    const d = dmarcDisposition(facts({ severalFrom: true, result: 'permerror' }), 'enforce');
    assert.ok(d.action === 'reject');
    assert.match(d.reply.text, /DMARC/);
  });
  test('pct sampling uses the injected random', () => {
    assert.equal(dmarcDisposition(facts({ pct: 10 }), 'enforce', () => 0.5).action, 'hold');
    assert.equal(dmarcDisposition(facts({ pct: 10 }), 'enforce', () => 0.05).action, 'reject');
  });
  test('a hostile From domain cannot inject text into the reply', () => {
    const d = dmarcDisposition(facts({ fromDomain: 'a.test\r\n250 ok' }), 'enforce');
    assert.ok(d.action === 'reject');
    assert.doesNotMatch(d.reply.text, /[\r\n ]250/);
  });
});
