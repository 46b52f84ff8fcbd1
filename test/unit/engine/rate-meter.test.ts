// Transfer rates fall to 0 when nothing moves (issue 12: idle seeds showed 50-300 B/s, finished transfers "1 B/s").
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RateMeter } from '../../../src/engine/rate-meter.js';

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

test('a steady flow reads as its rate, and the rate is exactly 0 once nothing moved for the window', () => {
  const c = clock();
  const m = new RateMeter(c.now);
  assert.equal(m.rate(), 0, 'nothing yet');
  // 100 KiB/s for 10 s, in 100 ms steps.
  for (let i = 0; i < 100; i++) {
    m.add(10 * 1024);
    c.advance(100);
  }
  assert.ok(Math.abs(m.rate() - 100 * 1024) <= 100 * 1024 * 0.06, `steady rate read as ${m.rate()}`);
  c.advance(2000);
  assert.ok(m.rate() > 0 && m.rate() < 100 * 1024, 'decays while the window still holds some payload');
  c.advance(3100);
  assert.equal(m.rate(), 0, 'idle for the whole window: 0, not a remainder');
  c.advance(60 * 60_000);
  assert.equal(m.rate(), 0, 'still 0 an hour later');
});

test('one small burst never shows as a lasting trickle (no "1 B/s" on a finished transfer)', () => {
  const c = clock();
  const m = new RateMeter(c.now);
  c.advance(30_000);
  m.add(4);
  assert.ok(m.rate() > 0);
  c.advance(5001);
  assert.equal(m.rate(), 0);
});

test('the first second is not inflated: bytes are spread over at least one second', () => {
  const c = clock();
  const m = new RateMeter(c.now);
  m.add(1000);
  c.advance(10);
  assert.equal(m.rate(), 1000, '1000 bytes in the first 10 ms read as 1000 B/s, not 100 000');
});

test('old slots are not counted again after the ring wraps', () => {
  const c = clock();
  const m = new RateMeter(c.now);
  m.add(5000);
  c.advance(5000 * 3 + 10); // the same ring slot, three windows later
  assert.equal(m.rate(), 0);
  m.add(500);
  assert.equal(m.rate(), 100, '500 B over the 5 s window');
});
