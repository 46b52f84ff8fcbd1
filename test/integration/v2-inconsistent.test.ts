// A hybrid whose v1 and v2 halves describe different bytes, downloaded for real over loopback (two engines): the
// seed serves bytes that pass every SHA-1, but one piece's v2 piece-layer node (and so its file's root) was made from
// other bytes. The downloader checks each piece against both as it arrives (src/engine/request.ts) and stops with a
// clear error, as libtorrent stops with torrent_inconsistent_hashes; it strikes no peer (the seed sent what the v1
// half names). Before, the piece was accepted and the download failed only in the final re-hash of every file.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import bencode from 'bencode';
import { cp, mkdtemp, open, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Engine } from '../../src/engine/engine.js';
import { createTorrent } from '../../src/torrent/create.js';
import { parseTorrent } from '../../src/torrent/parse.js';
import { makeFolder } from './engine-helpers.js';
import { eventually } from './hostile-peer.js';

const PIECE = 64 * 1024;
let tmp: string;
const engines: Engine[] = [];

function engine(home: string): Engine {
  const e = new Engine({ home: path.join(tmp, home), dht: false, lsd: false, pex: false, statsIntervalMs: 200 });
  engines.push(e);
  return e;
}

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'silmaril-v2-inconsistent-'));
});

after(async () => {
  for (const e of engines) await e.stop().catch(() => {});
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test('a hybrid whose piece layer disagrees with its v1 pieces stops with a clear error, no peer struck', async () => {
  const a = path.join(tmp, 'a', 'model');
  await makeFolder(a, { 'weights.bin': 5 * PIECE + 999, 'config.json': '{"a":1}' });
  const b = path.join(tmp, 'b', 'model');
  await cp(a, b, { recursive: true });
  const fh = await open(path.join(b, 'weights.bin'), 'r+');
  await fh.write(Buffer.from([0x5a]), 0, 1, 2 * PIECE + 100); // piece 2 differs in b
  await fh.close();
  // a's info dictionary with b's file tree (pieces roots) and piece layers: v1 names a's bytes, v2 names b's.
  const ta: any = bencode.decode((await createTorrent(a, { pieceLength: PIECE })).torrentBytes);
  const bBytes = Buffer.from((await createTorrent(b, { pieceLength: PIECE })).torrentBytes);
  const tb: any = bencode.decode(bBytes);
  ta.info['file tree'] = tb.info['file tree'];
  delete ta['piece layers'];
  // `piece layers` is keyed by raw 32-byte roots, which a decode to object keys mangles: b's is spliced in as bytes
  // (it is the last key of the top dictionary).
  const at = bBytes.indexOf('12:piece layers');
  const head = Buffer.from(bencode.encode(ta));
  const torrent = Buffer.concat([head.subarray(0, head.length - 1), bBytes.subarray(at)]);
  const parsed = parseTorrent(torrent);
  assert.equal(parsed.version, 'hybrid');
  assert.equal(parsed.pieceLayers?.size, 1, "b's piece layer is in");

  const seeder = engine('seed');
  await seeder.start();
  const seed = await seeder.seed(a, { torrent, trusted: true });
  await seed.whenReady();
  const getter = engine('get');
  await getter.start();
  const t = await getter.download(torrent, { outDir: path.join(tmp, 'out'), peers: [`127.0.0.1:${seeder.port}`] });
  await eventually(() => t.status === 'error', 'the download stops with an error', 60_000);
  // weights.bin's piece 2 is piece 3 of the stream (config.json, padded, is piece 0).
  assert.match(t.error!.message, /v1 and v2 hashes do not describe the same data \(piece 3 /);
  assert.equal(t.stats().peerFaults ?? 0, 0, 'the seed is not blamed');
});
