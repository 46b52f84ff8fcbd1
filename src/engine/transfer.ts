// One torrent in the engine: a seed served in place or a download, with its WebTorrent torrent (absent while
// paused or waiting), store, peer guard, rate limits, resume record and stats.
import { EventEmitter } from 'node:events';
import { promises as fsp } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import type { Logger } from '../log.js';
import { buildMagnet } from '../torrent/magnet.js';
import { parseTorrent } from '../torrent/parse.js';
import { TorrentError, type ParsedTorrent } from '../torrent/types.js';
import { preflight } from './disk.js';
import { leavesRoot } from './file-pool.js';
import { releaseIdleWindows } from './incoming-piece.js';
import { contentRootIn, layoutFor, realFiles } from './layout.js';
import { MAX_PEERS_PER_TRANSFER, MAX_PEER_REQUESTS } from './limits.js';
import { PeerGuard, wireAddr, type GuardWire } from './peer-guard.js';
import { PeerRetry } from './peer-retry.js';
import { RateLimiter } from './rate.js';
import { RateMeter } from './rate-meter.js';
import { installRequest, type PadRanges, type V2PieceCheck } from './request.js';
import { installScheduler, type Scheduler } from './scheduler.js';
import { bitGet, countBits, markFiles, resumeBitfield } from './resume.js';
import type { HfCacheTarget, StateDir, TransferRecord } from './state.js';
import { PieceStore } from './store.js';
import { verifyDownload } from './verify-done.js';
import { fixAnnounceNumbers } from './announce-numbers.js';
import type { HubSeed } from './hub-seed.js';
import {
  attachV2,
  checkMetadataHashes,
  metadataAdopted,
  metadataMatches,
  requestMissingLayers,
  truncatedV2,
} from './v2-handshake.js';
import { TorrentHashes } from './v2-wire.js';
import { Holepunch } from './holepunch.js';
import { firstPieceRanges, type FileOrder } from './file-order.js';
import {
  FAULT_EVENT,
  attachConn,
  bufferedBytes,
  droppedRequests,
  expectInfoHash,
  faultPeer,
  queuedUploadBytes,
  readDirect,
  setWriteHighWaterMark,
  writeDirect,
  metadataComplete,
  torrentPeers,
  wrapAddPeer,
  wrapRegisterPeer,
  type FaultKind,
  type Upstream,
} from './internals.js';

export type TransferStatus = 'metadata' | 'checking' | 'downloading' | 'seeding' | 'verifying' | 'paused' | 'error';

export interface TransferStats {
  id: string;
  name: string;
  kind: 'seed' | 'download';
  status: TransferStatus;
  /** 0..1 of verified bytes. */
  progress: number;
  /** Bytes of the piece stream in verified pieces. */
  verifiedBytes: number;
  totalBytes: number;
  downloaded: number;
  uploaded: number;
  /** Bytes per second. */
  downloadRate: number;
  uploadRate: number;
  peers: number;
  seeds: number;
  /** Seconds, or null when unknown. */
  eta: number | null;
  hashFailures: number;
  banned: string[];
  /** Bytes received from peers that were not seeds (downloaders trading pieces), and from seeds. */
  fromPeers: number;
  fromSeeds: number;
  /** With a Hub web seed (hub-seed.ts): bytes from the web, bytes from peers, Hub pieces that failed their hash. */
  webBytes?: number;
  peerBytes?: number;
  webRejected?: number;
  /** Peers dropped for breaking a rule (a handler threw, a limit was exceeded, bad metadata, slow reader). */
  peerFaults: number;
  /** Why nothing moves when no explicit peer can be reached (e.g. "no peer reachable: 127.0.0.1:6881 connect
   *  ECONNREFUSED …, retry in 30 s"); absent otherwise. */
  waiting?: string;
  /** What the connected peers cost now: received bytes not yet parsed, reply bytes queued, requests queued. */
  peerMemory: { bufferedBytes: number; queuedUploadBytes: number; peerRequests: number; droppedRequests: number };
}

export interface DoneInfo {
  path: string;
  verified: boolean;
  /** Bytes the final check hashed again after every piece was in (0 when the per-piece checks covered it all). */
  finalCheckBytes?: number;
}

/** What the engine lends a transfer. */
export interface TransferHost {
  client: any;
  state: StateDir;
  log: Logger;
  trackers: string[];
  statsIntervalMs: number;
  saveIntervalMs: number;
  /** The process-wide upload limit, taken after the transfer's own. */
  upLimit?: RateLimiter;
}

const SAVE_INTERVAL_MS = 500;

/** Each WebTorrent torrent's store (made once its metadata is known). */
const stores = new WeakMap<object, PieceStore>();

/** The store of `torrent`, or a store that refuses everything while it has none. */
function storeOf(torrent: object): Pick<PieceStore, 'writeAt' | 'read'> {
  return stores.get(torrent) ?? NO_STORE;
}

const NO_STORE: Pick<PieceStore, 'writeAt' | 'read'> = {
  writeAt: () => Promise.reject(new Error('no store yet')),
  read: () => Promise.reject(new Error('no store yet')),
};

