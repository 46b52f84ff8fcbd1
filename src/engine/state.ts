// What the engine remembers in the state directory (never in the user's folders): one JSON record and the
// .torrent per transfer. Records are written atomically (temporary file, then rename) so a kill -9 leaves either
// the previous record or the new one, never a torn one.
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../shared/atomic-file.js';

export interface FileMark {
  /** Index in ParsedTorrent.files. */
  index: number;
  size: number;
  /** Nanoseconds, as a decimal string (exact). */
  mtimeNs: string;
}

export interface TransferRecord {
  version: 1;
  kind: 'seed' | 'download';
  infoHashV1: string;
  infoHashV2?: string;
  name: string;
  /** The folder (multi-file) or file (single-file) holding the content. */
  contentRoot: string;
  /** Download destination folder (downloads only). */
  outDir?: string;
  paused: boolean;
  complete: boolean;
  /** Verified pieces when the record was written (base64 of the BEP 3 bitfield). */
  bitfield?: string;
  /** Size and mtime of each real file when `bitfield` was taken: a file that changed since is re-checked. */
  files?: FileMark[];
  savedAt: number;
  /** Per-transfer rate limits in bytes/s (-1 or absent: none). */
  downloadLimit?: number;
  uploadLimit?: number;
  peers?: string[];
  /** The Hugging Face Hub web seed of this download (hub-seed.ts); the endpoint and token come from the environment
   *  again at restore, never from here. */
  hub?: { repo: string; commit: string };
  /** A download into the Hugging Face cache (models/hf/download.ts): where it is installed once verified. */
  hfCache?: HfCacheTarget;
}

export interface HfCacheTarget {
  cacheDir: string;
  repo: string;
  commit: string;
  /** Blob names in torrent file order, when the entry gave them. */
  etags?: string[];
  ref?: string;
}

export class StateDir {
  readonly dir: string;

  constructor(home: string) {
    this.dir = join(home, 'transfers');
  }

  private recordPath(id: string): string {
    if (!/^[0-9a-f]{40}$/.test(id)) throw new Error(`bad transfer id ${id}`);
    return join(this.dir, `${id}.json`);
  }

  torrentPath(id: string): string {
    if (!/^[0-9a-f]{40}$/.test(id)) throw new Error(`bad transfer id ${id}`);
    return join(this.dir, `${id}.torrent`);
  }

  async saveTorrent(id: string, bytes: Uint8Array): Promise<void> {
    await atomicWrite(this.torrentPath(id), bytes);
  }

  async loadTorrent(id: string): Promise<Uint8Array | undefined> {
    try {
      return await fsp.readFile(this.torrentPath(id));
    } catch {
      return undefined;
    }
  }

  async save(record: TransferRecord): Promise<void> {
    await atomicWrite(this.recordPath(record.infoHashV1), JSON.stringify(record));
  }

  async load(id: string): Promise<TransferRecord | undefined> {
    try {
      const rec = JSON.parse(await fsp.readFile(this.recordPath(id), 'utf8')) as TransferRecord;
      return rec.version === 1 && rec.infoHashV1 === id ? rec : undefined;
    } catch {
      return undefined;
    }
  }

  async list(): Promise<TransferRecord[]> {
    let names: string[];
    try {
      names = await fsp.readdir(this.dir);
    } catch {
      return [];
    }
    const out: TransferRecord[] = [];
    for (const n of names) {
      const m = /^([0-9a-f]{40})\.json$/.exec(n);
      if (!m) continue;
      const rec = await this.load(m[1]);
      if (rec) out.push(rec);
    }
    return out;
  }

  async remove(id: string): Promise<void> {
    await fsp.rm(this.recordPath(id), { force: true });
    await fsp.rm(this.torrentPath(id), { force: true });
  }
}

/** Resume data is rewritten every few hundred milliseconds: atomic against a kill -9, without an fsync each time. */
function atomicWrite(path: string, data: string | Uint8Array): Promise<void> {
  return writeFileAtomic(path, data, { durable: false });
}
