// What a face asks of a node, wherever it runs: in this process (AppNode, src/app/node.ts) or in another process
// of the same home, reached through its control API (ControlClient, src/app/control-client.ts). The CLI commands
// and the editor are written once against this.
import type * as T from './types.js';

export interface NodeApi {
  /** `local`: this process runs the node; `remote`: another process does (the CLI talks to it over HTTP). */
  readonly where: 'local' | 'remote';
  /** `all`: the transfers listed include the node's system ones (catalog files); they are left out by default. */
  status(opts?: T.TransferListOptions): Promise<T.NodeStatus>;
  /** Model transfers; with `all`, the node's system transfers (catalog files) too, each flagged `system`. */
  transfers(opts?: T.TransferListOptions): Promise<T.TransferView[]>;
  transfer(id: string): Promise<T.TransferView>;
  /** Engine stats of one transfer (what `get --json` prints). */
  transferStats(id: string): Promise<T.TransferStats>;

  /** Makes the torrent, seeds it, publishes the signed catalog entry, registers it with the trackers. When one of
   *  this node's entries already names the same bytes under another name, nothing is seeded or published unless
   *  `allowDuplicate`: the result says `duplicateOf`. */
  share(req: T.ShareRequest, work?: T.WorkOptions): Promise<T.ShareResult>;
  /** Publishes a tombstone for one of this home's entries (it disappears everywhere). */
  withdraw(name: string): Promise<T.WithdrawResult>;
  /** Seeds a folder (or file) without publishing it. */
  seed(req: T.SeedRequest, work?: T.WorkOptions): Promise<T.TransferView>;
  /** Starts a download; `status: 'present'` when this node already holds every byte (seeded or downloaded from
   *  another folder): nothing is fetched and `path` says where the bytes are. */
  download(req: T.DownloadRequest): Promise<T.DownloadResult>;
  /** Copies the bytes of a complete transfer (a `present` download) to `<dest>/<name>`, then verifies the copy. */
  copyPresent(id: string, dest: string, work?: T.WorkOptions): Promise<T.CopyPresentResult>;
  /** Downloads into the Hugging Face cache (blobs, snapshot links, refs); `done` settles once the snapshot is in. */
  downloadIntoHfCache(req: T.HfDownloadRequest): Promise<T.HfDownloadStarted>;
  /** Pauses a transfer; a system transfer (a catalog file) only with `force`. */
  pause(id: string, opts?: T.StopOptions): Promise<void>;
  resume(id: string): Promise<void>;
  /** Stops a transfer and forgets it; `deleteFiles` removes a download's files too. A system transfer (a catalog
   *  file) is refused with SystemTransferError unless `force`. */
  cancel(id: string, deleteFiles?: boolean, opts?: T.StopOptions): Promise<void>;
  /** Stops seeding (the files stay); `withdraw` also withdraws this node's catalog entries for these bytes. A
   *  system transfer is refused unless `force`. */
  stopSharing(id: string, opts?: T.StopSharingOptions): Promise<T.StopSharingResult>;
  verify(id: string, work?: T.WorkOptions): Promise<T.VerifyOutcome>;
  torrentFile(id: string): Promise<Uint8Array>;

  discover(query: T.DiscoverQuery): Promise<T.DiscoverResult>;
  /** This home's own catalog entries (withdrawn ones left out). */
  shares(): Promise<T.OwnShare[]>;

  /** Starts the embedded tracker (HTTP + UDP announce, scrape, registry API) in the node; running already: as is. */
  startTracker(host: string | undefined, port: number): Promise<T.TrackerStatus>;
  stopTracker(): Promise<void>;

  /** Fires when transfers (at least once a second while any runs), the catalog or the tracker change. */
  onChange(listener: (what: T.ChangeKind) => void): { dispose(): void };
  /** Stops the node (the remote one too: `silmaril stop`). */
  shutdown(): Promise<void>;
}
