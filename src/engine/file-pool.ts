// A bounded pool of open files, shared by every store of the process: a seed of a 3,000-file folder must not hold
// 3,000 descriptors (under `ulimit -n 1024` the next open fails with EMFILE). Files are opened on first use and the
// least recently used idle handle is closed when the pool is full. A handle is never closed while a read or write
// holds it: users take a lease (`use`) and the handle is closed only once its lease count is back to zero. When
// every handle is leased, new users wait for one to be released. An EMFILE from the OS (descriptors held elsewhere:
// sockets, hashing workers) closes an idle handle and retries instead of failing the transfer.
//
// Writes open through `openForWrite`, which refuses to follow a symbolic link that leaves the destination folder
// (see safe-open in this file): every parent folder of the file is checked, and the file itself is opened with
// O_NOFOLLOW.
import { constants, promises as fsp } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { TorrentError } from '../torrent/types.js';

export type OpenMode = 'read' | 'write';

/** How a pooled file is opened. `root` (writes, and reads of a download) is the destination folder the file must
 *  stay inside, links included. */
export interface OpenSpec {
  path: string;
  mode: OpenMode;
  root?: string;
}

interface Entry {
  key: string;
  owner: object;
  handle: Promise<fsp.FileHandle>;
  leases: number;
  /** Close as soon as the last lease is released (its store closed while it was in use). */
  doomed: boolean;
  /** Already counted in `closing` (detached while leased). */
  counted?: boolean;
}

/** Default size: enough for parallel piece reads across files, small against a 1024 or even 256 descriptor limit. */
export const DEFAULT_MAX_OPEN = 64;

export class FilePool {
  /** Open (or opening) handles, least recently used first. */
  private readonly entries = new Map<string, Entry>();
  private readonly waiters: (() => void)[] = [];
  /** Handles opened in all (for tests and stats). */
  opens = 0;
  /** Most handles open at once. */
  peak = 0;

  constructor(readonly maxOpen = DEFAULT_MAX_OPEN) {
    if (!(maxOpen >= 1)) throw new RangeError('maxOpen must be at least 1');
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * Runs `fn` with an open handle for `spec`; the handle stays open (for the next user) after `fn` settles, until
   * it is the least recently used one and room is needed. `owner` is the store, for `closeOwner`.
   */
  async use<T>(owner: object, spec: OpenSpec, fn: (fh: fsp.FileHandle) => Promise<T>): Promise<T> {
    const entry = await this.lease(owner, spec);
    try {
      return await fn(await entry.handle);
    } finally {
      this.release(entry);
    }
  }

  private keyOf(spec: OpenSpec): string {
    return `${spec.mode}\0${spec.path}`;
  }

  private async lease(owner: object, spec: OpenSpec): Promise<Entry> {
    const key = this.keyOf(spec);
    // A read-write handle serves reads too: a download reads back through the handle it writes with.
    const alt = spec.mode === 'read' ? this.keyOf({ ...spec, mode: 'write' }) : undefined;
    for (;;) {
      const altFound = alt !== undefined ? this.entries.get(alt) : undefined;
      const found = this.entries.get(key) ?? (altFound && !altFound.doomed ? altFound : undefined);
      if (found && !found.doomed) {
        // Most recently used last.
        this.entries.delete(found.key);
        this.entries.set(found.key, found);
        found.leases++;
        return found;
      }
      // Handles still closing count too: the bound is on descriptors, not on entries.
      if (this.entries.size + this.closing < this.maxOpen) break;
      // Full: close the least recently used idle handle (its close wakes us) or wait for a lease to end.
      this.evictIdle();
      await new Promise<void>((res) => this.waiters.push(res));
    }
    const entry: Entry = { key, owner, handle: this.open(spec), leases: 1, doomed: false };
    this.entries.set(key, entry);
    this.peak = Math.max(this.peak, this.entries.size);
    entry.handle.catch(() => {
      // A failed open holds no descriptor: forget it so the next user tries again.
      if (this.entries.get(key) === entry) this.entries.delete(key);
      this.wake();
    });
    return entry;
  }

  private async open(spec: OpenSpec): Promise<fsp.FileHandle> {
    for (let attempt = 0; ; attempt++) {
      try {
        const fh = spec.mode === 'write' ? await openForWrite(spec.path, spec.root) : await openForRead(spec);
        this.opens++;
        return fh;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        // Out of descriptors (others hold them: sockets, workers): give one of ours back, or wait a little, and
        // retry a few times; then the error is real.
        if ((code === 'EMFILE' || code === 'ENFILE') && attempt < 8) {
          const closed = this.evictIdle();
          await (closed ?? new Promise((r) => setTimeout(r, 50 * (attempt + 1))));
          continue;
        }
        throw err;
      }
    }
  }

  private release(entry: Entry): void {
    entry.leases--;
    if (entry.leases === 0 && entry.doomed) this.closeEntry(entry);
    this.wake();
  }

  private wake(): void {
    const w = this.waiters.shift();
    if (w) w();
  }

  /** Closes the least recently used handle that nobody holds (resolves once closed); undefined when every handle
   *  is leased. */
  private evictIdle(): Promise<void> | undefined {
    for (const entry of this.entries.values()) {
      if (entry.leases === 0) return this.closeEntry(entry);
    }
    return undefined;
  }

  /** Handles being closed: still descriptors until their close completes. */
  private closing = 0;

  private closeEntry(entry: Entry): Promise<void> {
    if (this.entries.get(entry.key) === entry) this.entries.delete(entry.key);
    entry.doomed = true;
    if (!entry.counted) this.closing++;
    entry.counted = true;
    return entry.handle
      .then(
        (fh) => fh.close().catch(() => {}),
        () => {},
      )
      .finally(() => {
        this.closing--;
        this.wake();
      });
  }

  /** Closes every handle `owner` opened: idle ones now, leased ones when their last user is done. */
  async closeOwner(owner: object): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const entry of [...this.entries.values()]) {
      if (entry.owner !== owner) continue;
      if (entry.leases === 0) closing.push(this.closeEntry(entry));
      else {
        // Still a descriptor until its last user is done: counted as closing from now on.
        this.entries.delete(entry.key);
        entry.doomed = true;
        entry.counted = true;
        this.closing++;
      }
    }
    await Promise.all(closing);
  }
}

