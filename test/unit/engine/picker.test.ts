// The piece picker: rarest first with random ties, availability kept from bitfield / have / BEP 6 / disconnects,
// priorities and sequential order, and a bucket array that stays consistent through any sequence of changes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PeerAvailability, pickAtSeed, PiecePicker, seedRanks, seedStripe } from '../../../src/engine/picker.js';

/** A small deterministic PRNG (mulberry32) so failures reproduce. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const all = () => true;
const none = () => false;

/** The picking order must be sorted by availability, hold each wanted missing piece once, and nothing else. */
function assertConsistent(p: PiecePicker): void {
  const order = p.ordered();
  const seen = new Set(order);
  assert.equal(seen.size, order.length, 'no piece twice');
  for (let i = 1; i < order.length; i++) {
    assert.ok(p.availability(order[i - 1]) <= p.availability(order[i]), `sorted at ${i}`);
  }
  for (let i = 0; i < p.pieceCount; i++) {
    const wanted = !p.hasPiece(i) && p.priority(i) > 0;
    assert.equal(seen.has(i), wanted, `piece ${i} in the order iff wanted and missing`);
  }
}

test('rarest first: the piece fewest peers have comes first', () => {
  const p = new PiecePicker(10, { random: rng(1), randomFirst: 0 });
  const a = new PeerAvailability(p);
  const b = new PeerAvailability(p);
  a.bitfield(() => true); // a seed: counted once, shifts every piece equally
  b.bitfield((i) => i !== 7); // everything but 7
  assert.equal(p.seeds, 1);
  assert.equal(p.availability(7), 1);
  assert.equal(p.availability(3), 2);
  assert.equal(p.pick(all), 7);
  // b gets 7 too; now 7 is as common as the rest.
  b.have(7);
  assert.equal(p.availability(7), 2);
  assertConsistent(p);
});

test('random ties: equally rare pieces come out in a different order for different downloaders', () => {
  const firsts = new Set<number>();
  for (let seed = 1; seed <= 40; seed++) {
    const p = new PiecePicker(1000, { random: rng(seed), randomFirst: 0 });
    new PeerAvailability(p).haveAll();
    firsts.add(p.pick(all));
  }
  // 40 downloaders facing one seed of 1000 equally rare pieces: nearly all start on different pieces.
  assert.ok(firsts.size >= 35, `only ${firsts.size} distinct first picks`);
});

test('pieces in flight and pieces the peer lacks are skipped; -1 when the peer has nothing we want', () => {
  const p = new PiecePicker(4, { random: rng(2), randomFirst: 0 });
  const peer = new PeerAvailability(p);
  peer.have(1);
  peer.have(2);
  const busy = new Set([1]);
  assert.equal(
    p.pick(
      (i) => peer.has(i),
      (i) => busy.has(i),
    ),
    2,
  );
  busy.add(2);
  assert.equal(
    p.pick(
      (i) => peer.has(i),
      (i) => busy.has(i),
    ),
    -1,
  );
  assert.equal(p.pick(none), -1);
});

test('availability from have, bitfield, have-all, have-none, dont-have and disconnect', () => {
  const p = new PiecePicker(8, { random: rng(3) });
  const a = new PeerAvailability(p);
  const b = new PeerAvailability(p);
  a.bitfield((i) => i < 4);
  b.have(2);
  b.have(2); // repeated have counts once
  assert.deepEqual(
    Array.from({ length: 8 }, (_, i) => p.availability(i)),
    [1, 1, 2, 1, 0, 0, 0, 0],
  );
  // A second bitfield replaces the first.
  a.bitfield((i) => i >= 6);
  assert.deepEqual(
    Array.from({ length: 8 }, (_, i) => p.availability(i)),
    [0, 0, 1, 0, 0, 0, 1, 1],
  );
  // BEP 6 have-all: a seed; have-none: nothing.
  b.haveAll();
  assert.equal(p.seeds, 1);
  assert.deepEqual(
    Array.from({ length: 8 }, (_, i) => p.availability(i)),
    [1, 1, 1, 1, 1, 1, 2, 2],
  );
  assert.ok(b.has(5));
  b.haveNone();
  assert.equal(p.seeds, 0);
  assert.equal(b.has(5), false);
  assert.equal(p.availability(2), 0);
  // A seed that says it lost one piece (lt_donthave) is counted per piece.
  b.haveAll();
  b.dontHave(3);
  assert.equal(p.seeds, 0);
  assert.equal(p.availability(3), 0);
  assert.equal(p.availability(6), 2);
  // Disconnects take everything back.
  a.close();
  b.close();
  a.have(1); // late messages from a closed peer are ignored
  assert.deepEqual(
    Array.from({ length: 8 }, (_, i) => p.availability(i)),
    [0, 0, 0, 0, 0, 0, 0, 0],
  );
  assertConsistent(p);
});

