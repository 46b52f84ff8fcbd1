// Paths given on the command line: one that does not exist is a usage error (exit 2) in every command; one that
// exists but cannot be read is a failure (exit 1). Checked before any work starts, so nothing is half done.
import { constants, type Stats } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
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