export class Transfer extends EventEmitter {
  readonly kind: 'seed' | 'download';
  readonly id: string;
  infoHashV2?: string;
  parsed?: ParsedTorrent;
  contentRoot?: string;
  readonly outDir?: string;
  status: TransferStatus = 'checking';
  error?: Error;
  torrent: any = null;
  private store?: PieceStore;
  readonly guard: PeerGuard;
  readonly downLimit: RateLimiter;
  readonly upLimit: RateLimiter;
  private readonly peers: string[];
  private readonly extraTrackers: string[];
  private magnet?: { v2?: string; trackers: string[]; webSeeds: string[]; name?: string };
  private statsTimer?: NodeJS.Timeout;
  private saveTimer?: NodeJS.Timeout;
  private dirty = false;
  private saving: Promise<void> = Promise.resolve();
  private completed = false;
  private downloadedBase = 0;
  private uploadedBase = 0;
  doneInfo?: DoneInfo;
  /** Verified pieces while no WebTorrent torrent runs (paused, restored). */
  private knownBits?: Uint8Array;
  /** Pieces taken from the resume record on trust (files unchanged by size and mtime), not hashed by this process. */
  private trustedPieces = 0;
  /** WebTorrent has checked the pieces and serves peers. */
  ready = false;
  readonly hub?: HubSeed;
  readonly hfCache?: HfCacheTarget;
  private hubTimer?: NodeJS.Timeout;
  private hubEngaged = false;
  /** The Hub's wires (their `downloaded` counts every byte taken from the Hub, pad zeros included). */
  private hubWires: { downloaded: number }[] = [];
  /** Peers dropped by the wire fence (internals.ts) on this transfer's wires. */
  peerFaults = 0;
  private retry?: PeerRetry;
  private holepunch?: Holepunch;
  /** The node's own business (a catalog file it publishes or follows), not a model a user shares or fetches: the
   *  application layer hides it from model views and refuses to stop it unless forced (src/app/views.ts). */
  readonly system: boolean;
  /** Payload rates (piece blocks only), which fall to 0 when nothing moves: rate-meter.ts says why not WebTorrent's. */
  private readonly downMeter = new RateMeter();
  private readonly upMeter = new RateMeter();

  constructor(
    private readonly host: TransferHost,
    init: {
      kind: 'seed' | 'download';
      id: string;
      parsed?: ParsedTorrent;
      contentRoot?: string;
      outDir?: string;
      peers?: string[];
      trackers?: string[];
      magnet?: { v2?: string; trackers: string[]; webSeeds: string[]; name?: string };
      downloadLimit?: number;
      uploadLimit?: number;
      completed?: boolean;
      superSeed?: boolean;
      /** The order files are fetched in (file-order.ts). */
      order?: FileOrder;
      /** The Hugging Face Hub as a web seed, brought in when peers are too few or too slow. */
      hub?: HubSeed;
      /** A download into the Hugging Face cache: kept in the resume record so a restart still installs it. */
      hfCache?: HfCacheTarget;
      system?: boolean;
    },
  ) {
    super();
    this.kind = init.kind;
    this.id = init.id;
    this.parsed = init.parsed;
    this.infoHashV2 = init.parsed?.infoHashV2 ?? init.magnet?.v2;
    this.contentRoot = init.contentRoot;
    this.outDir = init.outDir;
    this.peers = init.peers ?? [];
    this.extraTrackers = init.trackers ?? [];
    this.magnet = init.magnet;
    this.completed = !!init.completed;
    this.superSeed = !!init.superSeed;
    this.sequential = !!init.order?.sequential;
    this.firstFiles = init.order?.first ?? [];
    this.downLimit = new RateLimiter(init.downloadLimit ?? -1);
    this.upLimit = new RateLimiter(init.uploadLimit ?? -1);
    this.guard = new PeerGuard((wire, reason) => {
      this.host.log.warn(`banned peer ${wireAddr(wire)}: ${reason}`);
      this.emit('banned', { addr: wireAddr(wire), reason });
    });
    this.hub = init.hub;
    this.hfCache = init.hfCache;
    this.system = !!init.system;
    if (this.hub) {
      const hub = this.hub;
      const failed = this.guard.pieceFailed.bind(this.guard);
      this.guard.pieceFailed = (index, blocks) => {
        if (blocks.some((b) => (b.wire as { __hubSeed?: boolean }).__hubSeed)) hub.rejectedPieces++;
        failed(index, blocks);
      };
    }
  }

  get name(): string {
    return this.parsed?.name ?? this.magnet?.name ?? this.id;
  }

  /** Joined by a btmh-only magnet: `id` is the truncated v2 hash (see v2-handshake.ts, docs/protocols-bep52.md). */
  get v2Keyed(): boolean {
    return !!this.magnet?.v2 && this.id === truncatedV2(this.magnet.v2);
  }

  private v2hashes?: TorrentHashes;
  private hashTrees(): TorrentHashes | undefined {
    if (this.parsed?.infoHashV2 && this.v2hashes === undefined) this.v2hashes = new TorrentHashes(this.parsed);
    return this.v2hashes;
  }

  get magnetURI(): string {
    return buildMagnet({
      infoHashV1: this.v2Keyed ? this.parsed?.infoHashV1 : this.id,
      infoHashV2: this.infoHashV2,
      name: this.parsed?.name,
      trackers: this.trackers(),
    });
  }

  private trackers(): string[] {
    const fromTorrent = (this.parsed?.announce ?? []).flat();
    return [
      ...new Set([...fromTorrent, ...(this.magnet?.trackers ?? []), ...this.extraTrackers, ...this.host.trackers]),
    ];
  }

