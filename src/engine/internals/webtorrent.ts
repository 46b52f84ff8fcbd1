// THE FENCE AROUND WEBTORRENT (src/engine/internals/: read this first).
//
// The project's rule: a dependency's private internals are touched in one fenced file, against an exactly pinned
// version, with a test that fails when a patched member goes away. This folder holds those files, one per
// dependency; nothing else under src/ may read or write a member whose name starts with `_` (eslint enforces it,
// eslint.config.mjs). Each module exports named, typed operations, the members it relies on (PATCHED_MEMBERS) and
// the version it was written against (PINNED); test/unit/engine/internals/<module>.test.ts fails when a listed
// member is gone or the installed version differs. The decisions (what to request, whom to unchoke, which hash a
// peer may use) stay in their own modules (scheduler.ts, request.ts, v2-handshake.ts...): only the touching is here.
//
// This module: WebTorrent 3.0.21 (Torrent, the client and its connection pool), and what is reached through a
// torrent's `discovery`: torrent-discovery 11.0.21 and bittorrent-tracker 11.2.3 (announce-numbers.ts), plus the
// ut_metadata extension on a wire (5.0.1) as the transfer and the v2 handshake read it.
// Why each member is replaced is said where it is replaced (scheduler.ts, request.ts, transfer.ts,
// announce-numbers.ts, v2-handshake.ts, utp/webtorrent-utp.ts, peer-retry.ts).

export const PINNED = {
  webtorrent: '3.0.21',
  'torrent-discovery': '11.0.21',
  'bittorrent-tracker': '11.2.3',
  ut_metadata: '5.0.1',
} as const;

/** Torrent.prototype methods replaced, wrapped or called here (each must stay a function). */
export const PATCHED_TORRENT_MEMBERS = [
  '_updateWire',
  '_updateWireInterest',
  '_rechoke',
  '_onWireWithMetadata',
  '_request',
  '_update',
  '_addPeer',
  '_registerPeer',
  '_hotswap',
  '_markVerified',
  '_checkDone',
  '_destroy',
  '_processParsedTorrent',
  '_addIncomingPeer',
  '_startDiscovery',
] as const;

/** Torrent instance fields read or written here (checked on a live torrent by the fence test). */
export const PATCHED_TORRENT_FIELDS = ['_peers', '_reservations', '_hashes', '_rarityMap', '_getAnnounceOpts'] as const;

/** Piece (torrent-piece, through WebTorrent) fields read or written here. */
export const PATCHED_PIECE_FIELDS = ['_buffer', '_chunks', '_reservations', '_cancellations', '_flushed'] as const;

/** WebTorrent client members: `_getByHash` (method), `_utpServer` (getter), `_connPool.tcpServer`. */
export const PATCHED_CLIENT_MEMBERS = ['_getByHash', '_utpServer', '_connPool'] as const;

/** torrent-discovery Discovery#_createTracker and bittorrent-tracker Client#_getAnnounceOpts (announce-numbers.ts). */
export const PATCHED_DISCOVERY_MEMBERS = ['_createTracker'] as const;
export const PATCHED_TRACKER_MEMBERS = ['_getAnnounceOpts'] as const;

/** ut_metadata extension fields read or written here. */
export const PATCHED_UT_METADATA_FIELDS = ['_metadataComplete', '_infoHash'] as const;

export const PATCHED_MEMBERS = [
  ...PATCHED_TORRENT_MEMBERS,
  ...PATCHED_TORRENT_FIELDS,
  ...PATCHED_PIECE_FIELDS,
  ...PATCHED_CLIENT_MEMBERS,
  ...PATCHED_DISCOVERY_MEMBERS,
  ...PATCHED_TRACKER_MEMBERS,
  ...PATCHED_UT_METADATA_FIELDS,
] as const;

/** A method as upstream defines it. */
export type Upstream = (this: any, ...args: any[]) => any;
/** A replacement for a method: called with the same `this` and arguments, plus the method it replaced first. */
export type Wrapper = (this: any, upstream: Upstream, ...args: any[]) => any;

/** Replaces `obj[name]` by `wrapper`, which gets the method it replaced as its first argument. */
function wrapMethod(obj: any, name: string, wrapper: Wrapper): void {
  const upstream: Upstream = obj[name];
  obj[name] = function (this: any, ...args: any[]) {
    return wrapper.call(this, upstream, ...args);
  };
}

