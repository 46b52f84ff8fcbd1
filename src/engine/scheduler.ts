// The engine's scheduling, installed on one WebTorrent torrent: which blocks to ask each peer for (picker.ts) and
// whom to upload to (choker.ts). WebTorrent provides the wires.
//
// WebTorrent's private scheduling members are replaced from here and request.ts, through the fence
// src/engine/internals.ts (pinned webtorrent 3.0.21; test/unit/engine/internals/webtorrent.test.ts):
//   Torrent#_updateWire(wire)          asks a peer for blocks          -> ours: in-flight pieces first, then rarest
//   Torrent#_updateWireInterest(wire)  O(pieces) scan per event         -> ours: a per-peer count kept incrementally
//   Torrent#_rechoke()                 every 10 s, all by download rate -> ours: fixed slots, tit-for-tat / round robin
//   Torrent#_onWireWithMetadata(wire)  unchokes every interested peer at once -> that one listener is left out
//   Torrent#_addPeer(addr)             redials a peer we hold another connection to -> refused (dropDuplicate);
//                                      a dial opens in plaintext, MSE only for a peer that refused it (plain-first.ts)
//   Torrent#_update()                  a pass over every wire per call (per block, per have) -> one per microtask turn,
//                                      over the one wire a have / unchoke... came from (update-queue.ts)
//   Torrent#_rarityMap                 O(pieces x wires) recount per wire / bitfield -> a stub (destroyed)
// and read: Torrent#pieces, #_reservations, #bitfield, #wires, #done, #ready, #_peers (Peer#wire, #type, #addr),
// Wire#peerId, #requests, #peerPieces,
// #peerChoking, #peerInterested, #amChoking, #isSeeder, #downloadSpeed(), #uploaded.
import { Choker, type ChokePeer } from './choker.js';
import { PlainFirst } from './plain-first.js';
import { PeerAvailability, pickAtSeed, PiecePicker, seedRanks } from './picker.js';
import { blockPipelineLength } from './request.js';
import { decodeFetching, encodeClaim, encodeRelease, FETCHING_EXTENSION, SeedClaims } from './seed-claims.js';
import {
  Downloaders,
  DUPLICATE_REJECT_KEY,
  type HeldRequest,
  PieceOwners,
  REJECT_BACKOFF_MS,
  RejectBackoff,
} from './seed-spread.js';
import { serveCacheStats } from './serve-cache.js';
import { SuperSeeder } from './super-seed.js';
import { UpdateQueue } from './update-queue.js';
import {
  dialPlaintext,
  hasRarityMap,
  pieceBlockCount,
  pieceFullyReserved,
  pieceHasBlock,
  pieceStarted,
  replaceRechoke,
  replaceUpdateWire,
  requestBlock,
  stubRarityMap,
  torrentPeers,
  updateTorrent,
  wrapAddPeer,
  wrapOnWireWithMetadata,
  wrapUpdate,
  wrapUpdateWireInterest,
  type Upstream,
} from './internals.js';

/** Members of WebTorrent's Torrent this file replaces or relies on (the fence test checks them). */
const BLOCK_LENGTH = 1 << 14;
/** Blocks in the largest piece a torrent may have (256 MiB / 16 KiB): a key space for (piece, block) pairs. */
const MAX_BLOCKS_PER_PIECE = 1 << 14;
const RECHOKE_MS = 5000;
/** Seeding: an unchoked peer that asked for nothing this long gives its slot to one that waits (choker.ts). */
const SEED_IDLE_MS = 2000;
const SEED_TAIL_BLOCKS = 8;
/**
 * A downloader that got a block from a fellow this recently is being fed: it asks the origin seed for no piece a
 * fellow has (picker.ts pickAtSeed).
 */
const FED_BY_FELLOWS_MS = 1000;
/** At a libtorrent origin: how long each fellow ahead of us in line for a piece has to take it (turnCame). */
const RANK_STEP_MS = 150;
/** Released pieces remembered at most (a hostile fellow could release any number). */
const MAX_RELEASED = 256;
/** A fellow that claimed a piece this recently counts as fetching from the origin (ranks(), fetchersOnly). */
const FETCHER_MEMORY_MS = 3000;
/** A downloader counts in the seed ranks this long after we last saw it connected (see ranks()). */
const RANK_MEMORY_MS = 20_000;
/** How long a seed's choke waits before our pieces there are released to fellows (releaseSoon): past one 0.5 s
 *  bandwidth tick of a rate-limited libtorrent seed, whose choke and following unchoke may come a tick apart. */
const RELEASE_GRACE_MS = 700;
/** How often requests held back as duplicates are looked at again (seed-spread.ts: PieceOwners.hold). */
const HOLD_CHECK_MS = 100;
/** Seeding: how long a peer whose upload turn is over may take to finish the pieces partly sent to it. */
const DRAIN_MAX_MS = 2000;
/** A wake-up (wakeAfter) comes this much after the wait it is for has ended: a timer may fire a little early. */
const WAKE_SLACK_MS = 20;
/** Bytes of partly received pieces we hold at most (each is kept in memory until it is complete and hashed). */
const INFLIGHT_BYTES = 64 * 1024 * 1024;

export interface SchedulerOptions {
  /** Lowest missing piece first (streaming, or a user who wants files in order) instead of rarest first. */
  sequential?: boolean;
  /** Upload slots (libtorrent's default: 8). */
  uploadSlots?: number;
  /** Choking rounds, in milliseconds. */
  rechokeMs?: number;
  /** BEP 16 super-seeding while this torrent is complete (an initial seed). */
  superSeed?: boolean;
  /** Pieces fetched before all others ([first, last] ranges: the files the user wants first, file-order.ts), asked
   *  for once the metadata is known. */
  firstPieces?: () => Array<[number, number]>;
}

/** The picker's priority for pieces wanted first (above 1: before every normal piece, in index order). */
const FIRST_PRIORITY = 2;

interface PeerRecord {
  avail: PeerAvailability;
  /** Pieces this peer (a seed) rejected as duplicates lately: ask others, or it later. */
  backoff: RejectBackoff;
}

/**
 * Off: answering a silmaril downloader's duplicate request with a BEP 6 reject (instead of holding it back a moment,
 * as for every other peer) let a request flood lock honest downloaders out in the hostile soak
 * (test/integration/hostile-soak.test.ts). With hold-back only, the swarm test's seed still uploads ~1.05x.
 */
const REJECT_DUPLICATES = false;
const TRACE = !!process.env.SILMARIL_SWARM_TRACE;
/**
 * Wire events that change what one peer offers us, and nothing else: a scheduling pass asked for while one is being
 * emitted (upstream's handlers call Torrent#_update) needs only that wire (update-queue.ts). Anything our own
 * handlers do that concerns other wires (spareSeeds' cancels) asks for its pass later, outside the event.
 */
const PEER_LOCAL_EVENTS = new Set(['have', 'bitfield', 'have-all', 'have-none', 'unchoke', 'allowed-fast']);

