// Replacement of a file in one step: write a temporary file beside it, rename it over the target. After a crash the
// file is the old one or the new one, complete, never half of one. Used for every file Silmaril keeps state in.
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';

export interface AtomicWriteOptions {
  /** File mode of the new file (default 0o600: state files are private). */
  mode?: number;
  /** fsync the data and the folder before returning, so the new file survives a power loss too (default true).
   *  Off for state rewritten every few hundred milliseconds (resume data), where a kill -9 is the case to survive. */
  durable?: boolean;
}

let counter = 0;

export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
  { mode = 0o600, durable = true }: AtomicWriteOptions = {},
): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${++counter}.tmp`);
  const fh = await open(tmp, 'w', mode);
  try {
    await fh.writeFile(data);
    if (durable) await fh.sync();
  } catch (err) {
    await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
  if (!durable) return;
  // The rename itself is durable only once the directory entry is on disk.
  try {
    const dirHandle = await open(dir, 'r');
    try {
      await dirHandle.sync();
    } finally {
      await dirHandle.close();
    }
  } catch {
    // Some file systems refuse fsync on a directory; the data file itself is synced.
  }
}
