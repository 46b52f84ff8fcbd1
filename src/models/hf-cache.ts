// The Hugging Face cache (huggingface_hub's layout), read with @huggingface/hub and written the way it writes:
//   <cache>/models--ORG--NAME/blobs/<etag>                  the bytes (sha256 for LFS files, git blob sha1 for others)
//   <cache>/models--ORG--NAME/snapshots/<commit>/<path>     relative links into ../../blobs (copies where links fail)
//   <cache>/models--ORG--NAME/refs/<ref>                    the commit a branch or tag points at
// @huggingface/hub's scanCacheDir lists repos, revisions and refs but skips a snapshot's sub-folders, so the files of a
// snapshot are walked here. Nothing in this module imports vscode; see docs/huggingface.md.
import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { getHFHubCachePath, getRepoFolderName, scanCacheDir } from '@huggingface/hub';
import { HF_REPO_RE, isHfRepoId } from '../shared/hf-repo.js';

export class HfCacheError extends Error {
  override name = 'HfCacheError';
}

/** The cache folder: HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub (what huggingface_hub uses). */
export function hfCacheDir(): string {
  return getHFHubCachePath();
}

const COMMIT_RE = /^[0-9a-f]{40}$/;

/** `org/name[@rev]` → repo id and revision (default `main`). */
export function parseHfSpec(spec: string): { repo: string; revision: string } {
  const at = spec.lastIndexOf('@');
  const repo = at > 0 ? spec.slice(0, at) : spec;
  const revision = at > 0 ? spec.slice(at + 1) : 'main';
  if (!isHfRepoId(repo)) throw new HfCacheError(`"${repo}" is not a Hub repository id`);
  if (!revision || revision.includes('..') || /[\0\\]/.test(revision) || revision.startsWith('/')) {
    throw new HfCacheError(`"${revision}" is not a revision`);
  }
  return { repo, revision };
}

/** The repository's folder in the cache (models only: the catalog holds models). */
export function repoDir(cacheDir: string, repo: string): string {
  return path.join(cacheDir, getRepoFolderName({ name: repo, type: 'model' }));
}

export interface SnapshotFile {
  /** Path components inside the snapshot (what the torrent's paths are). */
  path: string[];
  /** The file's blob name (its etag). */
  etag: string;
  /** Absolute path of the blob the snapshot's link resolves to. */
  blob: string;
  size: number;
}

export interface CachedRevision {
  commit: string;
  refs: string[];
  size: number;
  files: number;
  path: string;
  lastModified: Date;
}

export interface CachedRepo {
  repo: string;
  path: string;
  /** Bytes of the repository's distinct blobs. */
  size: number;
  revisions: CachedRevision[];
  lastAccessed: Date;
  lastModified: Date;
}

function isInside(root: string, target: string): boolean {
  const rel = path.relative(root, target);
  return rel !== '' && !rel.startsWith('..' + path.sep) && rel !== '..' && !path.isAbsolute(rel);
}

/**
 * Every file of a snapshot, sub-folders included, each resolved through its link into the repository's blobs/.
 * A link that leaves the repository folder (or dangles) is refused: sharing must not read outside it.
 */
export async function snapshotFiles(snapshotDir: string, repoPath: string): Promise<SnapshotFile[]> {
  const realRepo = await fsp.realpath(repoPath);
  const out: SnapshotFile[] = [];
  async function visit(dir: string, rel: string[]): Promise<void> {
    for (const d of await fsp.readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, d.name);
      const relPath = [...rel, d.name];
      if (d.isDirectory()) {
        await visit(full, relPath);
        continue;
      }
      let target: string;
      try {
        target = await fsp.realpath(full);
      } catch {
        throw new HfCacheError(`${relPath.join('/')}: dangling link in ${snapshotDir} (the blob is missing)`);
      }
      if (!isInside(realRepo, target)) {
        throw new HfCacheError(
          `${relPath.join('/')} in ${snapshotDir} links to ${target}, outside the repository folder ${repoPath}: refused`,
        );
      }
      const st = await fsp.stat(target);
      if (!st.isFile()) throw new HfCacheError(`${relPath.join('/')} is not a file`);
      // A copied file (no link, as on Windows) has no blob name to read: it is named by its content when asked.
      const etag = d.isSymbolicLink() ? path.basename(target) : '';
      out.push({ path: relPath, etag, blob: target, size: st.size });
    }
  }
  await visit(snapshotDir, []);
  return out;
}

