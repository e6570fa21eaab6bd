// The structured logger: both formats, child fields, level filtering, and log-injection safety.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger, type LoggerOptions } from '../../../src/lib/log.ts';

const clock = () => new Date('2026-11-28T13:10:57.123Z');
function capture(opts: Omit<LoggerOptions, 'write' | 'now'>) {
  const lines: string[] = [];
  const log = createLogger({ ...opts, now: clock, write: (l) => lines.push(l) });
  return { log, lines };
}

test('text: timestamp, level, event, logfmt fields', () => {
  const { log, lines } = capture({ format: 'text', level: 'info' });
  log.info('connect', { sid: 'a1b2', ip: '127.0.0.1', listener: 'mx', port: 25, tls: false });
  assert.deepEqual(lines, [
    '2026-11-28T13:10:57.123Z info connect sid=a1b2 ip=127.0.0.1 listener=mx port=25 tls=false',
  ]);
});

test('text: values with spaces, quotes, = and empties are quoted', () => {
  const { log, lines } = capture({ format: 'text', level: 'debug' });
  log.debug('x', { a: 'two words', b: 'say "hi"', c: 'k=v', d: '', e: 'back\\slash', n: null, u: undefined });
  assert.equal(
    lines[0],
    '2026-11-28T13:10:57.123Z debug x a="two words" b="say \\"hi\\"" c="k=v" d="" e="back\\\\slash" n=null',
  );
});

test('text: CR, LF and other controls from attacker data never split or forge a line', () => {
  const { log, lines } = capture({ format: 'text', level: 'info' });
  const evil = 'evil.example\r\n2026-11-28T13:10:57.123Z info auth-ok user=admin';
  log.info('ehlo', {
    name: evil,
    nul: 'a\u0000b',
    bidi: 'abc\u202edcba',
    ls: 'a\u2028b',
    del: 'a\u007fb',
    tab: 'a\tb',
  });
  log.info('event with\nnewline', { 'key with space\n': 1 });
  assert.equal(lines.length, 2);
  // deno-lint-ignore no-control-regex
  for (const l of lines) assert.doesNotMatch(l, /[\r\n\u0000\u2028\u202e\u007f\t]/);
  assert.ok(lines[0].includes('name="evil.example\\r\\n2026'), lines[0]);
  assert.ok(lines[0].includes('nul="a\\u0000b"'));
  assert.ok(lines[0].includes('bidi="abc\\u202edcba"'));
  assert.ok(lines[0].includes('ls="a\\u2028b"'));
  assert.ok(lines[1].includes('"event with\\nnewline" key_with_space_=1'), lines[1]);
});

test('text: errors, dates, objects, bigint, cycles', () => {
  const { log, lines } = capture({ format: 'text', level: 'info' });
  const err = Object.assign(new Error('connect refused', { cause: new Error('ECONNREFUSED') }), { code: 'E1' });
  const cyc: Record<string, unknown> = { a: 1 };
  cyc.self = cyc;
  log.error('fail', { err, at: new Date(0), obj: { x: [1, 2] }, big: 10n, cyc });
  assert.equal(
    lines[0],
    '2026-11-28T13:10:57.123Z error fail err="Error: connect refused (E1); cause: Error: ECONNREFUSED" ' +
      'at=1970-01-01T00:00:00.000Z obj="{\\"x\\":[1,2]}" big=10 cyc="{\\"a\\":1,\\"self\\":\\"[circular]\\"}"',
  );
});

test('json: one object per line with ts, level, event and fields', () => {
  const { log, lines } = capture({ format: 'json', level: 'info' });
  log.warn('slow', { ms: 1200, ip: '::1', text: 'a\nb\u2028c', err: new Error('boom'), ts: 'mine' });
  assert.equal(lines.length, 1);
  assert.doesNotMatch(lines[0], /[\n\u2028]/);
  assert.deepEqual(JSON.parse(lines[0]), {
    ts: '2026-11-28T13:10:57.123Z',
    level: 'warn',
    event: 'slow',
    ms: 1200,
    ip: '::1',
    text: 'a\nb\u2028c',
    err: { name: 'Error', message: 'boom' },
    ts_: 'mine',
  });
});

test('child adds fields to every line, nests, and call fields still come last', () => {
  for (const format of ['text', 'json'] as const) {
    const { log, lines } = capture({ format, level: 'info' });
    const session = log.child({ sid: 's1', ip: '192.0.2.1' });
    const tx = session.child({ qid: 'q9' });
    session.info('helo', { name: 'x.example' });
    tx.info('queued');
    log.info('plain');
    if (format === 'text') {
      assert.deepEqual(lines.map((l) => l.slice(25)), [
        'info helo sid=s1 ip=192.0.2.1 name=x.example',
        'info queued sid=s1 ip=192.0.2.1 qid=q9',
        'info plain',
      ]);
    } else {
      assert.deepEqual(JSON.parse(lines[1]), {
        ts: '2026-11-28T13:10:57.123Z',
        level: 'info',
        event: 'queued',
        sid: 's1',
        ip: '192.0.2.1',
        qid: 'q9',
      });
    }
  }
});

test('levels below the configured one are not written, and cost no formatting', () => {
  const { log, lines } = capture({ format: 'text', level: 'warn' });
  let touched = false;
  const fields = {
    get expensive() {
      touched = true;
      return 1;
    },
  };
  log.debug('d', fields);
  log.info('i', fields);
  log.child({ a: 1 }).info('i2');
  log.warn('w');
  log.error('e');
  assert.deepEqual(lines.map((l) => l.split(' ')[1]), ['warn', 'error']);
  assert.equal(touched, false);
  assert.equal(log.enabled('info'), false);
  assert.equal(log.enabled('error'), true);
});

test('default writer goes to stderr without throwing', () => {
  const log = createLogger({ format: 'text', level: 'error' });
  log.info('not written');
  assert.equal(typeof log.error, 'function');
});
