// The narrow port between the editor layer and the core: everything src/ui needs from the engine, catalog, model
// inventory and tracker, in the UI's own terms. src/ui/node-core.ts implements it over the real core (src/node.ts
// and friends); the views and commands only ever see this interface, which keeps them thin and testable.
import type { ListedEntry, SearchQuery } from '../catalog/store.js';

export type { ListedEntry as CatalogModel, SearchQuery };

export type TransferState = 'checking' | 'metadata' | 'downloading' | 'seeding' | 'paused' | 'done' | 'error';

/** One transfer (a seed or a download), as the Transfers view and the status bar show it. */
export interface TransferView {
  /** v1 infohash (hex); the transfer's identity. */
  id: string;
  v2?: string;
  name: string;
  kind: 'seed' | 'download';
  /** The folder (or file) holding the content. */
  path: string;
  size: number;
  /** 0..1 of the content held and verified. */
  progress: number;
  downloadRate: number;
  uploadRate: number;
  downloaded: number;
  uploaded: number;
  peers: number;
  seeds?: number;
  /** Bytes received from peers that were not seeds (fellow downloaders). */
  fromPeers?: number;
  /** Seconds to completion, when downloading with a known rate. */
  etaSeconds?: number;
  state: TransferState;
  /** True once every piece (and v2 merkle root) checked out; undefined while unknown. */
  verified?: boolean;
  magnet: string;
  error?: string;
  /** With the Hugging Face Hub as a web seed: bytes received from the Hub and from peers. */
  webBytes?: number;
  peerBytes?: number;
}

/** A model folder found on disk (workspace folders and the models directory). */
export interface LocalModelView {
  path: string;
  name: string;
  size: number;
  files: number;
  format: string;
  license?: string;
  tags: string[];
  description?: string;
  parameters?: number;
}

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
}

export interface Progress {
  /** 0..1 */
  fraction: number;
  message?: string;
}

export interface VerifyResult {
  ok: boolean;
  /** Damaged files (relative paths), empty when ok. */
  damaged: string[];
  checkedBytes: number;
}

export interface TrackerStatus {
  running: boolean;
  /** Announce URL, when running. */
  announceUrl?: string;
  torrents: number;
  seeders: number;
  leechers: number;
}

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
  /** Fires whenever transfers, the catalog, local models or the tracker change (stats at least once a second). */
  onDidChange(listener: (what: 'transfers' | 'catalog' | 'local' | 'tracker') => void): { dispose(): void };

  transfers(): TransferView[];
  share(req: ShareRequest, onProgress: (p: Progress) => void, signal: AbortSignal): Promise<ShareResult>;
  download(model: { magnet: string; name: string; size: number }, outDir: string): Promise<TransferView>;
  /** Downloads into the Hugging Face cache; `done` settles once the snapshot is in place. */
  downloadIntoHfCache?(
    model: { magnet: string; name: string; v1?: string },
    opts?: { cacheDir?: string; webSeed?: boolean },
  ): Promise<{ transfer: TransferView; done: Promise<{ snapshot: string; verified: boolean }> }>;
  pause(id: string): Promise<void>;
  resume(id: string): Promise<void>;
  cancel(id: string, deleteFiles: boolean): Promise<void>;
  stopSharing(id: string): Promise<void>;
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
