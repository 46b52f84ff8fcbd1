// Our replacement for WebTorrent's Torrent#_request (installed per torrent). Same scheduling as upstream, with:
//  - each received block remembered with the wire that sent it, so a piece failing its hash blames the right peer
//    (PeerGuard), which upstream cannot do (it drops the piece's sources before hashing);
//  - blocks copied into pooled piece buffers (shared memory) as they arrive, and whole pieces hashed (SHA-1) on a
//    worker thread that reads them in place (piece-hasher.ts).
import Piece from 'torrent-piece';
import type { PeerGuard } from './peer-guard.js';
import { BufferPool, PieceHasher } from './piece-hasher.js';
import type { RateLimiter } from './rate.js';
import {
  checkDone,
  destroyTorrent,
  hotswap as takeFromSlower,
  markPieceFlushed,
  markVerified,
  pieceHasBlock,
  pieceHashOf,
  pieceStarted,
  replaceRequest,
  reservationsOf,
  updateTorrent,
} from './internals/webtorrent.js';

const PIPELINE_MAX_DURATION = 1;
const BLOCK_LENGTH = 1 << 14;

export function blockPipelineLength(wire: any, duration: number): number {
  let length = 2 + Math.ceil((duration * wire.downloadSpeed()) / BLOCK_LENGTH);
  const reqq = wire.peerExtendedHandshake?.reqq;
  if (typeof reqq === 'number' && reqq > 0) length = Math.min(length, reqq);
  return length;
}

function piecePipelineLength(wire: any, duration: number, pieceLength: number): number {
  return 1 + Math.ceil((duration * wire.downloadSpeed()) / pieceLength);
}

/** Which wire sent each block of a piece still being assembled. */
const senders = new WeakMap<object, any[]>();
/** The pooled buffer each piece being downloaded is assembled in (a piece dropped half-way leaves it to the GC). */
const buffers = new WeakMap<object, Uint8Array>();

/** [start, end) ranges of the piece stream that are pad files (known zeros). */
export type PadRanges = [number, number][];

function insidePad(pads: PadRanges, start: number, end: number): boolean {
  let lo = 0;
  let hi = pads.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const [a, b] = pads[mid];
    if (b <= start) lo = mid + 1;
    else if (a > start) hi = mid - 1;
    else return end <= b;
  }
  return false;
}

/**
 * WebTorrent keeps a piece being written in memory (immediate-chunk-store) and serves peers views of it; our piece
 * buffers go back to a pool once written, so a view still queued on a socket could see them reused. Serve copies.
 */
function copyWhenServedFromMemory(store: any): void {
  if (!store || store.__silmarilCopies) return;
  store.__silmarilCopies = true;
  const get = store.get.bind(store);
  store.get = (index: number, opts: any, cb: any) => {
    if (typeof opts === 'function') {
      cb = opts;
      opts = null;
    }
    if (!store.mem?.[index]) return get(index, opts, cb);
    return get(index, opts, (err: Error | null, b?: Uint8Array) => cb(err, b && Buffer.from(b)));
  };
}

const hasher = new PieceHasher();

/** Endgame: a block arrived, so the same request still out on other wires is cancelled (BEP 3 cancel). */
function cancelDuplicates(torrent: any, from: any, index: number, offset: number, length: number): void {
  for (const w of torrent.wires) {
    if (w === from || w.destroyed) continue;
    for (const req of w.requests) {
      if (req && req.piece === index && req.offset === offset) {
        w.cancel(index, offset, length);
        break;
      }
    }
  }
}

