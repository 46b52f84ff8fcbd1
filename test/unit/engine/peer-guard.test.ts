// Blame for data that fails its hash: a piece from one peer blames it at once; a piece from several peers blames,
// once a good copy arrives, exactly the peers whose blocks differed. Two strikes and the peer is banned.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PeerGuard, type GuardWire } from '../../../src/engine/peer-guard.js';
import { RateLimiter } from '../../../src/engine/rate.js';

function wire(port: number): GuardWire & { destroyed: boolean } {
  return {
    remoteAddress: '127.0.0.1',
    remotePort: port,
    peerId: `peer${port}`,
    destroyed: false,
    destroy() {
      this.destroyed = true;
    },
  };
}

test('a peer that alone sent two bad pieces is banned and disconnected', () => {
  const bans: string[] = [];
  const guard = new PeerGuard((w) => bans.push(`${w.remoteAddress}:${w.remotePort}`));
  const liar = wire(1);
  guard.pieceFailed(3, [{ offset: 0, data: Buffer.alloc(4, 1), wire: liar }]);
  assert.deepEqual(bans, []);
  guard.pieceFailed(7, [{ offset: 0, data: Buffer.alloc(4, 1), wire: liar }]);
  assert.deepEqual(bans, ['127.0.0.1:1']);
  assert.ok(liar.destroyed);
  assert.ok(guard.isBanned('127.0.0.1:1') && guard.isBanned('peer1'));
});

test('with several senders, only the one whose block was wrong is blamed', () => {
  const bans: string[] = [];
  const guard = new PeerGuard((w) => bans.push(String(w.remotePort)));
  const honest = wire(2);
  const liar = wire(3);
  const good = Buffer.from('aaaabbbb');
  for (const piece of [1, 2]) {
    guard.pieceFailed(piece, [
      { offset: 0, data: good.subarray(0, 4), wire: honest },
      { offset: 4, data: Buffer.from('XXXX'), wire: liar },
    ]);
    assert.deepEqual(bans, [], 'no blame before a good copy');
    guard.piecePassed(piece, good);
  }
  assert.deepEqual(bans, ['3']);
  assert.ok(!honest.destroyed);
});

test('the rate limiter lets a burst through, then paces', () => {
  const limit = new RateLimiter(1000);
  assert.ok(limit.tryTake(1000));
  assert.ok(!limit.tryTake(500));
  assert.ok(limit.waitMs(500) > 0);
  const none = new RateLimiter(-1);
  assert.ok(none.tryTake(1e12));
});
