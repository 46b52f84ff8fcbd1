// src/engine/rate.ts: the token bucket behind --upload-limit / --download-limit. On a simulated clock (mock timers
// and an injected now): waiters are served first come first served, by one timer at a time (each waiter polling on
// its own timer took half of a rate-limited seed's main thread at N = 16), and what passes never exceeds the rate.
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { RateLimiter } from '../../../src/engine/rate.js';

const BLOCK = 16 * 1024;

function simulated(rate: number) {
  let t = 0;
  mock.timers.enable({ apis: ['setTimeout'] });
  const spy = mock.method(globalThis, 'setTimeout');
  const limiter = new RateLimiter(rate, () => t);
  const advance = async (ms: number) => {
    for (let i = 0; i < ms; i++) {
      t += 1;
      mock.timers.tick(1);
      await Promise.resolve();
    }
  };
  const done = () => {
    spy.mock.restore();
    mock.timers.reset();
  };
  return { limiter, advance, timers: () => spy.mock.callCount(), done };
}

test('200 blocks waiting on an 8 MiB/s limit: served in order, by about one timer per grant, never above the rate', async () => {
  const rate = 8 * 1024 * 1024;
  const sim = simulated(rate);
  try {
    // The one-second burst is spent first.
    assert.ok(sim.limiter.tryTake(rate));
    const order: number[] = [];
    const all = Array.from({ length: 200 }, (_, i) => sim.limiter.take(BLOCK).then(() => order.push(i)));
    assert.equal(sim.limiter.waiting, 200);
    assert.equal(sim.limiter.tryTake(BLOCK), false, 'a newcomer does not jump the queue');
    await sim.advance(200);
    // 200 ms at 8 MiB/s is 1.6 MiB: at most 102 blocks of 16 KiB.
    assert.ok(order.length <= Math.ceil((rate * 0.2) / BLOCK) + 1, `${order.length} blocks passed in 200 ms`);
    assert.ok(order.length >= 90, `${order.length} blocks passed in 200 ms`);
    await sim.advance(300);
    await Promise.all(all);
    assert.deepEqual(
      order,
      Array.from({ length: 200 }, (_, i) => i),
      'first come, first served',
    );
    assert.ok(sim.timers() <= 200 + 5, `${sim.timers()} timers for 200 waiters (one per waiter per retry before)`);
    assert.equal(sim.limiter.waiting, 0);
  } finally {
    sim.done();
  }
});

test('lifting the limit lets every waiter through at once', async () => {
  const sim = simulated(BLOCK);
  try {
    assert.ok(sim.limiter.tryTake(BLOCK));
    let passed = 0;
    const all = Array.from({ length: 50 }, () => sim.limiter.take(BLOCK).then(() => passed++));
    await sim.advance(10);
    assert.equal(passed, 0, 'nothing passes before a whole block is earned');
    sim.limiter.setRate(-1);
    await Promise.all(all);
    assert.equal(passed, 50);
    assert.equal(sim.limiter.tryTake(1e12), true, 'unlimited');
  } finally {
    sim.done();
  }
});

test('a block larger than the whole bucket still passes once the bucket is full', async () => {
  const sim = simulated(1000);
  try {
    assert.ok(sim.limiter.tryTake(1000));
    let passed = false;
    const p = sim.limiter.take(5000).then(() => (passed = true));
    await sim.advance(999);
    assert.equal(passed, false);
    await sim.advance(5);
    await p;
    assert.equal(passed, true);
  } finally {
    sim.done();
  }
});
