// THE FENCE: the one file in src/ that touches dependencies' private members (read this first).
//
// The project's rule: a dependency's private internals are touched in one fenced file, against an exactly pinned
// version, with a test that fails when a patched member goes away. This is that file. Nothing else under src/ may
// read or write a member whose name starts with `_` (eslint `no-restricted-syntax`, eslint.config.mjs); our own
// per-object marks are spelled `__silmarilX`. It exports named, typed operations, the members relied on
// (PATCHED_MEMBERS, per dependency) and the versions they were read against (PINNED, each also pinned exactly in
// package.json). The fence tests, one per dependency (test/unit/engine/internals/<dependency>.test.ts), fail when a
// listed member is gone or an installed version differs. The decisions (what to request, whom to unchoke, which hash
// a peer may use, the catalog's lookups) stay in their own modules (scheduler.ts, request.ts, v2-handshake.ts,
// catalog/pointers.ts...): only the touching is here. To upgrade a pinned dependency: re-read its section against the
// new version, update PINNED and package.json, run its fence test. See docs/architecture.md ("The fence").
//
// Three sections, one per dependency:
//   1. WebTorrent (with torrent-discovery, bittorrent-tracker and ut_metadata as reached through a torrent);
//   2. bittorrent-protocol (the Wire, ut_metadata on it, Node's net.Socket under it);
//   3. bittorrent-dht.

import { Socket } from 'node:net';
import Wire from 'bittorrent-protocol';
import bencode from 'bencode';
import { PIECE_HEADER_BYTES, frameAround, isPooledFrame, releaseFrame } from './block-pool.js';
import {
  MAX_BUFFERED_BYTES,
  MAX_MESSAGE_BYTES,
  MAX_METADATA_BYTES,
  MAX_PEER_REQUESTS,
  MAX_QUEUED_UPLOAD_BYTES,
  MAX_READS_PER_PEER,
  MAX_REQUEST_BYTES,
  SLOW_READER_MS,
} from './limits.js';

// ==============================================================================================================
// 1. WebTorrent 3.0.21
// ==============================================================================================================

// This section: WebTorrent 3.0.21 (Torrent, the client and its connection pool), and what is reached through a
// torrent's `discovery`: torrent-discovery 11.0.21 and bittorrent-tracker 11.2.3 (announce-numbers.ts), plus the
// ut_metadata extension on a wire (5.0.1) as the transfer and the v2 handshake read it.
// Why each member is replaced is said where it is replaced (scheduler.ts, request.ts, transfer.ts,
// announce-numbers.ts, v2-handshake.ts, utp/webtorrent-utp.ts, peer-retry.ts).