  /** Starts (or restarts after a pause) the WebTorrent side, from the resume record when there is one. */
  async start(opts: { paused?: boolean } = {}): Promise<void> {
    if (this.torrent) return;
    this.status = this.parsed ? 'checking' : 'metadata';
    this.error = undefined;
    let bitfield: Uint8Array | undefined;
    if (this.parsed && this.contentRoot) {
      const parsed = this.parsed;
      const store = this.makeStore(parsed, this.contentRoot);
      const record = await this.host.state.load(this.id);
      const res = await resumeBitfield(parsed, this.contentRoot, record, store);
      store.close();
      bitfield = res.bitfield;
      this.knownBits = bitfield;
      this.trustedPieces = res.trusted;
      const have = countBits(bitfield, parsed.pieceCount);
      this.host.log.info(
        `${parsed.name}: ${have}/${parsed.pieceCount} pieces (${res.trusted} trusted from state, ${res.valid}/${res.rechecked} re-checked)`,
      );
      if (this.kind === 'seed' && have < parsed.pieceCount) {
        throw new TorrentError(
          `${this.contentRoot} does not match the torrent: ${parsed.pieceCount - have} of ${parsed.pieceCount} pieces differ or are missing`,
        );
      }
      if (this.kind === 'download' && have < parsed.pieceCount && this.outDir) {
        await preflight(this.outDir, this.contentRoot, parsed);
      }
    }
    if (opts.paused) {
      this.status = 'paused';
      return;
    }
    this.addToClient(bitfield);
    this.statsTimer = setInterval(() => this.emit('stats', this.stats()), this.host.statsIntervalMs);
    this.statsTimer.unref?.();
    if (this.hub && this.kind === 'download' && !this.hubEngaged) {
      const began = Date.now();
      this.hubTimer = setInterval(() => this.maybeEngageHub(began), 250);
      this.hubTimer.unref?.();
    }
    this.saveTimer = setInterval(() => {
      if (this.dirty) void this.save();
    }, this.host.saveIntervalMs || SAVE_INTERVAL_MS);
    this.saveTimer.unref?.();
  }

  private makeStore(parsed: ParsedTorrent, contentRoot: string): PieceStore {
    return new PieceStore(layoutFor(contentRoot, parsed, this.kind === 'download' ? this.outDir : undefined), {
      writable: this.kind === 'download',
      beforeWrite: this.outDir ? () => preflight(this.outDir!, contentRoot, parsed) : undefined,
      // No promise while neither limit holds the block back (most blocks, and every one without a limit).
      servePace: (n) => {
        const global = this.host.upLimit;
        if (this.upLimit.tryTake(n)) return !global || global.tryTake(n) ? undefined : global.take(n);
        return this.upLimit.take(n).then(() => global?.take(n));
      },
    });
  }

