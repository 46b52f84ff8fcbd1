// One node per home: a lock file naming the process that runs the engine of this home. A second engine on the same
// home is refused with a message naming the running one; a lock left by a killed process is taken over.
import { open, readFile, unlink } from 'node:fs/promises';
import { homeLayout } from './layout.js';

export interface LockOwner {
  pid: number;
  /** What runs the node: `daemon`, `editor`, or the command (`get`, `seed`, `share`...). */
  kind: string;
  /** Unix ms. */
  started: number;
}

export class HomeBusyError extends Error {
  override name = 'HomeBusyError';
  constructor(
    readonly home: string,
    readonly owner: LockOwner,
  ) {
    super(
      `${home} is in use by another Silmaril node (${describeOwner(owner)}); ` +
        'use that node (the CLI does so through its control API), stop it with `silmaril stop`, or pick another --home',
    );
  }
}

export function describeOwner(o: LockOwner): string {
  return `${o.kind}, pid ${o.pid}, since ${new Date(o.started).toISOString()}`;
}

/** Whether a process with this pid exists (EPERM: it does, owned by someone else). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The live owner of a home's lock, if any. */
export async function lockOwner(home: string): Promise<LockOwner | undefined> {
  const owner = await readOwner(homeLayout(home).lock);
  return owner && processAlive(owner.pid) ? owner : undefined;
}

async function readOwner(path: string): Promise<LockOwner | undefined> {
  try {
    const o = JSON.parse(await readFile(path, 'utf8'));
    if (typeof o?.pid === 'number') return { pid: o.pid, kind: String(o.kind ?? '?'), started: Number(o.started) || 0 };
  } catch {}
  return undefined;
}

export class HomeLock {
  private released = false;
  private constructor(
    readonly path: string,
    readonly owner: LockOwner,
  ) {}

  /** Takes the home's lock (created with O_EXCL), taking over a stale one; HomeBusyError if a live process has it. */
  static async acquire(home: string, kind: string): Promise<HomeLock> {
    const path = homeLayout(home).lock;
    const owner: LockOwner = { pid: process.pid, kind, started: Date.now() };
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fh = await open(path, 'wx', 0o600);
        try {
          await fh.writeFile(JSON.stringify(owner) + '\n');
        } finally {
          await fh.close();
        }
        return new HomeLock(path, owner);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const held = await readOwner(path);
      if (held && held.pid !== process.pid && processAlive(held.pid)) throw new HomeBusyError(home, held);
      if (held && held.pid === process.pid) {
        throw new HomeBusyError(home, held); // this process already runs a node on this home
      }
      // Stale (the owner died without cleaning up) or unreadable (a crash mid-write): take it over.
      await unlink(path).catch(() => {});
    }
    throw new Error(`could not take the lock ${path}`);
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    const held = await readOwner(this.path);
    if (held?.pid === this.owner.pid && held.started === this.owner.started) await unlink(this.path).catch(() => {});
  }
}
