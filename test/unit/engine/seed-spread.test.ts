import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CANCEL_GRACE_MS,
  Downloaders,
  MAX_HOLD_MS,
  OWNER_IDLE_MS,
  PieceOwners,
  REJECT_BACKOFF_MS,
  RejectBackoff,
  STARVE_MS,
} from '../../../src/engine/seed-spread.js';

const nobodyHas = () => false;

test('a piece being sent to one peer is a duplicate for another, not for the first', () => {
  const o = new PieceOwners<string>();
  assert.equal(o.request('a', 7, 0, nobodyHas), 'serve');
  assert.equal(o.request('a', 7, 10, nobodyHas), 'serve', 'the owner asks for more blocks');
  assert.equal(o.request('b', 7, 20, nobodyHas), 'duplicate');
  assert.equal(o.request('b', 8, 20, nobodyHas), 'serve', 'another piece is free');
  assert.equal(o.ownerOf(7, 20), 'a');
});

test('ownership lapses once the owner stops asking, and passes to the next peer', () => {
  const o = new PieceOwners<string>();
  o.request('a', 1, 0, nobodyHas);
  o.request('a', 1, 1000, nobodyHas); // each request of the owner renews it
  assert.equal(o.request('b', 1, 1000 + OWNER_IDLE_MS - 1, nobodyHas), 'duplicate');
  assert.equal(o.request('b', 1, 1000 + OWNER_IDLE_MS, nobodyHas), 'serve');
  assert.equal(o.ownerOf(1, 1000 + OWNER_IDLE_MS), 'b');
  assert.equal(o.request('a', 1, 1000 + OWNER_IDLE_MS + 1, nobodyHas), 'duplicate');
});

test('once the owner has the piece, a request for it is still held (its cancel is on the way); a peer leaving frees its pieces', () => {
  const o = new PieceOwners<string>();
  const has = new Set<string>();
  o.request('a', 3, 0, nobodyHas);
  o.request('a', 4, 0, nobodyHas);
  assert.equal(
    o.request('b', 3, 5, (w, i) => has.has(`${w}:${i}`)),
    'duplicate',
  );
  has.add('a:3');
  assert.equal(
    o.request('b', 3, 6, (w, i) => has.has(`${w}:${i}`)),
    'duplicate',
  );
  assert.equal(
    o.request('c', 4, 6, nobodyHas, (w) => w === 'a'),
    'serve',
    'owner disconnected',
  );
  o.request('a', 5, 7, nobodyHas);
  o.remove('a');
  assert.equal(o.request('b', 5, 8, nobodyHas), 'serve');
});

test('a rejected piece is not asked of that seed again for a while', () => {
  const b = new RejectBackoff();
  assert.equal(b.blocked(2, 0), false);
  b.reject(2, 100);
  assert.equal(b.size, 1);
  assert.equal(b.blocked(2, 100 + REJECT_BACKOFF_MS - 1), true);
  assert.equal(b.blocked(3, 150), false);
  assert.equal(b.blocked(2, 100 + REJECT_BACKOFF_MS), false);
  assert.equal(b.size, 0, 'forgotten once over');
});

test('two connections to one peer: both ends keep the one the greater peer id opened', async () => {
  const { keepsNewConnection } = await import('../../../src/engine/scheduler.js');
  const hi = 'ff'.repeat(20);
  const lo = '2d5757'.padEnd(40, '0');
  // hi dialled lo (outgoing at hi, incoming at lo) and lo dialled hi; whichever arrives second at each end:
  for (const hiNewIsOutgoing of [true, false]) {
    const hiKeepsNew = keepsNewConnection(hi, lo, hiNewIsOutgoing);
    const hiKeeps = hiKeepsNew === hiNewIsOutgoing ? 'hi-opened' : 'lo-opened';
    assert.equal(hiKeeps, 'hi-opened');
    for (const loNewIsOutgoing of [true, false]) {
      const loKeepsNew = keepsNewConnection(lo, hi, loNewIsOutgoing);
      const loKeeps = loKeepsNew === loNewIsOutgoing ? 'lo-opened' : 'hi-opened';
      assert.equal(loKeeps, hiKeeps);
    }
  }
});

