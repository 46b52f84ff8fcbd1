// Final check of a completed download: every v1 piece and, for v2 and hybrid torrents, every file's merkle root.
import { createHash } from 'node:crypto';
import type { ParsedTorrent } from '../torrent/types.js';
import { layoutFor } from './layout.js';
import { PieceStore } from './store.js';

export interface DoneVerification {
  ok: boolean;
  problems: string[];
}

// TEMPORARY until src/torrent/verify.ts lands: v1 pieces only.
export async function verifyDownload(parsed: ParsedTorrent, contentRoot: string): Promise<DoneVerification> {
  const layout = layoutFor(contentRoot, parsed);
  const store = new PieceStore(layout, { writable: false });
  const problems: string[] = [];
  try {
    for (let p = 0; p < parsed.pieceCount; p++) {
      const len = Math.min(parsed.pieceLength, layout.length - p * parsed.pieceLength);
      const buf = await store.read(p * parsed.pieceLength, len);
      const d = createHash('sha1').update(buf).digest();
      if (!d.equals(parsed.pieces!.subarray(p * 20, p * 20 + 20))) problems.push(`piece ${p} does not match`);
    }
  } finally {
    store.close();
  }
  return { ok: problems.length === 0, problems };
}
