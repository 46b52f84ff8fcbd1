// The views write sizes, rates, times and counts with the one formatter the CLI and the webview use too
// (src/shared/format.ts, docs/formatting.md); this file re-exports it for the editor layer and adds the catalog's
// swarm-count wording.
import { formatAgo } from '../shared/format.js';

export { formatAgo, formatBytes, formatCount, formatEta, formatRate, plural, RATE_FLOOR } from '../shared/format.js';

/** A swarm count as the catalog shows it: "3 seeders · 1 peer" and "counted 2 min ago", or "not counted yet". */
export function swarmText(
  m: { seeders: number; leechers?: number; countedAt?: number | null },
  now = Date.now(),
): { counts: string; when: string; counted: boolean } {
  const at = m.countedAt;
  if (at === null || (at === undefined && !m.seeders)) return { counts: 'not counted yet', when: '', counted: false };
  const seeders = `${m.seeders} seeder${m.seeders === 1 ? '' : 's'}`;
  const leechers = m.leechers ?? 0;
  const counts = leechers ? `${seeders} · ${leechers} peer${leechers === 1 ? '' : 's'}` : seeders;
  if (at === undefined) return { counts, when: '', counted: true };
  // countedAt is unix ms; a value in seconds (an older node) is scaled.
  return { counts, when: `counted ${formatAgo(at < 1e12 ? at * 1000 : at, now)}`, counted: true };
}
