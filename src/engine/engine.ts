// The P2P engine: one WebTorrent client (TCP only: uTP and WebRTC are off, see build/aliases.mjs) with the
// transfers it runs. Peer sources: trackers, mainline DHT, LSD (BEP 14), PEX, explicit peers, web seeds.
import { EventEmitter } from 'node:events';
import { promises as fsp } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import WebTorrent from 'webtorrent';
import { silentLogger, type Logger } from '../log.js';
import { parseMagnet } from '../torrent/magnet.js';
import { parseTorrent } from '../torrent/parse.js';
import { TorrentError, type ParsedTorrent } from '../torrent/types.js';
import { forgetEmptyTables, patchWire, wireFaults } from './internals.js';
import { contentRootIn } from './layout.js';
import { RateLimiter } from './rate.js';
import { markFiles } from './resume.js';
import { StateDir, type HfCacheTarget } from './state.js';
import type { FileOrder } from './file-order.js';
import { Transfer, type TransferHost } from './transfer.js';
import { HubSeed, type HubSeedOptions } from './hub-seed.js';
import { isHfRepoId } from '../shared/hf-repo.js';
import { serveCacheStats } from './serve-cache.js';
import { configureTransports, installUtp } from './utp/webtorrent-utp.js';
import type { PeerTransport } from './utp/transport.js';
import { installMseDh } from './mse-dh.js';
import { installV2Routing, truncatedV2 } from './v2-handshake.js';

export interface EngineOptions {
  /** State directory (resume records, .torrent copies): never a user's folder. */
  home: string;
  /** TCP port for peers; 0 picks one. */
  port?: number;
  /** Mainline DHT on (default) or off. */
  dht?: boolean;
  dhtPort?: number;
  /** DHT bootstrap nodes `host:port`; undefined = the public ones, [] = none (private test DHTs). */
  dhtBootstrap?: string[];
  /** Local service discovery (BEP 14); default on. */
  lsd?: boolean;
  /** Peer exchange (BEP 11); default on. */
  pex?: boolean;
  /** uTP (BEP 29) for peer connections, incoming and outgoing; default on. */
  utp?: boolean;
  /** TCP for peer connections; default on. With both on, outgoing connections race uTP and TCP (utp/dial.ts). */
  tcp?: boolean;
  /** Announce URLs added to every torrent. */
  trackers?: string[];
  /** Process-wide limits in bytes/s; undefined or < 0 = none. */
  downloadLimit?: number;
  uploadLimit?: number;
  /** Maximum peer connections per torrent. */
  maxConns?: number;
  logger?: Logger;
  statsIntervalMs?: number;
  saveIntervalMs?: number;
}

export interface SeedOptions {
  /** Known but not running (restored paused transfers). */
  paused?: boolean;
  /** A .torrent made earlier for this content; `path` is then the folder (or file) it describes. */
  torrent: Uint8Array;
  /** The torrent was just made from these very files: skip hashing them again. */
  trusted?: boolean;
  trackers?: string[];
  uploadLimit?: number;
  /** BEP 16 super-seeding (an initial seed spreads different pieces to different peers). */
  superSeed?: boolean;
  /** The node's own business (a catalog file), not a model: Transfer.system. */
  system?: boolean;
}

export interface DownloadOptions {
  /** Known but not running (restored paused transfers). */
  paused?: boolean;
  outDir: string;
  peers?: string[];
  trackers?: string[];
  downloadLimit?: number;
  uploadLimit?: number;
  /** Use the Hugging Face Hub as a web seed for this snapshot (hub-seed.ts) when peers are too few or slow. */
  hub?: HubSeedOptions;
  /** A download into the Hugging Face cache (models/hf/download.ts installs it once verified). */
  hfCache?: HfCacheTarget;
  /** The node's own business (a catalog file), not a model: Transfer.system. */
  system?: boolean;
  /** Files first, or everything in index order (file-order.ts); kept in the resume record. */
  order?: FileOrder;
}

export class Engine extends EventEmitter {
  readonly options: EngineOptions;
  readonly state: StateDir;
  readonly transfers = new Map<string, Transfer>();
  /** Process-wide upload limit (all transfers), applied as blocks are served. */
  readonly upLimit: RateLimiter;
  private client: any = null;
  /** The uTP endpoint (shares the TCP port number), when uTP is on. */
  utp: PeerTransport | undefined;
  private readonly log: Logger;

