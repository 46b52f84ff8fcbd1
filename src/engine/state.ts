// What the engine remembers in the state directory (never in the user's folders): one JSON record and the
// .torrent per transfer. Records are written atomically (temporary file, then rename) so a kill -9 leaves either
// the previous record or the new one, never a torn one.
//
// What is read back is checked, not trusted: a disk error, a bad sector or a hand edit can damage either file. The
// .torrent must parse and its info dictionary must hash (v1) to the transfer id; the record must have every field
// of the right type. A damaged file is renamed `<name>.damaged-<time>` (kept for inspection, never read again), a
// warning names it, and the transfer carries on as if it were absent: the metadata is fetched again from peers and
// the pieces on disk are checked again.
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { parseTorrent } from '../torrent/parse.js';
import { writeFileAtomic } from '../shared/atomic-file.js';
import { checkFirstFiles } from './file-order.js';

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
  /** A seed that super-seeds (BEP 16) while it is the initial seed. */
  superSeed?: boolean;
  /** The order the user asked files in (file-order.ts). */
  sequential?: boolean;
  firstFiles?: string[];
  /** The Hugging Face Hub web seed of this download (hub-seed.ts); the endpoint and token come from the environment
   *  again at restore, never from here. */
  hub?: { repo: string; commit: string };
  /** A download into the Hugging Face cache (models/hf/download.ts): where it is installed once verified. */
  hfCache?: HfCacheTarget;
  /** The node's own business (a catalog file), not a model: see Transfer.system. */
  system?: boolean;
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

  /** `warn` hears about damaged files (one line each, naming the file and where it was set aside). */
  constructor(
    home: string,
    private readonly warn: (message: string) => void = () => {},
  ) {
    this.dir = join(home, 'transfers');
  }

  /** Renames a damaged state file out of the way and says so; never throws (the transfer must go on). */
  private async setAside(path: string, reason: string, then: string): Promise<void> {
    const aside = `${path}.damaged-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    try {
      await fsp.rename(path, aside);
      this.warn(`state file ${path} is damaged (${reason}): set aside as ${aside}; ${then}`);
    } catch (err) {
      this.warn(`state file ${path} is damaged (${reason}) and could not be set aside: ${(err as Error).message}`);
    }
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

  /** The saved .torrent of `id`, only if it is sound and is the torrent of `id` (else set aside: undefined). */
  async loadTorrent(id: string): Promise<Uint8Array | undefined> {
    const path = this.torrentPath(id);
    let bytes: Uint8Array;
    try {
      bytes = await fsp.readFile(path);
    } catch {
      return undefined;
    }
    const fault = torrentFault(id, bytes);
    if (!fault) return bytes;
    await this.setAside(path, fault, 'its metadata will be fetched again from peers');
    return undefined;
  }

  async save(record: TransferRecord): Promise<void> {
    await atomicWrite(this.recordPath(record.infoHashV1), JSON.stringify(record));
  }

  /** The record of `id`, only if every field is sound (else set aside: undefined, and the pieces are re-checked). */
  async load(id: string): Promise<TransferRecord | undefined> {
    const path = this.recordPath(id);
    let text: string;
    try {
      text = await fsp.readFile(path, 'utf8');
    } catch {
      return undefined;
    }
    let rec: unknown;
    try {
      rec = JSON.parse(text);
    } catch {
      await this.setAside(path, 'not valid JSON', 'the pieces on disk will be checked again');
      return undefined;
    }
    const fault = recordFault(id, rec);
    if (!fault) return rec as TransferRecord;
    await this.setAside(path, fault, 'the pieces on disk will be checked again');
    return undefined;
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

/** Why saved .torrent bytes cannot be the torrent `id`, or undefined when they are. */
export function torrentFault(id: string, bytes: Uint8Array): string | undefined {
  let parsed;
  try {
    parsed = parseTorrent(bytes, { infoOnly: true });
  } catch (err) {
    return (err as Error).message;
  }
  const v1 = createHash('sha1').update(parsed.infoBytes).digest('hex');
  if (v1 === id) return undefined;
  // A transfer joined by a btmh magnet is keyed by the truncated v2 hash (docs/protocols-bep52.md).
  const v2 = createHash('sha256').update(parsed.infoBytes).digest('hex');
  return v2.slice(0, 40) === id ? undefined : `its info dictionary hashes to ${v1}, not ${id}`;
}

const isInt = (v: unknown, min = 0): v is number => Number.isSafeInteger(v) && (v as number) >= min;
const isStr = (v: unknown): v is string => typeof v === 'string';

/** The first wrong field of a parsed record, or undefined when it is a sound record of `id`. */
export function recordFault(id: string, v: unknown): string | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not an object';
  const r = v as Record<string, unknown>;
  if (r.version !== 1) return `unknown version ${JSON.stringify(r.version)}`;
  if (r.infoHashV1 !== id) return `it is for ${JSON.stringify(r.infoHashV1)}, not ${id}`;
  if (r.kind !== 'seed' && r.kind !== 'download') return 'bad "kind"';
  if (r.infoHashV2 !== undefined && !(isStr(r.infoHashV2) && /^[0-9a-f]{64}$/.test(r.infoHashV2)))
    return 'bad "infoHashV2"';
  if (!isStr(r.name)) return 'bad "name"';
  // A download whose metadata has not arrived yet (a magnet) has no content root: "" (an interrupted magnet download
  // must resume, not be set aside as damaged).
  const noRootYet = r.kind === 'download' && r.contentRoot === '' && r.bitfield === undefined;
  if (!isStr(r.contentRoot) || !(isAbsolute(r.contentRoot) || noRootYet)) return 'bad "contentRoot"';
  if (r.outDir !== undefined && !(isStr(r.outDir) && isAbsolute(r.outDir))) return 'bad "outDir"';
  if (typeof r.paused !== 'boolean') return 'bad "paused"';
  if (typeof r.complete !== 'boolean') return 'bad "complete"';
  if (r.bitfield !== undefined && !(isStr(r.bitfield) && /^[A-Za-z0-9+/]*={0,2}$/.test(r.bitfield)))
    return 'bad "bitfield"';
  if (r.files !== undefined) {
    if (!Array.isArray(r.files)) return 'bad "files"';
    for (const m of r.files as unknown[]) {
      const f = m as Record<string, unknown>;
      if (typeof m !== 'object' || m === null || !isInt(f.index) || !isInt(f.size) || !isStr(f.mtimeNs))
        return 'bad entry in "files"';
      if (!/^\d{1,30}$/.test(f.mtimeNs)) return 'bad mtime in "files"';
    }
  }
  if (typeof r.savedAt !== 'number' || !Number.isFinite(r.savedAt)) return 'bad "savedAt"';
  for (const k of ['downloadLimit', 'uploadLimit'] as const)
    if (r[k] !== undefined && !isInt(r[k], -1)) return `bad "${k}"`;
  if (r.peers !== undefined && !(Array.isArray(r.peers) && r.peers.every(isStr))) return 'bad "peers"';
  if (r.superSeed !== undefined && typeof r.superSeed !== 'boolean') return 'bad "superSeed"';
  if (r.sequential !== undefined && typeof r.sequential !== 'boolean') return 'bad "sequential"';
  if (r.firstFiles !== undefined && checkFirstFiles(r.firstFiles)) return 'bad "firstFiles"';
  if (r.system !== undefined && typeof r.system !== 'boolean') return 'bad "system"';
  return undefined;
}

/** Resume data is rewritten every few hundred milliseconds: atomic against a kill -9, without an fsync each time. */
function atomicWrite(path: string, data: string | Uint8Array): Promise<void> {
  return writeFileAtomic(path, data, { durable: false });
}