test('useful counts what a peer has that we lack, for interest without a scan', () => {
  const p = new PiecePicker(6);
  const a = new PeerAvailability(p);
  a.bitfield((i) => i < 3);
  assert.equal(a.useful, 3);
  p.setHave(0);
  a.weGot(0);
  assert.equal(a.useful, 2);
  a.have(5);
  a.have(0); // already ours
  assert.equal(a.useful, 3);
  a.close();
  assert.equal(a.useful, 0);
});

test('pieces we have leave the order; priorities: 0 skips, high comes first in index order', () => {
  const p = new PiecePicker(20, { random: rng(4), randomFirst: 0 });
  const seed = new PeerAvailability(p);
  seed.haveAll();
  for (let i = 0; i < 20; i += 2) p.setHave(i);
  assertConsistent(p);
  assert.equal(p.remaining, 10);
  assert.ok(p.pick(all) % 2 === 1);
  p.setPriority(0, 10, 0); // do not want the first file
  assertConsistent(p);
  assert.equal(p.remaining, 5);
  for (let k = 0; k < 20; k++) assert.ok(p.pick(all) > 10);
  p.setPriority(17, 19, 7); // a file the user wants first
  assert.equal(p.pick(all), 17);
  assert.equal(
    p.pick(all, (i) => i === 17),
    19,
  );
  p.setPriority(0, 10, 1); // wanted again
  assertConsistent(p);
  assert.equal(p.remaining, 10);
});

test('sequential mode picks the lowest missing index the peer has', () => {
  const p = new PiecePicker(10, { random: rng(5), sequential: true });
  const a = new PeerAvailability(p);
  a.bitfield((i) => i >= 3);
  p.setHave(3);
  assert.equal(
    p.pick((i) => a.has(i)),
    4,
  );
  assert.equal(
    p.pick(
      (i) => a.has(i),
      (i) => i === 4,
    ),
    5,
  );
});

test('the first few pieces are random even when some are rarer', () => {
  const picks = new Set<number>();
  for (let seed = 1; seed <= 30; seed++) {
    const p = new PiecePicker(100, { random: rng(seed), randomFirst: 4 });
    new PeerAvailability(p).haveAll();
    const rare = new PeerAvailability(p);
    rare.bitfield((i) => i !== 50); // every piece but 50 is on two peers: 50 is rarest
    picks.add(p.pick(all));
  }
  assert.ok(picks.size > 5, 'random start, not always the rarest piece');
  const p = new PiecePicker(100, { random: rng(9), randomFirst: 0 });
  new PeerAvailability(p).haveAll();
  new PeerAvailability(p).bitfield((i) => i !== 50);
  assert.equal(p.pick(all), 50, 'rarest first once random start is over');
});

