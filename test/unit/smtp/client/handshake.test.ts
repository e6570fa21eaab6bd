// Connection setup: greeting, EHLO/HELO fallback, LHLO, STARTTLS per policy (RFC 3207), AUTH under TLS only.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Handshake, type HandshakeOptions, HandshakeState, type HandshakeStep } from '../../../../src/smtp/client/handshake.ts';
import { reply } from './support.ts';

const EHLO_TLS = '250-mx.example\n250-PIPELINING\n250-STARTTLS\n250 8BITMIME';
const EHLO_PLAIN = '250-mx.example\n250-PIPELINING\n250 8BITMIME';
const EHLO_AUTH = '250-mx.example\n250-PIPELINING\n250 AUTH PLAIN LOGIN';

function hs(o: Partial<HandshakeOptions> = {}): Handshake {
  return new Handshake({ heloName: 'client.example', lmtp: false, tls: 'opportunistic', auth: null, ...o });
}

function sendOf(step: HandshakeStep): string {
  assert.equal(step.kind, 'send', JSON.stringify(step));
  return step.kind === 'send' ? step.data : '';
}

function failure(step: HandshakeStep) {
  assert.equal(step.kind, 'failed', JSON.stringify(step));
  if (step.kind !== 'failed') throw new Error('not failed');
  return step.failure;
}

describe('greeting and hello', () => {
  test('220 -> EHLO with our name; 250 -> ready with the capabilities', () => {
    const h = hs({ tls: 'none' });
    assert.equal(sendOf(h.greeting(reply('220 mx.example ESMTP'))), 'EHLO client.example\r\n');
    const step = h.reply(reply(EHLO_TLS));
    assert.equal(step.kind, 'ready');
    if (step.kind === 'ready') {
      assert.equal(step.capabilities.pipelining, true);
      assert.equal(step.tls, false);
    }
    assert.equal(h.state, HandshakeState.Ready);
  });

  test('EHLO refused with 5yz: HELO fallback, no extensions (RFC 5321 §3.2)', () => {
    const h = hs();
    h.greeting(reply('220 old.example'));
    assert.equal(sendOf(h.reply(reply('502 5.5.1 unknown'))), 'HELO client.example\r\n');
    const step = h.reply(reply('250 old.example'));
    assert.equal(step.kind, 'ready');
    if (step.kind === 'ready') assert.equal(step.capabilities.esmtp, false);
  });

  test('EHLO with 4yz is a temporary failure, not a reason for HELO', () => {
    const h = hs();
    h.greeting(reply('220 x'));
    const f = failure(h.reply(reply('451 4.3.0 later')));
    assert.equal(f.verdict.outcome, 'temporary');
    assert.equal(f.quit, true);
  });

  test('HELO refused too: a permanent refusal at connection level', () => {
    const h = hs();
    h.greeting(reply('220 x'));
    h.reply(reply('500 no'));
    const f = failure(h.reply(reply('550 5.7.1 go away')));
    assert.deepEqual(f.verdict, { outcome: 'permanent', status: '5.7.1', reply: '550 5.7.1 go away', replyType: 'smtp' });
  });

  test('554 greeting: permanent, and QUIT is still owed (RFC 5321 §3.1)', () => {
    const f = failure(hs().greeting(reply('554 5.7.1 no mail from you')));
    assert.equal(f.verdict.outcome, 'permanent');
    assert.equal(f.verdict.status, '5.7.1');
    assert.equal(f.quit, true);
  });

  test('421 greeting: temporary, no QUIT (the peer is closing)', () => {
    const f = failure(hs().greeting(reply('421 busy')));
    assert.equal(f.verdict.outcome, 'temporary');
    assert.equal(f.verdict.status, '4.0.0');
    assert.equal(f.quit, false);
  });

  test('LMTP: LHLO, and no HELO fallback (RFC 2033 §4.1)', () => {
    const h = hs({ lmtp: true, tls: 'none' });
    assert.equal(sendOf(h.greeting(reply('220 lmtp ready'))), 'LHLO client.example\r\n');
    const f = failure(h.reply(reply('500 5.5.1 what')));
    assert.equal(f.verdict.outcome, 'temporary');
    assert.equal(f.verdict.status, '4.5.1');
  });
});

