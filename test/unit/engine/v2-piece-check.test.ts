// The v2 (BEP 52) check of each piece as it arrives (request.ts v2Verdict, incoming-piece.ts, piece-hasher.ts): the
// leaf hashes taken in the same worker pass as a piece's SHA-1 reduce to the node the torrent lists for that piece,
// for files of every shape (smaller than a leaf, one leaf, less than a piece, exactly a piece, many pieces with a
// short last one, empty, with pad files after them), against hybrid torrents made by our creator (its nodes come from
// the hashing workers, src/torrent/hash-worker.ts) and the whole-file reference (merkle.ts fileMerkle). A wrong piece
// layer or root fails the piece; an unknown layer leaves it for the final check (verify-done.ts), which hashes
// nothing when every piece passed both checks and everything when one did not.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { IncomingPiece } from '../../../src/engine/incoming-piece.js';
import { v2Verdict } from '../../../src/engine/request.js';
import { TorrentHashes } from '../../../src/engine/v2-wire.js';
import { verifyDownload } from '../../../src/engine/verify-done.js';
import { createTorrent } from '../../../src/torrent/create.js';
import { fileMerkle, HASH_SIZE } from '../../../src/torrent/merkle.js';
import { parseTorrent } from '../../../src/torrent/parse.js';
import type { ParsedTorrent } from '../../../src/torrent/types.js';

const BLOCK = 16 * 1024;

let tmp: string;
before(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'silmaril-v2piece-'));
});
after(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** A folder of files of the given lengths, and the hybrid torrent of it. */
async function hybrid(name: string, lengths: Record<string, number>, pieceLength: number) {
  const dir = path.join(tmp, name);
  await mkdir(dir, { recursive: true });
  for (const [file, length] of Object.entries(lengths)) await writeFile(path.join(dir, file), randomBytes(length));
  const created = await createTorrent(dir, { pieceLength });
  const parsed = parseTorrent(created.torrentBytes);
  assert.equal(parsed.version, 'hybrid');
  return { dir, parsed };
}

/** The v1 piece stream: files in v1 order, pad files as zeros. */
async function pieceStream(dir: string, parsed: ParsedTorrent): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (const f of parsed.files) parts.push(f.pad ? Buffer.alloc(f.length) : await readFile(path.join(dir, ...f.path)));
  return Buffer.concat(parts);
}

/** Receives piece `index` from `stream` as the engine does (blocks in reverse order, leaves taken per v2 shape). */
async function receive(stream: Buffer, parsed: ParsedTorrent, trees: TorrentHashes, index: number) {
  const start = index * parsed.pieceLength;
  const data = stream.subarray(start, Math.min(stream.length, start + parsed.pieceLength));
  const piece = new IncomingPiece(data.length, start, async () => {}, trees.pieceShape(index)?.v2Bytes ?? 0);
  for (let at = Math.floor((data.length - 1) / BLOCK) * BLOCK; at >= 0; at -= BLOCK) {
    piece.add(at, data.subarray(at, Math.min(data.length, at + BLOCK)));
  }
  return piece.finish();
}

/** What transfer.ts hands request.ts: the torrent's piece shapes and nodes. */
const checkOf = (t: TorrentHashes) => ({
  shape: (i: number) => t.pieceShape(i),
  expected: (i: number) => t.expectedNode(i),
});

const SHAPES: [string, Record<string, number>, number][] = [
  [
    '64 KiB pieces: files smaller than a leaf, one leaf, less than a piece, one piece, many pieces, empty',
    {
      'a-tiny.bin': 5000,
      'b-leaf.bin': BLOCK,
      'c-small.bin': 40_000,
      'd-piece.bin': 64 * 1024,
      'e-many.bin': 3 * 64 * 1024 + 777,
      'f-empty.bin': 0,
      'g-whole.bin': 4 * 64 * 1024,
      'h-leaves.bin': 2 * 64 * 1024 + 3 * BLOCK,
    },
    64 * 1024,
  ],
  [
    '2 MiB pieces (each piece fed in several 1 MiB windows)',
    { 'big.bin': 2 * 2 * 1024 * 1024 + 20_000, 'mid.bin': 1024 * 1024 + 5, 'z.bin': 30_000 },
    2 * 1024 * 1024,
  ],
];

