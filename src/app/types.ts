// The application layer's vocabulary: what both faces (src/cli, src/ui) and the control API speak. Plain data only,
// so it crosses the HTTP border (src/app/control-*.ts) unchanged.
import type { ListedEntry, SearchQuery, SortKey, SourceState } from '../catalog/store.js';
import type { TransferStats } from '../engine/transfer.js';
import type { FileOrder } from '../engine/file-order.js';

export type { ListedEntry, SearchQuery, SortKey, SourceState, TransferStats };

/** One name for where a transfer is, computed in one place (src/app/views.ts, `transferState`) for every view: a
 *  finished download that serves its bytes is `seeding`, like a share. `done` is no longer produced (kept so older
 *  faces and nodes still parse). */
export type TransferState = 'checking' | 'metadata' | 'downloading' | 'seeding' | 'paused' | 'done' | 'error';

/** One transfer (a seed or a download), as the views, the status bar and `silmaril status` show it. */
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
  /** Every piece is held and verified (a share, or a download that finished). */
  complete: boolean;
  /** The node's own business (a catalog file it publishes or follows, `<home>/catalogs/...`): hidden from model views
   *  and from the active-transfers count, refused by stop/cancel/stop-sharing unless forced. */
  system: boolean;
  /** True once every piece (and v2 merkle root) checked out; undefined while unknown. */
  verified?: boolean;
  magnet: string;
  error?: string;
  /** Where the download ended (set once it is done). */
  donePath?: string;
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
  architecture?: string;
  quantization?: string;
  contextLength?: number;
  /** safetensors dtypes seen, e.g. `{ BF16: 290 }`. */
  dtypes?: Record<string, number>;
  /** Header problems (a truncated download...): the model is still listed. */
  warnings?: string[];
  /** A folder of the node's own (a catalog file under `<home>/catalogs`): not a model; faces hide it. */
  system?: boolean;
}

export interface Progress {
  /** 0..1 */
  fraction: number;
  message?: string;
}

/** Long work (hashing, verifying) reports progress and stops on its signal. */
export interface WorkOptions {
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
}

export interface ShareRequest {
  /** The model folder (or file). */
  path: string;
  /** `org/model`. */
  name: string;
  /** Default: the model card's. */
  license?: string;
  /** Default: the model card's. */
  tags?: string[];
  /** Default: the model card's. */
  description?: string;
  /** Announce URLs: in the torrent, the catalog entry, and registered with their registries. */
  trackers?: string[];
  pieceLength?: number;
  /** X-Weightless-Key for the registries (default: the node's key source, then $SILMARIL_REGISTRY_KEY). */
  registryKey?: string;
  /** A v1-only torrent, for clients that cannot read hybrids. */
  v1Only?: boolean;
  /** Seed it as a BEP 16 super-seed (an initial seed: pieces revealed one by one so peers trade). */
  superSeed?: boolean;
  /** A Hugging Face cache snapshot to share in place (`org/name[@rev]`); `path` may then be empty. A `path` inside
   *  the cache is recognised by itself. */
  hf?: string;
  /** Publish a second catalog entry even when this node already shares the same bytes (same infohash). */
  allowDuplicate?: boolean;
}

/** The share already existing for the same bytes (same v1 infohash): a seed of this node or one of its entries. */
export interface DuplicateOf {
  /** The catalog name of our entry for these bytes ('' when they are only seeded, never published). */
  name: string;
  /** Where the bytes are seeded from ('' when our entry names them but no seed runs). */
  path: string;
}

/** What a share did: the entry's fields as published, where, and what went wrong on the way (never the seed). */
export type ShareResult = Pick<
  ListedEntry,
  'name' | 'publisher' | 'fingerprint' | 'license' | 'tags' | 'size' | 'files' | 'format' | 'v2' | 'magnet'
> & {
  v1: string;
  /** The catalog entry's sequence number (0 when the catalog could not take it). */
  seq: number;
  path: string;
  /** False when the catalog could not take the entry (the seed still runs). */
  published: boolean;
  /** Trackers whose registries accepted the registration. */
  registered: string[];
  warnings: string[];
  /** The Hugging Face origin recorded in the entry (a share from the HF cache). */
  hfRepo?: string;
  hfCommit?: string;
  /** Set when these bytes were already shared by this node: without `allowDuplicate`, nothing new was published
   *  (`published` false, `seq` that of the existing entry or 0). */
  duplicateOf?: DuplicateOf;
};

export interface WithdrawResult {
  name: string;
  publisher: string;
  seq: number;
  /** The registries (tracker URLs) the entry's listing was removed from. */
  unregistered?: string[];
  /** Registries that could not be reached or refused: the listing may still be there. */
  warnings?: string[];
}

export interface DownloadRequest {
  /** A magnet link, an infohash, a .torrent path or its bytes, or a catalog name (`org/model`). */
  source: string | Uint8Array;
  /** Destination folder (default: the home's models folder). */
  outDir?: string;
  /** `host:port` peers to connect to. */
  peers?: string[];
  /** The Hugging Face Hub as a verified web seed for entries that record their Hub origin: false never; otherwise
   *  while peers deliver less than minRate bytes/s (default: only when no peer has data). */
  webSeed?: false | { minRate?: number };
  /** The files fetched first: `first` patterns (default DEFAULT_FIRST_FILES: config, tokenizer, README; an empty list
   *  for none; file-order.ts); `sequential`: every piece in index order instead of rarest first (streaming a file as it
   *  arrives; worse for a swarm). */
  order?: Pick<FileOrder, 'first' | 'sequential'>;
}

