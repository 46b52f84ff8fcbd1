// UiCore over the real core: SilmarilNode (the engine), createTorrent (sharing), the Catalog (signed entries and
// search) and the model-card readers. No vscode here: this file is the seam, and could run headless.
import { EventEmitter } from 'node:events';
import { basename, join, resolve } from 'node:path';
import type { Catalog } from '../catalog/catalog.js';
import { EngineTransport } from '../catalog/engine-transport.js';
import type { KeyStore } from '../catalog/identity.js';
import { CatalogService } from '../catalog/service.js';
import { registerWithTracker } from '../catalog/sources/tracker.js';
import type { SearchQuery } from '../catalog/store.js';
import type { Transfer } from '../engine/transfer.js';
import type { Logger } from '../log.js';
import { describeModel, scanModels } from '../models/inventory.js';
import { SilmarilNode } from '../node.js';
import { createTorrent } from '../torrent/create.js';
import { createHfTorrent, findHfSnapshot, publishWithHf } from '../models/hf/share.js';
import {
  downloadIntoHfCache,
  hfOriginIn,
  hubFor,
  resumeHfInstalls,
  torrentFromRegistry,
} from '../models/hf/download.js';
import { verifyTorrent } from '../torrent/verify.js';
import { Tracker } from '../tracker/tracker.js';
import type {
  CatalogModel,
  CoreOptions,
  LocalModelView,
  Progress,
  ShareRequest,
  ShareResult,
  TrackerStatus,
  TransferState,
  TransferView,
  UiCore,
  VerifyResult,
} from './core.js';

type What = 'transfers' | 'catalog' | 'local' | 'tracker';

export class NodeCore implements UiCore {
  private node?: SilmarilNode;
  private tracker?: Tracker;
  private service?: CatalogService;
  private catalogStarted = false;
  private readonly events = new EventEmitter();
  private tick?: NodeJS.Timeout;
  private unsubscribe?: () => void;
  started = false;

  constructor(
    private readonly options: CoreOptions,
    private readonly keys: KeyStore,
    private readonly log: Logger,
    /** A tracker registry's key, from SecretStorage. */
    private readonly registryKey: (trackerUrl: string) => Promise<string | undefined> = async () => undefined,
  ) {}

  private fire(what: What): void {
    this.events.emit('change', what);
  }

  onDidChange(listener: (what: What) => void): { dispose(): void } {
    this.events.on('change', listener);
    return { dispose: () => this.events.off('change', listener) };
  }