  private addToClient(bitfield: Uint8Array | undefined): void {
    const self = this; // eslint-disable-line @typescript-eslint/no-this-alias
    // WebTorrent builds the store after it has the metadata; by then we parse the raw info bytes ourselves.
    function StoreFactory(this: unknown, _chunkLength: number, opts: { torrent: any }) {
      return self.storeForTorrent(opts.torrent);
    }
    const torrentId = this.parsed
      ? Buffer.from(this.parsed.torrentBytes)
      : `magnet:?xt=urn:btih:${this.id}${(this.magnet?.webSeeds ?? []).map((w) => `&ws=${encodeURIComponent(w)}`).join('')}`;
    const torrent = this.host.client.add(torrentId, {
      store: StoreFactory,
      storeCacheSlots: 0,
      announce: this.trackers(),
      bitfield,
      // Unused: scheduler.ts replaces WebTorrent's picking (its rarest-first rescans every piece per request).
      strategy: 'sequential',
      path: this.outDir ?? (this.contentRoot ? dirname(this.contentRoot) : undefined),
      deselect: false,
      // Concurrent HTTP requests per web seed (WebTorrent's default 4 leaves a Hub connection latency-bound).
      maxWebConns: this.hub ? 16 : undefined,
    });
    this.torrent = torrent;
    attachV2(torrent, {
      v2Keyed: this.v2Keyed,
      infoHashV2: () => this.infoHashV2,
      hashes: () => this.hashTrees(),
      parsed: () => this.parsed,
      read: () => this.store && ((offset, length) => this.store!.read(offset, length)),
      guard: this.guard,
      log: (m) => this.host.log.info(`${this.name}: ${m}`),
    });
    // A hybrid exported without `piece layers` (BEP 52 lets them come from peers): ask v2 peers for them.
    const trees = this.parsed && this.hashTrees();
    if (trees) requestMissingLayers(torrent, trees, this.parsed!.pieceLength);
    fixAnnounceNumbers(torrent); // what trackers are told: announce-numbers.ts
    this.retry?.stop();
    this.holepunch?.close();
    this.holepunch = new Holepunch(torrent, {
      utp: !!this.host.client.utp,
      pex: this.host.client.utPex !== false,
      listenPort: () => this.host.client.address?.()?.port,
      log: (m) => this.host.log.info(`${this.name}: ${m}`),
      debug: (m) => this.host.log.debug(`${this.name}: ${m}`),
    });
    this.retry = new PeerRetry(torrent, this.peers, (addr, reason, waitMs, attempts) => {
      // Said once per new reason, then every 10th attempt: the stats line carries it every second.
      if (attempts === 1 || attempts % 10 === 0 || reason !== this.lastDialError.get(addr)) {
        this.host.log.warn(`${this.name}: peer ${addr}: ${reason}; retry in ${Math.round(waitMs / 1000)} s`);
      }
      this.lastDialError.set(addr, reason);
    });
    installRequest(
      torrent,
      this.guard,
      this.downLimit,
      () => this.padRanges(),
      (index) => this.onPieceVerified(index),
      {
        // This torrent's own store: a late write of a torrent stopped by a pause never lands through the next one's.
        write: (start, data) => storeOf(torrent).writeAt(start, data),
        read: (start, length) => storeOf(torrent).read(start, length),
      },
      () => this.v2PieceCheck(),
    );
    this.scheduler = installScheduler(torrent, {
      sequential: this.sequential,
      superSeed: this.superSeed,
      firstPieces: () =>
        this.parsed ? firstPieceRanges(this.parsed.files, this.parsed.pieceLength, this.firstFiles) : [],
    });
    this.downloadedBase = 0;
    this.uploadedBase = 0;

    // Refuse reconnection from or to a banned peer.
    // (_addPeer is also where WebTorrent's own reconnect timer re-adds a dropped peer.)
    wrapAddPeer(torrent, (addPeer: Upstream, peer: unknown, type: string, source?: string) => {
      if (typeof peer === 'string' && this.guard.isBanned(peer)) return null;
      const added = addPeer.call(torrent, peer, type, source);
      if (added && typeof peer === 'string') {
        if (source === 'tracker') this.retry?.fromTracker(peer);
        if (this.retry?.has(peer)) this.watchDial(peer, added);
      }
      return added;
    });
    // Web seed connections are registered here before their first request (no 'wire' event precedes it).
    wrapRegisterPeer(torrent, (registerPeer: Upstream, peer: any) => {
      if (peer?.type === 'webSeed' && peer.conn) {
        if (this.hub && this.parsed && peer.conn.url === this.hub.url) {
          peer.conn.httpRequest = this.hub.requestFor(this.parsed);
          // The wire blocks are blamed on (PeerGuard) is the peer's, not the connection's: mark it as the Hub's.
          if (peer.wire) {
            peer.wire.__hubSeed = true;
            this.hubWires.push(peer.wire);
          }
        }
        this.padAwareWebSeed(peer.conn);
      }
      return registerPeer.call(torrent, peer);
    });
    torrent.on('wire', (wire: GuardWire) => {
      if (this.guard.isBanned(wire.peerId) || this.guard.isBanned(wireAddr(wire))) return wire.destroy();
      // bittorrent-protocol's `download`/`upload`: piece payload only (web seeds' wires included).
      (wire as any).on('download', (n: number) => this.downMeter.add(n));
      (wire as any).on('upload', (n: number) => this.upMeter.add(n));
      for (const peer of torrentPeers(torrent)) {
        if (peer.wire !== wire || !peer.conn) continue;
        tuneSocket(peer.conn);
        attachConn(wire, peer.conn);
        this.holepunch?.attach(wire, peer);
        readDirect(wire, peer.conn, {
          onBytes: (n) => peer.emit('download', n),
          throttled: () => peer.throttleGroups?.down?.getEnabled?.() !== false,
        });
        writeDirect(wire, peer.conn, {
          onBytes: (n) => peer.emit('upload', n),
          throttled: () => peer.throttleGroups?.up?.getEnabled?.() !== false,
        });
      }
      expectInfoHash(wire, this.id);
      (wire as any).__silmarilSince = Date.now();
      if (!this.makeRoomFor(wire)) return;
      (wire as any).on(FAULT_EVENT, (kind: FaultKind, message: string) => this.onPeerFault(wire, kind, message));
      if ((wire as any).__silmarilFault) this.onPeerFault(wire, 'protocol', (wire as any).__silmarilFault);
      this.retry?.connected(wireAddr(wire));
      // Tell peers how many requests we queue (BEP 10 reqq, sent right after this event): without it WebTorrent
      // peers keep a second's worth of requests in flight, thousands, which our piece cache cannot hold.
      (wire as any).extendedHandshake.reqq = MAX_PEER_REQUESTS;
    });
    torrent.on('infoHash', () => this.retry?.start());
    torrent.on('metadata', () => {
      // Serve BEP 9 metadata from the exact info bytes (ut_metadata keeps raw info bytes as given).
      if (this.parsed) torrent.metadata = Buffer.from(this.parsed.infoBytes);
    });
    torrent.on('ready', () => {
      if (this.torrent !== torrent) return;
      if (this.status !== 'verifying') this.status = torrent.done ? 'seeding' : 'downloading';
      this.ready = true;
      this.emit('ready');
    });
    torrent.on('done', () => {
      if (this.torrent !== torrent) return;
      void this.onComplete();
    });
    torrent.on('warning', (err: Error) => this.host.log.debug(`${this.name}: ${err.message}`));
    torrent.on('error', (err: Error) => this.fail(err));
  }

  /** Brings the Hub in as a web seed once peers are too few or too slow (HubSeed.shouldEngage). */
  private maybeEngageHub(began: number): void {
    const t = this.torrent;
    if (!this.hub || this.hubEngaged || !t || !this.parsed || !this.ready) return;
    if (t.done) return clearInterval(this.hubTimer);
    const wires: any[] = t.wires ?? [];
    const peersWithData = wires.filter(
      (w) => w.type !== 'webSeed' && w.peerPieces?.buffer?.some?.((b: number) => b),
    ).length;
    // No way to find a peer at all (no peer given, no tracker, no DHT): no point waiting out the grace period.
    const noPeerSource = !this.peers.length && !this.trackers().length && !this.host.client.dht;
    const elapsedMs = noPeerSource ? Infinity : Date.now() - began;
    if (!this.hub.shouldEngage({ elapsedMs, peersWithData, downloadRate: t.downloadSpeed })) return;
    this.hubEngaged = true;
    clearInterval(this.hubTimer);
    this.host.log.info(`${this.name}: fetching from the Hub too (${peersWithData} peers with data)`);
    t.addWebSeed(this.hub.url);
  }

