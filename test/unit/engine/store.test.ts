// The chunk store under the engine: pieces map onto the real files, pad files are zeros from memory and never
// touch the disk, a seed's folder is never written, and every path is sanitised again when the layout is built.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile, type FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DiskSpaceError, preflight } from '../../../src/engine/disk.js';
import { FilePool } from '../../../src/engine/file-pool.js';
import { layoutFor, contentRootIn } from '../../../src/engine/layout.js';
import { PieceStore } from '../../../src/engine/store.js';
import { createTorrent } from '../../../src/torrent/create.js';
import { parseTorrent } from '../../../src/torrent/parse.js';
import { TorrentError, type ParsedTorrent } from '../../../src/torrent/types.js';

const PIECE = 16 * 1024;
let tmp: string;
let src: string;
let parsed: ParsedTorrent;
const files: Record<string, Buffer> = {
  'a.bin': crypto.randomBytes(PIECE + 100),
  'b/c.bin': crypto.randomBytes(3 * PIECE),
  'd.txt': Buffer.from('tail'),
};

/** The v1 piece stream built by hand: each file padded with zeros to a piece boundary. */
function stream(): Buffer {
  const parts: Buffer[] = [];
  for (const f of parsed.files) {
    if (f.pad) parts.push(Buffer.alloc(f.length));
    else parts.push(files[f.path.join('/')]);
  }
  return Buffer.concat(parts);
}

function get(store: PieceStore, index: number, opts?: { offset: number; length: number }): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    store.get(index, opts ?? null, (err, buf) => (err ? reject(err) : resolve(buf!))),
  );
}

function put(store: PieceStore, index: number, buf: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => store.put(index, buf, (err) => (err ? reject(err) : resolve())));
}

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'silmaril-store-'));
  src = path.join(tmp, 'model');
  for (const [rel, data] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(src, rel)), { recursive: true });
    await writeFile(path.join(src, rel), data);
  }
  const made = await createTorrent(src, { pieceLength: PIECE });
  parsed = parseTorrent(made.torrentBytes);
  assert.ok(
    parsed.files.some((f) => f.pad),
    'the fixture has pad files',
  );
});

