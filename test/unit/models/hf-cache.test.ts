// The Hugging Face cache: listing (sub-folders included), resolving a snapshot through its links, refusing links that
// leave the repository, installing a download the way huggingface_hub lays it out, and reading it back with
// @huggingface/hub's own cache functions (scanCacheDir, and downloadFileToCacheDir's offline resolution).
import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { scanCacheDir } from '@huggingface/hub';
import {
  etagOf,
  hfCacheDir,
  hfFolderOf,
  installSnapshot,
  listHfCache,
  parseHfSpec,
  resolveSnapshot,
  stageCachedBlobs,
  stagingDir,
} from '../../../src/models/hf-cache.js';
import { createTorrent } from '../../../src/torrent/create.js';
import {
  addRevision,
  assertResolvesOffline,
  COMMIT_A,
  COMMIT_B,
  etagFor,
  makeFakeCache,
  bytesOf,
} from './hf-fake-cache.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'silmaril-hf-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('the cache folder honours HF_HUB_CACHE, then HF_HOME', () => {
  const saved = { c: process.env.HF_HUB_CACHE, h: process.env.HF_HOME };
  try {
    delete process.env.HF_HUB_CACHE;
    process.env.HF_HOME = '/x/hfhome';
    assert.equal(hfCacheDir(), join('/x/hfhome', 'hub'));
    process.env.HF_HUB_CACHE = '/y/cache';
    assert.equal(hfCacheDir(), '/y/cache');
  } finally {
    for (const [k, v] of [
      ['HF_HUB_CACHE', saved.c],
      ['HF_HOME', saved.h],
    ] as const)
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
  }
});

test('lists cached repositories with revisions, refs and sizes that count sub-folders', async () => {
  const cache = join(dir, 'list');
  const { revA, revB } = makeFakeCache(cache);
  const { repos } = await listHfCache(cache);
  assert.equal(repos.length, 1);
  const r = repos[0];
  assert.equal(r.repo, 'org/tiny');
  const byCommit = new Map(r.revisions.map((v) => [v.commit, v]));
  assert.deepEqual(byCommit.get(COMMIT_B)!.refs, ['main']);
  assert.deepEqual(byCommit.get(COMMIT_A)!.refs, []);
  assert.equal(byCommit.get(COMMIT_A)!.files, 3); // tokenizer/tokenizer.json included
  const sum = (fs: { bytes: Buffer }[]) => fs.reduce((n, f) => n + f.bytes.length, 0);
  assert.equal(byCommit.get(COMMIT_B)!.size, sum(revB));
  // Shared blobs are counted once in the repository's size.
  assert.equal(r.size, sum(revA) + revB[0].bytes.length);
  assert.deepEqual(await listHfCache(join(dir, 'no-such-cache')), { repos: [], warnings: [] });
});

test('resolves a snapshot by ref or commit through its links into blobs/', async () => {
  const cache = join(dir, 'resolve');
  const { revB } = makeFakeCache(cache);
  const s = await resolveSnapshot('org/tiny', 'main', cache);
  assert.equal(s.commit, COMMIT_B);
  assert.deepEqual(s.refs, ['main']);
  assert.deepEqual(
    s.files.map((f) => [f.path.join('/'), f.etag, f.size]),
    revB.map((f) => [f.path, etagFor(f), f.bytes.length]).sort(),
  );
  assert.equal((await resolveSnapshot('org/tiny', COMMIT_A, cache)).commit, COMMIT_A);
  await assert.rejects(resolveSnapshot('org/tiny', 'dev', cache), /not in the Hugging Face cache.*refs\/dev/);
  await assert.rejects(resolveSnapshot('org/other', 'main', cache), /not in the Hugging Face cache/);
  assert.deepEqual(parseHfSpec('org/tiny@v1.0'), { repo: 'org/tiny', revision: 'v1.0' });
  assert.deepEqual(parseHfSpec('gpt2'), { repo: 'gpt2', revision: 'main' });
  assert.throws(() => parseHfSpec('a--b/c'), /not a Hub repository id/);
});

test('a snapshot link leaving the repository folder is refused with a clear message', async () => {
  const cache = join(dir, 'escape');
  makeFakeCache(cache);
  await writeFile(join(dir, 'secret.txt'), 'secret');
  await symlink(join(dir, 'secret.txt'), join(cache, 'models--org--tiny', 'snapshots', COMMIT_B, 'leak.txt'));
  await assert.rejects(resolveSnapshot('org/tiny', 'main', cache), /leak\.txt .*outside the repository folder/);
});

test('a snapshot torrent reads through the links: paths are the snapshot paths, nothing is skipped', async () => {
  const cache = join(dir, 'torrent');
  const { revB } = makeFakeCache(cache);
  const s = await resolveSnapshot('org/tiny', 'main', cache);
  await assert.rejects(createTorrent(s.snapshotDir), /nothing to share.*outside the folder/); // the old behaviour
  const t = await createTorrent(s.snapshotDir, { linkRoot: s.repoPath });
  assert.equal(t.name, COMMIT_B);
  assert.deepEqual(
    t.files.map((f) => f.path.join('/')),
    revB.map((f) => f.path).sort(),
  );
  assert.equal(t.skipped.length, 0);
});

test('folders of the cache are recognised: a repository folder and a snapshot', async () => {
  const cache = join(dir, 'folders');
  makeFakeCache(cache);
  const repo = join(cache, 'models--org--tiny');
  assert.deepEqual(await hfFolderOf(repo), { cacheDir: cache, repo: 'org/tiny', revision: COMMIT_B });
  assert.deepEqual(await hfFolderOf(join(repo, 'snapshots', COMMIT_A)), {
    cacheDir: cache,
    repo: 'org/tiny',
    revision: COMMIT_A,
  });
  assert.equal(await hfFolderOf(dir), undefined);
});

