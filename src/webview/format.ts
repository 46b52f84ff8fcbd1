// How the Transfers page writes a row's figures (pure: unit-tested under node), with the one formatter the CLI and
// the tree views use (src/shared/format.ts).
import { formatBytes, formatEta, formatRate, RATE_FLOOR } from '../shared/format.js';
import type { TransferRow } from '../ui/messages.js';

export const shortBytes = formatBytes;

export function eta(s: number | null): string {
  if (s === null) return '';
  return `${formatEta(s)} left`;
}

/** Non-breaking spaces inside one figure: the card wraps between figures, never inside "2 peers". */
const keep = (s: string) => s.replace(/ /g, '\u00a0');

/**
 * `downloading · 1.00 MiB · ↓ 2.00 MiB/s · 3 peers · 5 s left`. A rate shows only while something moves (a download
 * in progress always shows its ↓): an idle seed or a finished download has no "↓ 1 B/s ↑ 1 B/s".
 */
export function rowStats(r: TransferRow): string {
  const parts = [r.system ? `${r.state} (system)` : r.state, formatBytes(r.size)];
  if (r.state === 'downloading' || r.downloadRate >= RATE_FLOOR) parts.push(`↓ ${formatRate(r.downloadRate)}`);
  if (r.uploadRate >= RATE_FLOOR) parts.push(`↑ ${formatRate(r.uploadRate)}`);
  parts.push(`${r.peers} peer${r.peers === 1 ? '' : 's'}`);
  // What fellow downloaders (not seeds) gave: the swarm at work.
  if (r.fromPeers > 0) parts.push(`${formatBytes(r.fromPeers)} from peers`);
  if (r.state === 'downloading' && r.etaSeconds !== null) parts.push(eta(r.etaSeconds));
  if (r.webBytes) parts.push(`${formatBytes(r.webBytes)} from the Hub, ${formatBytes(r.peerBytes ?? 0)} from peers`);
  return parts.map(keep).join(' · ');
}
