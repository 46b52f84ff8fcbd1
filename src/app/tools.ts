// The torrent-file tools that need no node (`silmaril create`, `info`, `verify`, `tracker`): the faces reach the
// core only through src/app, so these are passed on from here.
export { createTorrent } from '../torrent/create.js';
export { MAX_PIECE_LENGTH, MIN_PIECE_LENGTH, isValidPieceLength } from '../torrent/piece-length.js';
export { parseTorrent, MAX_TORRENT_BYTES } from '../torrent/parse.js';
export { buildMagnet, classifySource, type DownloadSource } from '../torrent/magnet.js';
export { TorrentError, type ParsedTorrent } from '../torrent/types.js';
export { verifyTorrent, type DamagedFile } from '../torrent/verify.js';
export { registerWithTrackers } from '../tracker/registry-client.js';
export { writeFileAtomic } from '../shared/atomic-file.js';
export { Tracker } from '../tracker/tracker.js';
export { hfCacheDir, listHfCache, type CachedRepo } from '../models/hf-cache.js';
export { normaliseTrustedKey, readTrustedKeys, updateTrustedKeys } from '../catalog/trust.js';
export { checkFirstFiles, DEFAULT_FIRST_FILES, type FileOrder } from '../engine/file-order.js';
