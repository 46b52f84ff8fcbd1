// The one formatter: what a user reads for sizes, rates, times and counts, everywhere (src/shared/format.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatAgo,
  formatBytes,
  formatCount,
  formatDuration,
  formatEta,
  formatPercent,
  formatRate,
  plural,
  RATE_FLOOR,
  UNKNOWN,
} from '../../../src/shared/format.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

test('sizes: binary units, three significant digits', () => {
  const cases: [number, string][] = [
    [0, '0 B'],
    [1, '1 B'],
    [512, '512 B'],
    [1023, '1023 B'],
    [KiB, '1.00 KiB'],
    [1536, '1.50 KiB'],
    [256 * KiB, '256 KiB'],
    [15.25 * MiB, '15.3 MiB'],
    [1.5 * GiB, '1.50 GiB'],
    [100 * GiB, '100 GiB'],
    [1024 * GiB, '1.00 TiB'],
  ];
  for (const [n, s] of cases) assert.equal(formatBytes(n), s, `formatBytes(${n})`);
});

test('sizes: a value that rounds to 1024 of a unit moves up, never "1024 KiB"', () => {
  assert.equal(formatBytes(MiB - 1), '1.00 MiB');
  assert.equal(formatBytes(1000 * KiB), '1000 KiB');
});

test('sizes: 256 KiB is never "0.00 GB" (issue 12)', () => {
  assert.equal(formatBytes(262144), '256 KiB');
});

test('sizes: nonsense prints the unknown mark, not NaN or a negative', () => {
  assert.equal(formatBytes(NaN), UNKNOWN);
  assert.equal(formatBytes(-1), UNKNOWN);
  assert.equal(formatBytes(Infinity), UNKNOWN);
});

test('rates: idle and sub-floor noise print "0 B/s", never "1 B/s"', () => {
  assert.equal(formatRate(0), '0 B/s');
  assert.equal(formatRate(1), '0 B/s');
  assert.equal(formatRate(300), '0 B/s');
  assert.equal(formatRate(RATE_FLOOR - 1), '0 B/s');
  assert.equal(formatRate(-5), '0 B/s');
  assert.equal(formatRate(RATE_FLOOR), '1.00 KiB/s');
  assert.equal(formatRate(2 * MiB), '2.00 MiB/s');
  assert.equal(formatRate(120 * MiB), '120 MiB/s');
});

test('rates: unknown is not idle', () => {
  assert.equal(formatRate(undefined), UNKNOWN);
  assert.equal(formatRate(null), UNKNOWN);
  assert.equal(formatRate(NaN), UNKNOWN);
});

test('durations: two largest units', () => {
  const cases: [number, string][] = [
    [0, '0 s'],
    [0.4, '0.4 s'],
    [2.54, '2.5 s'],
    [9.96, '10 s'],
    [45, '45 s'],
    [59.6, '1 min'],
    [60, '1 min'],
    [80, '1 min 20 s'],
    [3600, '1 h'],
    [3600 + 5 * 60 + 7, '1 h 5 min'],
    [86400 * 3 + 3600 * 4, '3 d 4 h'],
  ];
  for (const [n, s] of cases) assert.equal(formatDuration(n), s, `formatDuration(${n})`);
  assert.equal(formatDuration(-1), UNKNOWN);
  assert.equal(formatDuration(undefined), UNKNOWN);
});

test('ETAs round up and say unknown when nothing moves', () => {
  assert.equal(formatEta(0.2), '1 s');
  assert.equal(formatEta(79.1), '1 min 20 s');
  assert.equal(formatEta(Infinity), UNKNOWN);
  assert.equal(formatEta(null), UNKNOWN);
  assert.equal(formatEta(undefined), UNKNOWN);
});

test('relative times', () => {
  const now = Date.UTC(2026, 11, 4, 12, 0, 0);
  assert.equal(formatAgo(now - 2000, now), 'just now');
  assert.equal(formatAgo(now - 12_000, now), '12 s ago');
  assert.equal(formatAgo(now - 125_000, now), '2 min ago');
  assert.equal(formatAgo(new Date(now - 3 * 3600_000 - 5), now), '3 h ago');
  assert.equal(formatAgo(now - 86400_000, now), '1 day ago');
  assert.equal(formatAgo(now - 2 * 86400_000, now), '2 days ago');
  assert.equal(formatAgo(now + 120_000, now), 'in 2 min');
  assert.equal(formatAgo(Date.UTC(2026, 0, 3), now), '2026-01-03');
  assert.equal(formatAgo(undefined, now), 'never');
});

test('counts and plurals', () => {
  assert.equal(formatCount(0), '0');
  assert.equal(formatCount(9999), '9999');
  assert.equal(formatCount(12_345), '12.3K');
  assert.equal(formatCount(999_960), '1.00M');
  assert.equal(formatCount(7_241_732_096), '7.24B');
  assert.equal(plural(1, 'peer'), '1 peer');
  assert.equal(plural(0, 'peer'), '0 peers');
  assert.equal(plural(2, 'entry', 'entries'), '2 entries');
});

test('percentages never claim 100% before the end', () => {
  assert.equal(formatPercent(0), '0%');
  assert.equal(formatPercent(0.421), '42%');
  assert.equal(formatPercent(0.9996), '99.9%');
  assert.equal(formatPercent(1), '100%');
  assert.equal(formatPercent(NaN), UNKNOWN);
});