test('a download is installed as blobs, relative links and a ref, and @huggingface/hub resolves it offline', async () => {
  const cache = join(dir, 'install');
  const { revA } = makeFakeCache(join(dir, 'install-src')); // the "remote" content
  // B's cache already holds the weights blob (another revision of the same repo): it is staged, not fetched.
  const weights = revA[1];
  addRevision(cache, 'org/tiny', COMMIT_B, [weights], ['main']);
  const files = revA.map((f) => ({ path: f.path.split('/'), etag: etagFor(f) }));
  const content = join(stagingDir(cache, 'org/tiny'), COMMIT_A);
  const placed = await stageCachedBlobs(cache, 'org/tiny', content, files);
  assert.deepEqual(placed, [['model.safetensors']]);
  // The "download" writes the other files; no snapshot is visible before the install.
  for (const f of revA.filter((f) => f !== weights)) {
    await mkdir(join(content, ...f.path.split('/').slice(0, -1)), { recursive: true });
    await writeFile(join(content, ...f.path.split('/')), f.bytes);
  }
  assert.deepEqual(
    (await scanCacheDir(cache)).repos[0].revisions.map((r) => r.commitOid),
    [COMMIT_B],
  );
  const snap = await installSnapshot({
    cacheDir: cache,
    repo: 'org/tiny',
    commit: COMMIT_A,
    ref: 'v1',
    contentRoot: content,
    files,
  });
  assert.equal(snap, join(cache, 'models--org--tiny', 'snapshots', COMMIT_A));
  const link = join(snap, 'tokenizer', 'tokenizer.json');
  assert.ok((await lstat(link)).isSymbolicLink());
  assert.equal(await readlink(link), join('..', '..', '..', 'blobs', etagFor(revA[2])));
  assert.equal(await readFile(join(cache, 'models--org--tiny', 'refs', 'v1'), 'utf8'), COMMIT_A);
  await assert.rejects(lstat(stagingDir(cache, 'org/tiny')));

  const info = await scanCacheDir(cache);
  const rev = info.repos[0].revisions.find((r) => r.commitOid === COMMIT_A)!;
  assert.deepEqual(rev.refs, ['v1']);
  // Offline resolution (a hub URL nothing listens on: any network use would fail the test).
  await assertResolvesOffline(cache, 'org/tiny', revA);
});

test('an install refuses content that does not match its etag, and leaves no snapshot', async () => {
  const cache = join(dir, 'badetag');
  const content = join(stagingDir(cache, 'org/bad'), COMMIT_A);
  await mkdir(content, { recursive: true });
  await writeFile(join(content, 'a.bin'), bytesOf(100, 9));
  await assert.rejects(
    installSnapshot({
      cacheDir: cache,
      repo: 'org/bad',
      commit: COMMIT_A,
      contentRoot: content,
      files: [{ path: ['a.bin'], etag: 'c'.repeat(40) }],
    }),
    /does not match its etag/,
  );
  await assert.rejects(lstat(join(cache, 'models--org--bad', 'snapshots', COMMIT_A)));
});

test('etags: git blob sha1 for small files, sha256 for large ones (hashed off the main thread)', async () => {
  const small = join(dir, 'small.bin');
  const large = join(dir, 'large.bin');
  const s = bytesOf(1000, 31);
  const l = bytesOf(3 * 1024 * 1024 + 1, 32);
  await writeFile(small, s);
  await writeFile(large, l);
  assert.equal(await etagOf(small, s.length), etagFor({ path: 'x', bytes: s }));
  assert.equal(await etagOf(large, l.length, 'sha256'), etagFor({ path: 'x', bytes: l, lfs: true }));
  assert.equal(await etagOf(large, l.length, 'sha1'), etagFor({ path: 'x', bytes: l }));
  await assert.rejects(etagOf(join(dir, 'missing.bin'), 5 * 1024 * 1024), /cannot read/);
});

test('where links cannot be made the snapshot holds copies, which @huggingface/hub resolves the same', async () => {
  const cache = join(dir, 'nolinks');
  const { revA } = makeFakeCache(join(dir, 'nolinks-src'));
  const files = revA.map((f) => ({ path: f.path.split('/'), etag: etagFor(f) }));
  const content = join(stagingDir(cache, 'org/tiny'), COMMIT_A);
  for (const f of revA) {
    await mkdir(join(content, ...f.path.split('/').slice(0, -1)), { recursive: true });
    await writeFile(join(content, ...f.path.split('/')), f.bytes);
  }
  const noLinks = async () => {
    throw Object.assign(new Error('operation not permitted'), { code: 'EPERM' });
  };
  const snap = await installSnapshot({
    cacheDir: cache,
    repo: 'org/tiny',
    commit: COMMIT_A,
    contentRoot: content,
    files,
    symlink: noLinks,
  });
  assert.ok((await lstat(join(snap, 'config.json'))).isFile());
  await assertResolvesOffline(cache, 'org/tiny', revA);
  // And the cache still lists it, sizes included (a copied file is named by its content).
  const { repos } = await listHfCache(cache);
  assert.equal(repos[0].revisions[0].files, 3);
  assert.deepEqual(
    (await resolveSnapshot('org/tiny', COMMIT_A, cache)).files.map((f) => f.etag).sort(),
    files.map((f) => f.etag).sort(),
  );
});
