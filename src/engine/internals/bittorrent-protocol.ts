// A faster message reader for bittorrent-protocol's Wire (patched once on its prototype, process-wide).
// Upstream concatenates everything buffered each time a message spans two socket chunks, so at 64 KiB chunks and
// 16 KiB blocks nearly every received byte is copied once more before parsing, and the big merged buffers stay
// alive as long as any block view into them. Here a message that lies inside one chunk is a view of it, and only a
// message that spans chunks is copied, exactly its own bytes. During the protocol-encryption handshake (while the
// wire searches for a sync pattern) the original code runs unchanged.
//
// It is also the border between the network and bittorrent-protocol / ut_metadata: the fence around them (see
// ./README.md), the one file that touches their internals, against the exact versions pinned in package.json
// (PINNED; test/unit/engine/internals/bittorrent-protocol.test.ts fails when a patched member disappears). Every
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
import { Socket } from 'node:net';
import Wire from 'bittorrent-protocol';
import bencode from 'bencode';
import { PIECE_HEADER_BYTES, frameAround, isPooledFrame, releaseFrame } from '../block-pool.js';
import {
  MAX_BUFFERED_BYTES,
  MAX_MESSAGE_BYTES,
  MAX_METADATA_BYTES,
  MAX_PEER_REQUESTS,
  MAX_QUEUED_UPLOAD_BYTES,
  MAX_READS_PER_PEER,
  MAX_REQUEST_BYTES,
  SLOW_READER_MS,
} from '../limits.js';

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
    if (g.reads >= MAX_READS_PER_PEER || queuedUploadBytes(w) >= MAX_QUEUED_UPLOAD_BYTES) break;
    if (r.__started) continue;
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
    throw new Error(`bittorrent-protocol changed: Wire lacks ${missing.join(', ')} (internals/bittorrent-protocol.ts)`);
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
export const PINNED = { 'bittorrent-protocol': '5.0.9', ut_metadata: '5.0.1' } as const;

export const PATCHED_MEMBERS = [...PATCHED_WIRE_MEMBERS, ...PATCHED_UT_METADATA_MEMBERS, ...PATCHED_OTHER_MEMBERS];