test('the bucket array stays consistent through thousands of random changes', () => {
  const random = rng(42);
  const p = new PiecePicker(300, { random, randomFirst: 0 });
  const peers = Array.from({ length: 12 }, () => new PeerAvailability(p));
  for (let step = 0; step < 20000; step++) {
    const peer = peers[Math.floor(random() * peers.length)];
    const i = Math.floor(random() * 300);
    const r = random();
    if (r < 0.6) peer.have(i);
    else if (r < 0.7) peer.dontHave(i);
    else if (r < 0.72) {
      peer.close();
      peers[peers.indexOf(peer)] = new PeerAvailability(p);
    } else if (r < 0.73) peer.haveAll();
    else if (r < 0.74) peer.haveNone();
    else if (r < 0.76) p.setHave(i);
    else if (r < 0.78) p.setPriority(i, i + 3, Math.floor(random() * 3));
    else if (r < 0.79) peer.bitfield(() => random() < 0.5);
    if (step % 1000 === 0) assertConsistent(p);
  }
  assertConsistent(p);
  // Availability equals what the live peers say they have.
  for (let i = 0; i < 300; i++) {
    assert.equal(p.availability(i), peers.filter((x) => x.has(i)).length, `availability of ${i}`);
  }
});

test('picking cost does not grow with the piece count (100,000 pieces)', () => {
  // Counted in operations, not time: how many candidates a pick looks at for a seed peer with 16 pieces in flight.
  const p = new PiecePicker(100_000, { random: rng(7), randomFirst: 0 });
  new PeerAvailability(p).haveAll();
  const peers = Array.from({ length: 30 }, () => new PeerAvailability(p));
  for (const peer of peers) for (let k = 0; k < 2000; k++) peer.have(Math.floor(Math.random() * 100_000));
  for (let i = 0; i < 50_000; i++) p.setHave(i);
  const busy = new Set<number>();
  let looked = 0;
  for (let k = 0; k < 1000; k++) {
    const got = p.pick(
      () => (looked++, true),
      (i) => busy.has(i),
    );
    assert.ok(got >= 50_000);
    busy.add(got);
    if (busy.size > 16) {
      const done = busy.values().next().value!;
      busy.delete(done);
      p.setHave(done);
    }
  }
  assert.equal(looked, 1000, 'one candidate looked at per pick, whatever the piece count');
});

test('nobodyElseHas: pieces no connected peer has, kept from have / disconnect; none once a seed is there', () => {
  const p = new PiecePicker(4);
  for (let i = 0; i < 4; i++) p.setHave(i); // a seed's own picker: it has everything
  assert.equal(p.nobodyElseHas, 4);
  const a = new PeerAvailability(p);
  a.have(1);
  a.have(2);
  const b = new PeerAvailability(p);
  b.have(2);
  assert.equal(p.nobodyElseHas, 2);
  a.close();
  assert.equal(p.nobodyElseHas, 3, 'piece 1 left with the peer; piece 2 is still on b');
  const s = new PeerAvailability(p);
  s.haveAll();
  assert.equal(p.nobodyElseHas, 0);
  s.close();
  assert.equal(p.nobodyElseHas, 3);
});

test('seed stripes: downloaders that see the same swarm take disjoint shares of the pieces first, covering all', () => {
  const ids = ['c1', 'a7', 'f0', '3b'];
  const stripes = ids.map((me) =>
    seedStripe(
      me,
      ids.filter((x) => x !== me),
    )!,
  );
  for (let i = 0; i < 100; i++) {
    assert.equal(stripes.filter((s) => s(i)).length, 1, `piece ${i} in exactly one stripe`);
  }
  // Seeds and duplicates in the list do not change it; alone, no stripe.
  assert.equal(seedStripe('a7', ['c1', 'f0', '3b', 'c1'])!(1), stripes[1](1));
  assert.equal(seedStripe('a7', []), undefined);
});

test('seed ranks: per piece, the downloaders that see the same swarm hold ranks 0..n-1, one each', () => {
  const ids = Array.from({ length: 16 }, (_, k) => `2d534d303030312d${k.toString(16).padStart(24, '0')}`);
  const ranks = ids.map((me) => seedRanks(me, ids)!);
  for (let i = 0; i < 200; i++) {
    const got = ranks.map((r) => r(i)).sort((a, b) => a - b);
    assert.deepEqual(got, [...ids.keys()], `piece ${i}: ranks are a permutation`);
  }
  // Every downloader owns some pieces (a fair share of 1024 among 16 is 64; rendezvous is random, not exact).
  for (const r of ranks) {
    let owned = 0;
    for (let i = 0; i < 1024; i++) if (r(i) === 0) owned++;
    assert.ok(owned > 24 && owned < 120, `owned ${owned}`);
  }
});

