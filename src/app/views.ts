// Engine transfers and catalog entries in the application layer's terms (src/app/types.ts).
import type { CatalogEntry } from '../catalog/entry.js';
import type { Transfer } from '../engine/transfer.js';
import type { OwnShare, TransferState, TransferView } from './types.js';

const STATUS: Record<string, TransferState> = {
  metadata: 'metadata',
  checking: 'checking',
  verifying: 'checking',
  downloading: 'downloading',
  seeding: 'seeding',
  paused: 'paused',
  error: 'error',
};

export function transferView(t: Transfer): TransferView {
  const s = t.stats();
  let state = STATUS[s.status] ?? 'checking';
  // A download that holds every verified piece is done, whatever the engine calls it (it reports "downloading"
  // again for a finished download that was paused and resumed).
  if (t.kind === 'download' && (state === 'seeding' || (state === 'downloading' && s.progress === 1 && t.doneInfo))) {
    state = 'done';
  }
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
    state,
    verified: t.doneInfo ? t.doneInfo.verified : t.kind === 'seed' ? true : undefined,
    magnet: t.magnetURI,
    error: t.error?.message,
    donePath: t.doneInfo?.path,
    webBytes: s.webBytes,
    peerBytes: s.peerBytes,
  };
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
