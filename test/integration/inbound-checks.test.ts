// Inbound checks against records served by a loopback DNS server: every SPF result, DMARC policies and
// alignment modes, DKIM (RSA and Ed25519), forged Authentication-Results, and record vs enforce per domain.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { authenticate, type DNSResolver } from 'mailauth';
import { mailauthResolver } from '../../src/dkim/resolver-adapter.ts';
import { createResolver } from '../../src/dns/resolver.ts';
import { createInboundChecker, type InboundResult } from '../../src/inbound/checker.ts';
import type { DmarcMode } from '../../src/inbound/policy.ts';
import { a, startDnsServer, type TestDnsServer, txt, type Zone } from '../support/dns-server.ts';
import {
  asText,
  authored,
  AUTHSERV_ID,
  conn,
  type DkimKey,
  dkimKey,
  envelope,
  type LogLine,
  received,
  recordingLogger,
  signed,
} from '../unit/inbound/fixtures.ts';

const rsa: DkimKey = dkimKey('rsa');
const ed: DkimKey = dkimKey('ed25519');

const PASS = 'v=spf1 ip4:192.0.2.10 -all';

function zone(): Zone {
  const z: Zone = {
    // One domain per SPF result (RFC 7208 §2.6).
    'pass.test': [txt(PASS)],
    'fail.test': [txt('v=spf1 -all')],
    'softfail.test': [txt('v=spf1 ~all')],
    'neutral.test': [txt('v=spf1 ?all')],
    'none.test': [a('192.0.2.99'), txt('not an spf record')], // §4.5: no "v=spf1" record -> none
    'servfail.test': { behaviour: 'servfail' },
    'timeout.test': { behaviour: 'timeout' },
    'syntax.test': [txt('v=spf1 ip4:192.0.2.10 bogus:example.test -all')],
    'two.test': [txt(PASS), txt('v=spf1 -all')], // §4.5: two records -> permerror
    'loop.test': [txt('v=spf1 include:l1.loop.test -all')],
    'client.example.test': [txt(PASS)], // the HELO identity
    // DMARC (RFC 7489 §6.3): policies and alignment modes.
    'rej.test': [txt('v=spf1 -all')],
    '_dmarc.rej.test': [txt('v=DMARC1; p=reject')],
    'quar.test': [txt('v=spf1 -all')],
    '_dmarc.quar.test': [txt('v=DMARC1; p=quarantine')],
    'mon.test': [txt('v=spf1 -all')],
    '_dmarc.mon.test': [txt('v=DMARC1; p=none')],
    'half.test': [txt('v=spf1 -all')],
    '_dmarc.half.test': [txt('v=DMARC1; p=reject; pct=0')],
    'dnsfail.test': [txt('v=spf1 -all')],
    '_dmarc.dnsfail.test': { behaviour: 'servfail' },
    'corp.test': [txt('v=spf1 -all')],
    '_dmarc.corp.test': [txt('v=DMARC1; p=reject')],
    'bounce.corp.test': [txt(PASS)],
    'strict.test': [txt('v=spf1 -all')],
    '_dmarc.strict.test': [txt('v=DMARC1; p=reject; aspf=s; adkim=s')],
    'bounce.strict.test': [txt(PASS)],
    'news.strict.test': [txt('v=spf1 -all')],
    'signer.test': [txt('v=spf1 -all')],
    '_dmarc.signer.test': [txt('v=DMARC1; p=reject')],
    'sel._domainkey.signer.test': [rsa.record],
    'ed._domainkey.signer.test': [ed.record],
    'sel._domainkey.strict.test': [rsa.record],
    'arc._domainkey.forwarder.test': [rsa.record],
  };
  // RFC 7208 §4.6.4: the 11th DNS-querying term is a permerror.
  for (let i = 1; i <= 11; i++) z[`l${i}.loop.test`] = [txt(`v=spf1 include:l${i + 1}.loop.test -all`)];
  return z;
}