export class Scheduler {
  picker?: PiecePicker;
  readonly choker: Choker;
  /** Pieces started and not yet verified. */
  readonly inflight = new Set<number>();
  /** Bytes received from peers that were not seeds at the time, and from seeds. */
  fromPeers = 0;
  fromSeeds = 0;
  private readonly peers = new Map<any, PeerRecord>();
  private timer?: NodeJS.Timeout;
  private superSeeder?: SuperSeeder<any>;
  private rechokeSoon = false;
  private rejected = 0;
  /** Connections closed because we already had one to the same peer. */
  duplicatesDropped = 0;
  /** The wire whose have / bitfield / unchoke... is being emitted now (PEER_LOCAL_EVENTS), else undefined. */
  eventWire: any = undefined;

  constructor(
    private readonly torrent: any,
    private readonly opts: SchedulerOptions = {},
  ) {
    this.choker = new Choker({ slots: opts.uploadSlots ?? 8, seedIdleMs: SEED_IDLE_MS });
  }

  /** The picker, created once the torrent is ready (metadata known, existing pieces checked). */
  private ensure(): PiecePicker | undefined {
    if (this.picker) return this.picker;
    const t = this.torrent;
    if (!t.ready || t.destroyed || !t.pieces?.length) return undefined;
    const picker = new PiecePicker(t.pieces.length, { sequential: this.opts.sequential });
    this.picker = picker;
    for (let i = 0; i < t.pieces.length; i++) if (t.bitfield.get(i)) picker.setHave(i);
    for (const [from, to] of this.opts.firstPieces?.() ?? []) picker.setPriority(from, to, FIRST_PRIORITY);
    for (const w of t.wires) this.peerOf(w);
    return picker;
  }

  private peerOf(wire: any): PeerRecord {
    let rec = this.peers.get(wire);
    if (rec) return rec;
    rec = { avail: new PeerAvailability(this.picker!), backoff: new RejectBackoff() };
    this.peers.set(wire, rec);
    // What the wire learnt before we counted it (bittorrent-protocol keeps it current in peerPieces).
    const pp = wire.peerPieces;
    if (pp && typeof pp.get === 'function') {
      if (pp.buffer && pp.buffer.length === 0 && pp.get(0) === true) rec.avail.haveAll();
      else rec.avail.bitfield((i) => pp.get(i));
    }
    return rec;
  }

  /** Outgoing connections closed as duplicates: address -> the wire to the same peer that was kept. */
  private readonly duplicateAddrs = new Map<string, any>();

  /** False while we already hold another connection to the peer at `addr` (see dropDuplicate). */
  mayDial(addr: string): boolean {
    const kept = this.duplicateAddrs.get(addr);
    if (kept && !kept.destroyed) return false;
    this.duplicateAddrs.delete(addr);
    return true;
  }

  /**
   * Two peers that learn of each other (from a tracker, PEX) both dial: two connections between them, which WebTorrent
   * keeps. Each counts the other twice (availability, seeds), gives it two upload slots, splits requests over both.
   * As libtorrent (bt_peer_connection.cpp, duplicate_peer_id): the peer with the greater peer id is the one that
   * initiates, so both ends close the same one of the two. Returns true if `wire` is the one that goes.
   */
  private dropDuplicate(wire: any): boolean {
    const t = this.torrent;
    const id: string | undefined = wire.peerId;
    if (!id || wire.type === 'webSeed') return false;
    const other = (t.wires as any[]).find(
      (w) => w !== wire && !w.destroyed && !w.__silmarilDuplicate && w.peerId === id && w.type !== 'webSeed',
    );
    if (!other) return false;
    const peerOf = (w: any) => {
      for (const p of torrentPeers(t)) if (p.wire === w) return p;
      return undefined;
    };
    const outgoing = (w: any) => !!peerOf(w)?.type?.includes('Outgoing');
    const keepNew = keepsNewConnection(t.client.peerId, id, outgoing(wire));
    const [drop, kept] = keepNew ? [other, wire] : [wire, other];
    drop.__silmarilDuplicate = true;
    if (TRACE)
      process.stderr.write(
        `[swarm-wire] ${(performance.now() / 1000).toFixed(2)} drop-duplicate ${clientCode(id)} ${drop === wire ? 'new' : 'old'} ` +
          `requests ${drop.requests?.length ?? 0} downloaded ${drop.downloaded ?? 0}\n`,
      );
    const addr = outgoing(drop) ? peerOf(drop)?.addr : undefined;
    if (addr) this.duplicateAddrs.set(addr, kept);
    this.duplicatesDropped++;
    // Not from inside WebTorrent's 'wire' event: it still sends our handshake after it.
    queueMicrotask(() => drop.destroy());
    return drop === wire;
  }

  /** Pieces fellow downloaders said they just started at a seed (seed-claims.ts). */
  private readonly claims = new SeedClaims<any>();

  /** Every wire the torrent gets (before the metadata too). */
  onWire(wire: any): void {
    if (this.dropDuplicate(wire)) return;
    if (TRACE) traceWire(wire, this.torrent);
    wire.use(fetchingExtension(this));
    // Upstream marks a peer a seed before its bitfield arrives and never takes it back (then chokes it for good, as
    // it always chokes seeds): read seed status from what we counted instead, and ignore upstream's writes.
    Object.defineProperty(wire, 'isSeeder', {
      configurable: true,
      get: () => (this.picker ? (this.peers.get(wire)?.avail.isSeed ?? false) : false),
      set: () => {},
    });
    const on = (fn: (rec: PeerRecord) => void) => () => {
      this.told.add(wire);
      if (this.ensure()) fn(this.peerOf(wire));
    };
    wire.on(
      'bitfield',
      on((r) => r.avail.bitfield((i) => wire.peerPieces.get(i))),
    );
    wire.on('have', (i: number) =>
      on((r) => {
        r.avail.have(i);
        this.claims.done(wire, i);
        if (this.superSeeder?.announced(wire, i)) this.reveal(wire);
        if (!r.avail.isSeed && !wire.peerChoking && this.inflight.has(i)) this.spareSeeds(i);
      })(),
    );
    wire.on(
      'have-all',
      on((r) => r.avail.haveAll()),
    );
    wire.on(
      'have-none',
      on((r) => r.avail.haveNone()),
    );
    wire.on('download', (n: number) => {
      if (wire.isSeeder) this.fromSeeds += n;
      else this.fromPeers += n;
      if (!this.isOrigin(wire)) this.fellowsFedAt = Date.now();
    });
    this.deferDuplicates(wire);
    // Tell seeds we take a reject of a duplicate request as "pick another piece" (seed-spread.ts); the extended
    // handshake goes out right after the 'wire' event.
    if (wire.extendedHandshake) wire.extendedHandshake[DUPLICATE_REJECT_KEY] = 1;
    wire.on('reject', (i: number) => {
      const rec = this.peers.get(wire);
      // A seed that chokes us rejects what we asked (BEP 6; its choke comes first): that says nothing about the
      // piece, which is asked again as soon as it unchokes us.
      if (!rec?.avail.isSeed || wire.peerChoking) return;
      rec.backoff.reject(i, Date.now());
      // A pass once the back-off is over: nothing else may come to prompt one. When the backed-off pieces are the
      // last ones missing, no block, have or unchoke ever arrives again (the hostile soak's stuck download: its seed
      // choked it, rejecting all it had asked, and unchoked it a moment later; the pass on that unchoke skipped the
      // backed-off pieces, and the download sat unchoked, asking nothing, for good).
      this.wakeAfter(REJECT_BACKOFF_MS);
    });
    wire.on('choke', () => {
      if (this.peers.get(wire)?.avail.isSeed) this.releaseSoon(wire);
    });
    wire.on('unchoke', () => this.cancelRelease(wire));
    wire.on('interested', () => this.soon());
    wire.on('uninterested', () => this.soon());
    wire.once('close', () => {
      this.peers.get(wire)?.avail.close();
      this.peers.delete(wire);
      this.choker.remove(wire);
      this.owners.remove(wire);
      this.draining.delete(wire);
      this.superSeeder?.remove(wire);
      this.claims.remove(wire);
      this.cancelRelease(wire);
      this.onSeedChoke(wire); // a seed gone mid-piece: the same as a choke, at once
      this.claimedAt.delete(wire);
      this.soon();
    });
    // lt_donthave is attached right after the 'wire' event.
    queueMicrotask(() => wire.lt_donthave?.on?.('donthave', (i: number) => on((r) => r.avail.dontHave(i))()));
  }

