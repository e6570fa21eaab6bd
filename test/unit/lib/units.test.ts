// Durations and sizes as operators write them in tern.toml and TERN_* variables.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, formatSize, parseDuration, parseSize } from '../../../src/lib/units.ts';

const value = <T>(r: { ok: true; value: T } | { ok: false; error: string }): T => {
  assert.ok(r.ok, r.ok ? '' : r.error);
  return r.value;
};

test('durations: units, decimals, bare seconds', () => {
  const table: Array<[string | number, number]> = [
    ['250ms', 250],
    ['300s', 300_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['2d', 172_800_000],
    ['1.5s', 1500],
    ['0s', 0],
    [' 10 s ', 10_000],
    ['5M', 300_000],
    [300, 300_000],
    ['300', 300_000],
    [0, 0],
  ];
  for (const [input, ms] of table) assert.equal(value(parseDuration(input)), ms, String(input));
});

test('durations: what is refused', () => {
  for (const input of ['', 'abc', '5 minutes', '-1s', '1.5', 'ms', '5w', '1e3s', -1, 1.5, Number.NaN, 1e300]) {
    const r = parseDuration(input);
    assert.equal(r.ok, false, String(input));
    if (!r.ok) assert.match(r.error, /duration/);
  }
});

test('sizes: IEC, SI and bare letters (coreutils: k = 1024, kB = 1000)', () => {
  const table: Array<[string | number, number]> = [
    ['35MiB', 36_700_160],
    ['10MB', 10_000_000],
    ['512k', 524_288],
    ['512K', 524_288],
    ['1KiB', 1024],
    ['1kb', 1000],
    ['1.5G', 1_610_612_736],
    ['1GiB', 1024 ** 3],
    ['2TiB', 2 * 1024 ** 4],
    ['100', 100],
    ['100b', 100],
    [36_700_160, 36_700_160],
    ['0', 0],
  ];
  for (const [input, n] of table) assert.equal(value(parseSize(input)), n, String(input));
});

test('sizes: what is refused', () => {
  for (const input of ['', 'lots', '-5MiB', '5 PiB', 'MiB', '1,000', -1, 2.5, 1e300, '99999999999TiB']) {
    assert.equal(parseSize(input).ok, false, String(input));
  }
});

test('formatSize: exact when it can be, and parses back', () => {
  assert.equal(formatSize(36_700_160), '35MiB');
  assert.equal(formatSize(512 * 1024 ** 2), '512MiB');
  assert.equal(formatSize(1024 ** 3), '1GiB');
  assert.equal(formatSize(1536), '1.5KiB');
  assert.equal(formatSize(1000), '1000');
  assert.equal(formatSize(1_500_000), '1.4MiB');
  for (const n of [0, 1, 1024, 36_700_160, 3 * 1024 ** 4, 65536]) assert.equal(value(parseSize(formatSize(n))), n);
});

test('formatDuration: largest exact unit, parses back', () => {
  assert.equal(formatDuration(300_000), '5m');
  assert.equal(formatDuration(10_000), '10s');
  assert.equal(formatDuration(250), '250ms');
  assert.equal(formatDuration(0), '0ms');
  assert.equal(formatDuration(86_400_000), '1d');
  for (const n of [0, 1, 999, 1000, 90_000, 300_000, 3_600_000]) {
    assert.equal(value(parseDuration(formatDuration(n))), n);
  }
});