// ---- Torrent: scheduling (scheduler.ts, request.ts) -------------------------------------------------------------

/** Replaces Torrent#_updateWire (which blocks to ask a wire for). */
export function replaceUpdateWire(torrent: any, fn: (wire: any) => void): void {
  torrent._updateWire = fn;
}

/** Wraps Torrent#_updateWireInterest. */
export function wrapUpdateWireInterest(torrent: any, wrapper: Wrapper): void {
  wrapMethod(torrent, '_updateWireInterest', wrapper);
}

/** Replaces Torrent#_rechoke (whom to upload to). */
export function replaceRechoke(torrent: any, fn: () => void): void {
  torrent._rechoke = fn;
}

/** Wraps Torrent#_update (a pass over every wire). */
export function wrapUpdate(torrent: any, wrapper: Wrapper): void {
  wrapMethod(torrent, '_update', wrapper);
}

/** Torrent#_update: a pass over every wire asking for blocks. */
export function updateTorrent(torrent: any): void {
  torrent._update();
}

/** Wraps Torrent#_onWireWithMetadata (a wire's setup once both sides know the metadata). */
export function wrapOnWireWithMetadata(torrent: any, wrapper: Wrapper): void {
  wrapMethod(torrent, '_onWireWithMetadata', wrapper);
}

/** Wraps Torrent#_addPeer (every dial, WebTorrent's own reconnects included). */
export function wrapAddPeer(torrent: any, wrapper: Wrapper): void {
  wrapMethod(torrent, '_addPeer', wrapper);
}

/** Wraps Torrent#_registerPeer (web seeds are registered there before their first request). */
export function wrapRegisterPeer(torrent: any, wrapper: Wrapper): void {
  wrapMethod(torrent, '_registerPeer', wrapper);
}

/** True while upstream's RarityMap is in place (it exists once the metadata is known). */
export function hasRarityMap(torrent: any): boolean {
  return !!torrent._rarityMap;
}

/** Destroys upstream's RarityMap and leaves a stub that picks nothing. */
export function stubRarityMap(torrent: any): void {
  torrent._rarityMap?.destroy?.();
  torrent._rarityMap = { getRarestPiece: () => -1, destroy: () => {} };
}

/** Replaces Torrent#_request(wire, index, hotswap, dupBlock?) (request.ts). */
export function replaceRequest(
  torrent: any,
  fn: (this: any, wire: any, index: number, hotswap: boolean, dupBlock?: number) => boolean,
): void {
  torrent._request = fn;
}

/** Torrent#_request: asks `wire` for blocks of piece `index` (as replaced by request.ts). */
export function requestBlock(torrent: any, wire: any, index: number, hotswap: boolean, dupBlock?: number): boolean {
  return dupBlock === undefined
    ? torrent._request(wire, index, hotswap)
    : torrent._request(wire, index, hotswap, dupBlock);
}

/** Torrent#_hotswap: takes a block reserved by a slower wire. */
export function hotswap(torrent: any, wire: any, index: number): boolean {
  return torrent._hotswap(wire, index);
}

/** The wires holding reservations on piece `index` (Torrent#_reservations[index], created when missing). */
export function reservationsOf(torrent: any, index: number): any[] {
  let r = torrent._reservations[index];
  if (!r) r = torrent._reservations[index] = [];
  return r;
}

/** The expected SHA-1 of piece `index`, hex (Torrent#_hashes). */
export function pieceHashOf(torrent: any, index: number): string {
  return torrent._hashes[index];
}

/** Torrent#_markVerified. */
export function markVerified(torrent: any, index: number): void {
  torrent._markVerified(index);
}

/** Torrent#_checkDone. */
export function checkDone(torrent: any): void {
  torrent._checkDone();
}

/** Torrent#_destroy (the torrent fails with `err`). */
export function destroyTorrent(torrent: any, err: Error): void {
  torrent._destroy(err);
}

// ---- Torrent: peers (transfer.ts, scheduler.ts, peer-retry.ts) --------------------------------------------------

/** The torrent's Peer objects (Torrent#_peers; Peer#wire, #conn, #type, #addr are public). */
export function torrentPeers(torrent: any): Iterable<any> {
  return torrent._peers?.values() ?? [];
}

/** The torrent holds a Peer for `addr` (connected or dialling). */
export function hasPeer(torrent: any, addr: string): boolean {
  return !!torrent._peers?.has(addr);
}