  /** When each peer last asked us for a block, and when we last unchoked it (the choker's idleMs). */
  private readonly askedAt = new WeakMap<any, number>();
  private readonly unchokedAt = new WeakMap<any, number>();

  /** Seeding: the peer each piece is being sent to now (seed-spread.ts). */
  private owners = new PieceOwners<any>((w, i) => !w.destroyed && (w.peerRequests as any[]).some((r) => r.piece === i));

  /**
   * Seeding: a request for a piece we are still sending to another peer is a duplicate (seed-spread.ts). It is held
   * back while that peer is still fetching the piece, and a moment after it has it (PieceOwners.hold), then served if
   * still wanted: meanwhile the first peer announces the piece, the requester cancels and gets it from there. So a
   * seed serves fresh pieces first and sends each piece about once. (With REJECT_DUPLICATES a silmaril downloader
   * would get a BEP 6 reject at once instead.)
   */
  private deferDuplicates(wire: any): void {
    const emit = wire.emit;
    wire.emit = (event: string, ...args: any[]) => {
      if (PEER_LOCAL_EVENTS.has(event)) {
        const outer = this.eventWire;
        this.eventWire = wire;
        try {
          return emit.call(wire, event, ...args);
        } finally {
          this.eventWire = outer;
        }
      }
      if (event === 'request') this.askedAt.set(wire, Date.now());
      if (event !== 'request' || !this.seedingNow()) return emit.call(wire, event, ...args);
      const index: number = args[0];
      const picker = this.picker!;
      const takesReject = REJECT_DUPLICATES && !!(wire.hasFast && wire.peerExtendedHandshake?.[DUPLICATE_REJECT_KEY]);
      const owner = this.owners.ownerOf(index, Date.now());
      // A peer whose upload turn is over and that is finishing its pieces (see rechoke): nothing new.
      if (this.draining.has(wire) && owner !== wire) return this.hold(wire, index, args, emit);
      const verdict = this.owners.request(
        wire,
        index,
        Date.now(),
        (w, i) => this.peers.get(w)?.avail.has(i) ?? false,
        (w) => w.destroyed,
        // While some piece is on the seed alone, one other peers have is held back ('elsewhere'), for every peer.
        { othersHave: (i) => picker.availability(i), nobodyElseHas: picker.nobodyElseHas },
      );
      if (verdict === 'serve') {
        this.countServed(wire, index, args[2], owner === undefined || owner === wire ? 'fresh' : 'ownerHas');
        const cb = args[3];
        if (typeof cb === 'function')
          args[3] = (err: Error | null, buf?: Uint8Array) => {
            if (!err) this.owners.served(wire, index, Date.now());
            cb(err, buf);
          };
        return emit.call(wire, event, ...args);
      }
      const done: ((err: Error | null) => void) | undefined = args[3];
      if (takesReject) {
        // The callback with an error sends the reject and frees the wire's read slot (internals.ts). Not from
        // inside the wire's own loop over its requests, which this call would shorten under it.
        this.rejected++;
        queueMicrotask(() => done?.(new Error('duplicate: being sent to another peer')));
        return true;
      }
      return this.hold(wire, index, args, emit, verdict === 'elsewhere');
    };
  }

  private hold(wire: any, index: number, args: any[], emit: (...a: any[]) => boolean, elsewhere = false): true {
    const [, offset, length, done] = args;
    this.held.push({
      wire,
      index,
      elsewhere,
      since: Date.now(),
      wanted: () =>
        !wire.destroyed &&
        wire.peerRequests.some((r: any) => r.piece === index && r.offset === offset && r.length === length),
      serve: () => {
        this.countServed(wire, index, length, 'late');
        emit.call(wire, 'request', ...args);
      },
      // Cancelled meanwhile: still answer the callback, which frees the read slot the wire counted for it
      // (wire-patch.ts); without it every cancelled deferral leaked one, and a wire with all 32 leaked served
      // nothing ever again.
      cancel: () => {
        this.servedWhy.cancelled += length;
        done?.(new Error('request cancelled'));
      },
    });
    this.holdTimer ??= setInterval(() => this.releaseHeld(), HOLD_CHECK_MS);
    this.holdTimer.unref?.();
    return true;
  }

  /** Requests held back as duplicates (deferDuplicates), re-examined every HOLD_CHECK_MS. */
  /** Seeding: peers whose upload turn is over, finishing the pieces partly sent to them before they are choked. */
  private readonly draining = new Map<any, number>();
  private held: (HeldRequest<any> & { wanted(): boolean; serve(): void; cancel(): void })[] = [];
  private holdTimer?: NodeJS.Timeout;

  private releaseHeld(): void {
    const now = Date.now();
    const has = (w: any, i: number) => this.peers.get(w)?.avail.has(i) ?? false;
    const keep: typeof this.held = [];
    const picker = this.picker;
    const spread = picker
      ? { othersHave: (i: number) => picker.availability(i), nobodyElseHas: picker.nobodyElseHas }
      : undefined;
    for (const h of this.held) {
      if (!h.wanted()) h.cancel();
      else if (!this.draining.has(h.wire) && this.owners.hold(h, now, has, (w) => w.destroyed, spread) === 'serve')
        h.serve();
      else keep.push(h);
    }
    this.held = keep;
    for (const [w, since] of this.draining) {
      if (w.destroyed || w.amChoking) this.draining.delete(w);
      else if (now - since >= DRAIN_MAX_MS || this.owners.owning(w, now, has) === 0) {
        this.draining.delete(w);
        w.choke();
      }
    }
    if (!keep.length && !this.draining.size) {
      clearInterval(this.holdTimer);
      this.holdTimer = undefined;
    }
  }