for (const [name, lengths, pieceLength] of SHAPES) {
  describe(name, () => {
    test('every piece passes both checks, its node matching the creator and the whole-file reference', async () => {
      const { dir, parsed } = await hybrid(name.slice(0, 8).replace(/\W/g, '_'), lengths, pieceLength);
      assert.ok(
        parsed.files.some((f) => f.pad),
        'the layout has pad files',
      );
      const trees = new TorrentHashes(parsed);
      const stream = await pieceStream(dir, parsed);
      const passed = new Set<number>();
      for (let i = 0; i < parsed.pieceCount; i++) {
        const { digest, leaves } = await receive(stream, parsed, trees, i);
        assert.equal(digest, Buffer.from(parsed.pieces!.subarray(i * 20, i * 20 + 20)).toString('hex'), `SHA-1 ${i}`);
        assert.ok(leaves, `piece ${i} has v2 leaves`);
        assert.equal(v2Verdict(checkOf(trees), i, leaves, pieceLength), 'passed', `piece ${i}`);
        passed.add(i);
        // The same node from the whole file held in memory.
        const { file, local } = trees.pieceFile(i)!;
        const tree = fileMerkle(await readFile(path.join(dir, ...file.path)), pieceLength);
        const want =
          file.length <= pieceLength
            ? tree.root!
            : tree.pieceLayer.subarray(local * HASH_SIZE, (local + 1) * HASH_SIZE);
        assert.deepEqual(Buffer.from(trees.expectedNode(i)!), Buffer.from(want), `reference node ${i}`);
      }
      const done = await verifyDownload(parsed, dir, { v2Passed: passed });
      assert.ok(done.ok, done.problems.join('; '));
      assert.equal(done.bytesHashed, 0, 'every piece passed both checks: nothing hashed again');

      passed.delete(parsed.pieceCount - 1);
      const again = await verifyDownload(parsed, dir, { v2Passed: passed });
      assert.ok(again.ok);
      assert.equal(again.bytesHashed, parsed.length, 'one piece unchecked: every file hashed again');
    });
  });
}

test('a piece whose SHA-1 is right but whose piece-layer node or root disagrees fails; an unknown layer waits', async () => {
  const pieceLength = 64 * 1024;
  const { dir, parsed } = await hybrid('wrong', { 'many.bin': 3 * pieceLength + 100, 'small.bin': 3000 }, pieceLength);
  const stream = await pieceStream(dir, parsed);
  const good = new TorrentHashes(parsed);
  const many = parsed.files.find((f) => f.path.at(-1) === 'many.bin')!;
  const small = parsed.files.find((f) => f.path.at(-1) === 'small.bin')!;
  const smallPiece = small.offset / pieceLength;
  const received = [];
  for (let i = 0; i < parsed.pieceCount; i++) received.push(await receive(stream, parsed, good, i));

  // Piece 1's node altered in the piece layer (as a lying .torrent or a bad layer would have it).
  const key = Buffer.from(many.piecesRoot!).toString('hex');
  const layer = Uint8Array.from(parsed.pieceLayers!.get(key)!);
  layer[HASH_SIZE + 5] ^= 1;
  const altered = new TorrentHashes({ ...parsed, pieceLayers: new Map([[key, layer]]) });
  assert.equal(v2Verdict(checkOf(altered), 0, received[0].leaves, pieceLength), 'passed');
  assert.equal(v2Verdict(checkOf(altered), 1, received[1].leaves, pieceLength), 'failed');

  // A file of less than one piece: its root is its only node.
  const root = Uint8Array.from(small.piecesRoot!);
  root[0] ^= 1;
  const files = parsed.files.map((f) => (f === small ? { ...f, piecesRoot: root } : f));
  const badRoot = new TorrentHashes({ ...parsed, files });
  assert.equal(v2Verdict(checkOf(badRoot), smallPiece, received[smallPiece].leaves, pieceLength), 'failed');

  // Bytes that differ from what was hashed (same torrent): the leaves no longer reduce to the node.
  const leaves = Buffer.from(received[2].leaves!);
  leaves[0] ^= 1;
  assert.equal(v2Verdict(checkOf(good), 2, leaves, pieceLength), 'failed');

  // A magnet before its piece layers came: larger files wait for the final check; a small file's root is known.
  const noLayers = new TorrentHashes({ ...parsed, pieceLayers: undefined });
  assert.equal(v2Verdict(checkOf(noLayers), 1, received[1].leaves, pieceLength), 'unchecked');
  assert.equal(v2Verdict(checkOf(noLayers), smallPiece, received[smallPiece].leaves, pieceLength), 'passed');
  // No leaves taken (the piece started before its shape was known).
  assert.equal(v2Verdict(checkOf(good), 1, undefined, pieceLength), 'unchecked');
});