test('seed ranks: a downloader unknown to another moves only the pieces it would own (rendezvous, not i mod n)', () => {
  const ids = Array.from({ length: 8 }, (_, k) => `peer-${k}-${'x'.repeat(k)}`);
  const late = 'peer-late';
  // a knows everyone; b has not met `late` yet. They disagree only on pieces `late` owns or comes first for.
  const a = seedStripe(ids[0], [...ids, late])!;
  const b = seedStripe(ids[1], ids)!;
  const aFull = seedStripe(ids[0], ids)!;
  const lateOwns = seedStripe(late, [...ids, late])!;
  let both = 0;
  let changed = 0;
  for (let i = 0; i < 2000; i++) {
    if (a(i) && b(i)) both++;
    if (a(i) !== aFull(i)) {
      changed++;
      assert.ok(lateOwns(i), `piece ${i} moved away from a only because late owns it`);
    }
  }
  assert.equal(both, 0, 'a and b never both own a piece');
  assert.ok(changed > 0 && changed < 2000 / 8, `${changed} pieces moved`);
});

test('seed ranks: next in line (rank 1) splits the pieces of a downloader among the others, one each', () => {
  const ids = ['c1', 'a7', 'f0', '3b', '9e'];
  const ranks = ids.map((me) => seedRanks(me, ids)!);
  // The pieces c1 owns (c1 choked by the seed, say): each is "next in line" for exactly one other downloader.
  const backups = new Set<number>();
  for (let i = 0; i < 500; i++) {
    if (ranks[0](i) !== 0) continue;
    const next = ranks.map((r, k) => (r(i) === 1 ? k : -1)).filter((k) => k >= 0);
    assert.equal(next.length, 1, `piece ${i}: one downloader next in line`);
    backups.add(next[0]);
  }
  assert.equal(backups.size, 4, 'spread over all the others');
  assert.equal(seedRanks('a7', ['a7']), undefined, 'alone: no ranks');
});

test('at a seed: of the pieces on the seed alone, the one we are furthest up the line for first', () => {
  const ids = Array.from({ length: 16 }, (_, k) => `2d534d303030312d${k.toString(16).padStart(24, '0')}`);
  const ranks = ids.map((me) => seedRanks(me, ids)!);
  const p = new PiecePicker(64);
  new PeerAvailability(p).haveAll();
  const me = ranks[3];
  // Our own pieces and those we are next in line for are in flight already: the next one is the lowest rank left,
  // not any fresh one (two downloaders that took any collided, both fetching it from the seed before either's claim
  // arrived).
  const busy = (i: number) => me(i) <= 1;
  const lowest = Math.min(
    ...Array.from({ length: 64 }, (_, i) => i)
      .filter((i) => !busy(i))
      .map(me),
  );
  const i = pickAtSeed(p, all, { busy, claimed: none, rank: me, origin: true });
  assert.equal(me(i), lowest);
  // Downloaders left with the same pieces to choose from mostly choose different ones: their ranks per piece differ.
  const free = (k: number) => (j: number) => ranks[k](j) <= 1;
  const picks = ranks.map((r, k) => pickAtSeed(p, all, { busy: free(k), claimed: none, rank: r, origin: true }));
  assert.ok(new Set(picks).size >= 12, `${new Set(picks).size} different pieces of 16 picks`);
  // Alone (no ranks): rarest first as ever.
  assert.ok(pickAtSeed(p, all, { busy: none, claimed: none, origin: true }) >= 0);
});

