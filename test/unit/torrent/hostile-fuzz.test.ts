// Mutation fuzzing of valid torrents: whatever the bytes, parseTorrent either returns a torrent whose every path is
// safe or throws a one-line TorrentError; never another exception, never a hang. Deterministic (seeded).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTorrent } from '../../../src/torrent/parse.js';
import { sanitizePath } from '../../../src/torrent/paths.js';
import { TorrentError } from '../../../src/torrent/types.js';
import { buildTorrent, bytes } from './verify-fixtures.js';

function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return (n: number) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}

const PL = 16384;
const files = [
  { path: ['a.bin'], data: bytes(20000, 1) },
  { path: ['sub', 'b'], data: bytes(40000, 2) },
  { path: ['sub', 'c'], data: bytes(5, 3) },
];
const seeds = (['v1', 'v2', 'hybrid'] as const).map((k) => Buffer.from(buildTorrent(files, k, PL).bytes));
const interesting = ['..', '/', '\\', '\0', 'e', 'i', 'l', 'd', ':', '0', '9', '-'].map((s) => s.charCodeAt(0));

test('mutated torrents are parsed safely or refused with a TorrentError', () => {
  const r = rng(0x51a7a11);
  let parsed = 0;
  let refused = 0;
  for (let i = 0; i < 3000; i++) {
    const buf = Buffer.from(seeds[i % seeds.length]);
    const edits = 1 + r(4);
    let mutated: Buffer = buf;
    for (let e = 0; e < edits; e++) {
      const at = r(mutated.length);
      switch (r(4)) {
        case 0:
          mutated[at] = r(256);
          break;
        case 1:
          mutated[at] = interesting[r(interesting.length)];
          break;
        case 2:
          mutated = Buffer.concat([mutated.subarray(0, at), mutated.subarray(at + 1 + r(8))]);
          break;
        default:
          mutated = Buffer.concat([
            mutated.subarray(0, at),
            Buffer.from([interesting[r(interesting.length)]]),
            mutated.subarray(at),
          ]);
      }
    }
    try {
      const t = parseTorrent(mutated);
      parsed++;
      for (const f of t.files) sanitizePath(f.path);
    } catch (err) {
      if (!(err instanceof TorrentError)) assert.fail(`iteration ${i}: ${(err as Error).stack}`);
      assert.ok(!err.message.includes('\n'), err.message);
      refused++;
    }
  }
  console.log(`fuzz: ${parsed} parsed, ${refused} refused`);
  assert.ok(refused > 0 && parsed > 0);
});
