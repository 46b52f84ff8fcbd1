// The narrow port between the editor layer and the node: everything src/ui needs from the engine, catalog, model
// inventory and tracker, in the UI's own terms. src/ui/node-core.ts implements it over the application layer
// (src/app: a node embedded in the editor, or the daemon of the same home reached through its control API); the
// views and commands only ever see this interface, which keeps them thin and testable against a fake.
import type {
  ListedEntry,
  LocalModelView,
  Progress,
  SearchQuery,
  TrackerStatus,
  TransferView,
  VerifyOutcome,
} from '../app/types.js';

export type {
  ListedEntry as CatalogModel,
  LocalModelView,
  Progress,
  SearchQuery,
  TrackerStatus,
  TransferState,
  TransferView,
} from '../app/types.js';

export interface ShareRequest {
  folder: string;
  /** `org/model`. */
  name: string;
  license: string;
  tags: string[];
  description?: string;
  trackers: string[];
  pieceLength?: number;
  /** A v1-only torrent (setting `silmaril.torrent.v1Only`). */
  v1Only?: boolean;
  /** Publish even when this node already shares the same bytes ("Share Anyway"). */
  allowDuplicate?: boolean;
}

export interface ShareResult {
  v1: string;
  v2?: string;
  magnet: string;
  /** False when the catalog could not take the entry (the seed still runs). */
  published: boolean;
  /** Trackers that accepted the registration. */
  registered: string[];
  warnings: string[];
  /** These bytes were already shared by this node (as `name`, from `path`): nothing new was published. */
  duplicateOf?: { name: string; path: string };
}

/** A download that started, or bytes this node already holds (`present`: nothing fetched, `path` says where). */
export type DownloadOutcome = TransferView & { status?: 'started' | 'present' };

/** What Verify found: the application layer's outcome, as it is. */
export type VerifyResult = VerifyOutcome;

export interface CoreOptions {
  home: string;
  modelsDirectory: string;
  listenPort: number;
  /** Peer transports: uTP (BEP 29) and TCP; at least one is on. */
  utp?: boolean;
  tcp?: boolean;
  dht: boolean;
  /** undefined: public bootstrap nodes; []: none (a private network). */
  dhtBootstrap?: string[];
  trackers: string[];
  downloadLimit: number;
  uploadLimit: number;
  /** Share folders as a BEP 16 super-seed. */
  superSeed?: boolean;
  trustedPublishers: string[];
  catalogSources: string[];
  /** `auto`: attach to a daemon running on the home, else embed a node; `embedded`; `attach` (never embed). */
  node: 'auto' | 'embedded' | 'attach';
  /** Use the Hugging Face Hub as a web seed for entries that record their Hub origin (default true). */
  hfWebSeed?: boolean;
}

/** What the UI asks of the core. Every method may reject with an Error whose message is fit to show as is. */
export interface UiCore {
  /** Starts the engine and resumes the previous session's seeds and downloads. */
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly started: boolean;
  /** The engine's DHT node's UDP port (undefined with DHT off). */
  readonly dhtPort: number | undefined;
  /** `embedded`: the editor runs the home's node; `attached`: a daemon does, reached through its control API. */
  readonly mode: 'embedded' | 'attached' | undefined;
  /** Fires whenever transfers, the catalog, local models or the tracker change (stats at least once a second). */
  onDidChange(listener: (what: 'transfers' | 'catalog' | 'local' | 'tracker') => void): { dispose(): void };
  /** Fires when the node went away without the editor asking (`silmaril stop`, or the attached daemon stopped);
   *  `restart`: start again (an attached editor then embeds its own node). */
  onDidEnd(listener: (why: string, restart: boolean) => void): { dispose(): void };

  transfers(): TransferView[];
  share(req: ShareRequest, onProgress: (p: Progress) => void, signal: AbortSignal): Promise<ShareResult>;
  /** `firstFiles`: patterns of files fetched before all others (setting `silmaril.download.firstFiles`);
   *  `sequential`: pieces in index order (setting `silmaril.download.sequential`). */
  download(
    model: { magnet: string; name: string; size: number },
    outDir: string,
    opts?: { firstFiles?: string[]; sequential?: boolean },
  ): Promise<DownloadOutcome>;
  /** Copies bytes this node already holds (transfer `id`) into `dest`, checked against the torrent; returns the copy. */
  copyPresent?(id: string, dest: string): Promise<{ path: string; verified: boolean }>;
  /** Downloads into the Hugging Face cache; `done` settles once the snapshot is in place. */
  downloadIntoHfCache?(
    model: { magnet: string; name: string; v1?: string },
    opts?: { cacheDir?: string; webSeed?: boolean },
  ): Promise<{ transfer: TransferView; done: Promise<{ snapshot: string; verified: boolean }> }>;
  pause(id: string): Promise<void>;
  resume(id: string): Promise<void>;
  cancel(id: string, deleteFiles: boolean): Promise<void>;
  /** Stops seeding; `withdraw` also withdraws this node's catalog entry for the bytes (others stop seeing it). */
  stopSharing(id: string, opts?: { withdraw?: boolean }): Promise<{ withdrawn: string[] }>;
  verify(id: string, onProgress: (p: Progress) => void, signal: AbortSignal): Promise<VerifyResult>;
  torrentFile(id: string): Promise<Uint8Array>;

  searchCatalog(query: SearchQuery): Promise<ListedEntry[]>;
  refreshCatalog(): Promise<void>;

  /** Model folders under these roots (a root that is itself a model counts). */
  localModels(roots: string[]): Promise<LocalModelView[]>;
  /** Proposed share fields read from a folder's model card and config. */
  describeFolder(folder: string): Promise<Partial<Pick<ShareRequest, 'name' | 'license' | 'tags' | 'description'>>>;

  startTracker(host: string, port: number): Promise<TrackerStatus>;
  stopTracker(): Promise<void>;
  trackerStatus(): TrackerStatus;
}
