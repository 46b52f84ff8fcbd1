// The one place that builds and owns a node for a home: the engine (with the home's lock), the catalog service,
// the embedded tracker and the control API, in the home's one layout of state files (src/app/layout.ts). Each
// workflow (share, withdraw, seed, stop sharing, download, verify, discover, list, status) is written here once;
// the CLI and the editor call it, in this process or through the control API of the process that runs the node.
// See docs/architecture.md.
import { EventEmitter } from 'node:events';
import { copyFile, mkdir, readFile, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { STORE_FILE } from '../catalog/catalog.js';
import { EngineTransport } from '../catalog/engine-transport.js';
import { normaliseFields } from '../catalog/entry.js';
import type { KeyStore } from '../catalog/identity.js';
import { CatalogService } from '../catalog/service.js';
import { dhtScrape } from '../catalog/dht-scrape.js';
import { SwarmCounter, type PeerCount } from '../catalog/swarm-counts.js';
import type { EngineOptions } from '../engine/engine.js';
import { checkFirstFiles, DEFAULT_FIRST_FILES, type FileOrder } from '../engine/file-order.js';
import { contentRootIn, realFiles } from '../engine/layout.js';
import type { Transfer } from '../engine/transfer.js';
import { silentLogger, type Logger } from '../log.js';
import { describeModel, scanModels } from '../models/inventory.js';
import {
  downloadIntoHfCache,
  hfOriginIn,
  hubFor,
  prepareHfGet,
  resumeHfInstalls,
  torrentFromRegistry,
} from '../models/hf/download.js';
import { createHfTorrent, findHfSnapshot, publishWithHf } from '../models/hf/share.js';
import { SilmarilNode } from '../node.js';
import { createTorrent } from '../torrent/create.js';
import { parseTorrent } from '../torrent/parse.js';
import { verifyTorrent } from '../torrent/verify.js';
import { registerWithTrackers, registryBase, unregisterTorrent } from '../tracker/registry-client.js';
import { Tracker } from '../tracker/tracker.js';
import { refreshRegistry } from '../catalog/sources/tracker.js';
import type { StoredEntry } from '../catalog/store.js';
import type { NodeApi } from './api.js';
import { ControlServer } from './control-server.js';
import { SystemTransferError } from './errors.js';
import { homeLayout, prepareHome, type HomeLayout } from './layout.js';
import type {
  ChangeKind,
  CopyPresentResult,
  DiscoverQuery,
  DiscoverResult,
  DownloadRequest,
  DownloadResult,
  DuplicateOf,
  LocalModelView,
  NodeStatus,
  OwnShare,
  PublishState,
  SeedRequest,
  ShareRequest,
  ShareResult,
  StopOptions,
  StopSharingOptions,
  StopSharingResult,
  TrackerStatus,
  HfDownloadRequest,
  HfDownloadStarted,
  TransferListOptions,
  TransferStats,
  TransferView,
  VerifyOutcome,
  WithdrawResult,
  WorkOptions,
} from './types.js';
import { activeTransfers, isSystemTransfer, ownShare, transferView } from './views.js';

export interface AppNodeOptions {
  home: string;
  /** What runs the node (`daemon`, `editor`, `get`...): named in the lock and in `status`. */
  kind: string;
  log?: Logger;
  /** P2P engine settings. */
  engine?: Omit<EngineOptions, 'home' | 'logger'>;
  /** Restart the seeds and downloads recorded in the home (the daemon and the editor). */
  restore?: boolean;
  catalog?: {
    /** Join the catalog network (BEP 44 pointers, catalog files) over the engine's DHT; default: when the DHT is on. */
    network?: boolean;
    /** A separate UDP port for the catalog's DHT node instead of the engine's. */
    dhtPort?: number;
    /** Tracker registries read as catalog sources. */
    registries?: string[];
    /** Also read the Go Silmaril network (untrusted entries). */
    silmarilGo?: boolean;
    /** Follow the sources every refreshMs (+-25%) once started; default: no following. */
    refreshMs?: number;
    /** The publisher key's store (default: a file in the home; the editor: SecretStorage). */
    keyStore?: KeyStore;
    /** Open the catalog only when a workflow needs it (a name to look up), and join no catalog network: a one-off
     *  `get` of a magnet or .torrent neither creates nor loads the catalog database. */
    lazy?: boolean;
  };
  /** Run the embedded tracker (HTTP + UDP announce, scrape, registry API). */
  tracker?: { host?: string; port: number };
  /** Serve the control API (src/app/control-server.ts) and write `<home>/node.json`. */
  control?: boolean;
  /** A tracker registry's write key (the editor: SecretStorage); $SILMARIL_REGISTRY_KEY otherwise. */
  registryKey?: (trackerUrl: string) => Promise<string | undefined>;
}

const TORRENT_TRACKER = /^(https?|udp):\/\//;

/** Events: `change` (ChangeKind), `published` ({feedSeq, index, indexSeq, acks}: at least one DHT node stored it),
 *  `publish-pending` ({feedSeq, message}: no DHT node did yet; retried), `refreshed` ({entries}). */
export class AppNode extends EventEmitter implements NodeApi {
  readonly where = 'local' as const;
  readonly home: string;
  readonly layout: HomeLayout;
  readonly log: Logger;
  private node?: SilmarilNode;
  private service?: CatalogService;
  private opening?: Promise<CatalogService>;
  private tracker?: Tracker;
  private control?: ControlServer;
  /** Seeders and downloaders per catalog entry (swarm-counts.ts), counted for the entries faces ask about. */
  private counter?: SwarmCounter;
  private countedFire?: NodeJS.Timeout;
  private catalogOnline = false;
  private publishedVersion = -1;
  private tick?: NodeJS.Timeout;
  private watcher?: NodeJS.Timeout;
  private unsubscribe?: () => void;
  private startedAt = 0;
  private stopping?: Promise<void>;
  private stopRequested?: () => void;
  /** Resolves once the node is asked to stop (`silmaril stop`, POST /admin/shutdown): the daemon waits on it. */
  readonly stopRequest = new Promise<void>((r) => (this.stopRequested = r));
  started = false;

  constructor(readonly options: AppNodeOptions) {
    super();
    this.home = resolve(options.home);
    this.layout = homeLayout(this.home);
    this.log = options.log ?? silentLogger;
  }

  private fire(what: ChangeKind): void {
    this.emit('change', what);
  }

  onChange(listener: (what: ChangeKind) => void): { dispose(): void } {
    this.on('change', listener);
    return { dispose: () => this.off('change', listener) };
  }

  /** The catalog store is local (sql.js): it opens without the engine, so a sidebar or a search fills at once. */
  async openCatalog(): Promise<CatalogService> {
    if (this.service) return this.service;
    this.opening ??= (async () => {
      await prepareHome(this.home, this.log);
      const c = this.options.catalog ?? {};
      const service = await CatalogService.open({
        home: this.home,
        keyStore: c.keyStore,
        dhtBootstrap: this.options.engine?.dhtBootstrap,
        dhtPort: c.dhtPort,
        trackers: (c.registries ?? []).filter((t) => /^https?:\/\//.test(t)),
        silmarilGo: c.silmarilGo,
        refreshMs: c.refreshMs,
        log: this.log,
      });
      this.unsubscribe = service.catalog.onChange(() => this.fire('catalog'));
      this.counter = new SwarmCounter(service.catalog.store, {
        self: (v1, v2) => this.selfCount(v1, v2),
        dht: async (v1) => {
          const dht = this.node?.engine.dht;
          return dht ? dhtScrape(dht, v1) : undefined;
        },
        log: this.log,
        // New counts show in the views: one `catalog` change per couple of seconds at most, not one per entry.
        onCounted: () => {
          this.countedFire ??= setTimeout(() => {
            this.countedFire = undefined;
            this.fire('catalog');
          }, 2000);
          this.countedFire.unref?.();
        },
      });
      this.service = service;
      return service;
    })();
    return this.opening;
  }

  /** Starts the engine (taking the home's lock), restores transfers, the tracker, the catalog network, the API. */
  async start(): Promise<void> {
    if (this.started) return;
    const o = this.options;
    const service = o.catalog?.lazy ? undefined : await this.openCatalog();
    const node = new SilmarilNode({ home: this.home, kind: o.kind, logger: this.log, engine: o.engine });
    await node.start();
    this.node = node;
    this.started = true;
    this.startedAt = Date.now();
    try {
      const engine = node.engine;
      engine.on('transfer', () => this.fire('transfers'));
      engine.on('transfer-error', (t: Transfer, err: Error) => this.log.error(`${t.name}: ${err.message}`));
      // The API first: commands started meanwhile use this node instead of being refused while it restores.
      if (o.control) this.control = await ControlServer.start(this, { kind: o.kind, log: this.log });
      if (o.restore) {
        const restored = await engine.restore();
        if (restored.length) this.log.info(`resumed ${restored.length} transfer(s) from the last session`);
        resumeHfInstalls(engine, this.log); // downloads into the Hugging Face cache from an earlier run
      }
      if (o.tracker) await this.startTracker(o.tracker.host, o.tracker.port);
      const network = o.catalog?.network ?? o.engine?.dht !== false;
      if (service && network && (engine.dht || o.catalog?.dhtPort !== undefined)) {
        // The engine's DHT node carries the BEP 44 pointers too, unless a separate port was asked for.
        await service.start({
          transport: new EngineTransport(engine, this.home),
          dht: o.catalog?.dhtPort === undefined ? engine.dht : undefined,
        });
        if (service.dhtSource) service.dhtSource.onPublished = (r) => this.onPublished(r);
        this.catalogOnline = true;
      }
      // One tick a second drives every view and the API's event stream (stats come per transfer at that pace).
      this.tick = setInterval(() => this.fire('transfers'), 1000);
      this.tick.unref();
      this.fire('transfers');
      this.fire('local');
    } catch (err) {
      await this.stop().catch(() => {});
      throw err;
    }
  }

  /** Follows the catalog: a first refresh now (never on the start path), then every refreshMs; republishes this
   *  home's entries whenever they change (whichever process changed them). The daemon and the editor do this. */
  follow(): Promise<void> {
    const service = this.service;
    if (!service) throw new Error('the catalog is not open');
    void this.publishIfChanged();
    this.watcher = setInterval(async () => {
      try {
        if (await service.catalog.syncFromDisk()) await service.catalog.save();
        await this.publishIfChanged();
      } catch (err) {
        this.log.warn(`catalog: ${(err as Error).message}`);
      }
    }, 1000);
    this.watcher.unref();
    const first = service.refresh(true).then(
      () => {
        this.emit('refreshed', { entries: service.catalog.store.count() });
        this.fire('catalog');
        if (this.started) service.follow(() => this.emit('refreshed', { entries: service.catalog.store.count() }));
      },
      (err: Error) => this.log.warn(`catalog refresh: ${err.message}`),
    );
    return first;
  }

  private publishing = false;
  private async publishIfChanged(): Promise<void> {
    const service = this.service;
    if (!service || !this.catalogOnline || this.publishing) return;
    const version = service.catalog.ownVersion;
    if (version === this.publishedVersion) return;
    if (!service.catalog.ownEntries().length) {
      this.publishedVersion = version;
      return;
    }
    this.publishing = true;
    try {
      // Said (and `published` emitted) by onPublished, for this pass and the DHT source's retries alike.
      await service.publish();
      this.publishedVersion = version;
    } catch (err) {
      this.publishState = { state: 'failed', at: Date.now(), message: (err as Error).message };
      this.log.warn(`catalog publish: ${(err as Error).message}`);
    } finally {
      this.publishing = false;
    }
  }

  /** The last publish pass of this node's catalog on the DHT (status, `silmaril status`, the editor). */
  publishState?: PublishState;

  /** A publish pass ended: `published` only when at least one DHT node stored it; otherwise it is pending and the
   *  DHT source retries (with back-off, and as soon as the DHT finds a node). */
  private onPublished(r: { feedSeq: number; index: { infohash: string; seq: number }; acks: number }): void {
    if (r.acks > 0) {
      this.publishState = { state: 'published', at: Date.now(), acks: r.acks };
      this.emit('published', { feedSeq: r.feedSeq, index: r.index.infohash, indexSeq: r.index.seq, acks: r.acks });
      this.log.info(`catalog published on the DHT (feed seq ${r.feedSeq}, stored by ${r.acks} node(s))`);
    } else {
      const message = 'not published yet: no DHT nodes (will retry)';
      const again = this.publishState?.state === 'pending';
      this.publishState = { state: 'pending', at: Date.now(), acks: 0, message };
      this.emit('publish-pending', { feedSeq: r.feedSeq, message });
      // Once, not at every retry of the back-off.
      if (!again) this.log.warn(`catalog ${message}`);
    }
    this.fire('catalog');
  }

  async stop(): Promise<void> {
    this.stopping ??= (async () => {
      clearInterval(this.tick);
      clearInterval(this.watcher);
      clearTimeout(this.countedFire);
      this.countedFire = undefined;
      this.counter?.stop();
      this.counter = undefined;
      this.started = false;
      await this.control?.stop().catch((err: Error) => this.log.warn(`control API stop: ${err.message}`));
      this.control = undefined;
      await this.stopTracker().catch((err: Error) => this.log.warn(`tracker stop: ${err.message}`));
      const node = this.node;
      this.node = undefined;
      await node?.stop();
      this.unsubscribe?.();
      const service = this.service;
      this.service = undefined;
      this.opening = undefined;
      this.catalogOnline = false;
      await service?.stop().catch((err: Error) => this.log.warn(`catalog stop: ${err.message}`));
    })();
    return this.stopping;
  }

  /** Asks the owner of this node (the daemon's or editor's loop) to stop it. */
  async shutdown(): Promise<void> {
    this.stopRequested?.();
  }

  get port(): number | undefined {
    return this.node?.engine.port;
  }

  get dhtPort(): number | undefined {
    return this.node?.engine.dhtPort;
  }

  get catalogDhtPort(): number | undefined {
    return this.catalogOnline ? this.service?.dhtPort : undefined;
  }

  get controlPort(): number | undefined {
    return this.control?.port;
  }

  identity() {
    return this.service?.identity;
  }

  private engine() {
    if (!this.node) throw new Error('the engine is not running');
    return this.node.engine;
  }

  private engineTransfer(id: string): Transfer {
    const t = this.engine().get(id.toLowerCase());
    if (!t) throw new NotFoundError(`transfer ${id} not found`);
    return t;
  }

  // ---- transfers

  /** The transfers now (the editor's views read this synchronously); the node's system transfers (catalog files)
   *  only with `all`. */
  transfersNow(opts: TransferListOptions = {}): TransferView[] {
    if (!this.node) return [];
    const all = [...this.node.engine.transfers.values()].map((t) => transferView(t, this.home));
    return opts.all ? all : all.filter((t) => !t.system);
  }

  async transfers(opts: TransferListOptions = {}): Promise<TransferView[]> {
    return this.transfersNow(opts);
  }

  async transfer(id: string): Promise<TransferView> {
    return transferView(this.engineTransfer(id), this.home);
  }

  /** Refuses to stop one of the node's own transfers unless forced. */
  private guardSystem(t: Transfer, what: string, opts: StopOptions = {}): void {
    if (opts.force || !transferView(t, this.home).system) return;
    throw new SystemTransferError(
      `${t.name} (${t.id}) is one of this node's catalog files, not a model: ${what} it only with force ` +
        `(the catalog would stop being served)`,
    );
  }

  async transferStats(id: string): Promise<TransferStats> {
    return this.engineTransfer(id).stats();
  }

  /** Resolves when a download is complete and verified (or failed verification). */
  async whenDone(id: string): Promise<{ path: string; verified: boolean }> {
    return this.engineTransfer(id).whenDone();
  }

  /** The engine transfer's own events (stats, banned, complete): `get` in-process prints them. */
  transferEvents(id: string): Transfer {
    return this.engineTransfer(id);
  }

  async pause(id: string, opts: StopOptions = {}): Promise<void> {
    const t = this.engineTransfer(id);
    this.guardSystem(t, 'pause', opts);
    await t.pause();
    this.fire('transfers');
  }

  async resume(id: string): Promise<void> {
    await this.engineTransfer(id).resume();
    this.fire('transfers');
  }

  async cancel(id: string, deleteFiles = false, opts: StopOptions = {}): Promise<void> {
    this.guardSystem(this.engineTransfer(id), 'cancel', opts);
    await this.engine().remove(id.toLowerCase(), { removeFiles: deleteFiles });
    this.fire('transfers');
    this.fire('local');
  }

  async stopSharing(id: string, opts: StopSharingOptions = {}): Promise<StopSharingResult> {
    const t = this.engineTransfer(id);
    this.guardSystem(t, 'stop sharing', opts);
    await this.engine().remove(t.id, { removeFiles: false });
    const withdrawn: WithdrawResult[] = [];
    if (opts.withdraw) {
      // Every live entry of ours naming these bytes (by either hash): others stop seeing a model nobody seeds.
      const service = await this.openCatalog();
      for (const e of service.catalog.ownEntries()) {
        if (e.deleted) continue;
        if (e.v1 !== t.id && !(t.infoHashV2 && e.v2 === t.infoHashV2)) continue;
        withdrawn.push(await this.withdraw(e.name));
      }
    }
    this.fire('transfers');
    this.fire('local');
    return { id: t.id, withdrawn };
  }

  async torrentFile(id: string): Promise<Uint8Array> {
    const t = this.engineTransfer(id);
    if (t.parsed) return t.parsed.torrentBytes;
    const saved = await this.engine().state.loadTorrent(t.id);
    if (!saved) throw new Error(`${t.name}: metadata not received yet`);
    return saved;
  }

  // ---- workflows

  async share(req: ShareRequest, work: WorkOptions = {}): Promise<ShareResult> {
    const engine = this.engine();
    const service = await this.openCatalog();
    const catalog = service.catalog;
    if (!req.hf) {
      await stat(resolve(req.path)).catch(() => {
        throw new BadRequestError(`${req.path}: no such file or folder`);
      });
    }
    // A Hugging Face cache snapshot (`hf`, or a folder of the cache): read through its links, seeded in place, its
    // origin recorded in the entry.
    const snapshot = req.hf
      ? await findHfSnapshot({ spec: req.hf })
      : await findHfSnapshot({ folder: req.path }).catch(() => undefined);
    const path = snapshot ? snapshot.snapshotDir : resolve(req.path);
    const name = req.name || (snapshot?.repo.includes('/') ? snapshot.repo : undefined);
    if (!name) {
      throw new BadRequestError(
        snapshot
          ? `${snapshot.repo} has no org: give the catalog name (org/model)`
          : 'a share needs a name (org/model)',
      );
    }
    const model = await describeModel(path).catch(() => undefined);
    const license = req.license ?? model?.license;
    if (!license) throw new BadRequestError('a share needs a license (the model card names none)');
    const tags = (req.tags ?? model?.tags ?? []).map((t) => t.trim()).filter(Boolean);
    const description = req.description ?? model?.description ?? '';
    try {
      // The entry's fields are checked before hours of hashing, not after.
      normaliseFields({
        publisher: service.identity.publisher,
        name,
        seq: 1,
        v1: '0'.repeat(40),
        size: 1,
        files: 1,
        license,
        tags,
        description,
      });
    } catch (err) {
      throw new BadRequestError((err as Error).message);
    }
    const embedded = this.tracker?.address()?.announce;
    const trackers = [...new Set([...(req.trackers ?? []), ...(embedded ? [embedded] : [])])];
    const options = {
      pieceLength: req.pieceLength,
      v1Only: req.v1Only,
      trackers: trackers.filter((t) => TORRENT_TRACKER.test(t)),
      createdBy: 'Silmaril',
      signal: work.signal,
      onProgress: (done: number, total: number) =>
        work.onProgress?.({ fraction: total ? done / total : 1, message: `hashing ${basename(path)}` }),
    };
    // This very folder already seeds under one of our entries with another name: said before hours of hashing.
    const seeding = [...engine.transfers.values()].find(
      (t) => t.kind === 'seed' && !t.system && t.parsed && t.contentRoot === path,
    );
    const early = seeding && this.duplicateOf(seeding.id, seeding.infoHashV2, name, catalog);
    if (seeding?.parsed && early && !req.allowDuplicate) {
      const real = seeding.parsed.files.filter((f) => !f.pad);
      return {
        publisher: service.identity.publisher,
        fingerprint: service.identity.fingerprint,
        license,
        tags,
        size: real.reduce((n, f) => n + f.length, 0),
        files: real.length,
        format: model?.format ?? '',
        v1: seeding.id,
        v2: seeding.infoHashV2,
        magnet: seeding.magnetURI,
        path,
        registered: [],
        name,
        seq: 0,
        published: false,
        warnings: [`these bytes are already shared as ${early.name}: nothing published`],
        duplicateOf: early,
      };
    }
    const hfShare = snapshot ? await createHfTorrent(snapshot, options) : undefined;
    const created = hfShare ? hfShare.torrent : await createTorrent(path, options);
    work.signal?.throwIfAborted();
    const base = {
      publisher: service.identity.publisher,
      fingerprint: service.identity.fingerprint,
      license,
      tags,
      size: created.length,
      files: created.files.length,
      format: model?.format ?? '',
      v1: created.infoHashV1,
      v2: created.infoHashV2,
      magnet: created.magnet,
      path,
      registered: [] as string[],
      ...(snapshot ? { hfRepo: snapshot.repo, hfCommit: snapshot.commit } : {}),
    };
    // The same bytes already shared under another name: say so rather than publish a second entry for them (the
    // same name again is an update of that entry, which goes on).
    const duplicateOf = this.duplicateOf(created.infoHashV1, created.infoHashV2, name, catalog);
    if (duplicateOf && !req.allowDuplicate) {
      return {
        ...base,
        name,
        seq: 0,
        published: false,
        warnings: [`these bytes are already shared as ${duplicateOf.name || duplicateOf.path}: nothing published`],
        duplicateOf,
      };
    }
    work.onProgress?.({ fraction: 1, message: 'seeding' });
    // Seeded first: a catalog entry is published only for content this node serves.
    await engine.seed(path, { torrent: created.torrentBytes, trusted: true, superSeed: req.superSeed });
    const warnings: string[] = [];
    let entry: { name: string; seq: number; tags: string[]; license: string; format: string } | undefined;
    try {
      entry = publishWithHf(
        (hf) =>
          catalog.publish({
            ...hf,
            name,
            v1: created.infoHashV1,
            v2: created.infoHashV2,
            size: created.length,
            files: created.files.length,
            license,
            tags,
            description,
            format: model?.format ?? '',
            architecture: model?.architecture ?? '',
            parameters: model?.parameters ?? 0,
            quantization: model?.quantization ?? '',
            trackers,
            created: Math.floor(Date.now() / 1000),
          }),
        hfShare?.hf,
      );
      await catalog.save();
      void this.publishIfChanged();
    } catch (err) {
      warnings.push(`not published to the catalog: ${(err as Error).message}`);
    }
    const registered: string[] = [];
    const http = trackers.filter((t) => /^https?:\/\//.test(t));
    for (const r of await this.register(http, created, {
      name,
      license,
      tags,
      description,
      publisher: service.identity.fingerprint,
      key: req.registryKey,
    })) {
      if (r.outcome?.status === 'registered') registered.push(r.tracker);
      if (r.error) warnings.push(`${r.tracker}: ${r.error}`);
    }
    for (const w of warnings) this.log.warn(`${name}: ${w}`);
    this.fire('transfers');
    this.fire('local');
    return {
      ...base,
      name: entry?.name ?? name,
      tags: entry?.tags ?? tags,
      format: entry?.format ?? base.format,
      seq: entry?.seq ?? 0,
      published: !!entry,
      registered,
      warnings,
      ...(duplicateOf ? { duplicateOf } : {}),
    };
  }

  /** This node's live catalog entry for these bytes under another name, with where they are seeded from. */
  private duplicateOf(
    v1: string,
    v2: string | undefined,
    name: string,
    catalog: CatalogService['catalog'],
  ): DuplicateOf | undefined {
    const same = (e: { v1?: string; v2?: string }) => e.v1 === v1 || (!!v2 && e.v2 === v2);
    const own = catalog.ownEntries().filter((e) => !e.deleted && same(e));
    if (!own.length || own.some((e) => e.name === name)) return undefined;
    const seed = this.node?.engine.get(v1);
    return { name: own[0].name, path: seed?.contentRoot ?? '' };
  }

  private async register(
    trackers: string[],
    torrent: Parameters<typeof registerWithTrackers>[1],
    meta: { name: string; license: string; tags: string[]; description: string; publisher: string; key?: string },
  ) {
    if (!trackers.length) return [];
    const out = [];
    for (const url of trackers) {
      const apiKey = meta.key ?? (await this.options.registryKey?.(url));
      out.push(...(await registerWithTrackers([url], torrent, meta, { apiKey })));
    }
    return out;
  }

  /** Withdraws one of this home's entries: a signed tombstone, then its listing is removed from the registries it
   *  was registered with (the entry's HTTP trackers, as share registered it), so that no one (this node included)
   *  goes on seeing it as an unsigned registry listing. */
  async withdraw(name: string): Promise<WithdrawResult> {
    const service = await this.openCatalog();
    const live = service.catalog.ownEntries().find((e) => e.name === name && !e.deleted);
    let t;
    try {
      t = service.catalog.withdraw(name);
    } catch (err) {
      throw new BadRequestError((err as Error).message);
    }
    await service.catalog.save();
    void this.publishIfChanged();
    const unregistered: string[] = [];
    const warnings: string[] = [];
    for (const tracker of (live?.trackers ?? []).filter((u) => /^https?:\/\//.test(u))) {
      try {
        const apiKey = await this.options.registryKey?.(tracker);
        const r = await unregisterTorrent(tracker, { infoHashV1: live!.v1, infoHashV2: live!.v2 }, { apiKey });
        if (r.status === 'announce-only') continue;
        if (r.status === 'unregistered') unregistered.push(tracker);
        // The listing this node read from that registry goes too (the registry will not list it again).
        service.catalog.store.upsert([unsignedTombstone(tracker, name)], `tracker:${tracker}`);
      } catch (err) {
        warnings.push(`${tracker}: ${(err as Error).message}`);
      }
    }
    if (unregistered.length) await service.catalog.save();
    for (const w of warnings) this.log.warn(`withdraw ${name}: ${w}`);
    this.fire('catalog');
    return { name: t.name, publisher: t.publisher, seq: t.seq, unregistered, warnings };
  }

  async seed(req: SeedRequest, work: WorkOptions = {}): Promise<TransferView> {
    const engine = this.engine();
    let torrent = req.torrent;
    let trusted = false;
    if (!torrent) {
      const created = await createTorrent(req.path, {
        pieceLength: req.pieceLength,
        trackers: req.trackers,
        signal: work.signal,
        onProgress: (done, total) => work.onProgress?.({ fraction: total ? done / total : 1 }),
      });
      torrent = created.torrentBytes;
      trusted = true;
    }
    const t = await engine.seed(req.path, { torrent, trusted, superSeed: req.superSeed });
    this.fire('transfers');
    return transferView(t);
  }

  async download(req: DownloadRequest): Promise<DownloadResult> {
    const engine = this.engine();
    const source = await this.resolveSource(req.source);
    const known = new Set(engine.transfers.keys());
    // A catalog entry that records its Hugging Face origin: the Hub can help, as a verified web seed.
    const hub = req.webSeed === false ? undefined : await hubFor(source, () => this.knownEntries(), { ...req.webSeed });
    const t = await engine.download(source, {
      outDir: resolve(req.outDir ?? this.layout.models),
      peers: req.peers,
      hub,
      order: downloadOrder(req.order),
    });
    const view = transferView(t, this.home);
    // Asked for bytes this node already holds in full (seeded from another folder, or downloaded before): nothing
    // is fetched; the face offers to open them where they are or copy them (copyPresent).
    if (known.has(t.id) && view.complete) return { ...view, status: 'present', path: view.path };
    this.fire('transfers');
    return { ...view, status: 'started' };
  }

  async copyPresent(id: string, dest: string, work: WorkOptions = {}): Promise<CopyPresentResult> {
    const t = this.engineTransfer(id);
    const view = transferView(t, this.home);
    if (!view.complete || !t.parsed || !t.contentRoot) {
      throw new BadRequestError(`${t.name} is not complete on this node: nothing to copy`);
    }
    const parsed = t.parsed;
    const target = contentRootIn(resolve(dest), parsed);
    if (resolve(target) === resolve(t.contentRoot)) return { path: target, verified: true, bytes: 0 };
    if (await stat(target).catch(() => undefined)) {
      throw new BadRequestError(`${target} already exists: choose another folder`);
    }
    const files = realFiles(t.contentRoot, parsed);
    const total = files.reduce((n, f) => n + f.file.length, 0);
    let bytes = 0;
    try {
      for (const [i, f] of files.entries()) {
        work.signal?.throwIfAborted();
        const to = realFiles(target, parsed)[i].path;
        await mkdir(dirname(to), { recursive: true });
        await copyFile(f.path, to);
        bytes += f.file.length;
        work.onProgress?.({
          fraction: total ? (bytes / total) * 0.5 : 0.5,
          message: `copying ${f.file.path.join('/')}`,
        });
      }
      const res = await verifyTorrent(parsed, target, {
        signal: work.signal,
        onProgress: (done, all) =>
          work.onProgress?.({ fraction: 0.5 + (all ? done / all : 1) * 0.5, message: 'verifying' }),
      });
      this.fire('local');
      return { path: target, verified: res.ok, bytes };
    } catch (err) {
      // Stopped or failed half way: no half copy is left looking like a model.
      await rm(target, { recursive: true, force: true }).catch(() => {});
      throw err;
    }
  }

  private async catalogEntries() {
    return (await this.openCatalog()).catalog.index.entries.values();
  }

  /** The catalog's entries for an optional look-up (a Hugging Face origin for the web seed): none, without opening
   *  it, when the catalog is lazy, not open and this home has no catalog database to read. */
  private async knownEntries() {
    if (!this.service && this.options.catalog?.lazy && !(await stat(join(this.home, STORE_FILE)).catch(() => false)))
      return [];
    return this.catalogEntries();
  }

  /** Downloads into the Hugging Face cache (blobs, snapshot links, refs), the origin from the catalog entry or
   *  `repoSpec`; `done` settles once the snapshot is in place. In this process only (the CLI's `get --hf-cache`,
   *  the editor's Download into Hugging Face Cache). */
  async downloadIntoHfCache(o: HfDownloadRequest): Promise<HfDownloadStarted> {
    const engine = this.engine();
    const source = await this.resolveSource(o.source);
    const hf = await prepareHfGet({
      source,
      repoSpec: o.repoSpec,
      savedTorrent: async (id) =>
        (await engine.state.loadTorrent(id)) ??
        (await torrentFromRegistry(hfOriginIn(await this.knownEntries(), id)?.trackers ?? [], id)),
      entries: () => this.knownEntries(),
    });
    const d = await downloadIntoHfCache({
      engine,
      source,
      ...hf,
      cacheDir: o.cacheDir,
      ref: o.ref,
      peers: o.peers,
      webSeed: o.webSeed === false ? false : { ...o.webSeed },
    });
    this.fire('transfers');
    void d.done.finally(() => this.fire('local'));
    return { transfer: transferView(d.transfer), reused: d.reused, done: d.done };
  }

  /** A catalog name (`org/model`) becomes its entry's magnet; a .torrent path its bytes; the rest goes as is. */
  private async resolveSource(source: string | Uint8Array): Promise<string | Uint8Array> {
    if (typeof source !== 'string') return source;
    if (/^magnet:|^[0-9a-f]{40}$|^[0-9a-f]{64}$/i.test(source)) return source;
    if (/\.torrent$/i.test(source)) return readFile(source);
    if (/^[^/\s]+\/[^/\s]+$/.test(source)) {
      const service = await this.openCatalog();
      const hit = service.catalog.search({ text: source, limit: 50 }).entries.find((e) => e.name === source);
      if (hit) return hit.magnet;
      throw new NotFoundError(`model ${source} not found in the catalog`);
    }
    return source;
  }

  async verify(id: string, work: WorkOptions = {}): Promise<VerifyOutcome> {
    const t = this.engineTransfer(id);
    if (!t.parsed || !t.contentRoot) throw new Error(`${t.name}: metadata not received yet, nothing to verify`);
    const res = await verifyTorrent(t.parsed, t.contentRoot, {
      signal: work.signal,
      onProgress: (done, total) => work.onProgress?.({ fraction: total ? done / total : 1 }),
    });
    return {
      ok: res.ok,
      damaged: res.damagedFiles.map(
        (f) => `${f.path} (${f.reason === 'unreadable' ? `unreadable: ${f.why}` : f.reason})`,
      ),
      unreadable: res.damagedFiles.filter((f) => f.reason === 'unreadable').map((f) => `${f.path} (${f.why})`),
      checkedBytes: res.bytesChecked,
    };
  }

  /** Searches the catalog; with `refresh`, reads the network first (needs the engine: the catalog files come
   *  through it), for at most `timeoutMs`. */
  async discover(query: DiscoverQuery): Promise<DiscoverResult> {
    const service = await this.openCatalog();
    const { refresh, timeoutMs, registries, ...search } = query;
    let refreshed: DiscoverResult['refreshed'] = 'no';
    const extra = (registries ?? []).filter((t) => /^https?:\/\//.test(t));
    if (refresh || extra.length) {
      let timer: NodeJS.Timeout | undefined;
      const limit = new Promise<'timed-out'>((r) => (timer = setTimeout(() => r('timed-out'), timeoutMs ?? 30_000)));
      const read = async () => {
        // Registries asked for by this search only (the node's own are read by its refresh).
        for (const t of extra) await refreshRegistry(service.catalog, t);
        if (refresh) await service.refresh(true);
        else await service.catalog.save();
        return 'complete' as const;
      };
      refreshed = await Promise.race([read(), limit]);
      clearTimeout(timer);
      if (refreshed === 'timed-out') await service.catalog.save().catch(() => {});
    }
    const found = service.catalog.search(search);
    const entries = this.counter ? this.counter.withSelf(found.entries) : found.entries;
    // The entries shown are the ones worth counting (each at most once per 10 min, in the background); only a node
    // that runs (daemon, editor) counts: a one-off command must not wait on trackers.
    if (this.started) this.counter?.want(entries.slice(0, 100));
    return { entries, total: found.total, sources: service.catalog.store.sources(), refreshed };
  }

  /** Counts one catalog entry now (our seed, the entry's trackers) and stores the result; tests and `--count`. */
  async countEntry(e: { v1?: string; v2?: string; trackers: string[] }) {
    await this.openCatalog();
    return this.counter?.count(e);
  }

  /** What this node knows first hand about a swarm: we hold every byte (one seeder, plus connected seeds), or we
   *  are one of its downloaders. */
  private selfCount(v1: string | undefined, v2: string | undefined): PeerCount | undefined {
    const engine = this.node?.engine;
    if (!engine) return undefined;
    let t = v1 ? engine.get(v1) : undefined;
    if (!t && v2) t = [...engine.transfers.values()].find((x) => x.infoHashV2 === v2);
    if (!t || t.status === 'paused' || t.status === 'error') return undefined;
    const v = transferView(t, this.home);
    const seeds = v.seeds ?? 0;
    const others = Math.max(0, v.peers - seeds);
    return v.complete ? { seeders: 1 + seeds, leechers: others } : { seeders: seeds, leechers: others + 1 };
  }

  async shares(): Promise<OwnShare[]> {
    const service = await this.openCatalog();
    return service.catalog
      .ownEntries()
      .filter((e) => !e.deleted)
      .map(ownShare);
  }

  /** Model folders under these roots; a folder of the node's own (under `<home>/catalogs`, when a root holds the
   *  home) is flagged `system`. */
  async localModels(roots: string[]): Promise<LocalModelView[]> {
    const models = await scanLocalModels(roots, this.log);
    return models.map((m) =>
      isSystemTransfer({ system: false, contentRoot: m.path, outDir: undefined }, this.home)
        ? { ...m, system: true }
        : m,
    );
  }

  async status(opts: TransferListOptions = {}): Promise<NodeStatus> {
    const service = this.service;
    const dht = this.node?.engine.dht;
    const all = this.transfersNow({ all: true });
    return {
      pid: process.pid,
      kind: this.options.kind,
      home: this.home,
      uptime: this.started ? Math.round((Date.now() - this.startedAt) / 1000) : 0,
      port: this.port,
      dhtPort: this.dhtPort,
      dhtNodes: dht?.nodes?.count?.() ?? dht?.toJSON?.().nodes?.length ?? 0,
      publisher: service?.identity.publisher,
      fingerprint: service?.identity.fingerprint,
      catalogEntries: service?.catalog.store.count() ?? 0,
      transfers: opts.all ? all : all.filter((t) => !t.system),
      activeTransfers: activeTransfers(all),
      catalogPublish: this.publishState,
      tracker: this.trackerStatus(),
    };
  }

  // ---- the embedded tracker

  async startTracker(host: string | undefined, port: number): Promise<TrackerStatus> {
    if (!this.tracker) {
      await prepareHome(this.home, this.log);
      const tracker = new Tracker({ host, port, dbPath: this.layout.trackerDb, open: true, logger: this.log });
      await tracker.start();
      this.tracker = tracker;
      this.fire('tracker');
    }
    return this.trackerStatus();
  }

  async stopTracker(): Promise<void> {
    const tracker = this.tracker;
    this.tracker = undefined;
    if (!tracker) return;
    await tracker.stop();
    this.fire('tracker');
  }

  trackerStatus(): TrackerStatus {
    const address = this.tracker?.address();
    if (!this.tracker || !address) return { running: false, torrents: 0, seeders: 0, leechers: 0 };
    const s = this.tracker.stats();
    return {
      running: true,
      announceUrl: address.announce,
      torrents: s.swarms,
      seeders: s.seeders,
      leechers: s.leechers,
    };
  }
}

/** Model folders under these roots (a root that is itself a model counts): no node needed. */
export async function scanLocalModels(roots: string[], log?: Logger): Promise<LocalModelView[]> {
  return scanModels(roots, { log });
}

/** Proposed share fields read from a folder's model card and config (a Hugging Face cache folder: its snapshot,
 *  and the repo id as the name). */
export async function describeFolder(folder: string) {
  const snapshot = await findHfSnapshot({ folder }).catch(() => undefined);
  const m = await describeModel(snapshot?.snapshotDir ?? folder);
  const name = snapshot?.repo.includes('/') ? snapshot.repo : undefined;
  return { license: m.license, tags: [...m.tags], description: m.description, name };
}

/** Reads a .torrent file given to `seed --torrent` (checked here, before any node is asked to use it). */
export async function readTorrentFile(path: string): Promise<Uint8Array> {
  const bytes = await readFile(path);
  parseTorrent(bytes);
  return bytes;
}

/** A registry listing as searchRegistry stores it (publisher `tracker:<host>`, the entry's name), withdrawn. */
function unsignedTombstone(tracker: string, name: string): StoredEntry {
  const base = registryBase(tracker) ?? tracker;
  const source = `tracker:${new URL(base).host}`;
  return {
    publisher: source,
    name,
    seq: 0,
    deleted: true,
    size: 0,
    files: 0,
    license: '',
    tags: [],
    description: '',
    format: '',
    architecture: '',
    parameters: 0,
    quantization: '',
    created: 0,
    trackers: [],
    webSeeds: [],
    trusted: false,
    source,
    seeders: 0,
  };
}

/** The order a download fetches its files in: what was asked, checked, with the descriptive files first by default. */
function downloadOrder(order: FileOrder | undefined): FileOrder {
  const first = order?.first ?? [...DEFAULT_FIRST_FILES];
  const bad = checkFirstFiles(first);
  if (bad) throw new BadRequestError(bad);
  return order?.sequential ? { first, sequential: true } : { first };
}

/** The request was wrong (400 over the API). */
export class BadRequestError extends Error {
  override name = 'BadRequestError';
}

/** No such transfer or model (404 over the API). */
export class NotFoundError extends Error {
  override name = 'NotFoundError';
}
