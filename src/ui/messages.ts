// The messages between the Transfers webview and the extension host, typed on this side and checked on arrival:
// a webview is a web page, so nothing it posts is trusted until it has the expected shape. media/transfers.js checks
// what it receives against the same shapes.
import type { TrackerStatus, TransferState } from './core.js';

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
  | { type: 'startTracker' | 'stopTracker' };

const ID = /^[0-9a-f]{40}$/;
const ACTIONS = new Set(['pause', 'resume', 'cancel', 'reveal']);

export function parseWebviewMessage(raw: unknown): WebviewMessage | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const m = raw as Record<string, unknown>;
  const keys = Object.keys(m);
  if (m.type === 'ready' || m.type === 'startTracker' || m.type === 'stopTracker') {
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
