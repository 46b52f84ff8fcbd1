// Paths given on the command line: one that does not exist is a usage error (exit 2) in every command; one that
// exists but cannot be read is a failure (exit 1). Checked before any work starts, so nothing is half done.
import { constants, type Stats } from 'node:fs';
import { access, mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { CliError, UsageError } from './args.js';

export interface ExistingPath {
  abs: string;
  stat: Stats;
}

/**
 * `arg` as an existing file or folder (`kind` narrows it), readable by this process (a folder: listable too).
 * `role` names it in the message ("torrent file", "folder to share").
 */
export async function existingPath(arg: string, kind?: 'file' | 'folder', role?: string): Promise<ExistingPath> {
  const abs = resolve(arg);
  const st = await stat(abs).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'EACCES' || err.code === 'EPERM')
      throw new CliError(`cannot reach ${arg}: permission denied on a folder above it`, 'check its permissions');
    if (err.code === 'ENOTDIR') throw new UsageError(`no such file or folder: ${arg} (a file is in its path)`);
    return undefined;
  });
  const name = role ?? (kind === 'file' ? 'file' : kind === 'folder' ? 'folder' : 'file or folder');
  if (!st) throw new UsageError(`no such ${name}: ${arg}`, { hint: 'check the path' });
  if (kind === 'file' && !st.isFile()) throw new UsageError(`${arg} is a folder, not a ${name}`);
  if (kind === 'folder' && !st.isDirectory()) throw new UsageError(`${arg} is a file, not a ${name}`);
  const mode = st.isDirectory() ? constants.R_OK | constants.X_OK : constants.R_OK;
  await access(abs, mode).catch(() => {
    throw new CliError(`cannot read ${arg}: permission denied`, 'check its permissions');
  });
  return { abs, stat: st };
}

/**
 * The folder a command writes into (`get --out`): an existing folder this process may write, or one it creates now.
 * A file in the way is a usage error; a folder that cannot be written or created is a failure, named.
 */
export async function outputFolder(arg: string, flag = '--out'): Promise<string> {
  const abs = resolve(arg);
  const st = await stat(abs).catch(() => undefined);
  if (st && !st.isDirectory())
    throw new UsageError(`${flag} ${arg} is a file, not a folder`, { hint: 'choose a folder' });
  if (st) {
    await access(abs, constants.W_OK | constants.X_OK).catch(() => {
      throw new CliError(
        `cannot write into ${arg}: permission denied`,
        `check its permissions, or choose another ${flag}`,
      );
    });
    return abs;
  }
  await makeFolder(abs).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOTDIR' || err.code === 'EEXIST')
      throw new UsageError(`${flag} ${arg} cannot be a folder: a file is in its path`, { hint: 'choose a folder' });
    const why =
      err.code === 'EACCES' || err.code === 'EPERM'
        ? 'permission denied'
        : err.code === 'EROFS'
          ? 'read-only file system'
          : err.code === 'ENOSPC'
            ? 'no space left on the device'
            : 'the folder cannot be made there';
    throw new CliError(`cannot create ${flag} ${arg}: ${why}`, `choose another ${flag}`);
  });
  return abs;
}

/**
 * `mkdir -p`, one level at a time from the nearest folder that exists. Node's `mkdir(..., { recursive: true })` never
 * returns under a pseudo file system that answers ENOENT to every mkdir (`/proc/x`: it retries the parent, which
 * exists, forever); one level at a time, that ENOENT is the answer.
 */
export async function makeFolder(abs: string): Promise<void> {
  const missing: string[] = [];
  let at = abs;
  while (!(await stat(at).catch(() => undefined))) {
    missing.unshift(at);
    const up = dirname(at);
    if (up === at) break;
    at = up;
  }
  for (const dir of missing) {
    await mkdir(dir).catch((err: NodeJS.ErrnoException) => {
      // Made meanwhile by someone else: fine, as long as it is a folder (checked by the next level or the caller).
      if (err.code !== 'EEXIST') throw err;
    });
    if (!(await stat(dir)).isDirectory()) throw Object.assign(new Error(`${dir} is a file`), { code: 'ENOTDIR' });
  }
}
