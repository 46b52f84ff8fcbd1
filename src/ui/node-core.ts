// UiCore over the application layer (src/app): the editor either embeds the home's node (an AppNode that serves the
// control API like a daemon does) or, when a daemon already runs the home, attaches to it through its control API
// and shows its transfers and catalog. No vscode here: this file is the seam, and runs headless in unit tests.
import { EventEmitter } from 'node:events';
import type { NodeApi } from '../app/api.js';
import { ControlClient } from '../app/control-client.js';
import type { KeyStore } from '../app/keys.js';
import { AppNode, describeFolder, scanLocalModels } from '../app/node.js';
import type { ChangeKind, NodeStatus, TransferView as AppTransferView } from '../app/types.js';
import type { Logger } from '../log.js';
import type {
  CatalogModel,
  CoreOptions,
  DownloadOutcome,
  LocalModelView,
  Progress,
  SearchQuery,
  ShareRequest,
  ShareResult,
  TrackerStatus,
  TransferView,
  UiCore,
  VerifyResult,
} from './core.js';

const STOPPED_TRACKER: TrackerStatus = { running: false, torrents: 0, seeders: 0, leechers: 0 };

export class NodeCore implements UiCore {
  /** The embedded node (mode `embedded`). */
  private local?: AppNode;
  /** The daemon's control API (mode `attached`). */
  private remote?: ControlClient;
  private remoteTransfers: TransferView[] = [];
  private remoteStatus?: NodeStatus;
  private subscription?: { dispose(): void };
  private readonly events = new EventEmitter();
  private deciding?: Promise<void>;
  mode: 'embedded' | 'attached' | undefined;
  started = false;

  constructor(
    private readonly options: CoreOptions,
    private readonly keys: KeyStore,
    private readonly log: Logger,
    /** A tracker registry's key, from SecretStorage. */
    private readonly registryKey: (trackerUrl: string) => Promise<string | undefined> = async () => undefined,
  ) {}

  private fire(what: ChangeKind): void {
    this.events.emit('change', what);
  }

  onDidChange(listener: (what: ChangeKind) => void): { dispose(): void } {
    this.events.on('change', listener);
    return { dispose: () => this.events.off('change', listener) };
  }

  private api(): NodeApi {
    const api = this.remote ?? this.local;
    if (!api) throw new Error('the engine is not running yet');
    return api;
  }

  /** Picks the mode (`silmaril.node`): attach to a daemon running the home, or embed a node. Then opens the
   *  catalog, before any engine starts, so the sidebar fills at once. */
  async openCatalog(): Promise<void> {
    this.deciding ??= this.decide();
    return this.deciding;
  }

  private async decide(): Promise<void> {
    const o = this.options;
    if (o.node !== 'embedded') {
      const remote = await ControlClient.connect(o.home);
      if (remote) {
        this.remote = remote;
        this.mode = 'attached';
        this.log.info(`attached to the ${remote.node.kind} (pid ${remote.node.pid}) running ${o.home}`);
        return;
      }
      if (o.node === 'attach') {
        throw new Error(
          `no Silmaril daemon runs ${o.home} (silmaril.node is "attach"): start one with \`silmaril daemon\``,
        );
      }
    }
    this.mode = 'embedded';
    this.local = new AppNode({
      home: o.home,
      kind: 'editor',
      log: this.log,
      restore: true,
      control: true,
      registryKey: this.registryKey,
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
      catalog: {
        network: o.dht && o.catalogSources.includes('dht'),
        registries: o.catalogSources.includes('trackers') ? o.trackers : [],
        silmarilGo: o.catalogSources.includes('silmaril-go'),
        keyStore: this.keys,
      },
    });
    this.local.onChange((what) => this.fire(what));
    const service = await this.local.openCatalog();
    this.log.info(`publisher ${service.identity.fingerprint}`);
  }

  async start(): Promise<void> {
    if (this.started) return;
    await this.openCatalog();
    if (this.remote) {
      const remote = this.remote;
      this.remoteStatus = await remote.status();
      this.remoteTransfers = this.remoteStatus.transfers;
      this.subscription = remote.onChange(
        (what, data) => {
          if (what === 'transfers' && data && Array.isArray((data as any).transfers)) {
            this.remoteTransfers = (data as { transfers: { view: AppTransferView }[] }).transfers.map((t) => t.view);
          }
          if (what === 'tracker' && this.remoteStatus) this.remoteStatus.tracker = data as TrackerStatus;
          this.fire(what);
        },
        () => this.end(`the ${remote.node.kind} (pid ${remote.node.pid}) running this home has stopped`, true),
      );
      this.started = true;
      this.fire('transfers');
      this.fire('catalog');
      this.fire('local');
      return;
    }
    const local = this.local!;
    await local.start();
    // The editor's node stops when asked through its control API (`silmaril stop`), as a daemon would.
    void local.stopRequest.then(() => this.end('stopped through the control API (silmaril stop)', false));
    this.started = true;
    this.log.info(`engine listening on port ${local.port}${local.dhtPort ? `, DHT on UDP ${local.dhtPort}` : ''}`);
    void local.follow();
  }

  /** Fires when the node went away without the editor asking: `restart` says the editor should start again (it
   *  was attached to a daemon that stopped: it embeds its own node now). */
  onDidEnd(listener: (why: string, restart: boolean) => void): { dispose(): void } {
    this.events.on('end', listener);
    return { dispose: () => this.events.off('end', listener) };
  }

  private end(why: string, restart: boolean): void {
    if (!this.started) return;
    this.events.emit('end', why, restart);
  }

