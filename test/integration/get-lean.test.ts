// `silmaril get <torrent-file>` does only the work a download needs, through the bundled CLI over loopback:
// - no catalog: a .torrent names everything, so the home has no catalog database (nor a publisher key) afterwards;
//   before, every get opened (and created) the sql.js catalog;
// - no second hashing pass where the engine already checked every piece: a v1-only download, every piece of which
//   passed its SHA-1 as it came in (or when found on disk at the start), hashes nothing again at the end
//   (`finalCheckBytes` in the done event); before, the whole download was hashed again. A hybrid downloaded whole
//   in one process hashes nothing again either: each piece is checked against its v2 piece-layer node as it comes
//   in, from leaf hashes taken in the same pass as its SHA-1 (src/engine/request.ts); before, every file was hashed
//   again at the end. A hybrid whose pieces were found on disk at the start (SHA-1 only) is still hashed at the end
//   (src/engine/verify-done.ts).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cp, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { createTorrentFile, killAll, MODEL_SIZE, modelFixture, offline, silmaril, snapshot } from './engine-helpers.js';

const PIECE = 64 * 1024;
let tmp: string;
let model: string;
let original: Map<string, string>;
let hybrid: string;
let v1only: string;

before(async () => {
  ({ tmp, model } = await modelFixture('silmaril-get-lean-'));
  original = await snapshot(model);
  hybrid = path.join(tmp, 'hybrid.torrent');
  createTorrentFile(model, hybrid, PIECE);
  v1only = path.join(tmp, 'v1.torrent');
  createTorrentFile(model, v1only, PIECE, ['--v1-only']);
});

after(async () => {
  killAll();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** Seeds `model` with `torrent`, runs `get <torrent> --out <out>` against it, and returns get's done event. */
async function getFromSeed(torrent: string, name: string, out: string) {
  const seeder = silmaril(['seed', model, '--torrent', torrent, ...offline(path.join(tmp, `${name}-seed`))]);
  try {
    const ready = await seeder.waitFor((l) => l.event === 'ready');
    const home = path.join(tmp, `${name}-get`);
    const get = silmaril(['get', torrent, '--out', out, '--peer', `127.0.0.1:${ready.port}`, ...offline(home)]);
    const done = await get.waitFor((l) => l.event === 'done', 60_000);
    assert.equal(await get.exited, 0, get.stderr.join('\n'));
    assert.equal(done.verified, true);
    assert.deepEqual(await snapshot(path.join(out, 'tiny-model')), original);
    return { done, home };
  } finally {
    seeder.kill();
    await seeder.exited;
  }
}

/** The home's state files: the catalog database and the publisher key must not be among them. */
async function assertNoCatalog(home: string): Promise<void> {
  const files = await readdir(home);
  assert.ok(!files.includes('catalog.sqlite'), `no catalog database in the home: ${files.join(', ')}`);
  assert.ok(!files.includes('identity.key'), `no publisher key made: ${files.join(', ')}`);
}

test('get of a v1-only .torrent: no catalog opened, nothing hashed again after the last piece', async () => {
  const { done, home } = await getFromSeed(v1only, 'v1', path.join(tmp, 'v1-out'));
  assert.equal(done.finalCheckBytes, 0);
  await assertNoCatalog(home);
});

test('get of a hybrid .torrent: no catalog opened; every piece checked (SHA-1 and v2) as it came in, none again', async () => {
  const { done, home } = await getFromSeed(hybrid, 'hybrid', path.join(tmp, 'hybrid-out'));
  assert.equal(done.finalCheckBytes, 0);
  await assertNoCatalog(home);
});

test('bytes already on disk are hashed once at the start (SHA-1), not again at the end', async () => {
  // The whole model is already in the destination: the engine re-checks it piece by piece as it starts, finds it
  // complete, and needs no peer; the final check has nothing left to hash.
  const out = path.join(tmp, 'present-out');
  await cp(model, path.join(out, 'tiny-model'), { recursive: true });
  const home = path.join(tmp, 'present-get');
  const get = silmaril(['get', v1only, '--out', out, ...offline(home)]);
  const done = await get.waitFor((l) => l.event === 'done', 60_000);
  assert.equal(await get.exited, 0, get.stderr.join('\n'));
  assert.equal(done.verified, true);
  assert.equal(done.finalCheckBytes, 0);
  await assertNoCatalog(home);
});

test('a hybrid already on disk: found by SHA-1 at the start, so its v2 roots are checked once at the end', async () => {
  const out = path.join(tmp, 'present-hybrid-out');
  await cp(model, path.join(out, 'tiny-model'), { recursive: true });
  const home = path.join(tmp, 'present-hybrid-get');
  const get = silmaril(['get', hybrid, '--out', out, ...offline(home)]);
  const done = await get.waitFor((l) => l.event === 'done', 60_000);
  assert.equal(await get.exited, 0, get.stderr.join('\n'));
  assert.equal(done.verified, true);
  assert.equal(done.finalCheckBytes, MODEL_SIZE);
  await assertNoCatalog(home);
});