const WEBTORRENT_PINNED = {
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

/** WebTorrent Peer fields the fence writes: `secure`, the protocol-encryption level its onConnect dials with. */
export const PATCHED_PEER_FIELDS = ['secure'] as const;

/** torrent-discovery Discovery#_createTracker and bittorrent-tracker Client#_getAnnounceOpts, Client#_trackers (each
 *  announce URL's tracker, whose setInterval is clamped) (announce-numbers.ts). */
export const PATCHED_DISCOVERY_MEMBERS = ['_createTracker'] as const;
export const PATCHED_TRACKER_MEMBERS = ['_getAnnounceOpts', '_trackers'] as const;

/** ut_metadata extension fields read or written here. */
export const PATCHED_UT_METADATA_FIELDS = ['_metadataComplete', '_infoHash'] as const;

const WEBTORRENT_PATCHED = [
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

/**
 * An outgoing peer just added (Torrent#_addPeer's result, not yet connected) opens with a plaintext handshake
 * (plain-first.ts). `refused` is called if the TCP/uTP connection came up and closed before the peer's handshake.
 */
export function dialPlaintext(peer: any, refused: () => void): void {
  if (!peer || typeof peer !== 'object' || !('secure' in peer) || !peer.secure) return;
  peer.secure = 0;
  const destroy = peer.destroy;
  if (typeof destroy !== 'function') return;
  peer.destroy = function (this: any, ...args: unknown[]) {
    if (!this.destroyed && this.wire && !this.wire.peerId) refused();
    return destroy.apply(this, args);
  };
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

/** Passes every re-announce interval a tracker client's announce URLs set (from the tracker's answers) through
 *  `clamp` first (milliseconds in, milliseconds out). */
export function clampAnnounceIntervals(trackerClient: any, clamp: (ms: number) => number): void {
  for (const t of (trackerClient?._trackers ?? []) as any[]) {
    if (typeof t?.setInterval !== 'function' || t.__silmarilClamped) continue;
    t.__silmarilClamped = true;
    wrapMethod(t, 'setInterval', function (this: any, upstream: Upstream, ms?: number) {
      return upstream.call(this, ms == null ? ms : clamp(ms));
    });
  }
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

// ==============================================================================================================
// 2. bittorrent-protocol 5.0.9 (and ut_metadata 5.0.1 on its wires)
// ==============================================================================================================

// A faster message reader for bittorrent-protocol's Wire (patched once on its prototype, process-wide).
// Upstream concatenates everything buffered each time a message spans two socket chunks, so at 64 KiB chunks and
// 16 KiB blocks nearly every received byte is copied once more before parsing, and the big merged buffers stay
// alive as long as any block view into them. Here a message that lies inside one chunk is a view of it, and only a
// message that spans chunks is copied, exactly its own bytes. During the protocol-encryption handshake (while the
// wire searches for a sync pattern) the original code runs unchanged.
//
// It is also the border between the network and bittorrent-protocol / ut_metadata, against the exact versions
// pinned in package.json (PINNED; test/unit/engine/internals/bittorrent-protocol.test.ts fails when a patched
// member disappears). Every
// byte a peer sends is untrusted:
//  - nothing a peer sends can throw out of the parser: a throw in any message handler (ours or a dependency's) is
//    caught here, counted (`wireFaults`), and costs that peer its connection, never the process;
//  - a length prefix over MAX_MESSAGE_BYTES drops the peer before any of it is buffered;
//  - an extended handshake whose `m` maps a name to anything but an id 0..255 drops the peer (upstream called
//    `.toString()` on whatever it got);
//  - ut_metadata: metadata_size is bounded, data pieces are checked (index, length, total_size) before they are
//    copied, and metadata failing the infohash drops the peer that sent it (upstream only checked the hash on
//    outgoing connections, and then asked the same peer again);
//  - requests: at most MAX_PEER_REQUESTS outstanding per peer (more are dropped), and a block is read from disk for
//    a peer only while what is queued for it stays under MAX_QUEUED_UPLOAD_BYTES: a peer that does not read gets
//    nothing more read for it, is choked after SLOW_READER_MS, and dropped after as long again.

let patched = false;

/** Process-wide count of peer faults caught at this border (thrown handlers, limits exceeded, bad metadata). */
export const wireFaults = { count: 0, last: '' };

/** Event a wire emits (before it is destroyed) when its peer broke a rule: (kind, message). */
export const FAULT_EVENT = 'silmaril-fault';

export type FaultKind = 'exception' | 'oversize' | 'metadata' | 'slow-reader' | 'protocol';

/** Drops a peer that broke a rule; counted once per wire. */
export function faultPeer(wire: any, kind: FaultKind, message: string): void {
  if (wire.__silmarilFault) return;
  wire.__silmarilFault = `${kind}: ${message}`;
  wireFaults.count++;
  wireFaults.last = message;
  try {
    wire.emit(FAULT_EVENT, kind, message);
  } catch {
    // a listener's fault must not stop the drop
  }
  try {
    wire.destroy();
  } catch {
    // already closing
  }
}

/** Per-wire serving state (requests being read for the peer, and since when its queue has been full). */
interface ServeGate {
  reads: number;
  readBytes: number;
  dropped: number;
  fullSince: number;
  timer?: NodeJS.Timeout;
  conn?: any;
}

function gateOf(w: any): ServeGate {
  return (w.__silmarilGate ??= { reads: 0, readBytes: 0, dropped: 0, fullSince: 0 });
}

/** Reply bytes queued for this peer: being read, in the wire's readable buffer, in the socket's write buffer. */
export function queuedUploadBytes(w: any): number {
  const g: ServeGate | undefined = w.__silmarilGate;
  return (g?.readBytes ?? 0) + (w._readableState?.buffered ?? 0) + (g?.conn?.writableLength ?? 0);
}

/** Received bytes not yet parsed. */
export function bufferedBytes(w: any): number {
  return w._bufferSize ?? 0;
}

/** Requests dropped for this wire (over MAX_PEER_REQUESTS, oversize, malformed). */
export function droppedRequests(w: any): number {
  return w.__silmarilGate?.dropped ?? 0;
}

/** Lets the serving gate see the socket under a wire (its write buffer, its 'drain'). */
export function attachConn(w: any, conn: any): void {
  const g = gateOf(w);
  if (g.conn || !conn) return;
  g.conn = conn;
  // The socket's own mark sits below the queue cap: whenever pump() stops because the queue is full, the socket
  // has refused a write (or reads are still in flight), so a 'drain' (or their replies) is sure to wake it again.
  const ws = conn._writableState;
  if (ws && typeof ws.highWaterMark === 'number') {
    ws.highWaterMark = Math.min(ws.highWaterMark, MAX_QUEUED_UPLOAD_BYTES / 2);
  }
  conn.on?.('drain', () => pump(w));
}

/** The infohash this wire's metadata must hash to (set by the transfer; the handshake's otherwise). */
export function expectInfoHash(w: any, hex: string): void {
  w.__silmarilInfoHash = hex;
}

/** Hands queued requests to the torrent's 'request' listener while the peer's queue has room. */
function pump(w: any): void {
  const g = gateOf(w);
  if (w.destroyed || w._finished) return;
  for (const r of w.peerRequests) {
    // Requests being read sit at the front: skipped before the (costlier) queue check, once per answered block.
    if (r.__started) continue;
    if (g.reads >= MAX_READS_PER_PEER || queuedUploadBytes(w) >= MAX_QUEUED_UPLOAD_BYTES) break;
    r.__started = true;
    g.reads++;
    g.readBytes += r.length;
    w.emit('request', r.piece, r.offset, r.length, r.callback);
  }
  watchSlowReader(w, g);
}

let slowReaderMs = SLOW_READER_MS;

/** Tests shorten the slow-reader delay (the real one is SLOW_READER_MS); returns the previous value. */
export function setSlowReaderMs(ms: number): number {
  const prev = slowReaderMs;
  slowReaderMs = ms;
  return prev;
}

/** Chokes, then drops, a peer whose queue stays full while it does not read. */
function watchSlowReader(w: any, g: ServeGate): void {
  const full = queuedUploadBytes(w) - g.readBytes >= MAX_QUEUED_UPLOAD_BYTES;
  if (!full) {
    g.fullSince = 0;
    clearTimeout(g.timer);
    g.timer = undefined;
    return;
  }
  if (!g.fullSince) g.fullSince = Date.now();
  if (g.timer) return;
  const check = () => {
    g.timer = undefined;
    if (w.destroyed || w._finished) return;
    if (queuedUploadBytes(w) - g.readBytes < MAX_QUEUED_UPLOAD_BYTES) {
      g.fullSince = 0;
      return;
    }
    const stuck = Date.now() - g.fullSince;
    if (stuck >= 2 * slowReaderMs) {
      return faultPeer(w, 'slow-reader', `did not read ${queuedUploadBytes(w)} queued bytes for ${stuck} ms`);
    }
    if (stuck >= slowReaderMs) w.choke();
    g.timer = setTimeout(check, slowReaderMs / 2);
    g.timer.unref?.();
  };
  g.timer = setTimeout(check, slowReaderMs / 2);
  g.timer.unref?.();
}

function isDict(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v) && !ArrayBuffer.isView(v);
}

const METADATA_PIECE = 16 * 1024;

/** Guards one ut_metadata instance (bound to one wire) at our border. */
function guardUtMetadata(wire: any, ext: any): void {
  if (!ext || ext.__silmarilGuarded) return;
  ext.__silmarilGuarded = true;
  const onExtendedHandshake = ext.onExtendedHandshake.bind(ext);
  ext.onExtendedHandshake = (handshake: any) => {
    const size = handshake?.metadata_size;
    if (size !== undefined && (!Number.isSafeInteger(size) || size <= 0 || size > MAX_METADATA_BYTES)) {
      return faultPeer(wire, 'metadata', `announced metadata_size ${String(size)} (limit ${MAX_METADATA_BYTES})`);
    }
    return onExtendedHandshake(handshake);
  };
  const onMessage = ext.onMessage.bind(ext);
  ext.onMessage = (buf: Uint8Array) => {
    // Same split as upstream: a bencoded dict, then for data messages the piece bytes.
    const str = Buffer.from(buf.buffer, buf.byteOffset, buf.length).toString('latin1');
    const end = str.indexOf('ee') + 2;
    let dict: any;
    try {
      dict = bencode.decode(buf.subarray(0, end));
    } catch {
      return; // upstream drops undecodable messages too
    }
    if (!isDict(dict) || ![0, 1, 2].includes(dict.msg_type as number)) return; // BEP 9: ignore unknown types
    if (!Number.isSafeInteger(dict.piece) || (dict.piece as number) < 0) {
      return faultPeer(wire, 'metadata', 'ut_metadata message without a valid piece index');
    }
    const piece = dict.piece as number;
    if (dict.msg_type === 1) {
      const size: number | null = ext._metadataSize;
      if (!ext._fetching || ext._metadataComplete || !size || !ext.metadata) return; // not asked for: ignore
      const pieces = Math.ceil(size / METADATA_PIECE);
      const want = Math.min(METADATA_PIECE, size - piece * METADATA_PIECE);
      if (piece >= pieces || buf.length - end !== want || (dict.total_size ?? size) !== size) {
        return faultPeer(
          wire,
          'metadata',
          `ut_metadata piece ${piece} of ${buf.length - end} bytes does not fit metadata of ${size} bytes`,
        );
      }
    }
    return onMessage(buf);
  };
  // The hash check upstream needs the infohash from a handshake the extension saw; on incoming connections the
  // handshake came before the extension was attached, so nothing was checked. Give it the infohash we know.
  const setMetadata = ext.setMetadata.bind(ext);
  ext.setMetadata = (metadata: Uint8Array) => {
    ext._infoHash ||= wire.__silmarilInfoHash || wire.__silmarilPeerInfoHash;
    return setMetadata(metadata);
  };
  ext._failedMetadata = () => faultPeer(wire, 'metadata', 'sent metadata that does not match the infohash');
}

function concatAll(chunks: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** True when the parser about to run uses its message only before it returns (so a view of a reused read buffer is
 *  safe): a length prefix, or a piece message, whose block the request's callback copies into its piece buffer. */
function usesViewOnly(w: any, msg: Uint8Array): boolean {
  const proto = Wire.prototype as any;
  return w._parser === proto._onMessageLength || (w._parser === proto._onMessage && msg[0] === 7);
}

function processChunks(w: any): void {
  const transient = w.__silmarilTransient === true;
  while (w._bufferSize >= w._parserSize) {
    if (w._cryptoSyncPattern || w._pePending) break;
    const size: number = w._parserSize;
    if (size === 0) {
      w._parser(new Uint8Array());
      continue;
    }
    const first: Uint8Array = w._buffer[0];
    let msg: Uint8Array;
    if (first.length >= size) {
      msg = first.subarray(0, size);
      if (first.length === size) w._buffer.shift();
      else w._buffer[0] = first.subarray(size);
      // From the shared read buffer (readDirect): a handler that may keep its message gets a copy.
      if (transient && !usesViewOnly(w, msg)) msg = new Uint8Array(msg);
    } else {
      msg = new Uint8Array(size);
      let at = 0;
      while (at < size) {
        const c: Uint8Array = w._buffer[0];
        const n = Math.min(c.length, size - at);
        msg.set(n === c.length ? c : c.subarray(0, n), at);
        at += n;
        if (n === c.length) w._buffer.shift();
        else w._buffer[0] = c.subarray(n);
      }
    }
    w._bufferSize -= size;
    w._parser(msg);
  }
}

/** Takes received bytes into the wire's buffer and parses every complete message. */
function ingest(w: any, data: Uint8Array): void {
  if (w.__silmarilFault) return; // dropped: read nothing more from it
  try {
    if (w._encryptor) data = w._encryptor.decrypt(data);
    w._bufferSize += data.length;
    w._buffer.push(data);
    // A direct read (up to a whole read buffer) is parsed before it is judged: what stays unparsed must fit.
    const transient = w.__silmarilTransient === true;
    if (!transient && w._bufferSize > MAX_BUFFERED_BYTES) {
      faultPeer(w, 'oversize', `${w._bufferSize} bytes received and not parsed`);
    } else w._processBuffer();
    if (transient && w._bufferSize > MAX_BUFFERED_BYTES) {
      faultPeer(w, 'oversize', `${w._bufferSize} bytes received and not parsed`);
    }
  } catch (err) {
    // A handler (ours, bittorrent-protocol's, an extension's) threw on this peer's bytes: drop the peer.
    faultPeer(w, 'exception', `message handler threw: ${(err as Error)?.message ?? String(err)}`);
  }
  if (w.__silmarilFault) {
    w._buffer = [];
    w._bufferSize = 0;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Direct socket reads. Each socket read otherwise allocates a fresh 64 KiB buffer (external memory: at loopback
// speed a full mark-compact every ~100 ms) and passes it through WebTorrent's stream pipeline (socket -> throttle ->
// counting transform -> wire: three queues per chunk). Here a TCP socket already carrying a wire is switched to
// Node's `onread` user-buffer mode: the kernel reads into one process-wide 1 MiB buffer, and the wire parses it
// synchronously in the read callback. Whatever outlives the callback is copied out: a partial message at the end,
// any message but a length prefix or a piece (the piece's block is copied by its request's callback straight into
// the piece buffer, request.ts). While bytes read before the switch are still in the pipeline, or the download
// throttle is on, or the payload is encrypted, reads take the old path (copied into the socket's readable side), so
// the order of bytes is kept. Node's members used (net.Socket's kBuffer / kBufferCb slots, the handle's
// useUserBuffer and bytesRead) are checked by directReadBlocker and by test/unit/engine/internals/bittorrent-protocol.test.ts.

const READ_BUFFER_BYTES = 1 << 20;
const PIPED_CHUNK_BYTES = 64 * 1024;
let readBuffer: Buffer | undefined;

function symbolNamed(o: object, name: string): symbol | undefined {
  return Object.getOwnPropertySymbols(o).find((sym) => sym.description === name);
}

/** Why `conn` cannot be read directly (undefined when it can): not a net.Socket of this Node, or already switched. */
export function directReadBlocker(conn: any): string | undefined {
  if (!conn || typeof conn !== 'object') return 'no socket';
  if (typeof conn._handle?.useUserBuffer !== 'function') return 'the socket handle has no useUserBuffer';
  if (typeof conn._handle.bytesRead !== 'number') return 'the socket handle has no bytesRead';
  const kBuffer = symbolNamed(conn, 'kBuffer');
  if (!kBuffer || !symbolNamed(conn, 'kBufferCb')) return 'net.Socket has no kBuffer / kBufferCb slots';
  if (conn[kBuffer]) return 'already reading into a user buffer';
  if (typeof conn.push !== 'function') return 'the socket is not a Readable';
  return undefined;
}

export interface DirectReadOptions {
  /** Counts bytes taken directly (what WebTorrent's pipeline counts for the peer's 'download' event). */
  onBytes: (n: number) => void;
  /** True while the download throttle is on: its pipeline stage must see every byte. */
  throttled: () => boolean;
}

/** Bytes this wire took from and gave to its socket directly (readDirect, writeDirect), not through the pipeline. */
export function directBytes(w: any): { in: number; out: number } {
  return { in: w.__silmarilDirectIn ?? 0, out: w.__silmarilOut?.direct ?? 0 };
}

/** Switches `conn` (the socket under wire `w`) to direct reads; false when it cannot be (the pipeline stays). */
export function readDirect(w: any, conn: any, opts: DirectReadOptions): boolean {
  if (w.__silmarilDirect || directReadBlocker(conn)) return false;
  const kBuffer = symbolNamed(conn, 'kBuffer')!;
  const kBufferCb = symbolNamed(conn, 'kBufferCb')!;
  readBuffer ??= Buffer.allocUnsafe(READ_BUFFER_BYTES);
  // Bytes that went the pipeline's way (everything read before the switch, and copies since): until the wire has
  // parsed them all, new bytes follow them there.
  let viaPipe: number = conn._handle.bytesRead;
  w.__silmarilPiped ??= 0;
  w.__silmarilDirectIn = 0;
  w.__silmarilDirect = true;
  conn[kBuffer] = readBuffer;
  conn[kBufferCb] = (nread: number, buf: Buffer): boolean => {
    if (w.destroyed || w.__silmarilFault) return true; // the wire is gone: its socket closes with it
    // A plain Uint8Array view, not a Buffer: the parser takes a view of it per message, and a Buffer's subarray
    // costs a FastBuffer construction each time.
    const view = new Uint8Array(buf.buffer, buf.byteOffset, nread);
    if (viaPipe > w.__silmarilPiped || w._encryptor?._isEncrypted || opts.throttled()) {
      viaPipe += nread;
      // In socket-read-sized chunks, as the pipeline always had them (MAX_BUFFERED_BYTES counts on one read).
      let more = true;
      for (let at = 0; at < nread; at += PIPED_CHUNK_BYTES) {
        more = conn.push(Buffer.from(view.subarray(at, at + PIPED_CHUNK_BYTES))) !== false;
      }
      return more;
    }
    opts.onBytes(nread);
    w.__silmarilDirectIn += nread;
    w.__silmarilTransient = true;
    try {
      ingest(w, view);
    } finally {
      w.__silmarilTransient = false;
    }
    // A message cut off at the end of the read stays buffered: copy it out of the shared buffer.
    const parts: Uint8Array[] = w._buffer;
    const last = parts.length ? parts[parts.length - 1] : undefined;
    if (last && last.buffer === view.buffer) parts[parts.length - 1] = new Uint8Array(last);
    return true;
  };
  conn._handle.useUserBuffer(readBuffer);
  return true;
}

/** Direct writes, the other way: WebTorrent pipes each message (a 13-byte header, then a 16 KiB block; a 17-byte
 *  request) from the wire through a throttle and a counting transform into the socket, three stream queues per
 *  message. Once everything pushed through that pipeline has reached the socket, and while the upload throttle is
 *  off, a message is written to the socket at once (still corked per tick by tuneSocket, transfer.ts). */
export interface DirectWriteOptions {
  /** Counts bytes written directly (what the pipeline counts for the peer's 'upload' event). */
  onBytes: (n: number) => void;
  /** True while the upload throttle is on: its pipeline stage must see every byte. */
  throttled: () => boolean;
}

interface DirectOut {
  conn: any;
  opts: DirectWriteOptions;
  /** Bytes pushed into the pipeline, and bytes the pipeline has handed to the socket. */
  piped: number;
  arrived: number;
  writing: boolean;
  /** Bytes written directly. */
  direct: number;
}

/** Switches wire `w` to direct writes on `conn`; false when it cannot be (the pipeline stays). */
export function writeDirect(w: any, conn: any, opts: DirectWriteOptions): boolean {
  // A net.Socket only: its bytesWritten counts every byte handed to write(), buffered or not.
  if (w.__silmarilOut || !(conn instanceof Socket) || typeof conn.bytesWritten !== 'number') return false;
  // Everything written to the socket so far came through the pipeline.
  const out: DirectOut = {
    conn,
    opts,
    piped: w.__silmarilPushed ?? 0,
    arrived: conn.bytesWritten,
    writing: false,
    direct: 0,
  };
  const write = conn.write;
  conn.write = function (this: any, chunk: any, ...rest: unknown[]) {
    if (!out.writing && chunk && typeof chunk.length === 'number') out.arrived += chunk.length;
    return (write as (...a: unknown[]) => boolean).apply(this, [chunk, ...rest]);
  };
  w.__silmarilOut = out;
  return true;
}

export function patchWire(): void {
  if (patched) return;
  patched = true;
  const proto = Wire.prototype;
  const original = proto._processBuffer;
  const missing = PATCHED_WIRE_MEMBERS.filter((m) => typeof proto[m] !== 'function');
  if (missing.length)
    throw new Error(`bittorrent-protocol changed: Wire lacks ${missing.join(', ')} (src/engine/internals.ts)`);
  proto._processBuffer = function (this: any) {
    if (this._cryptoSyncPattern) {
      if (this._buffer.length > 1) this._buffer = [concatAll(this._buffer, this._bufferSize)];
      return original.call(this);
    }
    processChunks(this);
  };
  // Matching a received block to its request: upstream removes matches by swapping in the last element, which
  // scrambles the queue, so with 2000 requests queued each block costs ~1000 comparisons. Removing in place keeps
  // the queue in request order, and peers answer in order: the match is almost always at the front.
  proto._pull = function (requests: any[], piece: number, offset: number, length: number) {
    for (let i = 0; i < requests.length; i++) {
      const req = requests[i];
      if (req.piece === piece && req.offset === offset && req.length === length) {
        if (i === 0) requests.shift();
        else requests.splice(i, 1);
        return req;
      }
    }
    return null;
  };
  proto._write = function (this: any, data: Uint8Array, cb: (err: Error | null) => void) {
    // Counted for readDirect: bytes that came through the stream pipeline.
    this.__silmarilPiped = (this.__silmarilPiped ?? 0) + data.length;
    ingest(this, data);
    cb(null);
  };

  // Every outgoing byte is pushed here (messages, and the encryption handshake): counted, and written straight to
  // the socket once writeDirect allows it.
  const push = proto._push;
  proto._push = function (this: any, data: Uint8Array) {
    const out: DirectOut | undefined = this.__silmarilOut;
    if (!out || out.piped > out.arrived || out.opts.throttled() || out.conn.destroyed) {
      if (!this._finished) this.__silmarilPushed = (this.__silmarilPushed ?? 0) + data.length;
      if (out) out.piped += this._finished ? 0 : data.length;
      return push.call(this, data);
    }
    if (this._finished) return;
    if (this._encryptor) data = this._encryptor.encrypt(data);
    out.opts.onBytes(data.length);
    out.direct += data.length;
    out.writing = true;
    try {
      // A pooled served block's frame (block-pool.ts) goes back to the pool once the socket is done with it.
      if (isPooledFrame(data)) return out.conn.write(data, () => releaseFrame(data));
      return out.conn.write(data);
    } finally {
      out.writing = false;
    }
  };

  proto._onMessageLength = function (this: any, buffer: Uint8Array) {
    const length = ((buffer[0] << 24) | (buffer[1] << 16) | (buffer[2] << 8) | buffer[3]) >>> 0;
    if (length > MAX_MESSAGE_BYTES) {
      this._parse(Number.MAX_SAFE_INTEGER, () => {});
      return faultPeer(this, 'oversize', `message of ${length} bytes (limit ${MAX_MESSAGE_BYTES})`);
    }
    if (length > 0) this._parse(length, this._onMessage);
    else {
      this._onKeepAlive();
      this._parse(4, this._onMessageLength);
    }
  };

  // Upstream formats a debug line (an array and a string) for every block sent or received and every request,
  // even with its debug output off; it can only be on through the DEBUG variable, read at startup.
  if (!/bittorrent-protocol|\*/.test(process.env.DEBUG ?? '')) proto._debug = function () {};

  const onHandshake = proto._onHandshake;
  proto._onHandshake = function (this: any, infoHashBuffer: Uint8Array, ...rest: unknown[]) {
    this.__silmarilPeerInfoHash = Buffer.from(infoHashBuffer).toString('hex');
    return onHandshake.call(this, infoHashBuffer, ...rest);
  };

  // Extended handshake (BEP 10): extension ids are integers 0..255; anything else there drops the peer.
  const onExtended = proto._onExtended;
  proto._onExtended = function (this: any, ext: number, buf: Uint8Array) {
    if (ext !== 0) return onExtended.call(this, ext, buf);
    let info: unknown;
    try {
      info = bencode.decode(buf);
    } catch {
      return; // upstream ignores an undecodable extended handshake too
    }
    if (!isDict(info)) return;
    this.peerExtendedHandshake = info;
    if (isDict(info.m)) {
      for (const name of Object.keys(info.m)) {
        const id = info.m[name];
        if (!Number.isInteger(id) || (id as number) < 0 || (id as number) > 255) {
          return faultPeer(this, 'protocol', `extended handshake maps ${name} to a non-id`);
        }
        this.peerExtendedMapping[name] = id;
      }
    }
    if (info.reqq !== undefined && (!Number.isSafeInteger(info.reqq) || (info.reqq as number) < 1)) delete info.reqq;
    for (const name of Object.keys(this._ext)) {
      if (this.peerExtendedMapping[name]) this._ext[name].onExtendedHandshake(this.peerExtendedHandshake);
    }
    this.emit('extended', 'handshake', this.peerExtendedHandshake);
  };

  const use = proto.use;
  proto.use = function (this: any, Extension: any) {
    const out = use.call(this, Extension);
    if (Extension?.prototype?.name === 'ut_metadata') guardUtMetadata(this, this.ut_metadata);
    return out;
  };

  // Requests: bounded in number, read from disk only while the peer reads (see pump).
  proto._onRequest = function (this: any, index: number, offset: number, length: number) {
    if (this.amChoking && !(this.hasFast && this.allowedFastSet.includes(index))) {
      if (this.hasFast) this.reject(index, offset, length);
      return;
    }
    const g = gateOf(this);
    if (
      index < 0 ||
      offset < 0 ||
      length <= 0 ||
      length > MAX_REQUEST_BYTES ||
      this.peerRequests.length >= MAX_PEER_REQUESTS
    ) {
      g.dropped++;
      if (this.hasFast) this.reject(index, offset, length);
      return;
    }
    const request: any = { piece: index, offset, length, callback: null };
    request.callback = (err: Error | null, buffer?: Uint8Array) => {
      if (request.__started) {
        request.__started = false;
        g.reads--;
        g.readBytes -= length;
      }
      if (request === this._pull(this.peerRequests, index, offset, length)) {
        if (err) {
          if (this.hasFast) this.reject(index, offset, length);
        } else this.piece(index, offset, buffer);
      }
      pump(this);
    };
    this.peerRequests.push(request);
    pump(this);
  };

  // A piece message: upstream pushes a fresh 13-byte header and then the block, two writes (and two 'upload'
  // counts through WebTorrent's peer) per 16 KiB. A pooled block (block-pool.ts) has room for its header in front:
  // the header is written there and header and block go out as one chunk, with no allocation and no copy.
  const piece = proto.piece;
  proto.piece = function (this: any, index: number, offset: number, buffer: Uint8Array) {
    const frame = frameAround(buffer);
    if (!frame || this._finished) return piece.call(this, index, offset, buffer);
    frame.writeUInt32BE(PIECE_HEADER_BYTES - 4 + buffer.length, 0);
    frame[4] = 7;
    frame.writeUInt32BE(index, 5);
    frame.writeUInt32BE(offset, 9);
    this._push(frame);
    this.uploaded += buffer.length;
    this.uploadSpeed(buffer.length);
    this.emit('upload', buffer.length);
  };

  const onFinish = proto._onFinish;
  proto._onFinish = function (this: any) {
    const g: ServeGate | undefined = this.__silmarilGate;
    if (g) clearTimeout(g.timer);
    return onFinish.call(this);
  };
}

/** The members of bittorrent-protocol's Wire this file replaces or relies on (checked by the unit test). */
export const PATCHED_WIRE_MEMBERS = [
  '_processBuffer',
  '_write',
  '_pull',
  '_parse',
  '_onMessageLength',
  '_onMessage',
  '_onHandshake',
  '_onExtended',
  '_onKeepAlive',
  '_onRequest',
  '_onFinish',
  '_push',
  '_debug',
  'use',
  'piece',
  'reject',
  'choke',
] as const;

/** The members of a ut_metadata instance the guard wraps or reads. */
export const PATCHED_UT_METADATA_MEMBERS = [
  'onExtendedHandshake',
  'onMessage',
  'setMetadata',
  '_failedMetadata',
  '_metadataSize',
  '_fetching',
  '_metadataComplete',
] as const;

// ---------------------------------------------------------------------------------------------------------------
// Named operations for the rest of the engine (mse-dh.ts, v2-handshake.ts, v2-wire.ts, transfer.ts).

/** The MessageStreamEncryptor prototype (reached through a Wire's `_encryptor`: the package exports only Wire), or
 *  undefined if this bittorrent-protocol has none. */
export function encryptorPrototype(): any {
  const probe: any = new (Wire as any)('tcpIncoming', 1);
  const proto = probe._encryptor && Object.getPrototypeOf(probe._encryptor);
  probe.destroy();
  return proto;
}

/** Replaces the encryptor's `dh` getter (process-wide) by one that keeps `make()`'s result per encryptor (in its
 *  `_dh` slot, as upstream's getter does). False when this version has no such getter. */
export function replaceEncryptorDh(make: () => unknown): boolean {
  const proto = encryptorPrototype();
  const desc = proto && Object.getOwnPropertyDescriptor(proto, 'dh');
  if (!desc?.get) return false;
  Object.defineProperty(proto, 'dh', {
    configurable: true,
    get(this: any) {
      this._dh ??= make();
      return this._dh;
    },
  });
  return true;
}

/** Sends a message with id `id` and payload `data` on `wire` (Wire#_message, which frames it). */
export function sendRawMessage(wire: any, id: number, data: Uint8Array): void {
  wire._message(id, [], data);
}

/** Sets a socket's write high-water mark (net.Socket's writable state; Node 20 has no setter). */
export function setWriteHighWaterMark(conn: any, bytes: number): void {
  if (conn._writableState) conn._writableState.highWaterMark = bytes;
}

/** What the rest of the engine relies on besides the patched Wire members: Wire#_message and #_encryptor, the
 *  encryptor's `dh` getter and `_dh` slot, net.Socket's `_writableState`. */
export const PATCHED_OTHER_MEMBERS = ['_message', '_encryptor', '_dh', '_writableState'] as const;

/** The version every member above was read in (package.json pins it exactly). */
const PROTOCOL_PINNED = { 'bittorrent-protocol': '5.0.9', ut_metadata: '5.0.1' } as const;

const PROTOCOL_PATCHED = [...PATCHED_WIRE_MEMBERS, ...PATCHED_UT_METADATA_MEMBERS, ...PATCHED_OTHER_MEMBERS];

// ==============================================================================================================
// 3. bittorrent-dht 11.0.12
// ==============================================================================================================

// bittorrent-dht 11.0.12 (pinned exactly in package.json). test/unit/engine/internals/bittorrent-dht.test.ts fails if a member below or its
// shape goes away, or the installed version differs. Used by src/catalog/pointers.ts, dht-scrape.ts, service.ts and
// the engine. Members relied on:
//  - `_tables`, its LRU of the closest nodes found per target (kept 5 min), which put() and announce() reuse instead
//    of looking up again. A lookup made while the DHT knew no node caches an EMPTY table, so for 5 minutes every put
//    and announce of that target went to nobody ("No nodes to query") even after nodes were found: a catalog
//    published before the DHT had bootstrapped stayed unpublished although its retries ran. An empty table serves
//    the operation that made it, then is treated as none: the next put or announce looks up again
//    (forgetEmptyTables). A scrape's lookup must not leave its table behind either (keepClosestTable).
//  - `_closest(target, message, onreply, done)`: the iterative lookup, whose every reply we see (BEP 44 gets that
//    keep the best item rather than the first, BEP 33 scrapes, the catalog's rendezvous);
//  - `_rpc.id` (our node id, sent in queries) and `_rpc.query(node, message, cb)`: one query to one node;
//  - `_values` (the BEP 44 store this node answers from) and `_peers` (the peers announced to it);
//  - `_verify`: the signature check for mutable items this node stores.

const DHT_PINNED = { 'bittorrent-dht': '11.0.12' } as const;

const DHT_PATCHED = ['_tables', '_closest', '_rpc', '_values', '_peers', '_verify'] as const;

interface Tables {
  get(key: string): { count(): number } | undefined;
  remove(key: string): void;
  __silmarilNoEmpty?: boolean;
}

/** Makes `dht` forget empty closest-node tables (see above). Returns false when the member is not there. */
export function forgetEmptyTables(dht: unknown): boolean {
  const tables = (dht as { _tables?: Tables })?._tables;
  if (!tables || typeof tables.get !== 'function' || typeof tables.remove !== 'function') return false;
  if (tables.__silmarilNoEmpty) return true;
  const get = tables.get.bind(tables);
  // put()/announce() look up, cache the table, then read it back at once: an empty table is handed out that once
  // (the operation fails with "No nodes to query", as it should) and forgotten at the next read.
  const served = new WeakSet<object>();
  tables.get = (key: string) => {
    const table = get(key);
    if (!table || typeof table.count !== 'function' || table.count() > 0) return table;
    if (!served.has(table)) {
      served.add(table);
      return table;
    }
    tables.remove(key);
    return undefined;
  };
  tables.__silmarilNoEmpty = true;
  return true;
}

/** This DHT can run our own iterative lookups (`_closest`, with an RPC socket). */
export function canLookUp(dht: any): boolean {
  return typeof dht?._closest === 'function' && !!dht._rpc;
}

/** This DHT has the lookup function (`_closest`), whatever the state of its socket. */
export function hasLookUp(dht: any): boolean {
  return typeof dht?._closest === 'function';
}

/** Our node id (sent as `id` in every query), undefined before the socket exists. */
export function nodeIdOf(dht: any): Buffer | undefined {
  return dht._rpc?.id;
}

/** Iterative lookup of `target` sending `message` to the closest nodes; `onreply(message, from)` sees every reply
 *  (return true to go on), `done(err)` ends it. Caches the nodes found as the target's table, as upstream does. */
export function lookUp(
  dht: any,
  target: Buffer,
  message: Record<string, unknown>,
  onreply: (message: any, from: any) => boolean,
  done: (err: Error | null) => void,
): void {
  dht._closest(target, message, onreply, done);
}

/** One query to one node. */
export function queryNode(
  dht: any,
  node: { host: string; port: number },
  message: Record<string, unknown>,
  cb: (err: Error | null, res: any) => void,
): void {
  dht._rpc.query(node, message, cb);
}

/** The item this node stores itself under `targetHex` (what it answers gets with), if any. */
export function storedValue(dht: any, targetHex: string): any {
  return dht._values?.get?.(targetHex);
}

/** Stores an item in this node's own BEP 44 store (it then answers gets for it). */
export function storeValue(dht: any, targetHex: string, item: Record<string, unknown>): void {
  dht._values?.set(targetHex, item);
}

/** Up to `max` compact peers announced to this node for `infohashHex`. */
export function storedPeers(dht: any, infohashHex: string, max: number): unknown[] | undefined {
  return dht._peers?.get?.(infohashHex, max);
}

/** Sets the signature check this node applies to mutable items, unless one is set already. */
export function setVerifyIfUnset(
  dht: any,
  verify: (sig: Uint8Array, msg: Uint8Array, key: Uint8Array) => boolean,
): void {
  dht._verify ??= verify;
}

/** Remembers the closest-node table of `keyHex` now, and returns what puts back exactly that later (lookUp caches a
 *  table that announce() would then trust instead of looking up). A no-op when the member is not there. */
export function keepClosestTable(dht: any, keyHex: string): () => void {
  const tables = dht._tables;
  const prior = typeof tables?.peek === 'function' ? tables.peek(keyHex) : undefined;
  return () => {
    if (typeof tables?.remove !== 'function') return;
    if (prior) tables.set(keyHex, prior);
    else tables.remove(keyHex);
  };
}

// ==============================================================================================================
// Every pin and every member relied on, by dependency (the fence tests check both).
// ==============================================================================================================

export const PINNED = { ...WEBTORRENT_PINNED, ...PROTOCOL_PINNED, ...DHT_PINNED } as const;

export const PATCHED_MEMBERS = {
  webtorrent: WEBTORRENT_PATCHED,
  'bittorrent-protocol': PROTOCOL_PATCHED,
  'bittorrent-dht': DHT_PATCHED,
} as const;
