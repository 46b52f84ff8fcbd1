import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CLAIM_MS,
  decodeClaim,
  decodeFetching,
  encodeClaim,
  encodeRelease,
  MAX_CLAIMS,
  SeedClaims,
} from '../../../src/engine/seed-claims.js';

test('claim messages: 4 bytes big-endian; anything else, or a piece past the end, is dropped', () => {
  assert.deepEqual([...encodeClaim(258)], [0, 0, 1, 2]);
  assert.equal(decodeClaim(encodeClaim(258), 300), 258);
  assert.equal(decodeClaim(encodeClaim(300), 300), undefined, 'past the last piece');
  assert.equal(decodeClaim(Buffer.from([0, 1, 2]), 300), undefined);
  assert.equal(decodeClaim(Buffer.from([0, 0, 0, 1, 0]), 300), undefined);
  // A view into a larger buffer (as bittorrent-protocol hands messages over) reads its own bytes.
  const big = Buffer.from([9, 9, 0, 0, 0, 7, 9]);
  assert.equal(decodeClaim(big.subarray(2, 6), 300), 7);
});

test('a claim keeps a piece off the seed until it lapses, the claimant has it, or the claimant leaves', () => {
  const c = new SeedClaims<string>();
  c.add('a', 5, 1000);
  assert.equal(c.claimed(5, 1000), true);
  assert.equal(c.claimed(6, 1000), false);
  assert.equal(c.claimed(5, 1000 + CLAIM_MS - 1), true);
  assert.equal(c.claimed(5, 1000 + CLAIM_MS), false, 'lapsed');
  c.add('a', 5, 2000);
  c.done('a', 5);
  assert.equal(c.claimed(5, 2000), false, 'its have ends the claim');
  c.add('b', 6, 3000);
  c.add('a', 6, 3000);
  c.remove('b');
  assert.equal(c.claimed(6, 3000), true, 'still claimed by a');
  c.remove('a');
  assert.equal(c.claimed(6, 3000), false);
  assert.equal(c.size, 0);
});

test('a peer claiming everything holds only its last few claims', () => {
  const c = new SeedClaims<string>();
  for (let i = 0; i < 100; i++) c.add('liar', i, 0);
  assert.equal(c.size, MAX_CLAIMS);
  let held = 0;
  for (let i = 0; i < 100; i++) if (c.claimed(i, 0)) held++;
  assert.equal(held, MAX_CLAIMS);
  assert.equal(c.claimed(99, 0), true, 'the newest are kept');
  assert.equal(c.claimed(0, 0), false, 'the oldest forgotten');
});

test("a release (5 bytes: index, 0) frees the piece and ends the fellow's fetching; a claim-only peer drops it", () => {
  assert.deepEqual([...encodeRelease(258)], [0, 0, 1, 2, 0]);
  assert.deepEqual(decodeFetching(encodeRelease(258), 300), { kind: 'release', piece: 258 });
  assert.deepEqual(decodeFetching(encodeClaim(7), 300), { kind: 'claim', piece: 7 });
  assert.equal(decodeClaim(encodeRelease(258), 300), undefined, 'older peers read it as malformed and ignore it');
  assert.equal(decodeFetching(Buffer.from([0, 0, 1, 2, 1]), 300), undefined);
  assert.equal(decodeFetching(encodeRelease(300), 300), undefined, 'past the last piece');
  const c = new SeedClaims<string>();
  c.add('a', 5, 1000);
  c.add('b', 6, 1000);
  assert.deepEqual(c.claimantsSince(900).sort(), ['a', 'b']);
  assert.equal(c.release('a', 5), true);
  assert.equal(c.claimed(5, 1001), false, 'free again');
  assert.deepEqual(c.claimantsSince(900), ['b'], 'a no longer fetches from a seed');
  assert.equal(c.release('a', 9), false, 'nothing to release');
  c.done('b', 6);
  assert.deepEqual(c.claimantsSince(900), ['b'], 'a fellow whose piece came in still fetches');
  assert.deepEqual(c.claimantsSince(1001), [], 'but not once its last claim is older than asked');
  assert.equal(c.anyEver, true);
  assert.equal(new SeedClaims<string>().anyEver, false);
});