test('at the origin seed: no piece a fellow has while some piece is on the seeds alone or fellows feed us', () => {
  const p = new PiecePicker(4);
  new PeerAvailability(p).haveAll(); // the origin
  const fellow = new PeerAvailability(p);
  fellow.have(0);
  fellow.have(1);
  assert.equal(p.onSeedsAlone, 2);
  const claimed = (i: number) => i === 2 || i === 3; // on their way from the seed to fellow downloaders
  assert.equal(pickAtSeed(p, all, { busy: none, claimed, origin: true }), -1, 'wait: a duplicate delays them');
  const fromCompleted = pickAtSeed(p, all, { busy: none, claimed, origin: false });
  assert.ok(fromCompleted === 0 || fromCompleted === 1, 'a downloader that completed may send it again');
  // A piece on the seed alone that nobody claims is taken first-hand.
  assert.equal(pickAtSeed(p, all, { busy: none, claimed: (i) => i === 2, origin: true }), 3);
  // Every piece has left the origin: a piece a fellow has may come from it again (the fellow may choke us).
  fellow.have(2);
  const other = new PeerAvailability(p);
  other.have(3);
  assert.equal(p.onSeedsAlone, 0);
  assert.ok(pickAtSeed(p, all, { busy: none, claimed: none, origin: true }) >= 0);
  // ...unless fellows are feeding us: what they have reaches us from them once they unchoke us.
  assert.equal(pickAtSeed(p, all, { busy: none, claimed: none, origin: true, fedByFellows: true }), -1);
  assert.ok(pickAtSeed(p, all, { busy: none, claimed: none, origin: false, fedByFellows: true }) >= 0);
  // We have some: they leave the count.
  p.setHave(0);
  assert.equal(p.onSeedsAlone, 0);
  other.close();
  assert.equal(p.onSeedsAlone, 1, 'piece 3 left with its only holder');
});

test('at a seed: a piece a fellow released part-way comes first, unless a fellow has it or claims it', () => {
  const ids = Array.from({ length: 8 }, (_, k) => `2d534d303030312d${k.toString(16).padStart(24, '0')}`);
  const me = seedRanks(ids[2], ids)!;
  const p = new PiecePicker(64);
  new PeerAvailability(p).haveAll();
  const mine = Array.from({ length: 64 }, (_, i) => i).filter((i) => me(i) === 0);
  const released = mine[mine.length - 1];
  const notMine = Array.from({ length: 64 }, (_, i) => i).find((i) => me(i) > 0)!;
  // Released (its fetcher was choked part-way): before our other pieces, if we own it...
  assert.equal(pickAtSeed(p, all, { busy: none, claimed: none, rank: me, origin: true, first: [released] }), released);
  // ...and not if another owns it: every fellow heard of the release, its owner takes it.
  assert.notEqual(pickAtSeed(p, all, { busy: none, claimed: none, rank: me, origin: true, first: [notMine] }), notMine);
  // Not once a fellow claims it again, or has it.
  const claimedIt = (i: number) => i === released;
  assert.notEqual(
    pickAtSeed(p, all, { busy: none, claimed: claimedIt, rank: me, origin: true, first: [released] }),
    released,
  );
  const fellow = new PeerAvailability(p);
  fellow.have(released);
  assert.notEqual(
    pickAtSeed(p, all, { busy: none, claimed: none, rank: me, origin: true, first: [released] }),
    released,
  );
});

test('pickLowest: the lowest score first, ties rarest first; 0 taken at once', () => {
  const p = new PiecePicker(6);
  const a = new PeerAvailability(p);
  for (const i of [0, 1, 2, 3]) a.have(i);
  const b = new PeerAvailability(p);
  for (const i of [0, 1]) b.have(i);
  const score = [1, 1, 2, 2, 1, 3];
  // Pieces 4 (score 1, nobody has it but the peer we pick for) beats 0, 1 (score 1, more common) and 2, 3.
  assert.equal(
    p.pickLowest(all, none, (i) => score[i]),
    4,
  );
  assert.equal(
    p.pickLowest(
      all,
      (i) => i === 4,
      (i) => score[i],
    ) < 2,
    true,
    'then the score-1 pieces',
  );
  assert.equal(
    p.pickLowest(
      (i) => i === 5,
      none,
      (i) => score[i],
    ),
    5,
  );
  assert.equal(
    p.pickLowest(none, none, (i) => score[i]),
    -1,
  );
});