  /**
   * Seeding: bytes handed to the server per piece, and why (the trace shows how much went out twice): `again`, a
   * peer sent blocks of a piece it was already sent (re-asked after a choke, a reject, a cancel); `reissue`, a piece
   * handed to a new owner after the last one lapsed or left.
   */
  private readonly servedBytes = new Map<number, number>();
  private readonly servedTo = new WeakMap<object, Map<number, number>>();
  private readonly servedWhy = { fresh: 0, ownerHas: 0, late: 0, cancelled: 0, dup: 0, again: 0, reissue: 0 };
  private countServed(wire: any, index: number, length: number, why: 'fresh' | 'ownerHas' | 'late'): void {
    const before = this.servedBytes.get(index) ?? 0;
    this.servedBytes.set(index, before + length);
    const pieceLength = this.torrent.pieceLength;
    let mine = this.servedTo.get(wire);
    if (!mine) this.servedTo.set(wire, (mine = new Map()));
    const mineBefore = mine.get(index) ?? 0;
    mine.set(index, mineBefore + length);
    if (before + length > pieceLength) {
      const extra = Math.min(length, before + length - pieceLength);
      this.servedWhy.dup += extra;
      if (mineBefore + length > pieceLength) this.servedWhy.again += extra;
      else if (why === 'fresh') this.servedWhy.reissue += extra;
    }
    this.servedWhy[why] += length;
  }

  private seedingNow(): boolean {
    return !!this.picker && this.picker.remaining === 0 && !this.opts.superSeed;
  }

  onVerified(index: number): void {
    this.inflight.delete(index);
    this.released.delete(index);
    for (const mine of this.claimedAt.values()) mine.delete(index);
    const picker = this.ensure();
    if (!picker) return;
    picker.setHave(index);
    for (const rec of this.peers.values()) rec.avail.weGot(index);
    if (picker.remaining === 0) this.soon(); // now seeding: choke by the seeding rules
  }

  /** Wires whose peer has said what it has (bitfield, have, have-all, have-none). */
  private readonly told = new WeakSet<object>();

  /**
   * Interest in a peer: it has a piece we want (counted, not scanned), or, while we still download, it has not said
   * yet what it has. A libtorrent peer sends its bitfield and unchoke on its bandwidth manager's next tick when it is
   * rate-limited, and its choker runs on the tick after a connection: it found our 4-16 downloaders not interested
   * (they were waiting for that bitfield) and choked them all, ~0.5 s after unchoking them, while they had just
   * started their first pieces from it; they released those (a re-fetch from the seed each), and were unchoked a
   * tick later again (bench:swarm, docs/swarm.md). Saying interest at once costs a peer that has nothing for us two
   * small messages (interested, then not interested after its bitfield).
   */
  updateInterest(wire: any): boolean | undefined {
    const picker = this.ensure();
    if (!picker) return undefined;
    const rec = this.peerOf(wire);
    if (picker.remaining === 0) return false;
    return rec.avail.isSeed || rec.avail.useful > 0 || !this.told.has(wire);
  }

  /** Fills one peer's request queue. */
  updateWire(wire: any): void {
    const t = this.torrent;
    const picker = this.ensure();
    if (!picker || wire.destroyed || wire.peerChoking || picker.remaining === 0) return;
    const max = blockPipelineLength(wire, 1);
    // Refill in batches: with libtorrent's reqq cap every arriving block would otherwise send one request alone.
    if (wire.requests.length > Math.max(0, max - Math.max(2, max >> 2))) return;
    const rec = this.peerOf(wire);
    const has = (i: number) => rec.avail.has(i);
    const full = () => wire.requests.length >= max;
    const fill = (index: number): boolean => {
      let any = false;
      while (!full() && requestBlock(t, wire, index, false)) any = true;
      return any;
    };

    // From a seed, only pieces no fellow downloader that unchokes us can give: the seed's upload is what the whole
    // swarm waits on, so what can come from elsewhere does (this keeps its upload near 1x the torrent).
    const spare = rec.avail.isSeed ? this.obtainableElsewhere(wire) : undefined;
    // And not pieces it just rejected as being sent to another downloader (seed-spread.ts).
    const now = Date.now();
    const skip =
      rec.backoff.size > 0
        ? (i: number) => rec.backoff.blocked(i, now) || (spare !== undefined && spare(i))
        : spare !== undefined
          ? spare
          : undefined;
    // At a libtorrent (or any non-silmaril) origin, while some pieces are still on the seeds alone: not a piece a
    // fellow downloader has, even one that chokes us now (it will share it). Sections 1 and 3 below went to the
    // origin for the rest of a piece begun elsewhere, or in endgame, when the fellow that had it choked us: 1.01-1.11x
    // the torrent from the seed at N = 16 where section 2's picks were all distinct (bench:swarm, docs/swarm.md).
    const fellowsHave =
      rec.avail.isSeed && picker.onSeedsAlone > 0 && this.sparedOrigin(wire)
        ? (i: number) => picker.availability(i) > picker.seeds
        : undefined;
    // 1. Pieces already started, so they complete (and can be shared) sooner and memory stays flat.
    let canHelp = false;
    const claimedElsewhere = rec.avail.isSeed && this.claims.size > 0;
    for (const index of this.inflight) {
      if (full()) return;
      if (!has(index) || (skip !== undefined && skip(index)) || fellowsHave?.(index)) continue;
      // A piece we released (the seed choked us part-way) and a fellow took up since: its, not ours, at a seed.
      if (claimedElsewhere && !this.claimedAt.get(wire)?.has(index) && this.claims.claimed(index, now)) continue;
      canHelp = true;
      // Every block already asked of someone: nothing to fill (this loop runs for every block that arrives, over
      // every started piece, so the skip must be cheap).
      if (fullyAsked(t.pieces[index])) continue;
      fill(index);
    }
    // 2. New pieces, rarest first, while the in-flight budget allows (a peer that can help with none may start one).
    const budget = Math.max(2, Math.floor(INFLIGHT_BYTES / t.pieceLength));
    while (!full()) {
      if (this.inflight.size >= budget && canHelp) return;
      // From a seed while others give too: one new piece at a time (the next once the current one is nearly all
      // asked for). A piece in flight from the seed for long is one another downloader may fetch from it too.
      if (spare !== undefined && wire.requests.length > SEED_TAIL_BLOCKS) return;
      const busy = (i: number) => this.inflight.has(i) || (skip !== undefined && skip(i));
      // At a seed (picker.ts pickAtSeed): the pieces no connected downloader has, the one this downloader is
      // furthest up the line for first (seedRanks), even if one that has it chokes us now (it will share it, the
      // seed's upload is what everyone waits on); then those too, but from the origin only once no piece is on the
      // seeds alone. Never a piece a fellow downloader just started there (its claim, seed-claims.ts): that one waits
      // until the claim lapses or the claimant has it, and the seed's slot goes to a peer that asks meanwhile
      // (choker.ts, seedIdleMs).
      let index: number;
      let rank: ((i: number) => number) | undefined;
      if (rec.avail.isSeed) {
        const claimed = this.claims.size > 0 ? (i: number) => this.claims.claimed(i, now) : () => false;
        const fedByFellows = now - this.fellowsFedAt < FED_BY_FELLOWS_MS;
        const origin = this.sparedOrigin(wire);
        // At a libtorrent origin, once fellows' claims tell who fetches from it: ranked among those.
        rank = this.ranks(origin && this.claims.anyEver);
        index = pickAtSeed(picker, has, {
          busy,
          claimed,
          rank,
          origin,
          fedByFellows,
          first: this.released.size ? this.released : undefined,
        });
        if (index >= 0 && origin && rank && !this.turnCame(index, rank(index), now)) index = -1;
        else if (index >= 0) {
          this.released.delete(index);
          this.claim(wire, index);
        }
        // Left for a claim to lapse, for the pieces still on the seeds alone to reach someone, or for fellows to
        // stop feeding us: look again later.
        else if (picker.pick(has, busy) >= 0) this.wakeAfter(fedByFellows ? FED_BY_FELLOWS_MS : 1000);
      } else index = picker.pick(has, busy);
      if (index < 0) break;
      this.inflight.add(index);
      // SILMARIL_SWARM_TRACE: each piece taken from a seed, so collisions between downloaders can be counted.
      if (TRACE && rec.avail.isSeed)
        process.stderr.write(
          `[swarm-pick] ${(performance.now() / 1000).toFixed(2)} seed ${index} rank ${rank?.(index) ?? '-'} ` +
            `avail ${picker.availability(index)}/${picker.seeds} alone ${picker.onSeedsAlone} peers ${this.peers.size} ` +
            `claims ${this.claims.size} origin ${this.sparedOrigin(wire)} fed ${now - this.fellowsFedAt}\n`,
        );
      canHelp = true;
      if (!fill(index)) return; // rate-limited or refused: the piece stays started, it is retried later
    }
    // 3. Endgame: nothing left to start anywhere; ask this peer too for blocks still outstanding on others.
    if (full() || this.inflight.size < picker.remaining) return;
    t.__silmarilEndgame = true;
    // What this peer was already asked for, looked up per block below (a scan of its queue per block was quadratic).
    const asked = new Set<number>();
    for (const r of wire.requests as any[]) if (r) asked.add(r.piece * MAX_BLOCKS_PER_PIECE + r.offset / BLOCK_LENGTH);
    for (const index of this.inflight) {
      if (!has(index) || (skip !== undefined && skip(index)) || fellowsHave?.(index)) continue;
      const piece = t.pieces[index];
      if (!piece || !pieceStarted(piece)) continue;
      for (let b = 0; b < pieceBlockCount(piece) && !full(); b++) {
        if (pieceHasBlock(piece, b)) continue;
        if (asked.has(index * MAX_BLOCKS_PER_PIECE + b)) continue;
        requestBlock(t, wire, index, false, b);
      }
      if (full()) return;
    }
  }

