// Webhook pieces that need no server: the signature, header encoding, URLs refused before any request.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { headerValue, postToWebhook, signature } from '../../../../src/delivery/local/webhook.ts';

const body = new TextEncoder().encode('Subject: x\r\n\r\nhi\r\n');

test('signature: sha256=<hex> HMAC of the body with the secret', () => {
  const want = createHmac('sha256', 'k3y').update(body).digest('hex');
  assert.equal(signature('k3y', body), `sha256=${want}`);
  assert.match(signature('other', body), /^sha256=[0-9a-f]{64}$/);
  assert.notEqual(signature('other', body), signature('k3y', body));
});

test('headerValue: plain addresses unchanged; %, controls and non-ASCII percent-encoded', () => {
  const table: Array<[string, string]> = [
    ['alice@example.com', 'alice@example.com'],
    ['"a b"@example.com', '"a b"@example.com'],
    ['a%b@example.com', 'a%25b@example.com'],
    ['jörg@bücher.example', 'j%C3%B6rg@b%C3%BCcher.example'],
    ['用户@例子.test', '%E7%94%A8%E6%88%B7@%E4%BE%8B%E5%AD%90.test'],
  ];
  for (const [address, want] of table) {
    assert.equal(headerValue(address), want, address);
    assert.equal(decodeURIComponent(headerValue(address)), address);
  }
});

test("postToWebhook: a URL that is not http(s) is the operator's to fix (4.3.5), nothing is sent", async () => {
  for (const url of ['', 'not a url', 'ftp://files.example/', 'file:///etc/passwd']) {
    const r = await postToWebhook({ url, secret: '', queueId: 'Q1', sender: '', address: 'a@b.test', body });
    assert.deepEqual([r.outcome, r.status, r.reply], ['temporary', '4.3.5', 'local delivery misconfigured'], url);
  }
});

test('postToWebhook: an unreachable server is temporary, and the URL stays out of the reply', async () => {
  // Port 1 on loopback: nothing listens there, the connection is refused at once.
  const url = 'http://127.0.0.1:1/hook?token=s3cret';
  const r = await postToWebhook({
    url,
    secret: '',
    queueId: 'Q1',
    sender: '',
    address: 'a@b.test',
    body,
    timeoutMs: 5000,
  });
  assert.deepEqual([r.outcome, r.status], ['temporary', '4.3.0']);
  assert.ok(!r.reply.includes('s3cret') && !r.reply.includes('127.0.0.1'), r.reply);
  assert.ok(!(r.detail ?? '').includes('s3cret'), r.detail ?? '');
});
