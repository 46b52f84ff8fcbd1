// The messages between the Transfers webview and the extension host, one source of truth for both sides: the host
// (src/ui/transfers-view.ts) checks what the page posts with parseWebviewMessage (a webview is a web page: nothing
// it posts is trusted until it has the expected shape), and the page (src/webview/transfers.ts, bundled by esbuild)
// checks what it receives with parseHostMessage. No vscode and no Node here: both bundles import this file.
import type { TrackerStatus, TransferState } from '../app/types.js';

export interface TransferRow {
  id: string;
  name: string;
  kind: 'seed' | 'download';
  state: TransferState;
  progress: number;
  size: number;
  downloadRate: number;
  uploadRate: number;
  peers: number;
  /** Bytes received from peers other than seeds. */
  fromPeers: number;
  etaSeconds: number | null;
  verified: boolean | null;
  error: string | null;
  /** Bytes from the Hugging Face Hub and from peers (null without a Hub web seed). */
  webBytes?: number | null;
  peerBytes?: number | null;
  /** The node's own catalog file (shown only with Show System Transfers): no Pause or Cancel is offered. */
  system?: boolean;
}

/** Host → webview. */
export type HostMessage = {
  type: 'state';
  transfers: TransferRow[];
  tracker: TrackerStatus;
  /** False in an untrusted workspace: the view says why nothing transfers. */
  trusted: boolean;
  engine: 'starting' | 'running' | 'stopped' | 'untrusted' | 'failed';
};

/** Webview → host. */
export type WebviewMessage =
  | { type: 'ready' }
  | { type: 'pause' | 'resume' | 'cancel' | 'reveal'; id: string }
  | { type: 'startTracker' | 'stopTracker' | 'shareFolder' | 'downloadModel' };

const ID = /^[0-9a-f]{40}$/;
const ACTIONS = new Set(['pause', 'resume', 'cancel', 'reveal']);

export function parseWebviewMessage(raw: unknown): WebviewMessage | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const m = raw as Record<string, unknown>;
  const keys = Object.keys(m);
  if (
    m.type === 'ready' ||
    m.type === 'startTracker' ||
    m.type === 'stopTracker' ||
    m.type === 'shareFolder' ||
    m.type === 'downloadModel'
  ) {
    return keys.length === 1 ? { type: m.type } : undefined;
  }
  if (
    typeof m.type === 'string' &&
    ACTIONS.has(m.type) &&
    typeof m.id === 'string' &&
    ID.test(m.id) &&
    keys.length === 2
  ) {
    return { type: m.type as 'pause', id: m.id };
  }
  return undefined;
}

const STATES: readonly TransferState[] = ['checking', 'metadata', 'downloading', 'seeding', 'paused', 'done', 'error'];
const ENGINE: readonly HostMessage['engine'][] = ['starting', 'running', 'stopped', 'untrusted', 'failed'];

const count = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

function isRow(r: unknown): r is TransferRow {
  if (typeof r !== 'object' || r === null) return false;
  const x = r as Record<string, unknown>;
  return (
    typeof x.id === 'string' &&
    ID.test(x.id) &&
    typeof x.name === 'string' &&
    (x.kind === 'seed' || x.kind === 'download') &&
    STATES.includes(x.state as TransferState) &&
    count(x.progress) &&
    x.progress <= 1 &&
    count(x.size) &&
    count(x.downloadRate) &&
    count(x.uploadRate) &&
    count(x.peers) &&
    count(x.fromPeers) &&
    (x.etaSeconds === null || count(x.etaSeconds)) &&
    (x.verified === null || typeof x.verified === 'boolean') &&
    (x.error === null || typeof x.error === 'string') &&
    (x.webBytes == null || count(x.webBytes)) &&
    (x.peerBytes == null || count(x.peerBytes)) &&
    (x.system === undefined || typeof x.system === 'boolean')
  );
}

function isTracker(t: unknown): t is TrackerStatus {
  if (typeof t !== 'object' || t === null) return false;
  const x = t as Record<string, unknown>;
  return (
    typeof x.running === 'boolean' &&
    count(x.torrents) &&
    count(x.seeders) &&
    count(x.leechers) &&
    (x.announceUrl === undefined || typeof x.announceUrl === 'string')
  );
}

/** What the page accepts from the host (and from its own saved state): anything else is not ours. */
export function parseHostMessage(raw: unknown): HostMessage | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const m = raw as Record<string, unknown>;
  if (m.type !== 'state' || !Array.isArray(m.transfers) || !m.transfers.every(isRow)) return undefined;
  if (!isTracker(m.tracker) || typeof m.trusted !== 'boolean') return undefined;
  if (!ENGINE.includes(m.engine as HostMessage['engine'])) return undefined;
  return m as HostMessage;
}
