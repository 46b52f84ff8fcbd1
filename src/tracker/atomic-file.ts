// Durable replacement of a file: write a temporary file beside it, fsync it, rename it over the target, and
// fsync the folder, so after a crash the file is either the old one or the new one, complete.
import { open, rename, unlink } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';

let counter = 0;

export async function writeFileAtomic(path: string, data: Uint8Array): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${++counter}.tmp`);
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
  // The rename itself is durable only once the directory entry is on disk.
  try {
    const dir = await open(dirname(path), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } catch {
    // Some file systems refuse fsync on a directory; the data file itself is synced.
  }
}
