// Explicit peers are dialled for as long as the transfer runs, backing off to every 30 s, and the reason nothing
// moves is kept for the user (a fake clock and a fake torrent: the real dialling is in hostile-peer.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAX_TRACKER_PEERS,
  PeerRetry,
  RETRY_BACKOFF_MS,
  TRACKER_PEER_ATTEMPTS,
} from '../../../src/engine/peer-retry.js';

test('back-off up to the last step, then forever; the reason and the next try are shown; a handshake resets', () => {
  let now = 0;
  const dialled: number[] = [];
  const torrent = { destroyed: false, _peers: new Map<string, unknown>(), addPeer: () => dialled.push(now) };
  const failures: string[] = [];
  const r = new PeerRetry(
    torrent,
    ['127.0.0.1:6881'],
    (_a, reason) => failures.push(reason),
    () => now,
  );
  const tick = () => (r as any).tick();
  tick();
  assert.deepEqual(dialled, [0]);
  assert.equal(r.problem(), undefined, 'nothing known yet');
  for (let step = 0; step < 16; step++) {
    r.failed('127.0.0.1:6881', 'connect ECONNREFUSED 127.0.0.1:6881');
    const wait = RETRY_BACKOFF_MS[Math.min(step, RETRY_BACKOFF_MS.length - 1)];
    assert.match(
      r.problem()!,
      new RegExp(`no peer reachable: 127\\.0\\.0\\.1:6881 connect ECONNREFUSED .*retry in ${wait / 1000} s`),
    );
    now += wait - 1;
    tick();
    assert.equal(dialled.length, step + 1, 'not before the back-off');
    now += 1;
    tick();
    assert.equal(dialled.length, step + 2, `attempt ${step + 2} at ${now} ms`);
  }
  assert.ok(now > 5 * 60_000, 'still dialling after five minutes');
  r.connected('127.0.0.1:6881');
  assert.equal(r.problem(), undefined);
  r.failed('127.0.0.1:6881', 'disconnected');
  now += RETRY_BACKOFF_MS[0];
  tick();
  assert.equal(dialled.at(-1), now, 'a lost connection is redialled at the first step');
  assert.equal(failures.length, 16);
});

test('tracker peers: retried with back-off for a while, counted in the reason, forgotten after their attempts', () => {
  let now = 0;
  const dialled: string[] = [];
  const torrent = { _peers: new Map<string, unknown>(), addPeer: (a: string) => dialled.push(a) };
  const r = new PeerRetry(
    torrent,
    [],
    () => {},
    () => now,
  );
  const tick = () => (r as any).tick();
  r.fromTracker('127.0.0.1:7000');
  r.failed('127.0.0.1:7000', 'connect ECONNREFUSED 127.0.0.1:7000');
  assert.match(
    r.problem()!,
    /no peer reachable: 1 peer\(s\) from trackers, e\.g\. 127\.0\.0\.1:7000 connect ECONNREFUSED/,
  );
  for (let i = 0; i < TRACKER_PEER_ATTEMPTS + 2; i++) {
    now += 60_000;
    tick();
    r.failed('127.0.0.1:7000', 'connect ECONNREFUSED 127.0.0.1:7000');
  }
  assert.equal(dialled.length, TRACKER_PEER_ATTEMPTS - 1, 'redialled until its attempts ran out');
  assert.equal(r.has('127.0.0.1:7000'), false);
  for (let i = 0; i < MAX_TRACKER_PEERS + 10; i++) r.fromTracker(`127.0.0.2:${1000 + i}`);
  assert.equal(r.size, MAX_TRACKER_PEERS);
});