  /**
   * Keeps at most MAX_PEERS_PER_TRANSFER connections: the newcomer replaces an idle one (no payload either way, no
   * request queued), or leaves when every one is in use. Idle ones go in this order, the longest connected first
   * within each: those that have said nothing since the handshake, then those interested in neither direction, then
   * those interested (an honest peer waiting for an upload slot, or for the blocks it asked of others). Oldest first
   * alone let a stream of idle connections (the hostile soak: 200, topped up every second) push out an honest
   * downloader still fetching the metadata or waiting to be unchoked: each newcomer dropped the oldest idle
   * connection, and within a second that was the honest one.
   */
  private makeRoomFor(wire: GuardWire): boolean {
    const wires: any[] = this.torrent?.wires ?? [];
    if (wires.length <= MAX_PEERS_PER_TRANSFER) return true;
    let victim: any;
    let victimRank = Infinity;
    for (const w of wires) {
      if (w === wire || w.destroyed) continue;
      if (w.uploaded > 0 || w.downloaded > 0 || w.requests?.length || w.peerRequests?.length) continue;
      const rank = idleRank(w);
      if (rank < victimRank || (rank === victimRank && w.__silmarilSince < victim.__silmarilSince)) {
        victim = w;
        victimRank = rank;
      }
    }
    if (victim) {
      this.host.log.debug(`${this.name}: ${wireAddr(victim)} idle, dropped for ${wireAddr(wire)}`);
      victim.destroy();
      return true;
    }
    this.host.log.debug(`${this.name}: ${MAX_PEERS_PER_TRANSFER} peers busy, refused ${wireAddr(wire)}`);
    wire.destroy();
    return false;
  }

  private readonly lastDialError = new Map<string, string>();

  /** Learns how a dial to an explicit peer ended, for the retry's back-off and the user's "why". */
  private watchDial(addr: string, peer: any): void {
    const destroy = peer.destroy?.bind(peer);
    if (!destroy || peer.__silmarilDial) return;
    peer.__silmarilDial = true;
    peer.destroy = (err?: Error) => {
      if (!peer.destroyed && this.torrent && !this.torrent.destroyed) {
        const shook = !!peer.wire?.peerId;
        const fault: string | undefined = peer.wire?.__silmarilFault;
        const reason = fault
          ? `dropped (${fault})`
          : err
            ? err.message
            : shook
              ? 'disconnected'
              : 'closed the connection during the BitTorrent handshake (wrong torrent, or it refused us)';
        this.retry?.failed(addr, reason);
      }
      return destroy(err);
    };
  }

  /** A peer broke a rule and was dropped by the wire fence: log, count, and never take it back for bad metadata. */
  private onPeerFault(wire: GuardWire, kind: FaultKind, message: string): void {
    this.peerFaults++;
    this.host.log.warn(`${this.name}: dropped peer ${wireAddr(wire)}: ${message}`);
    if (kind === 'metadata') this.guard.ban(wire, message);
  }

  private pads?: PadRanges;
  private scheduler?: Scheduler;
  private fromPeersBase = 0;
  private fromSeedsBase = 0;
  /** Pieces in index order instead of rarest first. */
  sequential = false;
  /** Patterns of the files fetched before all others (file-order.ts). */
  firstFiles: string[] = [];
  /** BEP 16 super-seeding while complete. */
  superSeed = false;

  /** Pad files as [start, end) ranges of the piece stream (empty until the metadata is known). */
  private padRanges(): PadRanges {
    if (!this.parsed) return [];
    this.pads ??= this.parsed.files.filter((f) => f.pad && f.length > 0).map((f) => [f.offset, f.offset + f.length]);
    return this.pads;
  }

  /**
   * BEP 19 web seeds hold the real files only: WebTorrent would ask the server for the pad files (`.pad/N`, 404).
   * Split each HTTP range around pad files and fill those bytes with zeros.
   */
  private padAwareWebSeed(conn: any): void {
    const fetchRange = conn.httpRequest?.bind(conn);
    if (!fetchRange || conn.__silmarilPads) return;
    conn.__silmarilPads = true;
    conn.httpRequest = (
      piece: number,
      offset: number,
      length: number,
      cb: (e: Error | null, b?: Uint8Array) => void,
    ) => {
      const pieceStart = piece * (this.parsed?.pieceLength ?? 0);
      const start = pieceStart + offset;
      const end = start + length;
      const pads = this.padRanges().filter(([a, b]) => a < end && b > start);
      if (!pads.length) return fetchRange(piece, offset, length, cb);
      const out = new Uint8Array(length); // zeros where the pads are
      const jobs: Promise<void>[] = [];
      let at = start;
      for (const [a, b] of [...pads, [end, end] as [number, number]]) {
        if (a > at) {
          const from = at;
          const len = Math.min(a, end) - from;
          jobs.push(
            new Promise((resolve, reject) =>
              fetchRange(piece, from - pieceStart, len, (err: Error | null, data?: Uint8Array) => {
                if (err) return reject(err);
                out.set(data!, from - start);
                resolve();
              }),
            ),
          );
        }
        at = Math.max(at, b);
      }
      Promise.all(jobs).then(
        () => cb(null, out),
        (err: Error) => cb(err),
      );
    };
  }