/** Lists the cached model repositories with their revisions (sizes and file counts include sub-folders). */
export async function listHfCache(cacheDir = hfCacheDir()): Promise<{ repos: CachedRepo[]; warnings: string[] }> {
  try {
    await fsp.access(cacheDir);
  } catch {
    return { repos: [], warnings: [] };
  }
  const info = await scanCacheDir(cacheDir);
  const repos: CachedRepo[] = [];
  const warnings = info.warnings.map((w) => w.message);
  for (const r of info.repos) {
    if (r.id.type !== 'model') continue;
    const blobs = new Map<string, number>();
    const revisions: CachedRevision[] = [];
    for (const rev of r.revisions) {
      let files: SnapshotFile[] = [];
      try {
        files = await snapshotFiles(rev.path, r.path);
      } catch (err) {
        warnings.push((err as Error).message);
      }
      for (const f of files) blobs.set(f.blob, f.size);
      revisions.push({
        commit: rev.commitOid,
        refs: rev.refs,
        size: files.reduce((n, f) => n + f.size, 0),
        files: files.length,
        path: rev.path,
        lastModified: rev.lastModifiedAt,
      });
    }
    repos.push({
      repo: r.id.name,
      path: r.path,
      size: [...blobs.values()].reduce((a, b) => a + b, 0),
      revisions,
      lastAccessed: r.lastAccessedAt,
      lastModified: r.lastModifiedAt,
    });
  }
  repos.sort((a, b) => (a.repo < b.repo ? -1 : a.repo > b.repo ? 1 : 0));
  return { repos, warnings };
}

export interface ResolvedSnapshot {
  repo: string;
  commit: string;
  cacheDir: string;
  repoPath: string;
  snapshotDir: string;
  /** Refs pointing at this commit. */
  refs: string[];
  files: SnapshotFile[];
}

/** Finds `repo` at `revision` (a commit, or a ref such as `main`) in the cache and lists its files. */
export async function resolveSnapshot(
  repo: string,
  revision = 'main',
  cacheDir = hfCacheDir(),
): Promise<ResolvedSnapshot> {
  parseHfSpec(`${repo}@${revision}`);
  const repoPath = repoDir(cacheDir, repo);
  let commit = revision;
  if (!COMMIT_RE.test(revision)) {
    try {
      commit = (await fsp.readFile(path.join(repoPath, 'refs', revision), 'utf8')).trim();
    } catch {
      throw new HfCacheError(`${repo}@${revision} is not in the Hugging Face cache ${cacheDir} (no refs/${revision})`);
    }
    if (!COMMIT_RE.test(commit)) throw new HfCacheError(`refs/${revision} of ${repo} does not hold a commit`);
  }
  const snapshotDir = path.join(repoPath, 'snapshots', commit);
  try {
    await fsp.access(snapshotDir);
  } catch {
    throw new HfCacheError(`${repo}@${commit} has no snapshot in the Hugging Face cache ${cacheDir}`);
  }
  const files = await snapshotFiles(snapshotDir, repoPath);
  if (!files.length) throw new HfCacheError(`the snapshot ${snapshotDir} holds no file`);
  for (const f of files) if (!f.etag) f.etag = await etagOfCopy(repoPath, f.blob, f.size);
  return { repo, commit, cacheDir, repoPath, snapshotDir, refs: await refsOf(repoPath, commit), files };
}

/** A copied snapshot file (no link): its blob name is its content's hash, sha256 (LFS) or git sha1; the one that
 *  names a blob in blobs/ wins, else the size's usual kind. */
async function etagOfCopy(repoPath: string, file: string, size: number): Promise<string> {
  const usual: 'sha256' | 'sha1' = size >= 10 * 1024 * 1024 ? 'sha256' : 'sha1';
  const first = await etagOf(file, size, usual);
  if (await fsp.stat(path.join(repoPath, 'blobs', first)).catch(() => undefined)) return first;
  const other = await etagOf(file, size, usual === 'sha256' ? 'sha1' : 'sha256');
  return (await fsp.stat(path.join(repoPath, 'blobs', other)).catch(() => undefined)) ? other : first;
}

async function refsOf(repoPath: string, commit: string): Promise<string[]> {
  const out: string[] = [];
  async function visit(dir: string, rel: string[]): Promise<void> {
    let list;
    try {
      list = await fsp.readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const d of list) {
      const full = path.join(dir, d.name);
      if (d.isDirectory()) await visit(full, [...rel, d.name]);
      else if ((await fsp.readFile(full, 'utf8')).trim() === commit) out.push([...rel, d.name].join('/'));
    }
  }
  await visit(path.join(repoPath, 'refs'), []);
  return out.sort();
}