describe('STARTTLS policy', () => {
  test('opportunistic: STARTTLS when offered, EHLO again after TLS, capabilities from the second EHLO', () => {
    const h = hs();
    h.greeting(reply('220 x'));
    assert.equal(sendOf(h.reply(reply(EHLO_TLS))), 'STARTTLS\r\n');
    assert.equal(h.reply(reply('220 2.0.0 go')).kind, 'starttls');
    assert.equal(sendOf(h.tlsStarted()), 'EHLO client.example\r\n');
    const step = h.reply(reply('250-mx.example\n250 SIZE 100'));
    assert.equal(step.kind, 'ready');
    if (step.kind === 'ready') {
      assert.equal(step.tls, true);
      assert.equal(step.capabilities.pipelining, false, 'RFC 3207 §4.2: the pre-TLS list is forgotten');
      assert.equal(step.capabilities.size, 100);
    }
  });

  test('opportunistic: no STARTTLS offered -> plaintext', () => {
    const h = hs();
    h.greeting(reply('220 x'));
    const step = h.reply(reply(EHLO_PLAIN));
    assert.equal(step.kind, 'ready');
  });

  test('opportunistic: STARTTLS refused -> plaintext (RFC 3207 §4.1)', () => {
    const h = hs();
    h.greeting(reply('220 x'));
    h.reply(reply(EHLO_TLS));
    assert.equal(h.reply(reply('454 4.7.0 TLS not available')).kind, 'ready');
  });

  test('opportunistic: a failed handshake asks for one plaintext retry', () => {
    const h = hs();
    h.greeting(reply('220 x'));
    h.reply(reply(EHLO_TLS));
    h.reply(reply('220 go'));
    const f = failure(h.tlsFailed('handshake failure'));
    assert.equal(f.retryWithoutTls, true);
    assert.equal(f.verdict.status, '4.7.5');
  });

  test('none: STARTTLS never sent even when offered', () => {
    const h = hs({ tls: 'none' });
    h.greeting(reply('220 x'));
    assert.equal(h.reply(reply(EHLO_TLS)).kind, 'ready');
  });

  for (const tls of ['require', 'verify'] as const) {
    test(`${tls}: STARTTLS not offered -> temporary 4.7.5, QUIT`, () => {
      const h = hs({ tls });
      h.greeting(reply('220 x'));
      const f = failure(h.reply(reply(EHLO_PLAIN)));
      assert.equal(f.verdict.outcome, 'temporary');
      assert.equal(f.verdict.status, '4.7.5');
      assert.equal(f.verdict.replyType, 'x-tern');
      assert.equal(f.quit, true);
      assert.equal(f.retryWithoutTls, false);
    });

    test(`${tls}: STARTTLS refused or handshake failed -> 4.7.5, no plaintext retry`, () => {
      const h = hs({ tls });
      h.greeting(reply('220 x'));
      h.reply(reply(EHLO_TLS));
      assert.equal(failure(h.reply(reply('454 4.7.0 no'))).verdict.status, '4.7.5');
      const h2 = hs({ tls });
      h2.greeting(reply('220 x'));
      h2.reply(reply(EHLO_TLS));
      h2.reply(reply('220 go'));
      const f = failure(h2.tlsFailed('bad certificate'));
      assert.equal(f.retryWithoutTls, false);
      assert.match(f.verdict.reply, /bad certificate/);
    });
  }

  test('a 421 to STARTTLS ends the connection without QUIT', () => {
    const h = hs({ tls: 'require' });
    h.greeting(reply('220 x'));
    h.reply(reply(EHLO_TLS));
    const f = failure(h.reply(reply('421 4.3.2 bye')));
    assert.equal(f.quit, false);
  });
});

describe('AUTH (RFC 4954)', () => {
  const auth = { user: 'u', password: 'p' };

  function upToTls(h: Handshake, ehloAfter: string): HandshakeStep {
    h.greeting(reply('220 x'));
    h.reply(reply(EHLO_TLS));
    h.reply(reply('220 go'));
    h.tlsStarted();
    return h.reply(reply(ehloAfter));
  }

  test('PLAIN with an initial response after TLS; 235 -> ready and authenticated', () => {
    const h = hs({ tls: 'require', auth });
    assert.equal(sendOf(upToTls(h, EHLO_AUTH)), 'AUTH PLAIN AHUAcA==\r\n');
    const step = h.reply(reply('235 2.7.0 ok'));
    assert.equal(step.kind === 'ready' && step.authenticated, true);
  });

  test('LOGIN when PLAIN is not offered: user and password in turn', () => {
    const h = hs({ tls: 'require', auth });
    assert.equal(sendOf(upToTls(h, '250-x\n250 AUTH LOGIN')), 'AUTH LOGIN\r\n');
    assert.equal(sendOf(h.reply(reply('334 VXNlcm5hbWU6'))), 'dQ==\r\n');
    assert.equal(sendOf(h.reply(reply('334 UGFzc3dvcmQ6'))), 'cA==\r\n');
    assert.equal(h.reply(reply('235 ok')).kind, 'ready');
  });

  test('bad credentials are softened to temporary (our configuration, not the message)', () => {
    const h = hs({ tls: 'require', auth });
    upToTls(h, EHLO_AUTH);
    const f = failure(h.reply(reply('535 5.7.8 authentication failed')));
    assert.equal(f.verdict.outcome, 'temporary');
    assert.equal(f.verdict.status, '4.7.8');
    assert.equal(f.verdict.reply, '535 5.7.8 authentication failed');
  });

  test('never in plaintext: no TLS -> temporary 4.7.11, credentials not sent', () => {
    const h = hs({ tls: 'opportunistic', auth });
    h.greeting(reply('220 x'));
    const f = failure(h.reply(reply(EHLO_AUTH)));
    assert.equal(f.verdict.status, '4.7.11');
  });

  test('no usable mechanism -> temporary', () => {
    const h = hs({ tls: 'require', auth });
    const f = failure(upToTls(h, '250-x\n250 AUTH CRAM-MD5'));
    assert.equal(f.verdict.outcome, 'temporary');
    assert.match(f.verdict.reply, /CRAM-MD5/);
    const h2 = hs({ tls: 'require', auth });
    assert.match(failure(upToTls(h2, '250 x')).verdict.reply, /no AUTH/);
  });
});

test('state changes are reported to onState', () => {
  const seen: string[] = [];
  const h = hs({ tls: 'none', onState: (from, to) => seen.push(`${HandshakeState[from]}>${HandshakeState[to]}`) });
  h.greeting(reply('220 x'));
  h.reply(reply('250 x'));
  assert.deepEqual(seen, ['Greeting>Hello', 'Hello>Ready']);
});