  /** Called by WebTorrent (through StoreFactory) once the metadata is known. */
  private storeForTorrent(torrent: any): PieceStore {
    if (!this.parsed) {
      try {
        this.adoptMetadata(torrent);
      } catch (err) {
        queueMicrotask(() => torrent.destroy());
        this.fail(err as Error);
        return new PieceStore({ pieceLength: torrent.pieceLength, length: 0, segments: [] }, { writable: false });
      }
    }
    const store = this.makeStore(this.parsed!, this.contentRoot!);
    this.store = store;
    stores.set(torrent, store);
    return store;
  }

  /** A magnet's metadata arrived over BEP 9: check it against every hash the magnet gave, then adopt it. */
  private adoptMetadata(torrent: any): void {
    let info: Uint8Array | undefined;
    for (const w of torrent.wires ?? []) {
      // A wire still fetching metadata from another peer holds a half-filled buffer there: take only a complete one.
      if (!metadataComplete(w.ut_metadata) || !w.ut_metadata.metadata) continue;
      // The fence checks metadata against the infohash before it is complete; a peer whose metadata still does not
      // match costs itself (dropped and banned), never the download.
      if (metadataMatches(w.ut_metadata.metadata, this.id, this.magnet?.v2)) info ??= w.ut_metadata.metadata;
      else faultPeer(w, 'metadata', 'sent metadata that does not match the infohash');
    }
    info ??= torrent.infoBuffer;
    if (!info) throw new TorrentError('metadata arrived without its info dictionary');
    const v2 = checkMetadataHashes(info, this.id, this.magnet?.v2);
    if (v2) this.magnet = { trackers: [], webSeeds: [], ...this.magnet, v2 }; // a bare truncated v2 hash: v2-keyed
    const bytes = Buffer.concat([Buffer.from('d4:info'), info, Buffer.from('e')]);
    const parsed = parseTorrent(bytes, { infoOnly: true });
    if (this.magnet?.v2 && parsed.infoHashV2 !== this.magnet.v2) {
      throw new TorrentError(`metadata does not match the magnet's btmh ${this.magnet.v2}`);
    }
    this.parsed = parsed;
    this.infoHashV2 = parsed.infoHashV2;
    metadataAdopted(torrent, parsed, this.hashTrees());
    this.contentRoot = contentRootIn(this.outDir!, parsed);
    void this.host.state.saveTorrent(this.id, bytes);
    this.dirty = true;
    this.preflightNow(torrent);
  }

  private preflightNow(torrent: any): void {
    if (!this.outDir || !this.parsed || !this.contentRoot) return;
    preflight(this.outDir, this.contentRoot, this.parsed).catch((err: Error) => {
      torrent.destroy();
      this.fail(err);
    });
  }

  /** Pieces that passed their SHA-1 and v2 piece-layer node as they came in (request.ts), in this process. */
  private readonly v2Passed = new Set<number>();
  private v2PieceCheck(): V2PieceCheck | undefined {
    const trees = this.hashTrees();
    return (
      trees && {
        shape: (i) => trees.pieceShape(i),
        expected: (i) => trees.expectedNode(i),
        passed: this.v2Passed,
      }
    );
  }

  private onPieceVerified(_index: number): void {
    this.dirty = true;
  }

  private async onComplete(): Promise<void> {
    if (this.completed && this.doneInfo) return;
    if (this.kind === 'seed') {
      this.status = 'seeding';
      this.doneInfo = { path: this.contentRoot!, verified: true };
      return;
    }
    this.status = 'verifying';
    this.emit('complete');
    await this.save();
    let verified = false;
    let finalCheckBytes = 0;
    try {
      await this.createEmptyFiles();
      const result = await verifyDownload(this.parsed!, this.contentRoot!, {
        trustedPieces: this.trustedPieces,
        v2Passed: this.v2Passed,
      });
      verified = result.ok;
      finalCheckBytes = result.bytesHashed;
      this.host.log.info(`${this.name}: final check: ${result.why}`);
      if (!verified)
        this.host.log.error(`${this.name}: verification failed: ${result.problems.slice(0, 3).join('; ')}`);
    } catch (err) {
      this.host.log.error(`${this.name}: verification failed: ${(err as Error).message}`);
    }
    this.completed = verified;
    this.status = 'seeding';
    await this.save();
    this.doneInfo = { path: this.contentRoot!, verified, finalCheckBytes };
    this.emit('done', this.doneInfo);
  }

  /** Empty files hold no piece, so the store never writes them: create them once the rest is complete. */
  private async createEmptyFiles(): Promise<void> {
    for (const { file, path } of realFiles(this.contentRoot!, this.parsed!)) {
      if (file.length !== 0) continue;
      await fsp.mkdir(dirname(path), { recursive: true });
      await (await fsp.open(path, 'a')).close();
    }
  }

  private fail(err: Error): void {
    if (this.status === 'error') return;
    this.status = 'error';
    this.error = err;
    this.host.log.error(`${this.name}: ${err.message}`);
    this.emit('error', err);
  }