/**
 * Which cached repository (and revision) a folder is: a `models--ORG--NAME` folder (its `main`, else its only
 * snapshot) or one of its `snapshots/<commit>` folders. Undefined for any other folder.
 */
export async function hfFolderOf(
  folder: string,
): Promise<{ cacheDir: string; repo: string; revision: string } | undefined> {
  const abs = path.resolve(folder);
  const parent = path.dirname(abs);
  let repoPath = abs;
  let revision: string | undefined;
  if (path.basename(parent) === 'snapshots' && COMMIT_RE.test(path.basename(abs))) {
    repoPath = path.dirname(parent);
    revision = path.basename(abs);
  }
  const m = /^models--(.+)$/.exec(path.basename(repoPath));
  if (!m) return undefined;
  const repo = m[1].split('--').join('/');
  if (!HF_REPO_RE.test(repo)) return undefined;
  if (!revision) {
    const snaps = await fsp.readdir(path.join(repoPath, 'snapshots')).catch(() => [] as string[]);
    const main = await fsp.readFile(path.join(repoPath, 'refs', 'main'), 'utf8').catch(() => '');
    revision = COMMIT_RE.test(main.trim()) ? main.trim() : snaps.length === 1 ? snaps[0] : undefined;
    if (!revision) return undefined;
  }
  return { cacheDir: path.dirname(repoPath), repo, revision };
}

// Hashing a large file off the main thread (the editor's extension host must not spend seconds in SHA-256).
const ETAG_WORKER = `
const { parentPort, workerData: w } = require('node:worker_threads');
const h = require('node:crypto').createHash(w.algo);
if (w.algo === 'sha1') h.update('blob ' + w.size + '\\0');
const s = require('node:fs').createReadStream(w.file, { highWaterMark: 1 << 20 });
s.on('data', (c) => h.update(c));
s.on('error', (e) => parentPort.postMessage({ error: e.message }));
s.on('end', () => parentPort.postMessage({ hex: h.digest('hex') }));
`;

