// The whole path once, under whichever runtime runs the tests (CI runs it under Deno as well as Bun):
// `tern serve` as a process, one message through SMTP, the queue read back through the CLI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { createTestDatabase } from '../support/db.ts';
import { runCli, spawnDaemon, tempDir, testEnv } from '../support/server.ts';
import { sendMessage, TestSmtpClient } from '../support/smtp-client.ts';

test('smoke: serve, accept one message, list it, stop', { timeout: 120_000 }, async () => {
  const dataDir = tempDir();
  const db = await createTestDatabase();
  const env = testEnv(dataDir, db.url);
  const d = await spawnDaemon(env);
  try {
    const c = await TestSmtpClient.connect(d.ports.mx);
    assert.match((await c.reply()).text, /^220 mx\.tern\.test ESMTP/);
    assert.equal((await c.command('EHLO smoke.example')).code, 250);
    const r = await sendMessage(c, 'a@example.org', ['b@tern.test'], 'Subject: smoke\r\n\r\nhello\r\n');
    assert.equal(r.code, 250, r.text);
    assert.match((await c.command('QUIT')).text, /^221 2\.0\.0 /);
    const id = /queued as (\S+)/.exec(r.text)![1];
    const list = await runCli(['queue', 'list', '--json'], env);
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual((JSON.parse(list.stdout) as Array<{ id: string }>).map((m) => m.id), [id]);
  } finally {
    d.child.kill('SIGTERM');
    assert.equal(await d.exited, 0);
    await db.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
