// The choker: fixed upload slots; tit-for-tat with a rotating optimistic slot while downloading; round robin while
// seeding, so a seed's upload is spread over every peer in turn.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Choker, type ChokePeer } from '../../../src/engine/choker.js';

function peers(n: number, f: (i: number) => Partial<ChokePeer> = () => ({})): ChokePeer[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `p${i}`,
    interested: true,
    isSeed: false,
    downloadRate: 0,
    uploaded: 0,
    ...f(i),
  }));
}

test('never more unchoked than the slots; seeds and uninterested peers stay choked', () => {
  const c = new Choker({ slots: 4 });
  const ps = peers(10, (i) => ({ isSeed: i === 0, interested: i !== 1, downloadRate: 100 - i }));
  for (const seeding of [false, true]) {
    const un = c.rechoke(ps, seeding);
    assert.ok(un.size <= 4);
    assert.equal(un.has('p0'), false);
    assert.equal(un.has('p1'), false);
  }
});

test('downloading: tit-for-tat keeps the fastest givers, plus one optimistic slot that rotates', () => {
  const c = new Choker({ slots: 4, optimisticRounds: 2, random: () => 0.5 });
  const ps = peers(8, (i) => ({ downloadRate: i < 3 ? 1000 * (i + 1) : 0 }));
  const optimistic = new Set<unknown>();
  for (let round = 0; round < 10; round++) {
    const un = c.rechoke(ps, false);
    assert.equal(un.size, 4);
    for (const fast of ['p0', 'p1', 'p2']) assert.ok(un.has(fast), `${fast} kept in round ${round}`);
    for (const id of un) if (!['p0', 'p1', 'p2'].includes(id as string)) optimistic.add(id);
  }
  // Five peers that gave nothing: each got its optimistic turn over ten rounds (rotation every two rounds).
  assert.equal(optimistic.size, 5);
});

test('downloading: a peer that starts giving more than a slot holder takes the slot', () => {
  const c = new Choker({ slots: 3, random: () => 0.5 });
  const ps = peers(5, (i) => ({ downloadRate: [50, 40, 0, 0, 0][i] }));
  c.rechoke(ps, false);
  ps[4].downloadRate = 100;
  const un = c.rechoke(ps, false);
  assert.ok(un.has('p4') && un.has('p0'));
  assert.ok(c.isUnchoked('p4'));
});

test('seeding: round robin gives every interested peer a turn, and a peer with its quota yields', () => {
  const c = new Choker({ slots: 2, seedQuota: 1000, seedRounds: 100 });
  const ps = peers(6);
  const turns = new Map<unknown, number>();
  for (let round = 0; round < 12; round++) {
    const un = c.rechoke(ps, true);
    assert.equal(un.size, 2);
    for (const id of un) turns.set(id, (turns.get(id) ?? 0) + 1);
    // The unchoked peers are given their quota before the next round.
    for (const p of ps) if (un.has(p.id)) p.uploaded += 1000;
  }
  assert.equal(turns.size, 6, 'every peer had a turn');
  for (const n of turns.values()) assert.equal(n, 4, 'and the same number of turns');
});

test('seeding: a peer keeps its slot until its quota or its rounds are used up', () => {
  const c = new Choker({ slots: 1, seedQuota: 1 << 30, seedRounds: 3, random: () => 0.5 });
  const ps = peers(3);
  const holders: unknown[] = [];
  for (let round = 0; round < 9; round++) holders.push([...c.rechoke(ps, true)][0]);
  // Three rounds each, in turn.
  assert.deepEqual(
    holders.map((h) => holders.indexOf(h) === holders.lastIndexOf(h)),
    holders.map(() => false),
  );
  assert.equal(new Set(holders).size, 3);
  assert.equal(holders[0], holders[2]);
  assert.notEqual(holders[2], holders[3]);
});

test('free slots are reported and departed peers are forgotten', () => {
  const c = new Choker({ slots: 2 });
  const ps = peers(2);
  assert.equal(c.hasFreeSlot(ps), true);
  c.rechoke(ps, false);
  assert.equal(c.hasFreeSlot([...ps, ...peers(1, () => ({ id: 'new' }))]), false);
  c.remove('p0');
  assert.equal(c.isUnchoked('p0'), false);
  assert.equal(c.hasFreeSlot(ps), true);
});

test('seeding: a peer that asked for nothing for a while yields its slot to one that waits; a busy one keeps it', () => {
  const c = new Choker({ slots: 2, seedQuota: 1 << 30, seedRounds: 100, seedIdleMs: 2000, random: () => 0.5 });
  const ps = peers(3, () => ({ pending: 0, idleMs: 0 }));
  const first = c.rechoke(ps, true);
  assert.equal(first.size, 2);
  const [busy, quiet] = ps.filter((p) => first.has(p.id));
  const waiting = ps.find((p) => !first.has(p.id))!;
  // A moment later nobody has asked yet: just unchoked, nobody yields.
  quiet.idleMs = 500;
  assert.ok(c.rechoke(ps, true).has(quiet.id), 'not idle yet');
  // Later: `busy` still asks; `quiet` is interested but asked for nothing for 3 s.
  busy.pending = 4;
  busy.idleMs = 3000; // asked long ago, still waiting for its blocks: not idle
  quiet.idleMs = 3000;
  const second = c.rechoke(ps, true);
  assert.ok(second.has(busy.id), 'the peer being served keeps its slot');
  assert.ok(second.has(waiting.id), 'the waiting peer gets the idle one');
  assert.ok(!second.has(quiet.id), 'the idle peer yields');
  // Without anyone waiting an idle peer keeps its slot (nobody to give it to).
  const c2 = new Choker({ slots: 2, seedQuota: 1 << 30, seedRounds: 100 });
  const two = peers(2, () => ({ pending: 0, idleMs: 10_000 }));
  c2.rechoke(two, true);
  assert.equal(c2.rechoke(two, true).size, 2);
});
