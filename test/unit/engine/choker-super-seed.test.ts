// BEP 16 super-seeding bookkeeping: each peer is shown different pieces, rarest first, a new one once it announces
// one it was shown, and a departed peer's pieces are free again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SuperSeeder } from '../../../src/engine/super-seed.js';

test('different peers are shown different pieces, each at most two at a time', () => {
  const avail = new Array(20).fill(0);
  const ss = new SuperSeeder<string>(20, (i) => avail[i], 2);
  const shown = new Map<string, number[]>();
  for (const p of ['a', 'b', 'c', 'd', 'e'])
    shown.set(
      p,
      ss.next(p, () => false),
    );
  const all = [...shown.values()].flat();
  assert.equal(all.length, 10);
  assert.equal(new Set(all).size, 10, 'no piece shown to two peers');
  assert.deepEqual(
    ss.next('a', () => false),
    [],
    'nothing more until a shown piece is announced',
  );
});

test('rarest first, skipping what the peer has; next piece after an announce; a departed peer frees its pieces', () => {
  const avail = [3, 0, 2, 1, 5];
  const ss = new SuperSeeder<string>(5, (i) => avail[i], 1);
  assert.deepEqual(
    ss.next('a', () => false),
    [1],
  );
  assert.deepEqual(
    ss.next('b', (i) => i === 3),
    [2],
    'piece 1 is on its way to a, the peer has 3: next rarest is 2',
  );
  assert.equal(ss.announced('a', 4), false, 'not a piece shown to a');
  avail[1]++;
  assert.equal(ss.announced('a', 1), true);
  assert.deepEqual(
    ss.next('a', (i) => i === 1),
    [3],
  );
  avail[1] = 4; // a shared piece 1 around
  ss.remove('b');
  assert.deepEqual(ss.offeredTo('b'), []);
  assert.deepEqual(
    ss.next('c', () => false),
    [2],
    'piece 2 is free again once b left',
  );
});
