// Our replacement for WebTorrent's Torrent#_request (installed per torrent). Same scheduling as upstream, with:
//  - each received block remembered with the wire that sent it, so a piece failing its hash blames the right peer
//    (PeerGuard), which upstream cannot do (it drops the piece's sources before hashing);
//  - blocks written to disk and hashed (SHA-1, on a worker) as they arrive, in windows (incoming-piece.ts), instead
//    of whole pieces assembled in memory and then hashed and written: a piece is verified a moment after its last
//    block, and memory holds windows, not pieces;
//  - for a hybrid (or v2) torrent, each piece also checked against its BEP 52 piece-layer node, from leaf hashes taken
//    in the same worker pass as its SHA-1: the pieces that passed both need no hashing again at the end
//    (verify-done.ts); one that passes its SHA-1 but not its v2 hash stops the download (an inconsistent torrent).
import Piece from 'torrent-piece';
import { IncomingPiece, releaseIdleWindows, type StreamWriter } from './incoming-piece.js';
import type { PeerGuard } from './peer-guard.js';
import { pieceNode } from '../torrent/merkle.js';
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
} from './internals.js';

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

/** Which wire sent each block of a piece still being received. */
const senders = new WeakMap<object, any[]>();
/** Each piece being received, written and hashed as it arrives. */
const incoming = new WeakMap<object, IncomingPiece>();
/** What Piece#set stores per block: only whether a block is in counts (the bytes are in the IncomingPiece). */
const RECEIVED = new Uint8Array(BLOCK_LENGTH);

/** The v2 check of pieces as they arrive (src/engine/v2-wire.ts TorrentHashes gives the shapes and nodes). */
export interface V2PieceCheck {
  /** How much of the piece is v2 file data, and whether its file is at most one piece; undefined: no v2 data. */
  shape(index: number): { v2Bytes: number; smallFile: boolean } | undefined;
  /** The piece-layer node it must hash to; undefined while unknown (a magnet before its layers came). */
  expected(index: number): Uint8Array | undefined;
  /** Filled here: pieces that passed their SHA-1 and their v2 node in this process. */
  passed: Set<number>;
}

/**
 * The v2 verdict on a piece whose SHA-1 passed, from the leaf hashes taken as it arrived: 'passed' (its subtree root
 * is its piece-layer node, or it holds no v2 data), 'failed', or 'unchecked' (no leaves were taken, or its node is
 * not known yet: it is hashed again at the end). The subtree of a file's last piece is padded with zero leaves to the
 * piece's width; a file of one piece or less only to a power of two (its subtree root is then the file's root).
 */
export function v2Verdict(
  check: Pick<V2PieceCheck, 'shape' | 'expected'>,
  index: number,
  leaves: Uint8Array | undefined,
  pieceLength: number,
): 'passed' | 'failed' | 'unchecked' {
  const shape = check.shape(index);
  if (!shape) return 'passed';
  const node = check.expected(index);
  if (!node || !leaves || leaves.length !== Math.ceil(shape.v2Bytes / BLOCK_LENGTH) * 32) return 'unchecked';
  return pieceNode(leaves, pieceLength, shape.smallFile).equals(node) ? 'passed' : 'failed';
}

