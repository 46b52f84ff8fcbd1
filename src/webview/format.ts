// How the Transfers page writes sizes, rates and times (pure: unit-tested under node).
import type { TransferRow } from '../ui/messages.js';

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function shortBytes(n: number): string {
  let i = 0;
  while (n >= 1024 && i < UNITS.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? Math.round(n) : n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0)} ${UNITS[i]}`;
}

export function eta(s: number | null): string {
  if (s === null) return '';
  if (s < 60) return `${Math.ceil(s)} s left`;
  if (s < 3600) return `${Math.floor(s / 60)} min left`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min left`;
}

/** `downloading · 1.00 MiB · ↓ 2.00 KiB/s · ↑ 0 B/s · 3 peers · 5 s left` */
export function rowStats(r: TransferRow): string {
  const parts = [
    r.state,
    shortBytes(r.size),
    `↓ ${shortBytes(r.downloadRate)}/s`,
    `↑ ${shortBytes(r.uploadRate)}/s`,
    `${r.peers} peer${r.peers === 1 ? '' : 's'}`,
  ];
  // What fellow downloaders (not seeds) gave: the swarm at work.
  if (r.fromPeers > 0) parts.push(`${shortBytes(r.fromPeers)} from peers`);
  if (r.state === 'downloading' && r.etaSeconds !== null) parts.push(eta(r.etaSeconds));
  if (r.webBytes) parts.push(`${shortBytes(r.webBytes)} from the Hub, ${shortBytes(r.peerBytes ?? 0)} from peers`);
  return parts.join(' · ');
}