  /** The catalog store is local (sql.js): open it before the engine so the sidebar fills at once. */
  async openCatalog(): Promise<Catalog> {
    if (!this.service) {
      const o = this.options;
      this.service = await CatalogService.open({
        home: o.home,
        keyStore: this.keys,
        dhtBootstrap: o.dhtBootstrap,
        trackers: o.catalogSources.includes('trackers') ? o.trackers.filter((t) => /^https?:\/\//.test(t)) : [],
        silmarilGo: o.catalogSources.includes('silmaril-go'),
        log: this.log,
      });
      this.unsubscribe = this.service.catalog.onChange(() => this.fire('catalog'));
      this.log.info(`publisher ${this.service.identity.fingerprint}`);
    }
    return this.service.catalog;
  }

  /** Joins the catalog network once the engine runs: the engine's DHT node carries the BEP 44 pointers and the
   *  engine fetches and seeds catalog files. Without DHT (setting off) only the trackers' registries are read. */
  private async startCatalog(): Promise<void> {
    const service = this.service!;
    const o = this.options;
    const engine = this.node!.engine;
    const dht = engine.dht;
    if (o.dht && o.catalogSources.includes('dht') && dht) {
      // The service was opened before the engine existed (the sidebar reads the store at once); its transport and
      // DHT node are the engine's, known only now.
      await service.start({ transport: new EngineTransport(engine, o.home), dht });
      this.catalogStarted = true;
      if (service.catalog.ownEntries().length) {
        service.publish().then(
          (r) => this.log.info(`catalog published (feed seq ${r.feedSeq})`),
          (err: Error) => this.log.warn(`catalog publish: ${err.message}`),
        );
      }
    }
    // The first follow pass can wait on a catalog download: never on the start path.
    service.refresh(true).then(
      () => this.fire('catalog'),
      (err: Error) => this.log.warn(`catalog refresh: ${err.message}`),
    );
    service.follow();
  }

  async start(): Promise<void> {
    if (this.started) return;
    const o = this.options;
    await this.openCatalog();
    const node = new SilmarilNode({
      home: o.home,
      logger: this.log,
      engine: {
        port: o.listenPort,
        utp: o.utp,
        tcp: o.tcp,
        dht: o.dht,
        dhtBootstrap: o.dhtBootstrap,
        trackers: o.trackers.filter((t) => /^(https?|udp|wss?):\/\//.test(t)),
        downloadLimit: o.downloadLimit > 0 ? o.downloadLimit : undefined,
        uploadLimit: o.uploadLimit > 0 ? o.uploadLimit : undefined,
      },
    });
    await node.start();
    this.node = node;
    this.started = true;
    const engine = node.engine;
    engine.on('transfer', () => this.fire('transfers'));
    engine.on('transfer-error', (t: Transfer, err: Error) => this.log.error(`${t.name}: ${err.message}`));
    const restored = await engine.restore();
    resumeHfInstalls(engine, this.log);
    if (restored.length) this.log.info(`resumed ${restored.length} transfer(s) from the last session`);
    this.log.info(`engine listening on port ${engine.port}${engine.dhtPort ? `, DHT on UDP ${engine.dhtPort}` : ''}`);
    await this.startCatalog().catch((err: Error) => this.log.error(`catalog network: ${err.message}`));
    // One tick a second drives every view (the engine's stats events come per transfer, at the same pace).
    this.tick = setInterval(() => this.fire('transfers'), 1000);
    this.fire('transfers');
    this.fire('local');
  }

  async stop(): Promise<void> {
    if (this.tick) clearInterval(this.tick);
    this.tick = undefined;
    this.started = false;
    const node = this.node;
    this.node = undefined;
    await this.stopTracker().catch((err: Error) => this.log.warn(`tracker stop: ${err.message}`));
    await node?.stop();
    this.unsubscribe?.();
    const service = this.service;
    this.service = undefined;
    this.catalogStarted = false;
    await service?.stop().catch((err: Error) => this.log.warn(`catalog stop: ${err.message}`));
  }

  get dhtPort(): number | undefined {
    return this.node?.engine.dhtPort;
  }

  private engine() {
    if (!this.node) throw new Error('the engine is not running yet');
    return this.node.engine;
  }

  private transfer(id: string): Transfer {
    const t = this.engine().get(id);
    if (!t) throw new Error(`no transfer ${id}`);
    return t;
  }

  transfers(): TransferView[] {
    if (!this.node) return [];
    return [...this.node.engine.transfers.values()].map(view);
  }

  async share(req: ShareRequest, onProgress: (p: Progress) => void, signal: AbortSignal): Promise<ShareResult> {
    const engine = this.engine();
    const embedded = this.tracker?.address()?.announce;
    const trackers = [...new Set([...req.trackers, ...(embedded ? [embedded] : [])])];
    // A Hugging Face cache folder (repo or snapshot): read through its links, seeded in place, origin recorded.
    const snapshot = await findHfSnapshot({ folder: req.folder });
    const folder = snapshot ? snapshot.snapshotDir : resolve(req.folder);
    const options = {
      pieceLength: req.pieceLength,
      v1Only: req.v1Only,
      trackers: trackers.filter((t) => /^(https?|udp):\/\//.test(t)),
      createdBy: 'Silmaril',
      signal,
      onProgress: (done: number, total: number) =>
        onProgress({ fraction: total ? done / total : 1, message: `hashing ${basename(folder)}` }),
    };
    const hfShare = snapshot ? await createHfTorrent(snapshot, options) : undefined;
    const created = hfShare ? hfShare.torrent : await createTorrent(folder, options);
    signal.throwIfAborted();
    onProgress({ fraction: 1, message: 'seeding' });
    await engine.seed(folder, { torrent: created.torrentBytes, trusted: true, superSeed: this.options.superSeed });
    const warnings: string[] = [];
    let published = false;
    const model = await describeModel(folder);
    try {
      const catalog = await this.openCatalog();
      const files = created.files.length;
      publishWithHf(
        (hf) =>
          catalog.publish({
            ...hf,
            name: req.name,
            v1: created.infoHashV1,
            v2: created.infoHashV2,
            size: created.length,
            files,
            license: req.license,
            tags: req.tags,
            description: req.description ?? '',
            format: model.format,
            architecture: model.architecture ?? '',
            parameters: model.parameters ?? 0,
            quantization: model.quantization ?? '',
            trackers,
            created: Math.floor(Date.now() / 1000),
          }),
        hfShare?.hf,
      );
      await catalog.save();
      published = true;
      if (this.catalogStarted) {
        this.service!.publish().then(
          (r) => this.log.info(`${req.name}: catalog published on the DHT (feed seq ${r.feedSeq})`),
          (err: Error) => this.log.warn(`${req.name}: DHT publish failed: ${err.message}`),
        );
      }
    } catch (err) {
      warnings.push(`not published to the catalog: ${(err as Error).message}`);
    }
    const registered: string[] = [];
    for (const url of trackers.filter((t) => /^https?:\/\//.test(t))) {
      try {
        await registerWithTracker(
          url,
          {
            v1: created.infoHashV1,
            v2: created.infoHashV2,
            name: req.name,
            torrent: created.torrentBytes,
            size: created.length,
            license: req.license,
            tags: req.tags,
            description: req.description,
            publisher: this.service?.identity.fingerprint,
          },
          { key: await this.registryKey(url) },
        );
        registered.push(url);
      } catch (err) {
        warnings.push(`${url}: ${(err as Error).message}`);
      }
    }
    this.fire('transfers');
    this.fire('local');
    return {
      v1: created.infoHashV1,
      v2: created.infoHashV2,
      magnet: created.magnet,
      published,
      registered,
      warnings,
    };
  }

  /** Downloads a catalog model into the Hugging Face cache (models/hf/download.ts); the transfer shows as usual. */
  async downloadIntoHfCache(
    model: { magnet: string; name: string; v1?: string },
    opts: { cacheDir?: string; webSeed?: boolean } = {},
  ): Promise<{ transfer: TransferView; done: Promise<{ snapshot: string; verified: boolean }> }> {
    const engine = this.engine();
    const catalog = await this.openCatalog();
    const v1 = model.v1 ?? /xt=urn:btih:([0-9a-fA-F]{40})/.exec(model.magnet)?.[1]?.toLowerCase();
    const origin = v1 ? hfOriginIn(catalog.index.entries.values(), v1) : undefined;
    if (!v1 || !origin) throw new Error(`${model.name} does not say which Hugging Face repository and commit it is`);
    const torrent = (await engine.state.loadTorrent(v1)) ?? (await torrentFromRegistry(origin.trackers, v1));
    const d = await downloadIntoHfCache({
      engine,
      source: model.magnet,
      torrent,
      origin,
      cacheDir: opts.cacheDir,
      webSeed: opts.webSeed,
    });
    this.fire('transfers');
    void d.done.finally(() => this.fire('local'));
    return { transfer: view(d.transfer), done: d.done };
  }

  async download(model: { magnet: string; name: string; size: number }, outDir: string): Promise<TransferView> {
    const catalog = await this.openCatalog();
    const hub =
      this.options.hfWebSeed === false
        ? undefined
        : await hubFor(model.magnet, async () => catalog.index.entries.values());
    const t = await this.engine().download(model.magnet, { outDir, hub });
    this.fire('transfers');
    return view(t);
  }

  async pause(id: string): Promise<void> {
    await this.transfer(id).pause();
    this.fire('transfers');
  }

  async resume(id: string): Promise<void> {
    await this.transfer(id).resume();
    this.fire('transfers');
  }

  async cancel(id: string, deleteFiles: boolean): Promise<void> {
    await this.engine().remove(id, { removeFiles: deleteFiles });
    this.fire('transfers');
    this.fire('local');
  }

  async stopSharing(id: string): Promise<void> {
    await this.engine().remove(id, { removeFiles: false });
    this.fire('transfers');
    this.fire('local');
  }

  async verify(id: string, onProgress: (p: Progress) => void, signal: AbortSignal): Promise<VerifyResult> {
    const t = this.transfer(id);
    if (!t.parsed || !t.contentRoot) throw new Error(`${t.name}: metadata not received yet, nothing to verify`);
    const res = await verifyTorrent(t.parsed, t.contentRoot, {
      signal,
      onProgress: (done, total) => onProgress({ fraction: total ? done / total : 1 }),
    });
    return {
      ok: res.ok,
      damaged: res.damagedFiles.map((f) => `${f.path} (${f.reason})`),
      checkedBytes: res.bytesChecked,
    };
  }

  async torrentFile(id: string): Promise<Uint8Array> {
    const t = this.transfer(id);
    if (t.parsed) return t.parsed.torrentBytes;
    const saved = await this.engine().state.loadTorrent(id);
    if (!saved) throw new Error(`${t.name}: metadata not received yet`);
    return saved;
  }

  async searchCatalog(query: SearchQuery): Promise<CatalogModel[]> {
    const catalog = await this.openCatalog();
    return catalog.search(query).entries;
  }

  async refreshCatalog(): Promise<void> {
    await this.openCatalog();
    await this.service!.refresh(true);
    this.fire('catalog');
  }

  async localModels(roots: string[]): Promise<LocalModelView[]> {
    const models = await scanModels(roots, { log: this.log });
    return models.map((m) => ({
      path: m.path,
      name: m.name,
      size: m.size,
      files: m.files,
      format: m.format,
      license: m.license,
      tags: m.tags,
      description: m.description,
      parameters: m.parameters,
    }));
  }

  async describeFolder(folder: string) {
    const snapshot = await findHfSnapshot({ folder }).catch(() => undefined);
    const m = await describeModel(snapshot?.snapshotDir ?? folder);
    const tags = [...m.tags];
    const name = snapshot?.repo.includes('/') ? snapshot.repo : undefined;
    return { license: m.license, tags, description: m.description, name };
  }

  /** The embedded tracker (HTTP + UDP announce, scrape, registry API), its registry kept in the state directory. */
  async startTracker(host: string, port: number): Promise<TrackerStatus> {
    if (!this.tracker) {
      const tracker = new Tracker({
        host,
        port,
        dbPath: join(this.options.home, 'tracker.sqlite'),
        open: true,
        logger: this.log,
      });
      await tracker.start();
      this.tracker = tracker;
      this.fire('tracker');
    }
    return this.trackerStatus();
  }

  async stopTracker(): Promise<void> {
    const tracker = this.tracker;
    this.tracker = undefined;
    await tracker?.stop();
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

const STATUS: Record<string, TransferState> = {
  metadata: 'metadata',
  checking: 'checking',
  verifying: 'checking',
  downloading: 'downloading',
  seeding: 'seeding',
  paused: 'paused',
  error: 'error',
};

function view(t: Transfer): TransferView {
  const s = t.stats();
  let state = STATUS[s.status] ?? 'checking';
  // A download that holds every verified piece is done, whatever the engine calls it (it reports "downloading"
  // again for a finished download that was paused and resumed).
  if (t.kind === 'download' && (state === 'seeding' || (state === 'downloading' && s.progress === 1 && t.doneInfo))) {
    state = 'done';
  }
  return {
    id: t.id,
    v2: t.infoHashV2,
    name: s.name,
    kind: t.kind,
    path: t.contentRoot ?? t.outDir ?? '',
    size: t.parsed?.length ?? s.totalBytes,
    progress: s.progress,
    downloadRate: s.downloadRate,
    uploadRate: s.uploadRate,
    downloaded: s.downloaded,
    uploaded: s.uploaded,
    peers: s.peers,
    seeds: s.seeds,
    fromPeers: s.fromPeers,
    etaSeconds: s.eta ?? undefined,
    state,
    verified: t.doneInfo ? t.doneInfo.verified : t.kind === 'seed' ? true : undefined,
    magnet: t.magnetURI,
    error: t.error?.message,
    webBytes: s.webBytes,
    peerBytes: s.peerBytes,
  };
}
