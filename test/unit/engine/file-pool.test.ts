// The bounded pool of open files (issue 13 case 12) and link-safe opening for downloads (case 15), on real files.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { existsSync, readdirSync, readlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FilePool, openForWrite } from '../../../src/engine/file-pool.js';
import { PieceStore } from '../../../src/engine/store.js';
import { layoutFor } from '../../../src/engine/layout.js';
import { createTorrent } from '../../../src/torrent/create.js';
import { parseTorrent } from '../../../src/torrent/parse.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function tmp(): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), 'silmaril-pool-'));
  dirs.push(d);
  return d;
}

/** Descriptors of this process that point into `dir` (Linux /proc). */
function fdsInto(dir: string): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith(dir + path.sep)) n++;
    } catch {}
  }
  return n;
}

test('a pool of 4 serves 200 files read concurrently with at most 4 open, and the bytes are right', async () => {
  const dir = await tmp();
  for (let i = 0; i < 200; i++) await writeFile(path.join(dir, `f${i}`), `file ${i}`);
  const pool = new FilePool(4);
  const owner = {};
  let maxFds = 0;
  const got = await Promise.all(
    Array.from({ length: 200 }, (_, i) =>
      pool.use(owner, { path: path.join(dir, `f${i}`), mode: 'read' }, async (fh) => {
        maxFds = Math.max(maxFds, fdsInto(dir));
        const buf = Buffer.alloc(64);
        const { bytesRead } = await fh.read(buf, 0, 64, 0);
        return buf.subarray(0, bytesRead).toString();
      }),
    ),
  );
  got.forEach((s, i) => assert.equal(s, `file ${i}`));
  assert.ok(pool.peak <= 4, `peak ${pool.peak}`);
  assert.ok(maxFds <= 4, `descriptors seen ${maxFds}`);
  await pool.closeOwner(owner);
  assert.equal(pool.size, 0);
  assert.equal(fdsInto(dir), 0);
});

test('a handle is not closed under a read in progress (closeOwner and eviction wait for the lease)', async () => {
  const dir = await tmp();
  await writeFile(path.join(dir, 'a'), 'aaaa');
  await writeFile(path.join(dir, 'b'), 'bbbb');
  const pool = new FilePool(1);
  const owner = {};
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const slow = pool.use(owner, { path: path.join(dir, 'a'), mode: 'read' }, async (fh) => {
    await gate;
    const buf = Buffer.alloc(4);
    await fh.read(buf, 0, 4, 0);
    return buf.toString();
  });
  // The pool is full and its only handle is leased: this one waits instead of closing it.
  const other = pool.use(owner, { path: path.join(dir, 'b'), mode: 'read' }, async (fh) => {
    const buf = Buffer.alloc(4);
    await fh.read(buf, 0, 4, 0);
    return buf.toString();
  });
  const closing = pool.closeOwner(owner);
  await new Promise((r) => setTimeout(r, 20));
  release();
  assert.equal(await slow, 'aaaa');
  assert.equal(await other, 'bbbb');
  await closing;
  await pool.closeOwner(owner);
  assert.equal(fdsInto(dir), 0);
});

test('a store over 300 files keeps at most the pool size open while reading and writing every piece', async () => {
  const base = await tmp();
  const src = path.join(base, 'model');
  await mkdir(src);
  for (let i = 0; i < 300; i++) await writeFile(path.join(src, `w${String(i).padStart(3, '0')}.bin`), `weights ${i}`);
  const parsed = parseTorrent((await createTorrent(src, { pieceLength: 16384 })).torrentBytes);
  const pool = new FilePool(8);
  const seed = new PieceStore(layoutFor(src, parsed), { writable: false, pool });
  const out = path.join(base, 'out');
  await mkdir(out);
  const dl = new PieceStore(layoutFor(path.join(out, 'model'), parsed, out), { writable: true, pool });
  await Promise.all(
    Array.from(
      { length: parsed.pieceCount },
      (_, i) =>
        new Promise<void>((res, rej) =>
          seed.get(i, null, (err, buf) => (err ? rej(err) : dl.put(i, buf!, (e) => (e ? rej(e) : res())))),
        ),
    ),
  );
  assert.ok(pool.peak <= 8, `peak ${pool.peak}`);
  assert.ok(pool.opens >= 300);
  await new Promise((r) => seed.close(r));
  await new Promise((r) => dl.close(r));
  assert.equal(pool.size, 0);
  for (let i = 0; i < 300; i += 37) {
    const name = `w${String(i).padStart(3, '0')}.bin`;
    assert.equal(await readFile(path.join(out, 'model', name), 'utf8'), `weights ${i}`);
  }
});

