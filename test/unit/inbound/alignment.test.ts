// Strict DMARC alignment (RFC 7489 §3.1) re-checked over mailauth's relaxed-only matching.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { aligned, enforceStrictAlignment } from '../../../src/inbound/alignment.ts';
import type { DmarcOutcome } from '../../../src/inbound/mailauth.ts';

const outcome = (over: Partial<DmarcOutcome> = {}): DmarcOutcome => ({
  status: { result: 'pass' },
  policy: 'reject',
  strictDkim: false,
  strictSpf: false,
  dkimAligned: true,
  spfAligned: false,
  info: 'dmarc=pass (p=REJECT) header.from=news.bank.test',
  ...over,
});

describe('aligned', () => {
  const input = {
    fromDomain: 'News.Bank.test',
    spfPassDomain: 'bank.test',
    dkimPassDomains: ['bank.test', 'news.bank.test.'],
  };
  test('relaxed: mailauth decides', () => {
    assert.deepEqual(aligned(outcome(), input), { dkim: true, spf: false });
  });
  test('strict: identical domains only, case and trailing dot ignored', () => {
    assert.deepEqual(aligned(outcome({ strictDkim: true, strictSpf: true }), input), { dkim: true, spf: false });
    assert.deepEqual(
      aligned(outcome({ strictDkim: true, strictSpf: true }), { ...input, dkimPassDomains: ['bank.test'] }),
      { dkim: false, spf: false },
    );
  });
});

describe('enforceStrictAlignment', () => {
  test('a pass with only an organizational-domain match under adkim=s becomes fail', () => {
    const d = enforceStrictAlignment(outcome({ strictDkim: true }), {
      fromDomain: 'news.bank.test',
      spfPassDomain: null,
      dkimPassDomains: ['bank.test'],
    });
    assert.equal(d.status.result, 'fail');
    assert.equal(d.info, 'dmarc=fail (p=REJECT) header.from=news.bank.test (strict alignment)');
  });
  test('a pass kept when the other identifier aligns in relaxed mode', () => {
    const o = outcome({ strictDkim: true, spfAligned: true });
    assert.equal(
      enforceStrictAlignment(o, { fromDomain: 'news.bank.test', spfPassDomain: 'x.bank.test', dkimPassDomains: [] }),
      o,
    );
  });
  test('strict SPF: MAIL FROM at a subdomain does not align', () => {
    const o = outcome({ strictSpf: true, dkimAligned: false, spfAligned: true });
    const d = enforceStrictAlignment(o, {
      fromDomain: 'bank.test',
      spfPassDomain: 'bounce.bank.test',
      dkimPassDomains: [],
    });
    assert.equal(d.status.result, 'fail');
  });
  test('an exact strict match keeps the pass', () => {
    const o = outcome({ strictSpf: true, dkimAligned: false, spfAligned: true });
    assert.equal(
      enforceStrictAlignment(o, { fromDomain: 'bank.test', spfPassDomain: 'bank.test', dkimPassDomains: [] }),
      o,
    );
  });
  test('relaxed records and non-pass results are untouched', () => {
    const relaxed = outcome();
    assert.equal(
      enforceStrictAlignment(relaxed, { fromDomain: 'x.test', spfPassDomain: null, dkimPassDomains: [] }),
      relaxed,
    );
    const failed = outcome({ status: { result: 'fail' }, strictDkim: true });
    assert.equal(
      enforceStrictAlignment(failed, { fromDomain: 'x.test', spfPassDomain: null, dkimPassDomains: [] }),
      failed,
    );
  });
});