// ---- Piece (torrent-piece as WebTorrent uses it) ----------------------------------------------------------------

/** Block `b` of a started piece has arrived (Piece#_buffer[b]; throws, as upstream would, on a flushed piece). */
export function pieceHasBlock(piece: any, b: number): boolean {
  return !!piece._buffer[b];
}

/** The piece has been started (its block buffer exists). */
export function pieceStarted(piece: any): boolean {
  return !!piece?._buffer;
}

/** Blocks in the piece (Piece#_chunks). */
export function pieceBlockCount(piece: any): number {
  return piece._chunks;
}

/** Every block of a started piece is reserved (asked of some peer) and none was given back. */
export function pieceFullyReserved(piece: any): boolean {
  return !!piece && piece._reservations >= piece._chunks && !(piece._cancellations?.length > 0);
}

/** What Piece#flush() does, minus its concatenation: the piece's blocks are let go and it counts as flushed. */
export function markPieceFlushed(piece: any): void {
  piece._buffer = null;
  piece._cancellations = null;
  piece.sources = null;
  piece._flushed = true;
}

// ---- Discovery and the tracker client (announce-numbers.ts) -----------------------------------------------------

/** Torrent#_startDiscovery exists (this WebTorrent builds its discovery the way announce-numbers.ts expects). */
export function canWrapStartDiscovery(torrent: any): boolean {
  return typeof torrent?._startDiscovery === 'function';
}

/** Wraps Torrent#_startDiscovery (where the torrent's Discovery, and its tracker client, are made). */
export function wrapStartDiscovery(torrent: any, wrapper: Wrapper): void {
  wrapMethod(torrent, '_startDiscovery', wrapper);
}

/** Sets the announce numbers a torrent (Torrent#_getAnnounceOpts) or a tracker client (Client#_getAnnounceOpts)
 *  merges into every announce. */
export function setAnnounceOpts(torrentOrTracker: any, fn: () => unknown): void {
  torrentOrTracker._getAnnounceOpts = fn;
}

/** Wraps Discovery#_createTracker when this torrent-discovery has it; false otherwise. */
export function wrapCreateTracker(discovery: any, wrapper: Wrapper): boolean {
  if (typeof discovery._createTracker !== 'function') return false;
  wrapMethod(discovery, '_createTracker', wrapper);
  return true;
}

// ---- Client (v2-handshake.ts, utp/webtorrent-utp.ts) ------------------------------------------------------------

/** Wraps WebTorrent#_getByHash (what the connection pool asks for an incoming handshake's hash hash) when present;
 *  false otherwise. `wrapper` gets upstream bound to the client and returns the replacement. */
export function wrapGetByHash(
  client: any,
  wrapper: (getByHash: (infoHashHash: string) => Promise<any>) => Upstream,
): boolean {
  const getByHash = client._getByHash?.bind(client);
  if (!getByHash) return false;
  client._getByHash = wrapper(getByHash);
  return true;
}

/** Wraps Torrent#_processParsedTorrent. */
export function wrapProcessParsedTorrent(torrent: any, wrapper: Wrapper): void {
  wrapMethod(torrent, '_processParsedTorrent', wrapper);
}

/** Wraps Torrent#_addIncomingPeer. */
export function wrapAddIncomingPeer(torrent: any, wrapper: Wrapper): void {
  wrapMethod(torrent, '_addIncomingPeer', wrapper);
}

/** WebTorrent#_utpServer: the server WebTorrent built through the utp-native slot (undefined without one). */
export function utpServerOf(client: any): unknown {
  return client._utpServer;
}

/** The connection pool's TCP server (WebTorrent#_connPool.tcpServer), undefined when missing. */
export function tcpServerOf(client: any): any {
  return client._connPool?.tcpServer;
}

// ---- ut_metadata on a wire (transfer.ts, v2-handshake.ts) -------------------------------------------------------

/** The extension holds the whole metadata (not a half-filled buffer being fetched). */
export function metadataComplete(ext: any): boolean {
  return !!ext?._metadataComplete;
}

/** The infohash ut_metadata checks received metadata against (hex), if it knows one. */
export function metadataInfoHash(ext: any): string | undefined {
  return ext._infoHash;
}

/** Sets the infohash ut_metadata checks metadata against. */
export function setMetadataInfoHash(ext: any, hex: string): void {
  ext._infoHash = hex;
}