test('writes never follow a link that leaves the destination (parent folder or the file itself)', async () => {
  const base = await tmp();
  const out = path.join(base, 'out');
  const outside = path.join(base, 'outside');
  await mkdir(out);
  await mkdir(outside);
  await writeFile(path.join(outside, 'victim'), 'precious');
  // A folder link inside --out pointing out of it.
  await symlink(outside, path.join(out, 'model'));
  await assert.rejects(openForWrite(path.join(out, 'model', 'a.bin'), out), /link that leaves/);
  await assert.rejects(openForWrite(path.join(out, 'model', 'sub', 'b.bin'), out), /link that leaves/);
  // The file itself a link (to outside, or dangling): O_NOFOLLOW.
  await mkdir(path.join(out, 'real'));
  await symlink(path.join(outside, 'victim'), path.join(out, 'real', 'w.bin'));
  await assert.rejects(openForWrite(path.join(out, 'real', 'w.bin'), out), /symbolic link/);
  await symlink(path.join(outside, 'new-file'), path.join(out, 'real', 'dangling.bin'));
  await assert.rejects(openForWrite(path.join(out, 'real', 'dangling.bin'), out), /symbolic link/);
  assert.deepEqual((await readdir(outside)).sort(), ['victim']);
  assert.equal(await readFile(path.join(outside, 'victim'), 'utf8'), 'precious');
  assert.equal(existsSync(path.join(outside, 'new-file')), false);
  // A link that stays inside the destination is fine; so are plain new folders.
  await symlink(path.join(out, 'real'), path.join(out, 'alias'));
  const fh = await openForWrite(path.join(out, 'alias', 'ok.bin'), out);
  await fh.close();
  const fh2 = await openForWrite(path.join(out, 'fresh', 'deep', 'x.bin'), out);
  await fh2.close();
  assert.ok(existsSync(path.join(out, 'real', 'ok.bin')));
});

test('a download store refuses to read or write through a link out of --out; nothing lands outside', async () => {
  const base = await tmp();
  const src = path.join(base, 'model');
  await mkdir(path.join(src, 'sub'), { recursive: true });
  await writeFile(path.join(src, 'sub', 'a.bin'), Buffer.alloc(20000, 1));
  const parsed = parseTorrent((await createTorrent(src, { pieceLength: 16384 })).torrentBytes);
  const out = path.join(base, 'out');
  const outside = path.join(base, 'outside');
  await mkdir(path.join(out, 'model'), { recursive: true });
  await mkdir(outside);
  await symlink(outside, path.join(out, 'model', 'sub'));
  const pool = new FilePool(4);
  const dl = new PieceStore(layoutFor(path.join(out, 'model'), parsed, out), { writable: true, pool });
  const seed = new PieceStore(layoutFor(src, parsed), { writable: false, pool });
  const piece = await new Promise<Buffer>((res, rej) => seed.get(0, null, (e, b) => (e ? rej(e) : res(b!))));
  await assert.rejects(
    new Promise<void>((res, rej) => dl.put(0, piece, (e) => (e ? rej(e) : res()))),
    /link that leaves/,
  );
  await assert.rejects(dl.read(0, 100), /link that leaves/);
  assert.deepEqual(await readdir(outside), []);
});