  /** The piece we wait to take at the origin while fellows ahead of us in line may take it (turnCame). */
  private awaiting?: { piece: number; since: number };

  /**
   * At a libtorrent origin, a piece we are not first in line for (rank r > 0: we own none left) is ours only after
   * r x RANK_STEP_MS, so that the fellows ahead of us take it first and their claims reach us (60-140 ms on a loaded
   * machine). Near the end every fetcher has run out of its own pieces and all reached for the same last ones at
   * once: one piece left the seed five times in 70 ms (seed 1.13-1.21x at N = 16).
   */
  private turnCame(piece: number, rank: number, now: number): boolean {
    if (rank <= 0) return true;
    const wait = rank * RANK_STEP_MS;
    if (this.awaiting?.piece !== piece) this.awaiting = { piece, since: now };
    const left = this.awaiting.since + wait - now;
    if (left <= 0) {
      this.awaiting = undefined;
      return true;
    }
    this.wakeAfter(left);
    return false;
  }

  /** We start piece i at seed `seed`: tell the fellow downloaders that take the message (seed-claims.ts). */
  private claim(seed: any, i: number): void {
    let mine = this.claimedAt.get(seed);
    if (!mine) this.claimedAt.set(seed, (mine = new Set()));
    mine.add(i);
    this.tellFellows(encodeClaim(i));
  }

  private tellFellows(msg: Buffer): void {
    for (const [w, r] of this.peers) {
      if (w.destroyed || r.avail.isSeed || !(Number(w.peerExtendedMapping?.[FETCHING_EXTENSION]) > 0)) continue;
      w.extended(FETCHING_EXTENSION, msg);
    }
  }

  /** Pieces we started at each seed and have not got yet (claimed to our fellows). */
  private readonly claimedAt = new Map<any, Set<number>>();
  /** Pieces fellows released (seed-claims.ts): started at a seed, stuck part-way; taken first by their owner. */
  private readonly released = new Set<number>();

  /** Seeds that choked us, and the release of our pieces there that follows unless they unchoke us first. */
  private readonly releaseTimers = new Map<any, NodeJS.Timeout>();

  /**
   * A seed choked us: our pieces there go to our fellows (onSeedChoke), unless it unchokes us within
   * RELEASE_GRACE_MS. A rate-limited libtorrent seed sends on its bandwidth ticks (0.5 s): a choke from its first
   * unchoke round (which ran before our interest reached it) arrives with, or a tick before, the unchoke that
   * follows it; releasing at once had our fellows fetch those pieces from it again (bench:swarm, docs/swarm.md).
   */
  private releaseSoon(seed: any): void {
    if (this.releaseTimers.has(seed)) return;
    const timer = setTimeout(() => {
      this.releaseTimers.delete(seed);
      if (seed.peerChoking && !seed.destroyed) this.onSeedChoke(seed);
    }, RELEASE_GRACE_MS);
    timer.unref?.();
    this.releaseTimers.set(seed, timer);
  }

  /** Unchoked again (or gone: released at once): no release pending. */
  private cancelRelease(seed: any): void {
    const timer = this.releaseTimers.get(seed);
    if (!timer) return;
    clearTimeout(timer);
    this.releaseTimers.delete(seed);
  }

  /** A seed choked us: the pieces we were fetching from it are released to the fellows (seed-claims.ts). */
  private onSeedChoke(seed: any): void {
    const mine = this.claimedAt.get(seed);
    if (!mine?.size) return;
    for (const i of mine) if (!this.torrent.bitfield?.get(i)) this.tellFellows(encodeRelease(i));
    mine.clear();
  }

  /** A fellow downloader started piece i at a seed, or stopped fetching it there part-way. */
  onClaim(wire: any, buf: Uint8Array): void {
    const picker = this.ensure();
    const m = picker ? decodeFetching(buf, picker.pieceCount) : undefined;
    if (!m) return;
    if (m.kind === 'claim') return this.claims.add(wire, m.piece, Date.now());
    if (this.claims.release(wire, m.piece) && this.released.size < MAX_RELEASED) {
      this.released.add(m.piece);
      this.fetcherRankCache = undefined; // it no longer fetches: its pieces have new owners now
      queueMicrotask(() => updateTorrent(this.torrent));
    }
  }