/** Large files are LFS on the Hub (etag = sha256); small text files are plain git blobs (etag = git sha1). */
export async function etagOf(file: string, size: number, kind?: 'sha256' | 'sha1'): Promise<string> {
  const algo = kind ?? (size >= 10 * 1024 * 1024 ? 'sha256' : 'sha1');
  if (size > 1024 * 1024) {
    return new Promise((resolve, reject) => {
      const w = new Worker(ETAG_WORKER, { eval: true, workerData: { file, size, algo } });
      w.once('message', (m: { hex?: string; error?: string }) => {
        void w.terminate();
        if (m.hex) resolve(m.hex);
        else reject(new HfCacheError(`cannot read ${file}: ${m.error}`));
      });
      w.once('error', reject);
    });
  }
  const h = createHash(algo);
  if (algo === 'sha1') h.update(`blob ${size}\0`);
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** The etags among `etags` whose blob is already in the repository's blobs/ (complete, i.e. no `.incomplete`). */
export async function presentBlobs(cacheDir: string, repo: string, etags: string[]): Promise<Set<string>> {
  const have = new Set<string>();
  for (const e of etags) {
    try {
      if ((await fsp.stat(path.join(repoDir(cacheDir, repo), 'blobs', e))).isFile()) have.add(e);
    } catch {}
  }
  return have;
}

/** Where a download into the cache is staged: inside the repository folder (same file system, so the final moves
 *  are renames) but outside blobs/, snapshots/ and refs/, which are all that cache readers look at. */
export function stagingDir(cacheDir: string, repo: string): string {
  return path.join(repoDir(cacheDir, repo), '.silmaril-incomplete');
}

/**
 * Before a download: links (or copies) the blobs the cache already holds to their place in the staging folder, so
 * the engine finds those files complete and fetches only the others. Returns the paths placed.
 */
export async function stageCachedBlobs(
  cacheDir: string,
  repo: string,
  contentRoot: string,
  files: { path: string[]; etag: string }[],
): Promise<string[][]> {
  const have = await presentBlobs(
    cacheDir,
    repo,
    files.map((f) => f.etag),
  );
  const placed: string[][] = [];
  for (const f of files) {
    if (!have.has(f.etag)) continue;
    const dst = path.join(contentRoot, ...f.path);
    if (await fsp.stat(dst).catch(() => undefined)) continue;
    await fsp.mkdir(path.dirname(dst), { recursive: true });
    const src = path.join(repoDir(cacheDir, repo), 'blobs', f.etag);
    await fsp.link(src, dst).catch(() => fsp.copyFile(src, dst));
    placed.push(f.path);
  }
  return placed;
}

export interface InstallOptions {
  cacheDir: string;
  repo: string;
  commit: string;
  /** The ref to point at the commit (e.g. `main`), when known. */
  ref?: string;
  /** The verified download: its folder, and each real file's path and etag (torrent order). */
  contentRoot: string;
  files: { path: string[]; etag: string }[];
  /** Check each file's bytes against its etag before it becomes a blob (default true). */
  checkEtags?: boolean;
  /** How links are made (default fs.symlink); where it fails the blob is copied instead. */
  symlink?: (target: string, at: string) => Promise<void>;
}

/**
 * Moves a verified download into the cache: each file becomes blobs/<etag> (kept as is when the cache has it), then
 * the snapshot is built beside the staging area and renamed into snapshots/<commit> in one step, so no other program
 * ever sees a half-made snapshot. Returns the snapshot folder.
 */
export async function installSnapshot(o: InstallOptions): Promise<string> {
  if (!COMMIT_RE.test(o.commit)) throw new HfCacheError(`"${o.commit}" is not a commit`);
  const repoPath = repoDir(o.cacheDir, o.repo);
  const blobs = path.join(repoPath, 'blobs');
  await fsp.mkdir(blobs, { recursive: true });
  await fsp.mkdir(path.join(repoPath, 'snapshots'), { recursive: true });
  // refs/ always exists in huggingface_hub's layout (and @huggingface/hub's scanner skips a repo without one).
  await fsp.mkdir(path.join(repoPath, 'refs'), { recursive: true });
  for (const f of o.files) {
    if (!/^[0-9a-f]{40}$|^[0-9a-f]{64}$/.test(f.etag)) throw new HfCacheError(`bad etag "${f.etag}"`);
    for (const c of f.path) if (!c || c === '.' || c === '..' || /[/\\\0]/.test(c)) throw new HfCacheError('bad path');
  }
  for (const f of o.files) {
    const src = path.join(o.contentRoot, ...f.path);
    const blob = path.join(blobs, f.etag);
    const st = await fsp.stat(src);
    if (o.checkEtags !== false) {
      const got = await etagOf(src, st.size, f.etag.length === 64 ? 'sha256' : 'sha1');
      if (got !== f.etag) throw new HfCacheError(`${f.path.join('/')}: content does not match its etag ${f.etag}`);
    }
    if (await fsp.stat(blob).catch(() => undefined)) await fsp.rm(src, { force: true });
    else await fsp.rename(src, blob);
  }
  const final = path.join(repoPath, 'snapshots', o.commit);
  const exists = await fsp.stat(final).catch(() => undefined);
  // New snapshot: built in the staging area with links written for their final place, then renamed in.
  const build = exists ? final : path.join(stagingDir(o.cacheDir, o.repo), `snapshot-${o.commit}`);
  if (!exists) await fsp.rm(build, { recursive: true, force: true });
  for (const f of o.files) {
    const finalLink = path.join(final, ...f.path);
    const at = path.join(build, ...f.path);
    await fsp.mkdir(path.dirname(at), { recursive: true });
    if (await fsp.lstat(at).catch(() => undefined)) continue;
    const target = path.relative(path.dirname(finalLink), path.join(blobs, f.etag));
    try {
      await (o.symlink ?? fsp.symlink)(target, at);
    } catch {
      await fsp.copyFile(path.join(blobs, f.etag), at); // no links here (as huggingface_hub on Windows)
    }
  }
  if (!exists) await fsp.rename(build, final);
  if (o.ref) {
    const refPath = path.join(repoPath, 'refs', ...o.ref.split('/'));
    await fsp.mkdir(path.dirname(refPath), { recursive: true });
    const tmp = `${refPath}.silmaril-tmp`;
    await fsp.writeFile(tmp, o.commit);
    await fsp.rename(tmp, refPath);
  }
  // The download's own leftovers (only; another download of this repository may be staging beside it).
  await fsp.rm(o.contentRoot, { recursive: true, force: true }).catch(() => {});
  await fsp.rmdir(stagingDir(o.cacheDir, o.repo)).catch(() => {});
  return final;
}
