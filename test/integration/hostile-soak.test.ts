// The hostile soak (test/soak/hostile-soak.ts), shortened for the suite: ~25 s of load (~45 s in all) of mixed hostile load on a
// `silmaril seed` while honest `silmaril get`s download from it. `npm run soak` runs the full 5 minutes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SOAK_RSS_LIMIT_BYTES, runSoak } from '../soak/hostile-soak.js';

test('a seed under mixed hostile load: honest downloads complete byte-identical, RSS bounded, still up', async () => {
  const r = await runSoak({ durationMs: 25_000 });
  assert.deepEqual(r.problems, []);
  assert.ok(r.honestDownloads >= 1, 'at least one honest download');
  assert.ok(r.hostileConnections >= 200, `${r.hostileConnections} hostile connections`);
  assert.ok(r.maxRssBytes > 0 && r.maxRssBytes < SOAK_RSS_LIMIT_BYTES, `seed RSS peaked at ${r.maxRssBytes} bytes`);
  assert.ok(r.seedPeerFaults > 0, 'the seed counted the peers it dropped');
  assert.ok(r.seedAlive, 'the seed still answers a handshake');
  assert.ok(r.stoppedOnSigterm, 'SIGTERM stops the seed');
});