  private wakeTimer?: NodeJS.Timeout;
  /** The latest time a pass over every wire is owed by (wakeAfter). */
  private wakeBy = 0;

  /**
   * A pass over every wire `ms` from now, for a wait that ends with no message to prompt one (a downloader waiting on
   * a claimed piece, or on a seed's reject back-off). One timer: it fires at the earliest time owed and is armed again
   * for a later one.
   */
  private wakeAfter(ms: number): void {
    this.wakeBy = Math.max(this.wakeBy, Date.now() + ms + WAKE_SLACK_MS);
    if (this.wakeTimer) return;
    const arm = (delay: number) => {
      this.wakeTimer = setTimeout(() => {
        this.wakeTimer = undefined;
        if (this.torrent.destroyed) return;
        updateTorrent(this.torrent);
        const left = this.wakeBy - Date.now();
        if (left > 0) arm(left);
      }, delay);
      this.wakeTimer.unref?.();
    };
    arm(ms + WAKE_SLACK_MS);
  }

  private readonly downloadersSeen = new Map<string, number>();
  private rankCache?: { at: number; key: string; fn: ((i: number) => number) | undefined };

  /**
   * This downloader's rank per piece among the downloaders it knows (picker.ts seedRanks), looked at once a second.
   * `fetchersOnly` (at a libtorrent origin, once any fellow claimed a piece): among the fellows that claimed a piece
   * lately (seed-claims.ts), the ones fetching from it. libtorrent's seed unchokes 8 of 16; ranked among all 16, a
   * downloader ran out of pieces it owns (rank 0) halfway, took ones it is second or third in line for, and their
   * owner, unchoked too, took the same piece in the same few milliseconds, before either claim arrived: the piece left
   * the seed twice. Among the 8 that fetch, each owns twice as many. (Taking only owned pieces, and waiting
   * otherwise, ended those collisions but left the seed idle at times: no faster, docs/swarm.md.)
   */
  private ranks(fetchersOnly = false): ((i: number) => number) | undefined {
    const now = Date.now();
    const cache = fetchersOnly ? this.fetcherRankCache : this.rankCache;
    if (cache && now - cache.at < 1000) return cache.fn;
    const ourId: string | undefined = this.torrent.client?.peerId;
    // Downloaders seen in the last RANK_MEMORY_MS, connected or not: connections come and go (doubled ones are cut,
    // peers redial), and a downloader that drops out of the set for a moment would hand its pieces to others while
    // it is still fetching them. One that became a seed leaves it for good.
    for (const [w, r] of this.peers) {
      if (w.destroyed || !w.peerId) continue;
      if (r.avail.isSeed) this.downloadersSeen.delete(w.peerId);
      else {
        this.downloadersSeen.set(w.peerId, now);
        this.noteDownloader(w);
      }
    }
    let ids: string[] = [];
    for (const [id, at] of this.downloadersSeen) {
      if (now - at > RANK_MEMORY_MS) this.downloadersSeen.delete(id);
      else ids.push(id);
    }
    if (fetchersOnly) {
      // None lately: we are the only one fetching from it, every piece is ours (no ranks).
      const fetchers = new Set(
        this.claims.claimantsSince(now - FETCHER_MEMORY_MS).map((w: any) => w.peerId as string | undefined),
      );
      ids = ids.filter((id) => fetchers.has(id));
    }
    const key = ids.sort().join();
    // Same downloaders: keep the ranks computed so far (each piece's rank costs one weight per downloader).
    const fn = cache?.key === key ? cache.fn : ourId ? seedRanks(ourId, ids) : undefined;
    const next = { at: now, key, fn };
    if (fetchersOnly) this.fetcherRankCache = next;
    else this.rankCache = next;
    return fn;
  }
  private fetcherRankCache?: { at: number; key: string; fn: ((i: number) => number) | undefined };

  /**
   * A downloader that unchokes us just got piece i, which we are fetching: the blocks still asked of a seed are
   * cancelled (BEP 3 cancel) and come from that downloader instead, sparing the seed's upload.
   */
  private spareSeeds(i: number): void {
    const t = this.torrent;
    for (const [w, r] of this.peers) {
      if (!r.avail.isSeed || w.destroyed) continue;
      for (const req of [...w.requests]) if (req && req.piece === i) w.cancel(i, req.offset, req.length);
    }
    queueMicrotask(() => updateTorrent(t));
  }

  /**
   * For a seed's wire: a test "piece i can come from a connected downloader that unchokes us", or undefined when
   * no such downloader exists (then everything may come from the seed).
   */
  private obtainableElsewhere(seedWire: any): ((i: number) => boolean) | undefined {
    const givers: PeerAvailability[] = [];
    const origin = this.sparedOrigin(seedWire);
    for (const [w, r] of this.peers) {
      if (w === seedWire || w.destroyed) continue;
      if (!r.avail.isSeed) this.noteDownloader(w);
      if (w.peerChoking) continue;
      // A fellow downloader that completed and unchokes us: everything can come from it rather than the origin.
      if (r.avail.isSeed) {
        if (origin && !this.isOrigin(w)) return () => true;
      } else if (r.avail.useful > 0) givers.push(r.avail);
    }
    if (!givers.length) return undefined;
    const picker = this.picker!;
    return (i) => picker.availability(i) > picker.seeds && givers.some((g) => g.has(i));
  }

  /** When a block last came from a peer other than the origin seed (pickAtSeed's fedByFellows). */
  private fellowsFedAt = 0;
  /** Peer ids we saw missing pieces (seed-spread.ts), to tell the origin seed from downloaders that completed. */
  private readonly downloaders = new Downloaders();

  private noteDownloader(w: any): void {
    this.downloaders.note(w.peerId);
  }

  /** A seed we never saw missing a piece: the swarm's origin, as far as we know (seed-spread.ts Downloaders). */
  private isOrigin(w: any): boolean {
    return !!this.peers.get(w)?.avail.isSeed && this.downloaders.isOrigin(w.peerId);
  }

  /**
   * The origin seed, when it sends whatever it is asked (libtorrent...): a downloader spares it duplicates
   * (pickAtSeed's origin rules) and asks it for nothing while a fellow that completed unchokes us. A silmaril seed
   * (it takes silmaril_fetching) holds duplicates back itself (seed-spread.ts); downloaders leaving it idle too held
   * its upload slots unused: the all-silmaril N = 16 swarm took 12.0-12.6 s instead of 10.3-10.5 s.
   */
  private sparedOrigin(w: any): boolean {
    return this.isOrigin(w) && !(Number(w.peerExtendedMapping?.[FETCHING_EXTENSION]) > 0);
  }

  /** Super-seeding applies now: asked for, and we have every piece. */
  superSeeding(): boolean {
    if (!this.opts.superSeed) return false;
    const picker = this.ensure();
    if (!picker || picker.haveTotal < picker.pieceCount) return false;
    this.superSeeder ??= new SuperSeeder(picker.pieceCount, (i) => picker.availability(i) - picker.seeds);
    return true;
  }

