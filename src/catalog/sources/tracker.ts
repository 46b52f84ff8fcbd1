// Tracker registries (Weightless-compatible API, see docs/protocols.md): reading a registry's search API as a catalog
// source. Registering a share is src/tracker/registry-client.ts (one client for both). Registry entries carry no publisher signature,
// so they are kept as unsigned entries under `tracker:<host>` and shown untrusted.
import type { Catalog } from '../catalog.js';
import type { StoredEntry } from '../store.js';
import { registryBase as baseOf } from '../../tracker/registry-client.js';

/** `http://host:port/announce[/passkey]` -> `http://host:port`; only HTTP(S) trackers have a registry. */
export function registryBase(trackerUrl: string): string {
  const base = baseOf(trackerUrl);
  if (!base) throw new Error(`${trackerUrl}: only HTTP(S) trackers have a registry`);
  return base;
}

const MAX_REPLY_BYTES = 4 * 1024 * 1024;

/** GET /api/registry/search: up to `limit` registry entries as unsigned catalog entries. */
export async function searchRegistry(trackerUrl: string, q = '', limit = 100): Promise<StoredEntry[]> {
  const base = registryBase(trackerUrl);
  const url = `${base}/api/registry/search?q=${encodeURIComponent(q)}&limit=${limit}`;
  const res = await fetch(url, { signal: AbortSignal.timeout(15_000) });
  if (!res.ok) throw new Error(`registry search answered ${res.status}`);
  const text = await res.text();
  if (text.length > MAX_REPLY_BYTES) throw new Error('registry reply over the size limit');
  const rows = JSON.parse(text);
  if (!Array.isArray(rows)) throw new Error('registry search did not return a list');
  const source = `tracker:${new URL(base).host}`;
  const out: StoredEntry[] = [];
  for (const r of rows) {
    const v2 =
      typeof r?.info_hash === 'string' && /^[0-9a-f]{64}$/i.test(r.info_hash) ? r.info_hash.toLowerCase() : undefined;
    const v1raw = typeof r?.v1_info_hash === 'string' && r.v1_info_hash ? r.v1_info_hash : v2 ? '' : r?.info_hash;
    const v1 = typeof v1raw === 'string' && /^[0-9a-f]{40}$/i.test(v1raw) ? v1raw.toLowerCase() : undefined;
    const name = typeof r?.name === 'string' ? r.name.slice(0, 200) : '';
    if ((!v1 && !v2) || !name) continue;
    out.push({
      publisher: source,
      name: name.includes('/') ? name : `${String(r.publisher || 'unknown').replace(/[^\w.-]/g, '')}/${name}`,
      seq: 0,
      v1,
      v2,
      size: Number.isSafeInteger(r.size) ? r.size : 0,
      files: 0,
      license: typeof r.license === 'string' ? r.license.slice(0, 64) : '',
      tags:
        typeof r.tags === 'string'
          ? [
              ...new Set<string>(
                r.tags
                  .split(',')
                  .map((t: string) => t.trim().toLowerCase())
                  .filter(Boolean),
              ),
            ].sort()
          : [],
      description: typeof r.description === 'string' ? r.description.slice(0, 2000) : '',
      format: '',
      architecture: '',
      parameters: 0,
      quantization: '',
      created: 0,
      trackers: [`${base}/announce`],
      webSeeds: [],
      trusted: false,
      source,
      seeders: Number.isSafeInteger(r.seeders) ? r.seeders : 0,
    });
  }
  return out;
}

/** Reads one registry into the catalog; failures are recorded on the source. */
export async function refreshRegistry(catalog: Catalog, trackerUrl: string, q = ''): Promise<number> {
  const id = `tracker:${trackerUrl}`;
  try {
    const entries = await searchRegistry(trackerUrl, q);
    catalog.ingestUnsigned(entries, { id, kind: 'tracker' });
    // The registry's own figure for its swarm, with when: shown as counted (swarm-counts.ts may count it again).
    const now = Date.now();
    for (const e of entries) {
      if (!Number.isSafeInteger(e.seeders) || e.seeders < 0) continue;
      catalog.store.setCounts(e.v1 ?? e.v2!, {
        seeders: e.seeders,
        leechers: 0,
        countedAt: now,
        countedBy: 'registry',
      });
    }
    return entries.length;
  } catch (err) {
    catalog.sourceFailed(id, 'tracker', (err as Error).message);
    return 0;
  }
}