describe('inbound checks over loopback DNS', () => {
  let dns: TestDnsServer;
  let resolver: ReturnType<typeof createResolver>;
  let logs: LogLine[];
  const modes = new Map<string, DmarcMode>([['local.test', 'record'], ['strict.local', 'enforce']]);

  before(async () => {
    dns = await startDnsServer(zone());
    resolver = createResolver({ servers: [dns.server], timeout: 200, attempts: 1, cacheSize: 0 });
  });
  after(async () => {
    resolver.close();
    await dns.close();
  });

  const checker = () => {
    logs = [];
    return createInboundChecker({
      resolver,
      hostname: AUTHSERV_ID,
      authservId: AUTHSERV_ID,
      dmarcFor: (d) => modes.get(d) ?? 'record',
      log: recordingLogger(logs),
      random: () => 0.5,
    });
  };

  async function run(
    sender: string,
    message: string,
    rcpt = ['rcpt@local.test'],
    helo?: string,
  ): Promise<InboundResult> {
    return await checker().check({ envelope: envelope(sender, rcpt, helo), message: received(message), conn: conn() });
  }

  /** Our Authentication-Results field (the first line block), unfolded. */
  function ours(result: InboundResult): string {
    const text = asText(result.message);
    assert.match(text, /^Authentication-Results: mx\.tern\.test;/);
    const end = text.search(/\r\n(?![ \t])/);
    return text.slice(0, end).replace(/\r\n[ \t]/g, ' ');
  }

  const spfCases: Array<[string, string]> = [
    ['pass.test', 'pass'],
    ['fail.test', 'fail'],
    ['softfail.test', 'softfail'],
    ['neutral.test', 'neutral'],
    ['none.test', 'none'],
    ['nxdomain.test', 'none'],
    ['servfail.test', 'temperror'],
    ['timeout.test', 'temperror'],
    ['syntax.test', 'permerror'],
    ['two.test', 'permerror'],
    ['loop.test', 'permerror'],
  ];
  for (const [domain, expected] of spfCases) {
    test(`SPF ${expected}: MAIL FROM at ${domain}`, async () => {
      const r = await run(`someone@${domain}`, authored(`someone@${domain}`));
      assert.equal(r.action, 'accept');
      assert.match(ours(r), new RegExp(`spf=${expected} .*smtp\\.mailfrom=${domain.replace(/\./g, '\\.')}`));
    });
  }

  test('SPF on the HELO identity is recorded beside MAIL FROM (RFC 7208 §2.3)', async () => {
    const ar = ours(await run('someone@fail.test', authored('someone@fail.test')));
    assert.match(ar, /spf=fail .*smtp\.mailfrom=fail\.test/);
    assert.match(ar, /spf=pass .*smtp\.helo=client\.example\.test/);
  });

  test('null reverse-path: SPF checks the HELO identity (RFC 7208 §2.4)', async () => {
    const ar = ours(await run('', authored('mailer-daemon@pass.test'), ['rcpt@local.test'], 'fail.test'));
    assert.match(ar, /spf=fail .*smtp\.helo=fail\.test/);
    assert.doesNotMatch(ar, /smtp\.mailfrom/);
  });

  test('DMARC p=reject + fail: enforce -> 550 5.7.1 naming DMARC; record -> accept', async () => {
    const msg = authored('ceo@rej.test');
    const enforced = await run('ceo@rej.test', msg, ['a@strict.local']);
    assert.equal(enforced.action, 'reject');
    assert.ok(enforced.action === 'reject');
    assert.equal(enforced.reply.code, 550);
    assert.equal(enforced.reply.status, '5.7.1');
    assert.match(enforced.reply.text, /DMARC/);
    assert.match(enforced.reply.text, /rej\.test/);
    assert.match(ours(enforced), /dmarc=fail .*header\.from=rej\.test/);
    const recorded = await run('ceo@rej.test', msg, ['a@local.test']);
    assert.equal(recorded.action, 'accept');
    assert.match(ours(recorded), /dmarc=fail/);
  });

  test('DMARC p=quarantine + fail under enforce -> hold', async () => {
    const r = await run('x@quar.test', authored('x@quar.test'), ['a@strict.local']);
    assert.equal(r.action, 'hold');
    assert.ok(r.action === 'hold');
    assert.match(r.reason, /DMARC quarantine: quar\.test/);
  });

  test('DMARC p=none + fail under enforce -> accept', async () => {
    const r = await run('x@mon.test', authored('x@mon.test'), ['a@strict.local']);
    assert.equal(r.action, 'accept');
    assert.match(ours(r), /dmarc=fail/);
  });

  test('DMARC pct=0: outside the sample p=reject is applied as quarantine (RFC 7489 §6.6.4)', async () => {
    const r = await run('x@half.test', authored('x@half.test'), ['a@strict.local']);
    assert.equal(r.action, 'hold');
  });

  test('DMARC none (no record) and DMARC temperror are accepted under enforce', async () => {
    const none = await run('x@fail.test', authored('x@fail.test'), ['a@strict.local']);
    assert.equal(none.action, 'accept');
    assert.match(ours(none), /dmarc=none/);
    const temp = await run('x@dnsfail.test', authored('x@dnsfail.test'), ['a@strict.local']);
    assert.equal(temp.action, 'accept');
    assert.match(ours(temp), /dmarc=temperror/);
  });

  test('the strictest recipient domain decides: one enforcing domain among several', async () => {
    const r = await run('ceo@rej.test', authored('ceo@rej.test'), ['a@local.test', 'b@strict.local']);
    assert.equal(r.action, 'reject');
  });

  test('relaxed SPF alignment: MAIL FROM at a subdomain passes DMARC', async () => {
    const r = await run('bounce@bounce.corp.test', authored('ceo@corp.test'), ['a@strict.local']);
    assert.equal(r.action, 'accept');
    assert.match(ours(r), /dmarc=pass .*header\.from=corp\.test/);
  });

  test('strict SPF alignment (aspf=s): a subdomain MAIL FROM does not align -> reject', async () => {
    const r = await run('bounce@bounce.strict.test', authored('ceo@strict.test'), ['a@strict.local']);
    assert.match(ours(r), /spf=pass .*smtp\.mailfrom=bounce\.strict\.test/);
    assert.match(ours(r), /dmarc=fail/);
    assert.equal(r.action, 'reject');
  });

  test('DKIM rsa-sha256 pass aligns and passes DMARC despite SPF fail', async () => {
    const msg = await signed(authored('ceo@signer.test'), rsa, 'signer.test');
    const r = await run('ceo@signer.test', msg, ['a@strict.local']);
    const ar = ours(r);
    assert.match(ar, /dkim=pass .*header\.[di]=@?signer\.test/);
    assert.match(ar, /spf=fail/);
    assert.match(ar, /dmarc=pass/);
    assert.equal(r.action, 'accept');
  });

  test('DKIM ed25519-sha256 (RFC 8463) verifies', async () => {
    const msg = await signed(authored('ceo@signer.test'), ed, 'signer.test', 'ed', 'ed25519-sha256');
    const ar = ours(await run('ceo@signer.test', msg, ['a@strict.local']));
    assert.match(ar, /dkim=pass/);
    assert.match(ar, /dmarc=pass/);
  });

  test('DKIM over an altered body fails, and DMARC with it', async () => {
    const msg = (await signed(authored('ceo@signer.test'), rsa, 'signer.test')).replace('Hello.', 'Pay me.');
    const r = await run('ceo@signer.test', msg, ['a@strict.local']);
    assert.doesNotMatch(ours(r), /dkim=pass/);
    assert.match(ours(r), /dmarc=fail/);
    assert.equal(r.action, 'reject');
  });

  test('DKIM with no key published: neutral (no key), never pass', async () => {
    const msg = await signed(authored('ceo@signer.test'), rsa, 'signer.test', 'missing');
    assert.match(ours(await run('ceo@signer.test', msg)), /dkim=neutral \(no key\)/);
  });

  test('strict DKIM alignment (adkim=s): d=strict.test does not align with From: news.strict.test', async () => {
    const msg = await signed(authored('x@news.strict.test'), rsa, 'strict.test');
    const r = await run('x@news.strict.test', msg, ['a@strict.local']);
    assert.match(ours(r), /dkim=pass/);
    assert.match(ours(r), /dmarc=fail .*\(strict alignment\)/);
    assert.equal(r.action, 'reject');
  });

  test('several From addresses in one domain: DMARC still evaluated for that domain (RFC 7489 §6.6.1)', async () => {
    const r = await run('ceo@rej.test', authored('ceo@rej.test, cfo@rej.test'), ['a@strict.local']);
    assert.match(ours(r), /dmarc=fail .*header\.from=rej\.test/);
    assert.equal(r.action, 'reject');
  });

  test('From addresses in several domains: dmarc=permerror; reject under enforce, accept under record', async () => {
    const msg = authored('a@pass.test, b@rej.test');
    const enforced = await run('a@pass.test', msg, ['a@strict.local']);
    assert.match(ours(enforced), /dmarc=permerror/);
    assert.equal(enforced.action, 'reject');
    assert.equal((await run('a@pass.test', msg, ['a@local.test'])).action, 'accept');
  });

  test('ARC (RFC 8617): a chain sealed by a forwarder verifies', async () => {
    // The forwarder checks and seals the message as it would before passing it on (mailauth's own sealing).
    const original = await signed(authored('ceo@signer.test'), rsa, 'signer.test');
    const sealed = await authenticate(Buffer.from(original), {
      ip: '192.0.2.10',
      helo: 'client.example.test',
      sender: 'ceo@signer.test',
      mta: 'forwarder.test',
      resolver: mailauthResolver(resolver) as DNSResolver,
      disableBimi: true,
      seal: { signingDomain: 'forwarder.test', selector: 'arc', privateKey: rsa.privateKey },
    });
    assert.match(sealed.headers, /^ARC-Seal: /m);
    const r = await run('list@other.test', sealed.headers + original);
    assert.match(ours(r), /arc=pass/);
  });

  test('forged Authentication-Results with our authserv-id are stripped; others kept', async () => {
    const forged = 'Authentication-Results: MX.Tern.Test; dkim=pass header.d=rej.test;\r\n spf=pass\r\n' +
      'Authentication-Results: mx.tern.test 1; dmarc=pass\r\n' +
      'Authentication-Results: upstream.example; spf=pass smtp.mailfrom=pass.test\r\n';
    const r = await run('x@pass.test', authored('x@pass.test', forged));
    const text = asText(r.message);
    assert.equal((text.match(/^Authentication-Results: mx\.tern\.test;/gim) ?? []).length, 1);
    assert.doesNotMatch(text, /MX\.Tern\.Test/);
    assert.doesNotMatch(text, /mx\.tern\.test 1;/);
    assert.match(text, /^Authentication-Results: upstream\.example; spf=pass/m);
    // Ours first, then our Received (RFC 8601 §5: above the trace fields of this hop).
    assert.match(text, /^Authentication-Results: mx\.tern\.test;[^]*?\r\nReceived: from client/);
    assert.ok(logs.some((l) => l.event === 'inbound.forged_results_removed' && l.fields.count === 2));
  });

  test('a checker whose DNS throws still accepts, with temperror results', async () => {
    const broken = createInboundChecker({
      resolver: {
        ...resolver,
        txt: () => Promise.reject(new Error('boom')),
      },
      hostname: AUTHSERV_ID,
      authservId: AUTHSERV_ID,
      dmarcFor: () => 'enforce',
      log: recordingLogger(),
      deadline: 2000,
    });
    const r = await broken.check({
      envelope: envelope('ceo@rej.test', ['a@strict.local']),
      message: received(authored('ceo@rej.test')),
      conn: conn(),
    });
    assert.equal(r.action, 'accept');
    assert.match(asText(r.message), /temperror/);
  });

  test('the deadline turns slow checks into temperror and accept', async () => {
    const slow = createInboundChecker({
      resolver: { ...resolver, txt: () => new Promise(() => {}) },
      hostname: AUTHSERV_ID,
      authservId: AUTHSERV_ID,
      dmarcFor: () => 'enforce',
      log: recordingLogger(),
      deadline: 100,
    });
    const r = await slow.check({
      envelope: envelope('ceo@rej.test', ['a@strict.local']),
      message: received(authored('ceo@rej.test')),
      conn: conn(),
    });
    assert.equal(r.action, 'accept');
    assert.match(asText(r.message), /dmarc=temperror/);
  });
});