  /** Super-seeding: tells the peer about the next pieces it may take from us. */
  reveal(wire: any): void {
    if (!this.superSeeding() || wire.destroyed) return;
    const rec = this.peerOf(wire);
    for (const i of this.superSeeder!.next(wire, (j) => rec.avail.has(j))) wire.have(i);
  }

  /** Starts the choking rounds. */
  start(): void {
    this.timer = setInterval(() => this.rechoke(), this.opts.rechokeMs ?? RECHOKE_MS);
    this.timer.unref?.();
    this.idleTimer = setInterval(() => this.idleCheck(), SEED_IDLE_MS / 2);
    this.idleTimer.unref?.();
    if (process.env.SILMARIL_SWARM_TRACE) this.trace();
  }

  /** SILMARIL_SWARM_TRACE=1: one line a second on stderr of what each wire is doing (for bench:swarm). */
  private trace(): void {
    const t = this.torrent;
    let lastUp = t.uploaded ?? 0;
    let lastDown = t.received ?? 0;
    const timer = setInterval(() => {
      if (t.destroyed) return clearInterval(timer);
      const up = t.uploaded - lastUp;
      const down = t.received - lastDown;
      lastUp = t.uploaded;
      lastDown = t.received;
      const ws = (t.wires as any[]).filter((w) => w.type !== 'webSeed');
      const desc = ws.map((w) => {
        const f = (b: boolean, c: string) => (b ? c : '-');
        return (
          f(w.peerInterested, 'I') +
          f(!w.amChoking, 'U') +
          f(w.amInterested, 'i') +
          f(!w.peerChoking, 'u') +
          f(w.isSeeder, 'S') +
          `q${w.peerRequests?.length ?? 0}s${(w.peerRequests ?? []).filter((r: any) => r.__started).length}` +
          `g${w.__silmarilGate?.reads ?? '?'}r${w.requests?.length ?? 0}` +
          // The client, from its peer id's prefix (-XX0001-: 'XX'), and the requests of it we hold back (deferred).
          `@${clientCode(w.peerId)}h${this.held.filter((h) => h.wire === w).length}` +
          // The transport: uTP or TCP (for an outgoing race, the one that won: utp/dial.ts).
          (String(w.__silmarilGate?.conn?.transport ?? w.type ?? '').startsWith('utp') ? 'U' : 'T')
        );
      });
      process.stderr.write(
        `[swarm] ${(performance.now() / 1000).toFixed(1)} up ${(up / 1048576).toFixed(2)} down ${(down / 1048576).toFixed(2)} ` +
          `mem ${Object.entries(process.memoryUsage())
            .map(([k, v]) => `${k}=${Math.round(v / 1048576)}`)
            .join(
              ',',
            )} dups ${this.duplicatesDropped} have ${this.picker ? this.picker.haveTotal : '?'} inflight ${this.inflight.size} deferred ${this.held.length} rejected ${this.rejected} ` +
          `served ${Object.entries(this.servedWhy)
            .map(([k, v]) => `${k}=${(v / 1048576).toFixed(1)}`)
            .join(',')} ` +
          `cache ${JSON.stringify(serveCacheStats())} ${desc.join(' ')}\n`,
      );
    }, 1000);
    timer.unref?.();
  }

  stop(): void {
    clearInterval(this.timer);
    clearInterval(this.idleTimer);
    clearInterval(this.holdTimer);
    clearTimeout(this.wakeTimer);
  }

  private idleTimer?: NodeJS.Timeout;

  /**
   * Seeding, between rounds: a peer holding a slot that asked for nothing for SEED_IDLE_MS while another waits for
   * one gets a round now (the choker ends its turn) rather than at the next round, seconds later.
   */
  private idleCheck(): void {
    if (!this.seedingNow()) return;
    const now = Date.now();
    let idle = false;
    let waiting = false;
    for (const w of this.torrent.wires as any[]) {
      if (w.destroyed || w.type === 'webSeed' || !w.peerInterested || w.isSeeder) continue;
      if (w.amChoking) waiting = true;
      else if (
        (w.peerRequests?.length ?? 0) === 0 &&
        now - Math.max(this.askedAt.get(w) ?? 0, this.unchokedAt.get(w) ?? 0) >= SEED_IDLE_MS &&
        !this.held.some((h) => h.wire === w)
      )
        idle = true;
    }
    if (idle && waiting) this.rechoke();
  }

  /** A choking round soon (a peer became interested, left...), not more than once per turn of the event loop. */
  private soon(): void {
    if (this.rechokeSoon) return;
    this.rechokeSoon = true;
    setImmediate(() => {
      this.rechokeSoon = false;
      this.rechoke(true);
    });
  }

  /** One choking round. `onlyFill`: only give free slots (between rounds), never take one away. */
  rechoke(onlyFill = false): void {
    const t = this.torrent;
    if (!t.ready || t.destroyed) return;
    const wires: any[] = t.wires.filter((w: any) => !w.destroyed && w.type !== 'webSeed');
    const now = Date.now();
    const heldFor = new Map<any, number>(wires.map((w) => [w, 0]));
    for (const h of this.held) if (heldFor.has(h.wire)) heldFor.set(h.wire, heldFor.get(h.wire)! + 1);
    const peers: ChokePeer[] = wires.map((w) => ({
      id: w,
      interested: !!w.peerInterested,
      isSeed: !!w.isSeeder,
      downloadRate: w.downloadSpeed(),
      uploaded: w.uploaded ?? 0,
      pending: (w.peerRequests?.length ?? 0) + heldFor.get(w)!,
      idleMs: now - Math.max(this.askedAt.get(w) ?? 0, this.unchokedAt.get(w) ?? 0),
    }));
    if (onlyFill && !this.choker.hasFreeSlot(peers)) return;
    const seeding = !!t.done || this.picker?.remaining === 0;
    const unchoke = this.choker.rechoke(peers, seeding);
    const has = (w: any, i: number) => this.peers.get(w)?.avail.has(i) ?? false;
    for (const w of wires) {
      if (unchoke.has(w)) {
        this.draining.delete(w);
        if (w.amChoking) this.unchokedAt.set(w, now);
        w.unchoke();
      } else if (!onlyFill || !w.peerInterested || w.isSeeder) {
        // Seeding, a turn over mid-piece: the peer first finishes what it was being sent (no new piece meanwhile),
        // or the rest of that piece would go out again to whoever asks for it next.
        if (this.seedingNow() && !w.amChoking && w.peerInterested && this.owners.owning(w, now, has) > 0) {
          if (!this.draining.has(w)) this.draining.set(w, now);
          this.holdTimer ??= setInterval(() => this.releaseHeld(), HOLD_CHECK_MS);
          this.holdTimer.unref?.();
        } else {
          this.draining.delete(w);
          w.choke();
        }
      }
    }
  }
}

/**
 * Two connections to one peer: does the new one stay (and the old one go)? The one the peer with the greater peer id
 * opened stays (libtorrent's rule), so both ends close the same one. Peer ids as lowercase hex.
 */
export function keepsNewConnection(ourId: string, theirId: string, newIsOutgoing: boolean): boolean {
  return theirId < ourId === newIsOutgoing;
}

