// Final check of a completed download. Every piece that came in (or was found on disk at the start) has passed its
// v1 SHA-1 in this process before it counted (request.ts, resume.ts), so a v1-only torrent is verified once its
// last piece is in, unless pieces were taken from the resume record on trust (files unchanged by size and mtime
// since an earlier session): then every byte is hashed again. A hybrid's (or v2 torrent's) pieces are also checked
// against their BEP 52 piece-layer nodes as they come in (request.ts; a hybrid must pass both: its v1 and v2 halves
// could disagree), so a hybrid whose every piece passed both checks in this process is verified too. Otherwise (a
// piece found on disk at the start, or one that came before its piece layer did: a magnet), the merkle roots are
// checked here, every file read once (src/torrent/verify.ts, in worker threads). That works without piece layers:
// the roots are computed from the data and compared with the file tree's.
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
  opts: { trustedPieces?: number; v2Passed?: ReadonlySet<number> } = {},
): Promise<DoneVerification> {
  const pieces = parsed.pieceCount;
  const v2Missing = parsed.version === 'v1' ? 0 : pieces - countBelow(opts.v2Passed, pieces);
  if (!opts.trustedPieces && v2Missing === 0) {
    // Nothing to hash again; the files must still be there, whole (a file removed meanwhile is not verified).
    const problems: string[] = [];
    for (const { file, path } of realFiles(contentRoot, parsed)) {
      const st = await stat(path).catch(() => undefined);
      if (!st?.isFile()) problems.push(`${file.path.join('/')}: missing`);
      else if (st.size !== file.length) problems.push(`${file.path.join('/')}: size`);
    }
    const why =
      parsed.version === 'v1'
        ? 'every piece passed its SHA-1 as it came in'
        : 'every piece passed its SHA-1 and its v2 piece-layer hash as it came in';
    return { ok: !problems.length, problems, bytesHashed: 0, why };
  }
  const r = await verifyTorrent(parsed, contentRoot);
  const problems = r.damagedFiles.map((f) => `${f.path}: ${f.reason}`);
  if (!r.ok && problems.length === 0) problems.push(`${r.badPieces.length} bad pieces`);
  const why = opts.trustedPieces
    ? `${opts.trustedPieces} pieces were taken from the last session on trust: every byte hashed again`
    : `${v2Missing} of ${pieces} pieces were not checked against their v2 piece layer as they came in (found on ` +
      'disk at the start, or before the piece layers came): every file hashed again';
  return { ok: r.ok, problems, bytesHashed: r.bytesChecked, why };
}

/** Members of `set` in [0, n). */
function countBelow(set: ReadonlySet<number> | undefined, n: number): number {
  let c = 0;
  for (const i of set ?? []) if (i >= 0 && i < n) c++;
  return c;
}