test("while some piece is on the seed alone, a piece others have is 'elsewhere'; served once every piece is out", () => {
  const o = new PieceOwners<string>();
  const have = new Map([[1, 2]]); // piece 1: two other peers have it
  const spread = (nobodyElseHas: number) => ({ othersHave: (i: number) => have.get(i) ?? 0, nobodyElseHas });
  assert.equal(o.request('b', 1, 0, nobodyHas, undefined, spread(5)), 'elsewhere');
  assert.equal(o.request('b', 2, 0, nobodyHas, undefined, spread(5)), 'serve', 'a piece only the seed has');
  assert.equal(o.request('c', 2, 1, nobodyHas, undefined, spread(5)), 'duplicate');
  assert.equal(o.request('b', 1, 2, nobodyHas, undefined, spread(0)), 'serve', 'nothing fresh left: any piece');
  assert.equal(o.request('c', 1, 3, nobodyHas), 'duplicate', 'without the rule (a peer that takes no reject)');
});

test('a peer asking for every piece cannot lock another out: a peer refused for STARVE_MS is served for as long', () => {
  const o = new PieceOwners<string>();
  const has = () => false;
  let now = 0;
  // A flood: peer F asks for all 27 pieces every 100 ms and never finishes one.
  const flood = () => {
    for (let i = 0; i < 27; i++) o.request('F', i, now, has);
  };
  flood();
  let served = 0;
  let firstServed = -1;
  for (; now <= 10_000; now += 100) {
    flood();
    if (o.request('B', now % 27, now, has) === 'serve') {
      served++;
      if (firstServed < 0) firstServed = now;
    }
  }
  assert.ok(firstServed >= 0 && firstServed <= STARVE_MS, `B first served at ${firstServed} ms`);
  assert.ok(served >= 30, `B served ${served} of 100 requests over 10 s`);
});

test('a held-back duplicate waits while the owner fetches the piece, then a grace for the cancel, at most MAX_HOLD_MS', () => {
  const o = new PieceOwners<string>();
  const got = new Set<string>();
  const has = (w: string, i: number) => got.has(`${w}:${i}`);
  o.request('a', 1, 0, has);
  assert.equal(o.request('b', 1, 10, has), 'duplicate');
  const held = { wire: 'b', index: 1, since: 10 };
  // The owner keeps asking for blocks (a slow piece at a shared, rate-limited seed): b waits past any fixed delay.
  for (let now = 100; now <= 3000; now += 100) {
    o.request('a', 1, now, has);
    assert.equal(o.hold(held, now, has), 'wait', `at ${now} ms`);
  }
  got.add('a:1');
  assert.equal(o.hold(held, 3100, has), 'wait', 'owner has it: a moment for the cancel');
  assert.equal(o.hold(held, 3100 + CANCEL_GRACE_MS - 1, has), 'wait');
  assert.equal(o.hold(held, 3100 + CANCEL_GRACE_MS, has), 'serve', 'not cancelled: served (the owner may choke b)');

  // An owner that never finishes: served after MAX_HOLD_MS.
  o.request('a', 2, 0, nobodyHas);
  const h2 = { wire: 'c', index: 2, since: 0 };
  for (let now = 0; now < MAX_HOLD_MS; now += 500) {
    o.request('a', 2, now, nobodyHas);
    assert.equal(o.hold(h2, now, nobodyHas), 'wait');
  }
  assert.equal(o.hold(h2, MAX_HOLD_MS, nobodyHas), 'serve');

  // An owner that stopped asking, or left: served at once.
  o.request('a', 3, 0, nobodyHas);
  assert.equal(o.hold({ wire: 'c', index: 3, since: 0 }, OWNER_IDLE_MS, nobodyHas), 'serve', 'lapsed');
  o.request('a', 4, 0, nobodyHas);
  assert.equal(
    o.hold({ wire: 'c', index: 4, since: 0 }, 1, nobodyHas, (w) => w === 'a'),
    'serve',
    'owner gone',
  );
});

