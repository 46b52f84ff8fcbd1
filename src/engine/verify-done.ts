// Final check of a completed download: every v1 piece and, for v2 and hybrid torrents, every file's merkle root
// (src/torrent/verify.ts, hashing in worker threads). Works without piece layers (magnet downloads): the roots
// are computed from the data and compared with the file tree's.
import type { ParsedTorrent } from '../torrent/types.js';
import { verifyTorrent } from '../torrent/verify.js';

export interface DoneVerification {
  ok: boolean;
  problems: string[];
}

export async function verifyDownload(parsed: ParsedTorrent, contentRoot: string): Promise<DoneVerification> {
  const r = await verifyTorrent(parsed, contentRoot);
  const problems = r.damagedFiles.map((f) => `${f.path}: ${f.reason}`);
  if (!r.ok && problems.length === 0) problems.push(`${r.badPieces.length} bad pieces`);
  return { ok: r.ok, problems };
}