  constructor(options: EngineOptions) {
    super();
    this.options = options;
    this.state = new StateDir(options.home, (m) => this.log.warn(m));
    this.upLimit = new RateLimiter(options.uploadLimit ?? -1);
    this.log = options.logger ?? silentLogger;
  }

  /** Starts the client and resolves once it listens for peers. */
  async start(): Promise<void> {
    if (this.client) return;
    patchWire();
    installUtp();
    const o = this.options;
    if (o.utp === false && o.tcp === false) throw new Error('uTP and TCP are both off: peers could not connect');
    const bootstrap = o.dhtBootstrap === undefined ? undefined : o.dhtBootstrap.length ? o.dhtBootstrap : false;
    const client = new WebTorrent({
      torrentPort: o.port ?? 0,
      dhtPort: o.dhtPort ?? 0,
      dht: o.dht === false ? false : bootstrap === undefined ? {} : { bootstrap },
      lsd: o.lsd !== false,
      utPex: o.pex !== false,
      natUpnp: false,
      natPmp: false,
      utp: o.utp !== false,
      webSeeds: true,
      // Protocol encryption handshake accepted (libtorrent tries it first and only falls back to plaintext after a
      // reconnect, ~1.5 s lost per peer), plaintext chosen for the payload: JS RC4 would cost CPU for nothing. Our
      // own dials open in plaintext, and with MSE only to a peer that refused that (scheduler.ts, plain-first.ts).
      secure: 1,
      maxConns: o.maxConns ?? 55,
      downloadLimit: o.downloadLimit ?? -1,
      // The process-wide upload limit paces requests as they are served (this.upLimit, see Transfer.makeStore), not
      // WebTorrent's socket throttle: that one queues blocks already answered, so a rate-limited seed holds seconds of
      // them per peer, pieces stay in flight that long and other downloaders fetch the same ones from it meanwhile.
      uploadLimit: -1,
    });
    this.client = client;
    installV2Routing(client);
    installMseDh(); // protocol encryption's key exchange without Node's 40 ms prime check per connection
    client.on('error', (err: Error) => {
      this.log.error(`engine: ${err.message}`);
      // An 'error' event nobody listens to throws: logged is enough, the node and its other transfers go on.
      if (this.listenerCount('error') > 0) this.emit('error', err);
    });
    await new Promise<void>((res, rej) => {
      if (client.listening) return res();
      client.once('listening', () => res());
      client.once('error', rej);
    });
    this.utp = configureTransports(client, { utp: o.utp !== false, tcp: o.tcp !== false });
    if (client.dht) {
      client.dht.on('error', (err: Error) => this.log.warn(`dht: ${err.message}`));
      // Announces made before the DHT found a node would otherwise go to nobody for 5 minutes (internals.ts).
      forgetEmptyTables(client.dht);
    }
  }

  private host(): TransferHost {
    if (!this.client) throw new Error('engine not started');
    return {
      client: this.client,
      state: this.state,
      log: this.log,
      trackers: this.options.trackers ?? [],
      statsIntervalMs: this.options.statsIntervalMs ?? 1000,
      saveIntervalMs: this.options.saveIntervalMs ?? 500,
      upLimit: this.upLimit,
    };
  }

  /** Node-wide costs of peers: faults caught at the wire fence (counted, never fatal) and the serving cache. */
  health(): { peerFaults: number; lastPeerFault: string; serveCacheBytes: number; serveReads: number } {
    const c = serveCacheStats();
    return {
      peerFaults: wireFaults.count,
      lastPeerFault: wireFaults.last,
      serveCacheBytes: c.cachedBytes,
      serveReads: c.reads + c.waiting,
    };
  }

  /** The port peers connect to. */
  get port(): number {
    return this.client?.address()?.port ?? 0;
  }

  get dhtPort(): number | undefined {
    return this.client?.dht?.address?.()?.port;
  }

  /** The engine's mainline DHT node (bittorrent-dht), when the DHT is on: the catalog keeps its BEP 44 pointers on
   *  the same node, so a process runs one DHT node, not two. */
  get dht(): any {
    return this.client?.dht || undefined;
  }

  /** Adds a DHT node (private test DHTs). */
  addDhtNode(host: string, port: number): void {
    this.client?.dht?.addNode({ host, port });
  }

