// The shapes that cross src/torrent's border. Every other part of Silmaril (engine, tracker, catalog, CLI, UI)
// reads torrents through these types, never through raw bencode.

/** A refused torrent, path or magnet: `message` is one line, fit to show a user as is. */
export class TorrentError extends Error {
  override name = 'TorrentError';
}

export type TorrentVersion = 'v1' | 'v2' | 'hybrid';

export interface TorrentFile {
  /** Path components relative to the torrent's root folder, already sanitised (see paths.ts). */
  path: string[];
  length: number;
  /** Byte offset of the file in the v1 piece stream (pad files included); for v2-only torrents, in file-tree order
   *  with each file starting on a piece boundary. */
  offset: number;
  /** BEP 47 pad file: never written to disk, served as zeros. */
  pad: boolean;
  /** BEP 47 attributes as given (`p` pad, `x` executable, `h` hidden, `l` symlink). */
  attr?: string;
  /** v2: SHA-256 merkle root of the file (32 bytes); absent for empty files and v1-only torrents. */
  piecesRoot?: Uint8Array;
}

export interface ParsedTorrent {
  version: TorrentVersion;
  /** Hex, 40 chars: SHA-1 of the raw info bytes (v1 and hybrid). */
  infoHashV1?: string;
  /** Hex, 64 chars: SHA-256 of the raw info bytes (v2 and hybrid). */
  infoHashV2?: string;
  name: string;
  pieceLength: number;
  pieceCount: number;
  /** Total bytes of real files (pad files excluded). */
  length: number;
  /** True when the torrent is one file (v1 `length` / v2 file tree of a single file named `name`). */
  singleFile: boolean;
  /** v1 order (pad files included) for v1 and hybrid; file-tree order for v2-only. */
  files: TorrentFile[];
  /** v1: concatenated 20-byte SHA-1 piece hashes. */
  pieces?: Uint8Array;
  /** v2: piece layer per file (key: hex pieces root), for files larger than one piece. */
  pieceLayers?: Map<string, Uint8Array>;
  /** Announce tiers (BEP 12); `announce` alone becomes one tier. */
  announce: string[][];
  /** BEP 19 web seeds. */
  urlList: string[];
  private: boolean;
  comment?: string;
  createdBy?: string;
  creationDate?: number;
  source?: string;
  /** The info dictionary's bytes exactly as they appeared in the file: infohashes are computed over these. */
  infoBytes: Uint8Array;
  /** The whole .torrent file. */
  torrentBytes: Uint8Array;
  /** Faults that did not refuse the torrent (malformed optional keys outside info, missing piece layers of a
   *  hybrid): one line each, for `info` and `get` to print. */
  warnings: string[];
  /** Hybrid without `piece layers` for this many files: v1 hashes check the pieces, v2 roots the whole files. */
  missingPieceLayers?: number;
}

export interface MagnetLink {
  infoHashV1?: string;
  infoHashV2?: string;
  name?: string;
  trackers: string[];
  webSeeds: string[];
  peers: string[];
}
