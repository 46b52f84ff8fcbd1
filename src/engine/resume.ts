// Resume after a restart or a crash: trust the saved bitfield only for files whose size and mtime are what they
// were when it was saved; hash again the pieces on disk that cannot be trusted (files changed since, pieces written
// after the last save). Nothing is re-downloaded that is still good on disk.
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import type { ParsedTorrent } from '../torrent/types.js';
import { filePath, piecesOf } from './layout.js';
import type { FileMark, TransferRecord } from './state.js';
import type { PieceStore } from './store.js';

export function bitGet(bits: Uint8Array, i: number): boolean {
  return (bits[i >> 3] & (0x80 >> (i & 7))) !== 0;
}

export function bitSet(bits: Uint8Array, i: number): void {
  bits[i >> 3] |= 0x80 >> (i & 7);
}

export function countBits(bits: Uint8Array, n: number): number {
  let c = 0;
  for (let i = 0; i < n; i++) if (bitGet(bits, i)) c++;
  return c;
}

/** Size and mtime of every real file that exists (missing files are left out). */
export async function markFiles(contentRoot: string, parsed: ParsedTorrent): Promise<FileMark[]> {
  const marks: FileMark[] = [];
  for (let index = 0; index < parsed.files.length; index++) {
    const file = parsed.files[index];
    if (file.pad) continue;
    try {
      const st = await fsp.stat(filePath(contentRoot, parsed, file), { bigint: true });
      marks.push({ index, size: Number(st.size), mtimeNs: st.mtimeNs.toString() });
    } catch {}
  }
  return marks;
}

export interface ResumeResult {
  bitfield: Uint8Array;
  trusted: number;
  rechecked: number;
  valid: number;
}

/**
 * The bitfield to start from. Saved pieces count only when every real file they touch is unchanged; every other
 * piece whose bytes are all present on disk is hashed again (v1 SHA-1).
 */
export async function resumeBitfield(
  parsed: ParsedTorrent,
  contentRoot: string,
  record: TransferRecord | undefined,
  store: PieceStore,
): Promise<ResumeResult> {
  const n = parsed.pieceCount;
  const bits = new Uint8Array(Math.ceil(n / 8));
  let saved = record?.bitfield ? new Uint8Array(Buffer.from(record.bitfield, 'base64')) : undefined;
  // A bitfield of the wrong size is not this torrent's: trust none of it (every piece on disk is checked again).
  if (saved && saved.length !== bits.length) saved = undefined;
  // Every piece in but the download not complete: the last run's final check failed (or was cut short), so the
  // bitfield claims something the disk does not hold (a damaged record, a file changed behind our back with its
  // mtime kept). Trust none of it and hash what is on disk: otherwise every rerun ends "NOT VERIFIED" again.
  if (saved && record?.kind === 'download' && !record.complete && countBits(saved, n) === n) saved = undefined;
  const savedMarks = new Map((record?.files ?? []).map((m) => [m.index, m]));
  const now = new Map((await markFiles(contentRoot, parsed)).map((m) => [m.index, m]));

  // Per piece: can its saved bit be trusted, and are all its bytes on disk at all?
  const trustable = new Uint8Array(n).fill(1);
  const present = new Uint8Array(n).fill(1);
  parsed.files.forEach((file, index) => {
    if (file.pad) return;
    const range = piecesOf(parsed, file);
    if (!range) return;
    const cur = now.get(index);
    const old = savedMarks.get(index);
    const unchanged = !!cur && !!old && cur.size === old.size && cur.mtimeNs === old.mtimeNs;
    for (let p = range[0]; p <= range[1]; p++) {
      if (!unchanged) trustable[p] = 0;
      // A piece is on disk only if the file reaches to its end (files are written sparsely, never preallocated).
      const pieceEnd = Math.min((p + 1) * parsed.pieceLength, file.offset + file.length) - file.offset;
      if (!cur || cur.size < pieceEnd) present[p] = 0;
    }
  });

  let trusted = 0;
  const toCheck: number[] = [];
  for (let p = 0; p < n; p++) {
    if (saved && bitGet(saved, p) && trustable[p]) {
      bitSet(bits, p);
      trusted++;
    } else if (present[p] && !(trustable[p] && saved)) {
      // Unchanged files with a saved record hold no bytes written after the save: nothing new to find there.
      toCheck.push(p);
    }
  }

  let valid = 0;
  const pieces = parsed.pieces;
  if (pieces) {
    for (const p of toCheck) {
      const len = Math.min(parsed.pieceLength, store.layoutLength - p * parsed.pieceLength);
      let buf: Buffer;
      try {
        buf = await store.read(p * parsed.pieceLength, len);
      } catch {
        continue;
      }
      const digest = createHash('sha1').update(buf).digest();
      if (digest.equals(pieces.subarray(p * 20, p * 20 + 20))) {
        bitSet(bits, p);
        valid++;
      }
    }
  }
  return { bitfield: bits, trusted, rechecked: toCheck.length, valid };
}
