// Where each byte of a torrent's piece stream lives on disk: real files under the content root, pad files nowhere.
import { safeJoin, sanitizeName } from '../torrent/paths.js';
import type { ParsedTorrent, TorrentFile } from '../torrent/types.js';
import type { StoreLayout, StoreSegment } from './store.js';

/** The folder (multi-file) or file (single-file) a download of `parsed` creates inside `outDir`. */
export function contentRootIn(outDir: string, parsed: ParsedTorrent): string {
  return safeJoin(outDir, [sanitizeName(parsed.name)]);
}

/** Absolute path of a real file of the torrent, sanitised again at the moment it is used. */
export function filePath(contentRoot: string, parsed: ParsedTorrent, file: TorrentFile): string {
  if (parsed.singleFile) return contentRoot;
  return safeJoin(contentRoot, file.path);
}

/** The real (non-pad) files with their absolute paths. */
export function realFiles(contentRoot: string, parsed: ParsedTorrent): { file: TorrentFile; path: string }[] {
  return parsed.files.filter((f) => !f.pad).map((file) => ({ file, path: filePath(contentRoot, parsed, file) }));
}

/** `root`: a download's destination folder, which no file may be opened through a link out of. */
export function layoutFor(contentRoot: string, parsed: ParsedTorrent, root?: string): StoreLayout {
  const segments: StoreSegment[] = [];
  let end = 0;
  for (const file of parsed.files) {
    segments.push({
      offset: file.offset,
      length: file.length,
      path: file.pad ? undefined : filePath(contentRoot, parsed, file),
    });
    end = Math.max(end, file.offset + file.length);
  }
  segments.sort((a, b) => a.offset - b.offset);
  return { pieceLength: parsed.pieceLength, length: end, segments, ...(root !== undefined ? { root } : {}) };
}

/** Pieces [first, last] that hold bytes of `file` (empty files hold none). */
export function piecesOf(parsed: ParsedTorrent, file: TorrentFile): [number, number] | null {
  if (file.length === 0) return null;
  return [
    Math.floor(file.offset / parsed.pieceLength),
    Math.floor((file.offset + file.length - 1) / parsed.pieceLength),
  ];
}