/** What a download did. `started`: a transfer runs (or already ran) for it, `path` where it lands. `present`: this
 *  node already holds every byte (a seed or a finished download, from another folder): nothing is fetched, `path` is
 *  where the bytes are (open them there, or `copyPresent` them where wanted). */
export interface DownloadResult extends TransferView {
  status: 'started' | 'present';
}

export interface CopyPresentResult {
  /** The copied folder (or file): `<dest>/<torrent name>`. */
  path: string;
  /** Every piece of the copy checked against the torrent (v1 and v2 hashes). */
  verified: boolean;
  bytes: number;
}

export interface TransferListOptions {
  /** Include the node's system transfers (catalog files); default: leave them out. */
  all?: boolean;
}

export interface StopOptions {
  /** Allowed on a system transfer (a catalog file): otherwise refused with SystemTransferError. */
  force?: boolean;
}

export interface StopSharingOptions extends StopOptions {
  /** Also withdraw (tombstone) this node's catalog entries for these bytes, so others stop seeing them. */
  withdraw?: boolean;
}

export interface StopSharingResult {
  id: string;
  /** The entries withdrawn (empty without `withdraw`, or when no entry of ours names these bytes). */
  withdrawn: WithdrawResult[];
}

export interface SeedRequest {
  path: string;
  /** A .torrent made earlier for `path` (base64 over the API); default: make one. */
  torrent?: Uint8Array;
  pieceLength?: number;
  trackers?: string[];
  /** BEP 16 super-seeding. */
  superSeed?: boolean;
}

export interface VerifyOutcome {
  ok: boolean;
  /** Damaged files (relative paths, with the reason), empty when ok. */
  damaged: string[];
  /** Of those, the files that are there but cannot be read (relative paths, with why): a permission to fix, not
   *  bytes to fetch again. */
  unreadable?: string[];
  checkedBytes: number;
}

export interface DiscoverQuery extends SearchQuery {
  /** Read the network (DHT pointers, catalog files, registries) first, for at most `timeoutMs`. */
  refresh?: boolean;
  timeoutMs?: number;
  /** Tracker registries (http(s) announce URLs) to read once for this search, besides the node's own sources
   *  (`discover --tracker` through a running node). */
  registries?: string[];
}

/** A download into the Hugging Face cache (`get --hf-cache`): the origin from the catalog entry or `repoSpec`. */
export interface HfDownloadRequest {
  /** A magnet, an infohash, a .torrent path, or the .torrent's bytes. */
  source: string | Uint8Array;
  /** `ORG/NAME@COMMIT` when no catalog entry records the origin. */
  repoSpec?: string;
  /** The cache folder (default HF_HUB_CACHE / HF_HOME / ~/.cache/huggingface/hub of the node's process). */
  cacheDir?: string;
  /** refs/<ref> to point at the commit once installed. */
  ref?: string;
  peers?: string[];
  webSeed?: false | { minRate?: number };
}

export interface HfDownloadStarted {
  transfer: TransferView;
  /** Files the cache already held (not fetched). */
  reused: string[][];
  /** Settles once the snapshot is in place (the transfer then leaves the node: its files became blobs). */
  done: Promise<{ snapshot: string; verified: boolean }>;
}

export interface DiscoverResult {
  entries: ListedEntry[];
  total: number;
  /** Each source the catalog reads, with when it last answered (unix seconds) and its last error. */
  sources: SourceState[];
  /** Whether this search read the network first, and whether the refresh finished within its time limit. */
  refreshed: 'no' | 'complete' | 'timed-out';
}

/** One of this home's own catalog entries (withdrawn ones are not listed). */
export type OwnShare = Pick<
  ListedEntry,
  | 'name'
  | 'publisher'
  | 'license'
  | 'tags'
  | 'size'
  | 'files'
  | 'format'
  | 'v1'
  | 'v2'
  | 'seq'
  | 'description'
  | 'architecture'
  | 'parameters'
>;

export interface TrackerStatus {
  running: boolean;
  /** Announce URL, when running. */
  announceUrl?: string;
  torrents: number;
  seeders: number;
  leechers: number;
}

export interface NodeStatus {
  pid: number;
  /** What runs the node: `daemon`, `editor`, or a command. */
  kind: string;
  home: string;
  /** Seconds since the node started. */
  uptime: number;
  port?: number;
  dhtPort?: number;
  dhtNodes: number;
  publisher?: string;
  fingerprint?: string;
  catalogEntries: number;
  /** Every transfer, system ones included (each says `system`). */
  transfers: TransferView[];
  /** Transfers that move or serve model bytes now: not paused, not failed, not system. */
  activeTransfers: number;
  /** The last catalog publish on the DHT (undefined before the first try). */
  catalogPublish?: PublishState;
  tracker: TrackerStatus;
}

/** Whether this node's catalog pointer reached the DHT: `published` only when a put was stored by at least one node. */
export interface PublishState {
  state: 'published' | 'pending' | 'failed';
  /** Unix ms of the last attempt. */
  at: number;
  /** Nodes that stored the put (published), or why it is pending/failed (`no DHT nodes (will retry)`). */
  acks?: number;
  message?: string;
}

export type ChangeKind = 'transfers' | 'catalog' | 'local' | 'tracker';