/** Installs the scheduler on a WebTorrent torrent just added (before its metadata). */
export function installScheduler(torrent: any, opts: SchedulerOptions = {}): Scheduler {
  const s = new Scheduler(torrent, opts);
  replaceUpdateWire(torrent, (wire: any) => s.updateWire(wire));
  wrapUpdateWireInterest(torrent, function (this: any, updateWireInterest: Upstream, wire: any) {
    const interested = s.updateInterest(wire);
    if (interested === undefined) return updateWireInterest.call(this, wire);
    if (interested) wire.interested();
    else wire.uninterested();
  });
  replaceRechoke(torrent, () => s.rechoke());
  // Every block that arrives asks for a pass over every wire (request.ts, and upstream on each have / unchoke...);
  // a burst of blocks parsed from one socket read made as many passes. One pass per turn of the microtask queue
  // does the same work once; and one asked for by upstream's handler of one peer's have / bitfield / unchoke...
  // looks at that peer's wire alone (update-queue.ts).
  let upstreamUpdate: (() => void) | undefined;
  const passes = new UpdateQueue<any>(
    queueMicrotask,
    () => upstreamUpdate?.(),
    (wire) => {
      if (!torrent.destroyed && !wire.destroyed) s.updateWire(wire);
    },
  );
  wrapUpdate(torrent, function (this: any, update: Upstream) {
    upstreamUpdate ??= () => update.call(torrent);
    passes.request(s.eventWire);
  });
  torrent.alwaysChokeSeeders = false; // the choker never unchokes a seed; upstream's extra choke() calls misfire
  // Upstream unchokes every peer the moment it is interested, which defeats any choker: leave that listener out.
  // Super-seeding: the peer is first told we have nothing (BEP 16), then given pieces one by one.
  wrapOnWireWithMetadata(torrent, function (this: any, onWireWithMetadata: Upstream, wire: any) {
    const once = wire.once;
    wire.once = function (this: any, event: string, fn: (...a: unknown[]) => void) {
      if (event === 'interested') return this;
      return once.call(this, event, fn);
    };
    const superSeeding = s.superSeeding();
    if (superSeeding) {
      const empty = new Uint8Array(Math.ceil(this.pieces.length / 8));
      wire.haveAll = function (this: any) {
        this.haveNone();
      };
      wire.bitfield = ((bitfield) =>
        function (this: any) {
          bitfield.call(this, empty);
        })(wire.bitfield);
    }
    try {
      return onWireWithMetadata.call(this, wire);
    } finally {
      if (superSeeding) {
        delete wire.haveAll;
        delete wire.bitfield;
        s.reveal(wire);
      }
      delete wire.once; // back to EventEmitter's
      if (wire.once !== once) wire.once = once;
      s.rechoke(true);
    }
  });
  // Redials of a peer we already hold another connection to (dropDuplicate) are refused: WebTorrent reconnects a
  // closed outgoing connection, our PeerRetry too.
  const plainFirst = new PlainFirst();
  wrapAddPeer(torrent, function (this: any, addPeer: Upstream, peer: unknown, ...rest: unknown[]) {
    if (typeof peer === 'string' && !s.mayDial(peer)) return null;
    if (TRACE && typeof peer === 'string')
      process.stderr.write(
        `[swarm-wire] ${(performance.now() / 1000).toFixed(2)} add ${peer} ${String(rest[0] ?? '')}\n`,
      );
    const added = addPeer.call(this, peer, ...rest);
    if (added && typeof peer === 'string' && plainFirst.plaintext(peer, Date.now()))
      dialPlaintext(added, () => plainFirst.refused(peer, Date.now()));
    return added;
  });
  torrent.on('wire', (wire: any) => s.onWire(wire));
  if (TRACE)
    for (const ev of ['metadata', 'ready', 'trackerAnnounce'])
      torrent.on(ev, () =>
        process.stderr.write(`[swarm-wire] ${(performance.now() / 1000).toFixed(2)} torrent ${ev}\n`),
      );
  // Upstream's RarityMap serves only its own rarest-first, which ours replaced, yet recounts every piece of every wire
  // on each new wire and bitfield (O(pieces x wires) each time): retired once the metadata is in.
  const retireRarityMap = () => stubRarityMap(torrent);
  if (hasRarityMap(torrent)) retireRarityMap();
  else torrent.once('metadata', retireRarityMap);
  torrent.on('verified', (index: number) => s.onVerified(index));
  torrent.once('ready', () => s.start());
  torrent.once('close', () => s.stop());
  return s;
}

/** True when every block of a started piece is already reserved (asked of some peer) and none was given back. */
function fullyAsked(piece: any): boolean {
  return pieceFullyReserved(piece);
}

/** The bittorrent-protocol extension (wire.use) for seed-claims.ts: advertises silmaril_fetching, hands messages over. */
function fetchingExtension(s: Scheduler) {
  class SilmarilFetching {
    constructor(private readonly wire: any) {}
    onMessage(buf: Uint8Array): void {
      s.onClaim(this.wire, buf);
    }
  }
  (SilmarilFetching.prototype as any).name = FETCHING_EXTENSION;
  return SilmarilFetching;
}

/** SILMARIL_SWARM_TRACE: when a connection came up, its first bitfield / interest / unchoke / block, why our side
 *  destroyed it and when it closed (process time, s). */
function traceWire(wire: any, torrent: any): void {
  const t = () => (performance.now() / 1000).toFixed(2);
  const who = () => `${clientCode(wire.peerId)} ${String(wire.remoteAddress ?? '')}:${wire.remotePort ?? ''}`;
  process.stderr.write(`[swarm-wire] ${t()} up ${who()}\n`);
  for (const ev of ['bitfield', 'have-all', 'have-none', 'interested', 'unchoke', 'choke', 'piece'])
    wire.once(ev, () => process.stderr.write(`[swarm-wire] ${t()} ${ev} ${who()}\n`));
  // Why the connection ends, when our side ends it (Peer#destroy's error: a timeout, a bad handshake...).
  for (const peer of torrentPeers(torrent)) {
    if (peer.wire !== wire || typeof peer.destroy !== 'function') continue;
    const destroy = peer.destroy;
    peer.destroy = function (this: any, err?: unknown) {
      if (err && !this.destroyed) process.stderr.write(`[swarm-wire] ${t()} destroy ${who()}: ${String(err)}\n`);
      return destroy.call(this, err);
    };
  }
  wire.once('close', () =>
    process.stderr.write(
      `[swarm-wire] ${t()} close ${who()} after ${((wire.downloaded ?? 0) / 1024).toFixed(0)} KiB in, ` +
        `${((wire.uploaded ?? 0) / 1024).toFixed(0)} KiB out\n`,
    ),
  );
}

/** The two-letter client code of an Azureus-style peer id (hex): '-XX0001-...' gives 'XX'; '??' otherwise. */
function clientCode(peerId: string | undefined): string {
  if (!peerId || peerId.length < 6) return '??';
  const code = Buffer.from(peerId.slice(2, 6), 'hex').toString('latin1');
  return /^[A-Za-z]{2}$/.test(code) ? code : '??';
}
