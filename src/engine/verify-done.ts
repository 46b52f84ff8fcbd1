// Final check of a completed download. Every piece that came in (or was found on disk at the start) has passed its
// v1 SHA-1 in this process before it counted (request.ts, resume.ts), so a v1-only torrent is verified once its
// last piece is in, unless pieces were taken from the resume record on trust (files unchanged by size and mtime
// since an earlier session): then every byte is hashed again. The per-piece check is v1 only: a hybrid's or a v2
// torrent's merkle roots (which a hybrid must pass too: its v1 and v2 halves could disagree) are checked here, every
// file read once (src/torrent/verify.ts, in worker threads). Works without piece layers (magnet downloads): the
// roots are computed from the data and compared with the file tree's.
import { stat } from 'node:fs/promises';
import { realFiles } from './layout.js';
import type { ParsedTorrent } from '../torrent/types.js';
import { verifyTorrent } from '../torrent/verify.js';

export interface DoneVerification {
  ok: boolean;
  problems: string[];
  /** Bytes read and hashed by this check. */
  bytesHashed: number;
  /** What was checked and why, for the log. */
  why: string;
}

export async function verifyDownload(
  parsed: ParsedTorrent,
  contentRoot: string,
  opts: { trustedPieces?: number } = {},
): Promise<DoneVerification> {
  if (parsed.version === 'v1' && !opts.trustedPieces) {
    // Nothing to hash again; the files must still be there, whole (a file removed meanwhile is not verified).
    const problems: string[] = [];
    for (const { file, path } of realFiles(contentRoot, parsed)) {
      const st = await stat(path).catch(() => undefined);
      if (!st?.isFile()) problems.push(`${file.path.join('/')}: missing`);
      else if (st.size !== file.length) problems.push(`${file.path.join('/')}: size`);
    }
    return { ok: !problems.length, problems, bytesHashed: 0, why: 'every piece passed its SHA-1 as it came in' };
  }
  const r = await verifyTorrent(parsed, contentRoot);
  const problems = r.damagedFiles.map((f) => `${f.path}: ${f.reason}`);
  if (!r.ok && problems.length === 0) problems.push(`${r.badPieces.length} bad pieces`);
  const why = opts.trustedPieces
    ? `${opts.trustedPieces} pieces were taken from the last session on trust: every byte hashed again`
    : 'v2 merkle roots are not checked piece by piece: every file hashed again';
  return { ok: r.ok, problems, bytesHashed: r.bytesChecked, why };
}
