// Lists the files a torrent of a folder (or of one file) will hold, in BEP 52 file-tree order.
//
// Rules (libtorrent 2.0's add_files is the reference for everything it does; where we differ it says why):
// - Every regular file is included, hidden ones too; empty files are included.
// - `.git`, `.hg`, `.svn` (VCS metadata) and `.silmaril` (our own state folder), at any depth, are left out
//   unless `includeVcs` is set. libtorrent has no such rule: pass includeVcs to compare with it.
// - Symbolic links: libtorrent follows every link, wherever it points, and marks the file executable (`attr x`)
//   because it reads the permission bits of the link itself (always rwx). We follow a link only when its real
//   target is a regular file INSIDE the folder; then, like libtorrent, the file is listed under the link's name
//   with the target's content and `attr x`, so infohashes still match libtorrent's. Links that point out of the
//   folder, dangle, or point at a folder (cycles, duplicate trees) are skipped and reported in `skipped`.
// - Other special files (sockets, FIFOs, devices) are skipped and reported.
// - Order: the v2 file tree is a dictionary at each level, sorted by the raw UTF-8 bytes of the names, and v1
//   `files` follows the same order; so paths compare component by component, bytewise (`sub/x` < `sub-dash`).
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { TorrentError } from './types.js';

export interface WalkedFile {
  /** Path components relative to the root (for a single-file torrent: [name of the file]). */
  path: string[];
  /** Absolute path to read the content from (a followed link's target). */
  absPath: string;
  length: number;
  /** The owner-execute bit (lstat), as libtorrent's `attr x`. */
  executable: boolean;
}

export interface SkippedFile {
  path: string[];
  reason: string;
}

export interface WalkResult {
  /** True when the root is a file, not a folder. */
  singleFile: boolean;
  files: WalkedFile[];
  skipped: SkippedFile[];
}

export interface WalkOptions {
  /** Include `.git`, `.hg`, `.svn` and `.silmaril` folders. */
  includeVcs?: boolean;
  signal?: AbortSignal;
  /** Links may point anywhere inside this folder (default: the root). A Hugging Face snapshot's files are links
   *  into its repository's `blobs/`: sharing one passes the repository folder here. */
  linkRoot?: string;
}

/** Names left out unless includeVcs. */
/** Directory entries examined concurrently. */
const STAT_BATCH = 64;

export const EXCLUDED_NAMES: ReadonlySet<string> = new Set(['.git', '.hg', '.svn', '.silmaril']);

/** Bytewise comparison of two paths, component by component (BEP 52 file-tree order). */
export function comparePaths(a: string[], b: string[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = Buffer.compare(Buffer.from(a[i], 'utf8'), Buffer.from(b[i], 'utf8'));
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

function isInside(root: string, target: string): boolean {
  const rel = path.relative(root, target);
  return rel !== '' && !rel.startsWith('..' + path.sep) && rel !== '..' && !path.isAbsolute(rel);
}

export async function walk(rootPath: string, options: WalkOptions = {}): Promise<WalkResult> {
  const root = path.resolve(rootPath);
  let st;
  try {
    st = await lstat(root);
  } catch (err) {
    throw new TorrentError(`cannot read ${rootPath}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  // The root itself may be a link (to a file or a folder): it is what the user named, so it is followed.
  const own = st;
  if (st.isSymbolicLink()) st = await stat(root).catch(() => own);
  if (st.isFile()) {
    // As libtorrent: `attr x` from the permission bits of the path given (a link's own bits, if it is one).
    const executable = (own.mode & 0o100) !== 0;
    return {
      singleFile: true,
      files: [{ path: [path.basename(root)], absPath: root, length: st.size, executable }],
      skipped: [],
    };
  }
  if (!st.isDirectory()) throw new TorrentError(`${rootPath} is neither a file nor a folder`);

  const realRoot = await realpath(options.linkRoot ? path.resolve(options.linkRoot) : root);
  const files: WalkedFile[] = [];
  const skipped: SkippedFile[] = [];

  /** One directory entry: classify it (lstat, and for links realpath + stat); returns a folder to descend into. */
  async function entry(dir: string, rel: string[], bytes: Buffer): Promise<[string, string[]] | undefined> {
    const name = bytes.toString('utf8');
    const relPath = [...rel, name];
    // Torrent paths are UTF-8: a name that is not (possible on Linux) cannot be represented faithfully.
    if (!Buffer.from(name, 'utf8').equals(bytes)) {
      skipped.push({ path: relPath, reason: 'name is not valid UTF-8' });
      return;
    }
    if (!options.includeVcs && EXCLUDED_NAMES.has(name)) return;
    const full = path.join(dir, name);
    let ls;
    try {
      ls = await lstat(full);
    } catch {
      skipped.push({ path: relPath, reason: 'vanished while listing' });
      return;
    }
    if (ls.isDirectory()) return [full, relPath];
    if (ls.isFile()) {
      files.push({ path: relPath, absPath: full, length: ls.size, executable: (ls.mode & 0o100) !== 0 });
    } else if (ls.isSymbolicLink()) {
      let target: string;
      try {
        target = await realpath(full);
      } catch {
        skipped.push({ path: relPath, reason: 'dangling symbolic link' });
        return;
      }
      if (!isInside(realRoot, target)) {
        skipped.push({ path: relPath, reason: 'symbolic link to outside the folder' });
        return;
      }
      const ts = await stat(target);
      if (!ts.isFile()) {
        skipped.push({ path: relPath, reason: 'symbolic link to a folder or special file' });
        return;
      }
      // libtorrent: the link's own mode bits (lrwxrwxrwx) make it `attr x`.
      files.push({ path: relPath, absPath: target, length: ts.size, executable: (ls.mode & 0o100) !== 0 });
    } else {
      skipped.push({ path: relPath, reason: 'not a regular file' });
    }
  }

  // Breadth first; the entries of a folder are examined STAT_BATCH at a time (the thread pool runs them in
  // parallel: one lstat after another costs a round trip each, which dominates with thousands of small files).
  const queue: [string, string[]][] = [[root, []]];
  while (queue.length) {
    const [dir, rel] = queue.shift()!;
    options.signal?.throwIfAborted();
    let raw: Buffer[];
    try {
      raw = await readdir(dir, { encoding: 'buffer' });
    } catch (err) {
      throw new TorrentError(`cannot list ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    for (let i = 0; i < raw.length; i += STAT_BATCH) {
      const found = await Promise.all(raw.slice(i, i + STAT_BATCH).map((b) => entry(dir, rel, b)));
      for (const sub of found) if (sub) queue.push(sub);
    }
  }

  // Sort on precomputed keys: components joined by NUL (which no name holds, and which sorts before every
  // byte) compare bytewise exactly as comparePaths does, with one Buffer per file instead of two per comparison.
  const keyed = files.map((f) => ({ f, key: Buffer.from(f.path.join('\0'), 'utf8') }));
  keyed.sort((a, b) => Buffer.compare(a.key, b.key));
  return { singleFile: false, files: keyed.map((k) => k.f), skipped };
}