after(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test('reads every piece from the real files with zeros for pad files', async () => {
  const store = new PieceStore(layoutFor(src, parsed), { writable: false });
  const all = stream();
  for (let i = 0; i < parsed.pieceCount; i++) {
    const want = all.subarray(i * PIECE, Math.min(all.length, (i + 1) * PIECE));
    assert.ok((await get(store, i)).equals(want), `piece ${i}`);
    const sha1 = crypto.createHash('sha1').update(want).digest();
    assert.ok(sha1.equals(parsed.pieces!.subarray(i * 20, i * 20 + 20)), `piece ${i} hash`);
  }
  // A block read (as served to a peer) straddling the end of a file and its pad.
  const block = await get(store, 1, { offset: 0, length: 200 });
  assert.ok(block.equals(all.subarray(PIECE, PIECE + 200)));
  store.close();
});

test('vectored reads (a serving window read into frames) give the same bytes as flat reads, across files and pads', async () => {
  const store = new PieceStore(layoutFor(src, parsed), { writable: false });
  const all = stream();
  try {
    // Every 16 KiB block as a served peer gets it (each one a frame read in place), then the whole stream at once in
    // parts of an odd size, so that parts straddle files, pads and each other's ends.
    for (let i = 0; i < parsed.pieceCount; i++) {
      const size = Math.min(PIECE, all.length - i * PIECE);
      for (let off = 0; off < size; off += 4096) {
        const n = Math.min(4096, size - off);
        const got = await get(store, i, { offset: off, length: n });
        assert.ok(got.equals(all.subarray(i * PIECE + off, i * PIECE + off + n)), `piece ${i} +${off}`);
      }
    }
    const odd = 5000;
    const ps = Array.from({ length: Math.ceil(all.length / odd) }, (_, k) =>
      Buffer.alloc(Math.min(odd, all.length - k * odd), 0xaa),
    );
    await store.readInto(0, all.length, ps);
    assert.ok(Buffer.concat(ps).equals(all));
    await assert.rejects(store.readInto(0, 100, [Buffer.alloc(99)]), /cover 99 bytes, not 100/);
  } finally {
    store.close();
  }
});

test('a seed store refuses to write and leaves the folder as it was', async () => {
  const store = new PieceStore(layoutFor(src, parsed), { writable: false });
  await assert.rejects(put(store, 0, Buffer.alloc(PIECE)), /refusing to write/);
  store.close();
  assert.deepEqual((await readdir(src)).sort(), ['a.bin', 'b', 'd.txt']);
  assert.ok((await readFile(path.join(src, 'a.bin'))).equals(files['a.bin']));
});

test('a download store writes real files only: no pad file, no .pad folder', async () => {
  const out = path.join(tmp, 'out');
  const root = contentRootIn(out, parsed);
  const store = new PieceStore(layoutFor(root, parsed), { writable: true });
  const all = stream();
  // Out of order, as a swarm delivers them.
  const order = [...Array(parsed.pieceCount).keys()].reverse();
  for (const i of order) await put(store, i, all.subarray(i * PIECE, Math.min(all.length, (i + 1) * PIECE)));
  await new Promise<void>((r) => store.close(() => r()));
  for (const [rel, data] of Object.entries(files)) assert.ok((await readFile(path.join(root, rel))).equals(data), rel);
  assert.deepEqual((await readdir(root)).sort(), ['a.bin', 'b', 'd.txt']);
});

test('a path that escapes the folder is refused when the layout is built', () => {
  const evil: ParsedTorrent = {
    ...parsed,
    files: [{ path: ['..', 'escape.bin'], length: 10, offset: 0, pad: false }],
  };
  assert.throws(() => layoutFor(path.join(tmp, 'out2', 'model'), evil), TorrentError);
  assert.throws(() => contentRootIn(tmp, { ...parsed, name: '..' }), TorrentError);
});

test('a write that fails the disk-space preflight writes nothing', async () => {
  const out = path.join(tmp, 'out3');
  const root = contentRootIn(out, parsed);
  const store = new PieceStore(layoutFor(root, parsed), {
    writable: true,
    beforeWrite: () => Promise.reject(new Error('not enough disk space')),
  });
  await assert.rejects(put(store, 0, stream().subarray(0, PIECE)), /not enough disk space/);
  store.close();
  await assert.rejects(readdir(root), { code: 'ENOENT' });
});

test('the disk-space preflight refuses a download larger than the free space, with a clear message', async () => {
  const huge: ParsedTorrent = {
    ...parsed,
    name: 'huge-model',
    files: [{ path: ['weights.bin'], length: 2 ** 53, offset: 0, pad: false }],
  };
  const out = path.join(tmp, 'out-huge');
  await assert.rejects(preflight(out, contentRootIn(out, huge), huge), (err: Error) => {
    assert.ok(err instanceof DiskSpaceError);
    assert.match(
      err.message,
      /^not enough disk space in .*out-huge: huge-model needs [\d.]+ [KMGTP]?i?B more, [\d.]+ [KMGTP]?i?B free$/,
    );
    return true;
  });
  await preflight(out, contentRootIn(out, parsed), parsed); // a small one passes
});

test('a seeded file cut short while seeding: the blocks past its new end are errors, not zeros or stale bytes', async () => {
  const dir = await mkdtemp(path.join(tmp, 'cut-'));
  const data = crypto.randomBytes(4 * PIECE);
  await writeFile(path.join(dir, 'w.bin'), data);
  const store = new PieceStore(
    {
      pieceLength: 4 * PIECE,
      length: data.length,
      segments: [{ offset: 0, length: data.length, path: path.join(dir, 'w.bin') }],
    },
    { writable: false },
  );
  try {
    assert.ok((await get(store, 0, { offset: PIECE, length: PIECE })).equals(data.subarray(PIECE, 2 * PIECE)));
    await writeFile(path.join(dir, 'w.bin'), data.subarray(0, PIECE + 10));
    // Each block alone (a fresh store: nothing of the file is cached from before the cut).
    const fresh = new PieceStore(
      {
        pieceLength: 4 * PIECE,
        length: data.length,
        segments: [{ offset: 0, length: data.length, path: path.join(dir, 'w.bin') }],
      },
      { writable: false },
    );
    try {
      await assert.rejects(get(fresh, 0, { offset: 2 * PIECE, length: PIECE }), /unexpected end of file/);
      await assert.rejects(get(fresh, 0, { offset: PIECE, length: PIECE }), /unexpected end of file/);
    } finally {
      fresh.close();
    }
  } finally {
    store.close();
  }
});

test('a large piece goes to disk in writes of at most 64 KiB (large writes cost Linux far more in page-cache folios)', async () => {
  const big = path.join(tmp, 'big-src');
  await mkdir(big, { recursive: true });
  const data = crypto.randomBytes(1024 * 1024 + 5000);
  await writeFile(path.join(big, 'w.bin'), data);
  const bigParsed = parseTorrent((await createTorrent(big, { pieceLength: 1024 * 1024 })).torrentBytes);
  const lengths: number[] = [];
  class CountingPool extends FilePool {
    override use<T>(owner: object, spec: Parameters<FilePool['use']>[1], fn: (fh: FileHandle) => Promise<T>) {
      return super.use(owner, spec, (fh) =>
        fn(
          new Proxy(fh, {
            get(target, prop) {
              const v = Reflect.get(target, prop, target);
              if (prop !== 'write' || typeof v !== 'function') return typeof v === 'function' ? v.bind(target) : v;
              return (buf: Uint8Array, offset: number, length: number, position: number) => {
                lengths.push(length);
                return v.call(target, buf, offset, length, position);
              };
            },
          }),
        ),
      );
    }
  }
  const root = contentRootIn(path.join(tmp, 'big-out'), bigParsed);
  const store = new PieceStore(layoutFor(root, bigParsed), { writable: true, pool: new CountingPool() });
  await put(store, 0, data.subarray(0, 1024 * 1024));
  await put(store, 1, data.subarray(1024 * 1024));
  await new Promise<void>((r) => store.close(() => r()));
  assert.ok((await readFile(path.join(root, 'w.bin'))).equals(data), 'the file holds the bytes put');
  assert.ok(lengths.length >= 17, `${lengths.length} writes`);
  assert.ok(Math.max(...lengths) <= 64 * 1024, `largest write ${Math.max(...lengths)} bytes`);
});