  stats(): TransferStats {
    const t = this.torrent;
    const parsed = this.parsed;
    let verifiedBytes = 0;
    let totalBytes = 0;
    if (parsed) {
      const last = parsed.files.reduce((m, f) => Math.max(m, f.offset + f.length), 0);
      totalBytes = last;
      const has: ((i: number) => boolean) | undefined = t?.bitfield
        ? (i) => t.bitfield.get(i)
        : this.knownBits
          ? (i) => bitGet(this.knownBits!, i)
          : undefined;
      if (has) {
        for (let i = 0; i < parsed.pieceCount; i++) {
          if (has(i)) verifiedBytes += Math.min(parsed.pieceLength, last - i * parsed.pieceLength);
        }
      } else if (this.completed) verifiedBytes = totalBytes;
    }
    const downloadRate = t ? this.downMeter.rate() : 0;
    const wires: any[] = t?.wires ?? [];
    const left = totalBytes - verifiedBytes;
    return {
      id: this.id,
      name: this.name,
      kind: this.kind,
      status: this.status,
      progress: totalBytes ? verifiedBytes / totalBytes : 0,
      verifiedBytes,
      totalBytes,
      downloaded: this.downloadedBase + (t?.received ?? 0),
      uploaded: this.uploadedBase + (t?.uploaded ?? 0),
      downloadRate,
      uploadRate: t ? this.upMeter.rate() : 0,
      peers: wires.length,
      seeds: wires.filter((w) => w.isSeeder).length,
      eta: !totalBytes ? null : left === 0 ? 0 : downloadRate > 0 ? Math.round(left / downloadRate) : null,
      hashFailures: this.guard.hashFailures,
      banned: this.guard.banned,
      fromPeers: this.fromPeersBase + (this.scheduler?.fromPeers ?? 0),
      fromSeeds: this.fromSeedsBase + (this.scheduler?.fromSeeds ?? 0),
      ...(this.hub
        ? {
            webBytes: this.hub.bytes,
            peerBytes: Math.max(
              0,
              this.downloadedBase + (t?.received ?? 0) - this.hubWires.reduce((n, w) => n + (w.downloaded ?? 0), 0),
            ),
            webRejected: this.hub.rejectedPieces,
          }
        : {}),
      peerFaults: this.peerFaults,
      ...(wires.length ? {} : { waiting: this.retry?.problem() }),
      peerMemory: peerMemory(wires),
    };
  }

  record(): TransferRecord {
    return {
      version: 1,
      kind: this.kind,
      infoHashV1: this.id,
      infoHashV2: this.infoHashV2,
      name: this.name,
      contentRoot: this.contentRoot ?? '',
      outDir: this.outDir,
      paused: this.status === 'paused',
      complete: this.completed,
      savedAt: Date.now(),
      downloadLimit: this.downLimit.bytesPerSecond,
      uploadLimit: this.upLimit.bytesPerSecond,
      peers: this.peers,
      superSeed: this.superSeed || undefined,
      ...(this.sequential ? { sequential: true } : {}),
      ...(this.firstFiles.length ? { firstFiles: this.firstFiles } : {}),
      hub: this.hub ? { repo: this.hub.repo, commit: this.hub.commit } : undefined,
      hfCache: this.hfCache,
      ...(this.system ? { system: true } : {}),
    };
  }

  /** Writes the resume record: the bitfield first, then file marks taken after it (see resume.ts). */
  save(): Promise<void> {
    this.saving = this.saving.then(async () => {
      this.dirty = false;
      const rec = this.record();
      const bits = this.torrent?.bitfield ? this.snapshotBits() : this.knownBits;
      if (bits && this.parsed) {
        rec.bitfield = Buffer.from(bits).toString('base64');
        rec.files = await markFiles(this.contentRoot!, this.parsed);
      } else {
        const old = await this.host.state.load(this.id);
        if (old?.bitfield) {
          rec.bitfield = old.bitfield;
          rec.files = old.files;
        }
      }
      await this.host.state.save(rec);
    });
    return this.saving.catch((err: Error) =>
      this.host.log.warn(`could not save state of ${this.name}: ${err.message}`),
    );
  }

  /** Resolves once the transfer serves peers; rejects if it fails first. */
  whenReady(): Promise<void> {
    if (this.ready) return Promise.resolve();
    if (this.status === 'error') return Promise.reject(this.error);
    return new Promise((resolve, reject) => {
      const ok = () => {
        this.off('error', ko);
        resolve();
      };
      const ko = (err: Error) => {
        this.off('ready', ok);
        reject(err);
      };
      this.once('ready', ok);
      this.once('error', ko);
    });
  }

  /** Resolves with the outcome once a download is complete and checked; rejects if it fails first. */
  whenDone(): Promise<DoneInfo> {
    if (this.doneInfo) return Promise.resolve(this.doneInfo);
    if (this.status === 'error') return Promise.reject(this.error);
    return new Promise((resolve, reject) => {
      const ok = (info: DoneInfo) => {
        this.off('error', ko);
        resolve(info);
      };
      const ko = (err: Error) => {
        this.off('done', ok);
        reject(err);
      };
      this.once('done', ok);
      this.once('error', ko);
    });
  }

  /** Stops transferring but keeps everything; resume() continues from the verified pieces. */
  async pause(): Promise<void> {
    if (this.status === 'paused') return;
    this.status = 'paused';
    await this.stopTorrent();
  }

  async resume(): Promise<void> {
    if (this.status !== 'paused' && this.torrent) return;
    await this.start();
    await this.save();
  }