  setLimits(limits: { downloadLimit?: number; uploadLimit?: number }): void {
    if (limits.downloadLimit !== undefined) this.client.throttleDownload(limits.downloadLimit);
    if (limits.uploadLimit !== undefined) this.upLimit.setRate(limits.uploadLimit);
  }

  /** Serves `path` (the folder or file the torrent describes) in place, read-only. */
  async seed(path: string, opts: SeedOptions): Promise<Transfer> {
    const parsed = parseTorrent(opts.torrent);
    const id = requireV1(parsed);
    const existing = this.transfers.get(id);
    if (existing) return existing;
    const contentRoot = resolve(path);
    await this.state.saveTorrent(id, parsed.torrentBytes);
    if (opts.trusted) {
      const bits = new Uint8Array(Math.ceil(parsed.pieceCount / 8));
      for (let i = 0; i < parsed.pieceCount; i++) bits[i >> 3] |= 0x80 >> (i & 7);
      await this.state.save({
        version: 1,
        kind: 'seed',
        infoHashV1: id,
        infoHashV2: parsed.infoHashV2,
        name: parsed.name,
        contentRoot,
        paused: false,
        complete: true,
        bitfield: Buffer.from(bits).toString('base64'),
        files: await markFiles(contentRoot, parsed),
        savedAt: Date.now(),
      });
    }
    const t = new Transfer(this.host(), {
      kind: 'seed',
      id,
      parsed,
      contentRoot,
      trackers: opts.trackers,
      uploadLimit: opts.uploadLimit,
      completed: true,
      superSeed: opts.superSeed,
      system: opts.system,
    });
    return this.launch(t, opts.paused);
  }

  /**
   * Downloads a magnet link (btih, with btmh checked when given), a .torrent (bytes or path) or a bare infohash
   * into `outDir`. A transfer known from the state directory resumes from its verified pieces.
   */
  async download(source: string | Uint8Array, opts: DownloadOptions): Promise<Transfer> {
    let outDir = resolve(opts.outDir);
    let parsed: ParsedTorrent | undefined;
    let magnet: { v2?: string; trackers: string[]; webSeeds: string[]; name?: string } | undefined;
    let id: string;
    let peers = opts.peers ?? [];
    if (typeof source !== 'string') {
      parsed = parseTorrent(source);
      id = requireV1(parsed);
    } else if (/^[0-9a-fA-F]{40}$/.test(source)) {
      id = source.toLowerCase();
      magnet = { trackers: [], webSeeds: [] };
    } else if (source.startsWith('magnet:')) {
      const m = parseMagnet(source);
      // A btmh-only magnet is keyed by its truncated v2 hash (40 hex, like a v1 id: the state layout holds it as
      // is) for the transfer's whole life; the v1 hash its metadata shows is an alias (docs/protocols-bep52.md).
      id = m.infoHashV1 ?? truncatedV2(m.infoHashV2!);
      magnet = { v2: m.infoHashV2, trackers: m.trackers, webSeeds: m.webSeeds, name: m.name };
      peers = [...peers, ...m.peers];
    } else {
      parsed = parseTorrent(await fsp.readFile(source));
      id = requireV1(parsed);
    }
    const existing = this.transfers.get(id);
    if (existing) return existing;
    // Known from an earlier run (e.g. after a crash): its .torrent is in the state directory.
    if (!parsed) {
      const saved = await this.state.loadTorrent(id);
      if (saved) parsed = parseTorrent(saved, { infoOnly: true });
    }
    if (parsed && magnet?.v2 && parsed.infoHashV2 !== magnet.v2) {
      throw new TorrentError(`the known torrent ${id} does not match the magnet's btmh ${magnet.v2}`);
    }
    if (parsed) await this.state.saveTorrent(id, parsed.torrentBytes);
    await fsp.mkdir(outDir, { recursive: true });
    // The destination as it really is: every file is then checked against it, links included (file-pool.ts).
    outDir = await fsp.realpath(outDir);
    const t = new Transfer(this.host(), {
      kind: 'download',
      id,
      parsed,
      contentRoot: parsed ? contentRootIn(outDir, parsed) : undefined,
      outDir,
      peers,
      trackers: opts.trackers,
      magnet,
      downloadLimit: opts.downloadLimit,
      uploadLimit: opts.uploadLimit,
      hub: opts.hub ? new HubSeed(opts.hub) : undefined,
      hfCache: opts.hfCache,
      system: opts.system,
      order: opts.order,
    });
    return this.launch(t, opts.paused);
  }

