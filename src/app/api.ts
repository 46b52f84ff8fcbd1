// What a face asks of a node, wherever it runs: in this process (AppNode, src/app/node.ts) or in another process
// of the same home, reached through its control API (ControlClient, src/app/control-client.ts). The CLI commands
// and the editor are written once against this.
import type * as T from './types.js';

export interface NodeApi {
  /** `local`: this process runs the node; `remote`: another process does (the CLI talks to it over HTTP). */
  readonly where: 'local' | 'remote';
  status(): Promise<T.NodeStatus>;
  transfers(): Promise<T.TransferView[]>;
  transfer(id: string): Promise<T.TransferView>;
  /** Engine stats of one transfer (what `get --json` prints). */
  transferStats(id: string): Promise<T.TransferStats>;

  /** Makes the torrent, seeds it, publishes the signed catalog entry, registers it with the trackers. */
  share(req: T.ShareRequest, work?: T.WorkOptions): Promise<T.ShareResult>;
  /** Publishes a tombstone for one of this home's entries (it disappears everywhere). */
  withdraw(name: string): Promise<T.WithdrawResult>;
  /** Seeds a folder (or file) without publishing it. */
  seed(req: T.SeedRequest, work?: T.WorkOptions): Promise<T.TransferView>;
  download(req: T.DownloadRequest): Promise<T.TransferView>;
  /** Downloads into the Hugging Face cache (blobs, snapshot links, refs); `done` settles once the snapshot is in. */
  downloadIntoHfCache(req: T.HfDownloadRequest): Promise<T.HfDownloadStarted>;
  pause(id: string): Promise<void>;
  resume(id: string): Promise<void>;
  /** Stops a transfer and forgets it; `deleteFiles` removes a download's files too. */
  cancel(id: string, deleteFiles?: boolean): Promise<void>;
  /** Stops seeding (the files stay; the catalog entry stays unless withdrawn). */
  stopSharing(id: string): Promise<void>;
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