  /** Stops and forgets the transfer; partial files are removed only when asked (never a seed's data). */
  async cancel(opts: { removeFiles?: boolean } = {}): Promise<void> {
    await this.stopTorrent();
    await this.host.state.remove(this.id);
    if (opts.removeFiles && this.kind === 'download' && this.parsed && this.contentRoot && this.outDir) {
      // Never through a link planted in the destination: that would delete the user's files elsewhere.
      for (const { path } of realFiles(this.contentRoot, this.parsed))
        if (!(await leavesRoot(this.outDir, path))) await fsp.rm(path, { force: true });
      const inside = !(await leavesRoot(this.outDir, join(this.contentRoot, '_')));
      if (!this.parsed.singleFile && inside) await removeEmptyDirs(this.contentRoot, this.outDir);
    }
  }

  /** Final stop at engine shutdown: save, then release the torrent. */
  async close(): Promise<void> {
    await this.stopTorrent();
  }

  private async stopTorrent(): Promise<void> {
    clearInterval(this.statsTimer);
    clearInterval(this.hubTimer);
    this.hubEngaged = false;
    this.retry?.stop();
    this.holepunch?.close();
    clearInterval(this.saveTimer);
    const t = this.torrent;
    if (!t) return;
    // Detach first: pieces that land from now on are not counted, then remember and save what was verified.
    if (t.bitfield && this.parsed) this.knownBits = this.snapshotBits();
    this.downloadedBase += t.received ?? 0;
    this.uploadedBase += t.uploaded ?? 0;
    this.fromPeersBase += this.scheduler?.fromPeers ?? 0;
    this.fromSeedsBase += this.scheduler?.fromSeeds ?? 0;
    this.scheduler = undefined;
    this.torrent = null;
    this.ready = false;
    await new Promise<void>((resolve) => {
      if (t.destroyed) return resolve();
      t.destroy({ destroyStore: false }, () => resolve());
    });
    releaseIdleWindows();
    await this.save();
  }

  /** The running torrent's verified pieces as a BEP 3 bitfield. */
  private snapshotBits(): Uint8Array {
    const n = this.parsed!.pieceCount;
    const bits = new Uint8Array(Math.ceil(n / 8));
    for (let i = 0; i < n; i++) if (this.torrent.bitfield.get(i)) bits[i >> 3] |= 0x80 >> (i & 7);
    return bits;
  }

  setLimits(limits: { downloadLimit?: number; uploadLimit?: number }): void {
    if (limits.downloadLimit !== undefined) this.downLimit.setRate(limits.downloadLimit);
    if (limits.uploadLimit !== undefined) this.upLimit.setRate(limits.uploadLimit);
  }

  /** True when piece `i` is verified (for tests and the UI). */
  hasPiece(i: number): boolean {
    const bf = this.torrent?.bitfield;
    return bf ? bf.get(i) : this.completed;
  }
}

/**
 * Fewer, larger socket writes. WebTorrent writes every protocol message (a 17-byte request, a 16 KiB block) as its
 * own write(), one syscall each, and with Nagle on small requests can wait for delayed ACKs. Writes made within
 * one turn of the event loop are corked into one writev, and TCP_NODELAY is set as libtorrent does.
 */
const SOCKET_HIGH_WATER_MARK = 4 * 1024 * 1024;
/** What the connected peers cost now (the wire fence's byte counts). */
function peerMemory(wires: any[]): TransferStats['peerMemory'] {
  const m = { bufferedBytes: 0, queuedUploadBytes: 0, peerRequests: 0, droppedRequests: 0 };
  for (const w of wires) {
    m.bufferedBytes += bufferedBytes(w);
    m.queuedUploadBytes += queuedUploadBytes(w);
    m.peerRequests += w.peerRequests?.length ?? 0;
    m.droppedRequests += droppedRequests(w);
  }
  return m;
}

export function tuneSocket(conn: any): void {
  if (conn.__silmarilTuned || typeof conn.cork !== 'function') return;
  conn.__silmarilTuned = true;
  conn.setNoDelay?.(true);
  // With the default 16 KiB mark every 16 KiB block "fills" the socket and the pipe waits for 'drain'.
  setWriteHighWaterMark(conn, SOCKET_HIGH_WATER_MARK);
  const write = conn.write;
  let corked = false;
  conn.write = function (this: any, ...args: unknown[]) {
    if (!corked && !this.destroyed) {
      corked = true;
      this.cork();
      setImmediate(() => {
        corked = false;
        if (!this.destroyed) this.uncork();
      });
    }
    return write.apply(this, args);
  };
}

/** Removes the empty folders a cancelled download leaves, from the deepest up to (and including) its root. */
async function removeEmptyDirs(root: string, outDir: string): Promise<void> {
  const rel = relative(outDir, root);
  if (!rel || rel.startsWith('..')) return;
  async function prune(dir: string): Promise<boolean> {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await fsp.readdir(dir, { withFileTypes: true });
    } catch {
      return false;
    }
    let empty = true;
    for (const e of entries) {
      if (e.isDirectory() && (await prune(`${dir}/${e.name}`))) continue;
      empty = false;
    }
    if (empty) await fsp.rmdir(dir).catch(() => {});
    return empty;
  }
  await prune(root);
}

/** How readily an idle connection makes room for a newcomer (makeRoomFor): 0 first. */
function idleRank(w: any): number {
  if (w.peerInterested || w.amInterested) return 2;
  const ext = w.peerExtendedHandshake;
  const spoke = (ext && Object.keys(ext).length > 0) || w.peerPieces?.buffer?.some?.((b: number) => b);
  return spoke ? 1 : 0;
}