  private async launch(t: Transfer, paused = false): Promise<Transfer> {
    this.transfers.set(t.id, t);
    t.on('error', (err) => this.emit('transfer-error', t, err));
    try {
      await t.start({ paused });
    } catch (err) {
      this.transfers.delete(t.id);
      await t.close().catch(() => {});
      throw err;
    }
    await t.save();
    this.emit('transfer', t);
    return t;
  }

  /** Restarts every transfer recorded in the state directory (seeds and downloads, paused ones stay paused). */
  async restore(): Promise<Transfer[]> {
    const out: Transfer[] = [];
    for (const rec of await this.state.list()) {
      if (this.transfers.has(rec.infoHashV1)) continue;
      const bytes = await this.state.loadTorrent(rec.infoHashV1);
      try {
        let t: Transfer;
        if (rec.kind === 'seed' && bytes) {
          t = await this.seed(rec.contentRoot, {
            torrent: bytes,
            uploadLimit: rec.uploadLimit,
            paused: rec.paused,
            superSeed: rec.superSeed,
            system: rec.system,
          });
        } else if (rec.kind === 'download' && rec.outDir) {
          const byV2 = rec.infoHashV2 && truncatedV2(rec.infoHashV2) === rec.infoHashV1;
          t = await this.download(byV2 ? `magnet:?xt=urn:btmh:1220${rec.infoHashV2}` : rec.infoHashV1, {
            outDir: rec.outDir,
            peers: rec.peers,
            downloadLimit: rec.downloadLimit,
            uploadLimit: rec.uploadLimit,
            paused: rec.paused,
            hub: restoredHub(rec.hub),
            hfCache: restoredHfCache(rec.hfCache),
            system: rec.system,
            order: { sequential: rec.sequential, first: rec.firstFiles },
          });
        } else continue;
        out.push(t);
      } catch (err) {
        this.log.warn(`could not restore ${rec.name}: ${(err as Error).message}`);
      }
    }
    return out;
  }

  get(id: string): Transfer | undefined {
    return this.transfers.get(id.toLowerCase());
  }

  async remove(id: string, opts: { removeFiles?: boolean } = {}): Promise<void> {
    const t = this.transfers.get(id);
    if (!t) return;
    this.transfers.delete(id);
    await t.cancel(opts);
  }

  /** Saves every transfer's state and closes the client. */
  async stop(): Promise<void> {
    await Promise.all([...this.transfers.values()].map((t) => t.close().catch(() => {})));
    const client = this.client;
    this.client = null;
    if (client) await new Promise<void>((res) => client.destroy(() => res()));
  }
}

/** A saved Hub web seed, if it still looks like one (the state file is ours, but a restore never trusts shapes). */
function restoredHub(h: { repo: string; commit: string } | undefined): HubSeedOptions | undefined {
  if (!h || typeof h.repo !== 'string' || typeof h.commit !== 'string') return undefined;
  if (!/^[0-9a-f]{40}$/.test(h.commit) || !isHfRepoId(h.repo)) return undefined;
  return { repo: h.repo, commit: h.commit };
}

function restoredHfCache(h: HfCacheTarget | undefined): HfCacheTarget | undefined {
  if (!h || typeof h.cacheDir !== 'string' || !isAbsolute(h.cacheDir)) return undefined;
  if (!restoredHub(h)) return undefined;
  if (
    h.etags !== undefined &&
    !(Array.isArray(h.etags) && h.etags.every((e) => /^([0-9a-f]{40}|[0-9a-f]{64})$/.test(e)))
  ) {
    return undefined;
  }
  if (
    h.ref !== undefined &&
    (typeof h.ref !== 'string' || !/^[A-Za-z0-9._/-]{1,200}$/.test(h.ref) || h.ref.includes('..'))
  ) {
    return undefined;
  }
  return { cacheDir: h.cacheDir, repo: h.repo, commit: h.commit, etags: h.etags, ref: h.ref };
}

function requireV1(parsed: ParsedTorrent): string {
  if (!parsed.infoHashV1) {
    throw new TorrentError(
      'this is a v2-only torrent: Silmaril speaks the v1 wire protocol and needs a v1 or hybrid torrent',
    );
  }
  return parsed.infoHashV1;
}
