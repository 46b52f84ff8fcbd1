// What a face asks of a node, wherever it runs: in this process (AppNode, src/app/node.ts) or in another process
// of the same home, reached through its control API (ControlClient, src/app/control-client.ts). The CLI commands
// and the editor are written once against this.
import type {
  ChangeKind,
  DiscoverQuery,
  DiscoverResult,
  DownloadRequest,
  NodeStatus,
  OwnShare,
  SeedRequest,
  ShareRequest,
  ShareResult,
  TransferStats,
  TransferView,
  VerifyOutcome,
  WithdrawResult,
  WorkOptions,
} from './types.js';

export interface NodeApi {
  /** `local`: this process runs the node; `remote`: another process does (the CLI talks to it over HTTP). */
  readonly where: 'local' | 'remote';
  status(): Promise<NodeStatus>;
  transfers(): Promise<TransferView[]>;
  transfer(id: string): Promise<TransferView>;
  /** Engine stats of one transfer (what `get --json` prints). */
  transferStats(id: string): Promise<TransferStats>;

  /** Makes the torrent, seeds it, publishes the signed catalog entry, registers it with the trackers. */
  share(req: ShareRequest, work?: WorkOptions): Promise<ShareResult>;
  /** Publishes a tombstone for one of this home's entries (it disappears everywhere). */
  withdraw(name: string): Promise<WithdrawResult>;
  /** Seeds a folder (or file) without publishing it. */
  seed(req: SeedRequest, work?: WorkOptions): Promise<TransferView>;
  download(req: DownloadRequest): Promise<TransferView>;
  pause(id: string): Promise<void>;
  resume(id: string): Promise<void>;
  /** Stops a transfer and forgets it; `deleteFiles` removes a download's files too. */
  cancel(id: string, deleteFiles?: boolean): Promise<void>;
  /** Stops seeding (the files stay; the catalog entry stays unless withdrawn). */
  stopSharing(id: string): Promise<void>;
  verify(id: string, work?: WorkOptions): Promise<VerifyOutcome>;
  torrentFile(id: string): Promise<Uint8Array>;

  discover(query: DiscoverQuery): Promise<DiscoverResult>;
  /** This home's own catalog entries (withdrawn ones left out). */
  shares(): Promise<OwnShare[]>;

  /** Fires when transfers (at least once a second while any runs), the catalog or the tracker change. */
  onChange(listener: (what: ChangeKind) => void): { dispose(): void };
  /** Stops the node (the remote one too: `silmaril stop`). */
  shutdown(): Promise<void>;
}
