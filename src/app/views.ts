// Engine transfers and catalog entries in the application layer's terms (src/app/types.ts). Every face (the CLI,
// the editor's views, the control API) gets its transfer states and its system flag from here, so they agree.
import { sep } from 'node:path';
import type { CatalogEntry } from '../catalog/entry.js';
import type { Transfer, TransferStats } from '../engine/transfer.js';
import { formatAgo, plural } from '../shared/format.js';
import type { ListedEntry, OwnShare, TransferState, TransferView } from './types.js';

const STATUS: Record<string, TransferState> = {
  metadata: 'metadata',
  checking: 'checking',
  verifying: 'checking',
  downloading: 'downloading',
  seeding: 'seeding',
  paused: 'paused',
  error: 'error',
};

/** Whether every piece is held and verified: a share, or a download that finished (and passed its final check). */
export function isComplete(t: Pick<Transfer, 'kind' | 'doneInfo'>, s: Pick<TransferStats, 'progress'>): boolean {
  return s.progress === 1 && (t.kind === 'seed' || t.doneInfo?.verified === true);
}

/**
 * The one state name of a transfer. A finished download serves its bytes like a share does: `seeding`, in
 * Transfers, in Local Models and over the API alike (the engine reports `downloading` again for a finished download
 * that was paused and resumed, and `seeding` as soon as the last piece is in, before the final check: neither is
 * what a user is told).
 */
export function transferState(
  t: Pick<Transfer, 'kind' | 'doneInfo'>,
  s: Pick<TransferStats, 'status' | 'progress'>,
): TransferState {
  const state = STATUS[s.status] ?? 'checking';
  if (state === 'paused' || state === 'error' || state === 'metadata' || state === 'checking') return state;
  if (isComplete(t, s)) return 'seeding';
  // Every piece passed its SHA-1 but the whole-download check (v2 roots, file sizes) did not.
  if (t.kind === 'download' && t.doneInfo && !t.doneInfo.verified) return 'error';
  // The last piece is in but the whole-download check still runs.
  if (state === 'seeding') return t.kind === 'download' ? 'checking' : 'seeding';
  return state;
}

/** The node's own transfers: flagged by whoever started them (the catalog transport), or kept under
 *  `<home>/catalogs` (records written before the flag existed). */
export function isSystemTransfer(t: Pick<Transfer, 'system' | 'contentRoot' | 'outDir'>, home?: string): boolean {
  if (t.system) return true;
  if (!home) return false;
  const catalogs = home.replace(/[\\/]+$/, '') + sep + 'catalogs' + sep;
  return [t.contentRoot, t.outDir].some((p) => !!p && (p + sep).startsWith(catalogs));
}

export function transferView(t: Transfer, home?: string): TransferView {
  const s = t.stats();
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
    state: transferState(t, s),
    complete: isComplete(t, s),
    system: isSystemTransfer(t, home),
    verified: t.doneInfo ? t.doneInfo.verified : t.kind === 'seed' ? true : undefined,
    magnet: t.magnetURI,
    error: t.error?.message ?? (t.doneInfo && !t.doneInfo.verified ? 'the download failed verification' : undefined),
    donePath: t.doneInfo?.path,
    webBytes: s.webBytes,
    peerBytes: s.peerBytes,
  };
}

/** Transfers counted as "active" (the status bar, `status`): moving or serving model bytes, not the node's own. */
export function activeTransfers(list: TransferView[]): number {
  return list.filter((t) => !t.system && t.state !== 'paused' && t.state !== 'error').length;
}

/** What a face says of an entry's swarm: "3 seeders · 1 downloader · counted 2 min ago", or "not counted yet". */
export function swarmText(
  e: Pick<ListedEntry, 'seeders' | 'leechers' | 'countedAt'>,
  now: number = Date.now(),
): string {
  if (e.countedAt === null || e.countedAt === undefined) return 'not counted yet';
  const parts = [plural(e.seeders, 'seeder')];
  if (e.leechers) parts.push(plural(e.leechers, 'downloader'));
  return `${parts.join(' · ')} · counted ${formatAgo(e.countedAt, now)}`;
}

export function ownShare(e: CatalogEntry): OwnShare {
  return {
    name: e.name,
    publisher: e.publisher,
    license: e.license,
    tags: e.tags,
    size: e.size,
    files: e.files,
    format: e.format,
    v1: e.v1,
    v2: e.v2,
    seq: e.seq,
    description: e.description,
    architecture: e.architecture,
    parameters: e.parameters,
  };
}