  async stop(): Promise<void> {
    this.started = false;
    this.subscription?.dispose();
    this.subscription = undefined;
    this.remote = undefined;
    const local = this.local;
    this.local = undefined;
    this.deciding = undefined;
    this.mode = undefined;
    await local?.stop();
  }

  get dhtPort(): number | undefined {
    return this.local ? this.local.dhtPort : this.remoteStatus?.dhtPort;
  }

  transfers(): TransferView[] {
    if (this.remote) return this.remoteTransfers;
    // Every transfer, the node's own catalog files included: the views decide what to show (src/ui/system.ts).
    return this.local?.started ? this.local.transfersNow({ all: true }) : [];
  }

  async share(req: ShareRequest, onProgress: (p: Progress) => void, signal: AbortSignal): Promise<ShareResult> {
    const r = await this.api().share(
      {
        path: req.folder,
        name: req.name,
        license: req.license,
        tags: req.tags,
        description: req.description,
        trackers: req.trackers,
        pieceLength: req.pieceLength,
        v1Only: req.v1Only,
        superSeed: this.options.superSeed,
        allowDuplicate: req.allowDuplicate,
      },
      { onProgress, signal },
    );
    this.fire('transfers');
    this.fire('local');
    return {
      v1: r.v1,
      v2: r.v2,
      magnet: r.magnet,
      published: r.published,
      registered: r.registered,
      warnings: r.warnings,
      duplicateOf: r.duplicateOf,
    };
  }

  async download(
    model: { magnet: string; name: string; size: number },
    outDir: string,
    opts: { firstFiles?: string[]; sequential?: boolean } = {},
  ): Promise<DownloadOutcome> {
    const webSeed = this.options.hfWebSeed === false ? (false as const) : undefined;
    const order = { first: opts.firstFiles, sequential: opts.sequential };
    const t = await this.api().download({ source: model.magnet, outDir, webSeed, order });
    this.fire('transfers');
    return t;
  }

  async copyPresent(id: string, dest: string): Promise<{ path: string; verified: boolean }> {
    const r = await this.api().copyPresent(id, dest);
    this.fire('local');
    return r;
  }

  /** Downloads a catalog model into the Hugging Face cache (the editor's node, or the daemon it is attached to);
   *  the transfer shows as usual. */
  async downloadIntoHfCache(
    model: { magnet: string; name: string; v1?: string },
    opts: { cacheDir?: string; webSeed?: boolean } = {},
  ): Promise<{ transfer: TransferView; done: Promise<{ snapshot: string; verified: boolean }> }> {
    const d = await this.api().downloadIntoHfCache({
      source: model.magnet,
      cacheDir: opts.cacheDir,
      webSeed: opts.webSeed === false ? false : undefined,
    });
    this.fire('transfers');
    return { transfer: d.transfer, done: d.done };
  }

  async pause(id: string): Promise<void> {
    await this.api().pause(id);
    this.fire('transfers');
  }

  async resume(id: string): Promise<void> {
    await this.api().resume(id);
    this.fire('transfers');
  }

  async cancel(id: string, deleteFiles: boolean): Promise<void> {
    await this.api().cancel(id, deleteFiles);
    this.fire('transfers');
    this.fire('local');
  }

  async stopSharing(id: string, opts: { withdraw?: boolean } = {}): Promise<{ withdrawn: string[] }> {
    const r = await this.api().stopSharing(id, { withdraw: opts.withdraw === true });
    this.fire('transfers');
    this.fire('local');
    if (opts.withdraw) this.fire('catalog');
    return { withdrawn: r.withdrawn.map((w) => w.name) };
  }

  verify(id: string, onProgress: (p: Progress) => void, signal: AbortSignal): Promise<VerifyResult> {
    return this.api().verify(id, { onProgress, signal });
  }

  torrentFile(id: string): Promise<Uint8Array> {
    return this.api().torrentFile(id);
  }

  async searchCatalog(query: SearchQuery): Promise<CatalogModel[]> {
    await this.openCatalog();
    return (await this.api().discover(query)).entries;
  }

  async refreshCatalog(): Promise<void> {
    await this.openCatalog();
    await this.api().discover({ refresh: true, limit: 1 });
    this.fire('catalog');
  }

  localModels(roots: string[]): Promise<LocalModelView[]> {
    return scanLocalModels(roots, this.log);
  }

  describeFolder(folder: string) {
    return describeFolder(folder);
  }

  /** Starts the embedded tracker in the node this editor uses: its own, or the daemon it is attached to (which
   *  then serves it, through the control API's /tracker/start). */
  async startTracker(host: string, port: number): Promise<TrackerStatus> {
    if (this.remote) {
      const status = await this.remote.startTracker(host, port);
      if (this.remoteStatus) this.remoteStatus = { ...this.remoteStatus, tracker: status };
      this.fire('tracker');
      return status;
    }
    if (!this.local) throw new Error('the engine is not running yet');
    return this.local.startTracker(host, port);
  }

  async stopTracker(): Promise<void> {
    if (this.remote) {
      await this.remote.stopTracker();
      if (this.remoteStatus) this.remoteStatus = { ...this.remoteStatus, tracker: await this.remote.trackerStatus() };
      this.fire('tracker');
      return;
    }
    await this.local?.stopTracker();
  }

  trackerStatus(): TrackerStatus {
    if (this.remote) return this.remoteStatus?.tracker ?? STOPPED_TRACKER;
    return this.local?.trackerStatus() ?? STOPPED_TRACKER;
  }
}
