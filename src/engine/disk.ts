// Disk-space preflight: refuse a download the destination cannot hold, before writing a byte.
import { promises as fsp } from 'node:fs';
import { dirname } from 'node:path';
import type { ParsedTorrent } from '../torrent/types.js';
import { realFiles } from './layout.js';
import { formatBytes } from '../shared/format.js';

export class DiskSpaceError extends Error {
  override name = 'DiskSpaceError';
}

/** Bytes still to be written: real files minus what is already on disk for them. */
export async function bytesStillNeeded(contentRoot: string, parsed: ParsedTorrent): Promise<number> {
  let need = 0;
  for (const { file, path } of realFiles(contentRoot, parsed)) {
    let have = 0;
    try {
      have = (await fsp.stat(path)).size;
    } catch {}
    need += Math.max(0, file.length - have);
  }
  return need;
}

/** Free bytes for an unprivileged writer at `dir` (its nearest existing ancestor). */
export async function freeBytes(dir: string): Promise<number> {
  let probe = dir;
  for (;;) {
    try {
      const st = await fsp.statfs(probe);
      return st.bavail * st.bsize;
    } catch (err) {
      const parent = dirname(probe);
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || parent === probe) throw err;
      probe = parent;
    }
  }
}

export async function preflight(outDir: string, contentRoot: string, parsed: ParsedTorrent): Promise<void> {
  const need = await bytesStillNeeded(contentRoot, parsed);
  const free = await freeBytes(outDir);
  if (need > free) {
    throw new DiskSpaceError(
      `not enough disk space in ${outDir}: ${parsed.name} needs ${formatBytes(need)} more, ${formatBytes(free)} free`,
    );
  }
}