/** Reads a stretch of the piece stream back from disk (to blame peers for a piece that failed its hash). */
export type StreamReader = (start: number, length: number) => Promise<Uint8Array>;

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
  onPieceDone: ((index: number) => void) | undefined,
  io: { write: StreamWriter; read: StreamReader },
  v2?: () => V2PieceCheck | undefined,
): void {
  let wakeup: NodeJS.Timeout | undefined;
  // A scheduling pass after a block arrived (or was given back), one per microtask turn for all of them: a 1 MiB
  // socket read parses up to 64 blocks in one go, and one pass after them refills every freed request slot.
  let tickQueued = false;
  const onUpdateTick = () => {
    if (tickQueued) return;
    tickQueued = true;
    queueMicrotask(() => {
      tickQueued = false;
      updateTorrent(torrent);
    });
  };

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

    const onChunk = function (err: Error | null, chunk: Uint8Array) {
      if (self.destroyed) return;
      // (A block may be a view of the shared socket read buffer, valid only now: keep a copy for later.)
      if (!self.ready) {
        const kept = chunk && new Uint8Array(chunk);
        return self.once('ready', () => onChunk(err, kept));
      }
      if (r[i] === wire) r[i] = null;
      if (piece !== self.pieces[index]) {
        incoming.get(piece)?.abort();
        return onUpdateTick();
      }
      if (err) {
        giveBack();
        onUpdateTick();
        return;
      }
      // Every block already in (an endgame duplicate, or a late answer) while the piece is being written, hashed or
      // read back for blame: nothing more to take.
      if (!pieceStarted(piece)) return onUpdateTick();
      if (self.__silmarilEndgame && !isWebSeed) cancelDuplicates(self, wire, index, chunkOffset, chunkLength);

      let who = senders.get(piece);
      if (!who) senders.set(piece, (who = []));
      let sink = incoming.get(piece);
      if (!sink) {
        const v2Bytes = v2?.()?.shape(index)?.v2Bytes ?? 0;
        sink = new IncomingPiece(piece.length, index * self.pieceLength, io.write, v2Bytes);
        incoming.set(piece, sink);
      }
      // Each new block is copied into its window at once (so the socket's read buffer it came in is let go), and
      // written and hashed as soon as its window is complete. A block already in (an endgame duplicate) is neither
      // copied nor counted again.
      const blocks = Math.ceil(chunk.length / BLOCK_LENGTH);
      for (let b = 0; b < blocks; b++) {
        if (pieceHasBlock(piece, reservation + b)) continue;
        const from = b * BLOCK_LENGTH;
        const to = Math.min(chunk.length, from + BLOCK_LENGTH);
        sink.add(chunkOffset + from, blocks === 1 ? chunk : chunk.subarray(from, to));
        if (!who[reservation + b]) who[reservation + b] = padBlock ? null : wire;
      }
      const mark =
        chunk.length === RECEIVED.length
          ? RECEIVED
          : chunk.length < RECEIVED.length
            ? RECEIVED.subarray(0, chunk.length)
            : chunk;
      if (!piece.set(reservation, mark, wire)) return onUpdateTick();

      // What Piece#flush() does, minus its concatenation.
      markPieceFlushed(piece);
      senders.delete(piece);
      incoming.delete(piece);
      const pieceStart = index * self.pieceLength;

      sink.finish().then(
        ({ digest, leaves }) => {
          if (self.destroyed || piece !== self.pieces[index]) return;
          const good = digest === pieceHashOf(self, index);
          const check = good ? v2?.() : undefined;
          const verdict = check && v2Verdict(check, index, leaves, self.pieceLength);
          if (verdict === 'passed') check!.passed.add(index);
          else if (verdict === 'failed') {
            // Bytes that pass their SHA-1 are the bytes the v1 half names (no peer can forge a SHA-1 match), so the
            // torrent's v1 and v2 halves describe different data: no peer is to blame and fetching again cannot
            // help. Stop with a clear error, as libtorrent does (torrent_inconsistent_hashes).
            const which = `piece ${index} passes its SHA-1 but not its v2 piece-layer hash`;
            destroyTorrent(self, new Error(`the torrent's v1 and v2 hashes do not describe the same data (${which})`));
            return;
          }
          if (good) {
            if (guard.expectsCopy(index)) {
              // A failed copy of this piece is kept to find who lied: compare it with this good one, read back.
              io.read(pieceStart, piece.length).then(
                (good) => guard.piecePassed(index, good),
                () => {},
              );
            }
            self.pieces[index] = null;
            markVerified(self, index);
            for (const w of self.wires) w.have(index);
            onPieceDone?.(index);
            checkDone(self);
            if (self.done) releaseIdleWindows();
            onUpdateTick();
            return;
          }
          // Blame keeps the failed blocks until a good copy arrives: read back from disk, where they were written,
          // before the piece is asked for again (its new blocks are written over them).
          self.emit('warning', new Error(`Piece ${index} failed verification`));
          const again = () => {
            if (self.destroyed || piece !== self.pieces[index]) return;
            self.pieces[index] = new Piece(piece.length);
            onUpdateTick();
          };
          io.read(pieceStart, piece.length).then(
            (full) => {
              const kept: { offset: number; data: Uint8Array; wire: any }[] = [];
              for (let b = 0; b * BLOCK_LENGTH < full.length; b++) {
                if (!who[b]) continue;
                const end = Math.min(full.length, (b + 1) * BLOCK_LENGTH);
                kept.push({
                  offset: b * BLOCK_LENGTH,
                  data: Buffer.from(full.subarray(b * BLOCK_LENGTH, end)),
                  wire: who[b],
                });
              }
              guard.pieceFailed(index, kept);
              again();
            },
            () => again(),
          );
        },
        (writeErr: Error) => {
          if (!self.destroyed) destroyTorrent(self, writeErr);
        },
      );
    };
    if (padBlock) queueMicrotask(() => onChunk(null, Buffer.alloc(chunkLength)));
    else wire.request(index, chunkOffset, chunkLength, onChunk);
    return true;
  });
}