export function installRequest(
  torrent: any,
  guard: PeerGuard,
  limit: RateLimiter,
  pads: () => PadRanges,
  onPieceDone?: (index: number) => void,
): void {
  let wakeup: NodeJS.Timeout | undefined;
  let pool: BufferPool;

  // `dupBlock`: endgame (scheduler.ts) asks this wire for a block another wire was already asked for.
  replaceRequest(torrent, function request(this: any, wire: any, index: number, hotswap: boolean, dupBlock?: number) {
    const self = this; // eslint-disable-line @typescript-eslint/no-this-alias
    const isWebSeed = wire.type === 'webSeed';
    if (self.bitfield.get(index)) return false;
    if (guard.isBanned(wire.peerId)) return false;

    const maxOutstanding = isWebSeed
      ? Math.min(piecePipelineLength(wire, PIPELINE_MAX_DURATION, self.pieceLength), self.maxWebConns)
      : blockPipelineLength(wire, PIPELINE_MAX_DURATION);
    if (wire.requests.length >= maxOutstanding) return false;

    const piece = self.pieces[index];
    if (!piece) return false;
    pool ??= new BufferPool(self.pieceLength);
    const dup = dupBlock !== undefined && !isWebSeed;
    let reservation: number;
    if (dup) {
      reservation = dupBlock;
      if (!piece.init() || pieceHasBlock(piece, reservation)) return false;
    } else {
      reservation = isWebSeed ? piece.reserveRemaining() : piece.reserve();
      if (reservation === -1 && hotswap && takeFromSlower(self, wire, index)) {
        reservation = isWebSeed ? piece.reserveRemaining() : piece.reserve();
      }
    }
    if (reservation === -1) return false;
    // Hands the block back for someone else to ask for, unless it arrived meanwhile (from an endgame duplicate).
    const giveBack = () => {
      if (dup) return;
      if (isWebSeed) piece.cancelRemaining(reservation);
      else if (!(pieceStarted(piece) && pieceHasBlock(piece, reservation))) piece.cancel(reservation);
    };

    const r = reservationsOf(self, index);
    let i = r.indexOf(null);
    if (i === -1) i = r.length;
    r[i] = wire;

    const chunkOffset = piece.chunkOffset(reservation);
    const chunkLength = isWebSeed ? piece.chunkLengthRemaining(reservation) : piece.chunkLength(reservation);

    // A block wholly inside pad files is zeros by definition (BEP 47): fill it here, nothing goes on the wire.
    const blockStart = index * self.pieceLength + chunkOffset;
    const padBlock = !isWebSeed && insidePad(pads(), blockStart, blockStart + chunkLength);

    // Per-transfer download limit: hand the block back and look again once the bucket has refilled.
    if (!padBlock && !limit.tryTake(chunkLength)) {
      giveBack();
      r[i] = null;
      if (!wakeup) {
        wakeup = setTimeout(() => {
          wakeup = undefined;
          if (!self.destroyed) updateTorrent(self);
        }, limit.waitMs(chunkLength));
        wakeup.unref?.();
      }
      return false;
    }

    const onUpdateTick = () => queueMicrotask(() => updateTorrent(self));

    const onChunk = function (err: Error | null, chunk: Uint8Array) {
      if (self.destroyed) return;
      // (A block may be a view of the shared socket read buffer, valid only now: keep a copy for later.)
      if (!self.ready) {
        const kept = chunk && new Uint8Array(chunk);
        return self.once('ready', () => onChunk(err, kept));
      }
      if (r[i] === wire) r[i] = null;
      if (piece !== self.pieces[index]) return onUpdateTick();
      if (err) {
        giveBack();
        onUpdateTick();
        return;
      }
      if (self.__silmarilEndgame && !isWebSeed) cancelDuplicates(self, wire, index, chunkOffset, chunkLength);

      let who = senders.get(piece);
      if (!who) senders.set(piece, (who = []));
      // Each block goes straight into the piece's pooled buffer as it arrives, so the socket's read buffer it came
      // in is let go at once and a complete piece needs no assembly. A block already in (an endgame duplicate) is
      // neither copied nor counted again.
      let buf = buffers.get(piece);
      if (!buf) buffers.set(piece, (buf = pool.take(piece.length)));
      const blocks = Math.ceil(chunk.length / BLOCK_LENGTH);
      for (let b = 0; b < blocks; b++) {
        if (pieceHasBlock(piece, reservation + b)) continue;
        const from = b * BLOCK_LENGTH;
        const to = Math.min(chunk.length, from + BLOCK_LENGTH);
        buf.set(from === 0 && to === chunk.length ? chunk : chunk.subarray(from, to), chunkOffset + from);
        if (!who[reservation + b]) who[reservation + b] = padBlock ? null : wire;
      }
      if (!piece.set(reservation, buf.subarray(chunkOffset, chunkOffset + chunk.length), wire)) {
        return onUpdateTick();
      }

      // What Piece#flush() does, minus its concatenation.
      markPieceFlushed(piece);
      senders.delete(piece);
      buffers.delete(piece);
      const full = buf;

      void hasher.hash(full).then((digest) => {
        if (self.destroyed || piece !== self.pieces[index]) return pool.release(full);
        if (digest === pieceHashOf(self, index)) {
          guard.piecePassed(index, full);
          copyWhenServedFromMemory(self.store);
          self.store.put(index, full, (putErr: Error | null) => {
            pool.release(full);
            if (self.destroyed) return;
            if (putErr) {
              destroyTorrent(self, putErr);
              return;
            }
            self.pieces[index] = null;
            markVerified(self, index);
            for (const w of self.wires) w.have(index);
            onPieceDone?.(index);
            checkDone(self);
            if (self.done) pool.clear();
            onUpdateTick();
          });
          return;
        }
        // Blame keeps the failed blocks until a good copy arrives: copies, the buffer goes back to the pool.
        const kept: { offset: number; data: Uint8Array; wire: any }[] = [];
        for (let b = 0; b * BLOCK_LENGTH < full.length; b++) {
          if (!who[b]) continue;
          const data = Buffer.from(full.subarray(b * BLOCK_LENGTH, Math.min(full.length, (b + 1) * BLOCK_LENGTH)));
          kept.push({ offset: b * BLOCK_LENGTH, data, wire: who[b] });
        }
        pool.release(full);
        guard.pieceFailed(index, kept);
        self.emit('warning', new Error(`Piece ${index} failed verification`));
        self.pieces[index] = new Piece(piece.length);
        onUpdateTick();
      });
    };
    if (padBlock) queueMicrotask(() => onChunk(null, Buffer.alloc(chunkLength)));
    else wire.request(index, chunkOffset, chunkLength, onChunk);
    return true;
  });
}