let shared: FilePool | undefined;

/** The process-wide pool (every engine and store in the process shares the descriptor budget). Its size comes from
 *  SILMARIL_MAX_OPEN_FILES when set. */
export function sharedFilePool(): FilePool {
  if (!shared) {
    const env = Number(process.env.SILMARIL_MAX_OPEN_FILES);
    shared = new FilePool(Number.isInteger(env) && env >= 1 ? env : DEFAULT_MAX_OPEN);
  }
  return shared;
}

// ---------------------------------------------------------------------------------------------------------------
// Opening without following links out of the destination

function inside(root: string, p: string): boolean {
  const rel = relative(root, p);
  return rel === '' || !(rel === '..' || rel.startsWith('..' + sep) || isAbsolute(rel));
}

function show(p: string): string {
  return JSON.stringify(p);
}

/**
 * Checks each existing folder from `root` down to `dirname(path)`: it must be a real folder, or a link that
 * resolves inside realpath(root). Missing folders are fine (they will be created as real folders).
 */
async function checkParents(root: string, path: string): Promise<void> {
  const realRoot = await fsp.realpath(root);
  const absRoot = resolve(root);
  const parent = dirname(resolve(path));
  if (!inside(absRoot, parent)) throw new TorrentError(`unsafe path: ${show(path)} is outside ${show(root)}`);
  const rel = relative(absRoot, parent);
  let probe = absRoot;
  for (const part of rel === '' ? [] : rel.split(sep)) {
    probe = resolve(probe, part);
    let st;
    try {
      st = await fsp.lstat(probe);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // the rest is created by us, as folders
      throw err;
    }
    if (st.isSymbolicLink()) {
      const real = await fsp.realpath(probe).catch(() => undefined);
      if (!real || !inside(realRoot, real))
        throw new TorrentError(
          `refusing to write ${show(path)}: the folder ${show(probe)} is a link that leaves ${show(root)}`,
        );
    } else if (!st.isDirectory()) {
      throw new TorrentError(`refusing to write ${show(path)}: ${show(probe)} is not a folder`);
    }
  }
}

/** True when reaching `path` from `root` goes through a link out of `root` (or a non-folder): never delete there. */
export async function leavesRoot(root: string, path: string): Promise<boolean> {
  try {
    await checkParents(root, path);
    return false;
  } catch (err) {
    if (err instanceof TorrentError) return true;
    throw err;
  }
}

/** O_NOFOLLOW: the file itself must not be a link (ELOOP otherwise), on every platform that has the flag. */
const NOFOLLOW = constants.O_NOFOLLOW ?? 0;

function linkRefusal(path: string, root: string | undefined): TorrentError {
  return new TorrentError(
    `refusing to open ${show(path)}: it is a symbolic link${root ? ` inside ${show(root)}` : ''} (a download never follows links)`,
  );
}

async function openForRead(spec: OpenSpec): Promise<fsp.FileHandle> {
  if (!spec.root) return fsp.open(spec.path, 'r');
  // A download reads back what it wrote (resume checks, serving peers): the same rules as for writing, so a link
  // planted in the destination cannot make content from elsewhere count as downloaded.
  await checkParents(spec.root, spec.path);
  try {
    return await fsp.open(spec.path, constants.O_RDONLY | NOFOLLOW);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw linkRefusal(spec.path, spec.root);
    throw err;
  }
}

/**
 * Opens `path` read-write, creating it (and its folders) without truncating. With `root`, refuses any link among
 * the parents that resolves outside `root`, and a link as the file itself.
 */
export async function openForWrite(path: string, root?: string): Promise<fsp.FileHandle> {
  if (root) await checkParents(root, path);
  const flags = constants.O_RDWR | NOFOLLOW;
  try {
    return await fsp.open(path, flags);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw linkRefusal(path, root);
    if (code !== 'ENOENT') throw err;
  }
  await fsp.mkdir(dirname(path), { recursive: true });
  // The folders may have been swapped for links between the check and the mkdir: check again before creating.
  if (root) await checkParents(root, path);
  try {
    // O_CREAT without O_TRUNC (never O_APPEND: Linux ignores positions on append descriptors).
    return await fsp.open(path, flags | constants.O_CREAT, 0o666);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw linkRefusal(path, root);
    throw err;
  }
}