test('an owner keeps its piece while its blocks still go out to it, and only the owner renews it', () => {
  const o = new PieceOwners<string>();
  o.request('a', 6, 0, nobodyHas); // every block asked at once, then served slowly at a rate-limited seed
  o.served('a', 6, 1500);
  o.served('b', 6, 3000); // not the owner: no effect
  assert.equal(o.request('b', 6, 1500 + OWNER_IDLE_MS - 1, nobodyHas), 'duplicate', 'still being sent to a');
  assert.equal(o.request('b', 6, 1500 + OWNER_IDLE_MS, nobodyHas), 'serve', 'lapsed after its last block');
});

test('owning: the pieces partly sent to a peer (a seed lets it finish them before its upload turn ends)', () => {
  const o = new PieceOwners<string>();
  const got = new Set<string>();
  const has = (w: string, i: number) => got.has(`${w}:${i}`);
  o.request('a', 1, 0, has);
  o.request('a', 2, 0, has);
  o.request('b', 3, 0, has);
  assert.equal(o.owning('a', 10, has), 2);
  got.add('a:1');
  assert.equal(o.owning('a', 10, has), 1, 'a piece it has is finished');
  assert.equal(o.owning('a', OWNER_IDLE_MS, has), 0, 'lapsed: nothing left to finish');
  assert.equal(o.owning('c', 10, has), 0);
});

test('an owner with requests for the piece still queued at the seed keeps it, however long it is idle', () => {
  const queued = new Set(['a:5']);
  const o = new PieceOwners<string>((w, i) => queued.has(`${w}:${i}`));
  o.request('a', 5, 0, nobodyHas);
  assert.equal(o.request('b', 5, 10 * OWNER_IDLE_MS, nobodyHas), 'duplicate', 'a slow reader is still getting it');
  assert.equal(o.ownerOf(5, 10 * OWNER_IDLE_MS), 'a');
  queued.clear();
  assert.equal(o.request('b', 5, 10 * OWNER_IDLE_MS, nobodyHas), 'serve', 'nothing queued and idle: lapsed');
});

test("'elsewhere' holds: waits while others have the piece and some piece is on the seed alone; the owner continues", () => {
  const o = new PieceOwners<string>();
  const others = new Map([[1, 1]]);
  let fresh = 3;
  const spread = {
    othersHave: (i: number) => others.get(i) ?? 0,
    get nobodyElseHas() {
      return fresh;
    },
  };
  assert.equal(o.request('a', 2, 0, nobodyHas, undefined, spread), 'serve');
  others.set(2, 1); // someone else got piece 2 meanwhile: a, half-way through it, still gets the rest
  assert.equal(o.request('a', 2, 10, nobodyHas, undefined, spread), 'serve');
  assert.equal(o.request('b', 1, 10, nobodyHas, undefined, spread), 'elsewhere');
  const held = { wire: 'b', index: 1, since: 10, elsewhere: true };
  assert.equal(o.hold(held, 1000, nobodyHas, undefined, spread), 'wait');
  assert.equal(o.hold(held, 10 + MAX_HOLD_MS, nobodyHas, undefined, spread), 'serve', 'at most MAX_HOLD_MS');
  assert.equal(o.hold({ ...held, since: 2000 }, 2001, nobodyHas, undefined, spread), 'wait');
  fresh = 0;
  assert.equal(o.hold({ ...held, since: 2000 }, 2002, nobodyHas, undefined, spread), 'serve', 'every piece is out');
});

test('Downloaders: a seed never seen missing a piece is the origin; one that completed is not; bounded', () => {
  const d = new Downloaders(2);
  assert.equal(d.isOrigin('aa'), true);
  d.note('aa'); // seen downloading
  assert.equal(d.isOrigin('aa'), false, 'completed later: still not the origin');
  assert.equal(d.isOrigin('bb'), true);
  d.note(undefined);
  d.note('bb');
  d.note('cc'); // over the bound: forgotten, counted as an origin (asked less of, never more)
  assert.equal(d.isOrigin('bb'), false);
  assert.equal(d.isOrigin('cc'), true);
  assert.equal(d.isOrigin(undefined), true);
});
