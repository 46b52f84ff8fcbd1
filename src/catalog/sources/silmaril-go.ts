// The Silmaril (Go) network, read-only: its pointer is a BEP 44 item under a well-known key whose private key every
// peer holds, so nothing it says is signed by a publisher. Its entries are kept apart (publisher `silmaril-go`) and
// always shown untrusted. Wire facts: docs/protocols.md, "Compatibility".
import { createHash } from 'node:crypto';
import type { Catalog } from '../catalog.js';
import type { StoredEntry } from '../store.js';
import type { PointerClient } from '../pointers.js';
import type { CatalogTransport } from '../transport.js';
import { silentLogger, type Logger } from '../../log.js';

export const GO_SEED = createHash('sha256').update('silmaril-discovery-v1').digest();
export const GO_PUBLIC_KEY = 'ab8569632600889aaecccb653cce09acfcef4c2784d5bc0e16a9cb376606b729';
export const GO_TARGET = 'f10a81c5dc04648b6a7394d4b32d2dc9c9218f03';
export const GO_PUBLISHER = 'silmaril-go';
export const GO_CATALOG_FILE = 'catalog.json';
const MAX_GO_CATALOG = 16 * 1024 * 1024;
const MAX_GO_ENTRIES = 100_000;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,95}\/[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export interface GoPointer {
  infohash: string;
  seq: number;
  updated: number;
}

/** `{"infohash":"<40 hex>","seq":N,"updated":<unix s>}`; undefined for anything else. */
export function parseGoPointer(v: Uint8Array): GoPointer | undefined {
  try {
    const j = JSON.parse(Buffer.from(v).toString('utf8'));
    if (typeof j?.infohash !== 'string' || !/^[0-9a-fA-F]{40}$/.test(j.infohash)) return undefined;
    return {
      infohash: j.infohash.toLowerCase(),
      seq: Number.isSafeInteger(j.seq) ? j.seq : 0,
      updated: Number.isSafeInteger(j.updated) ? j.updated : 0,
    };
  } catch {
    return undefined;
  }
}

/** `catalog.json`: `{"v":1,"seq":N,"t":..,"m":{"org/model":{"h":"<v1>","s":size,"t":[tags],"a":added}}}`. */
export function parseGoCatalog(bytes: Uint8Array): { entries: StoredEntry[]; skipped: number } {
  if (bytes.length > MAX_GO_CATALOG) throw new Error('Silmaril (Go) catalog over the size limit');
  const j = JSON.parse(Buffer.from(bytes).toString('utf8'));
  if (!j || j.v !== 1 || typeof j.m !== 'object' || j.m === null) throw new Error('not a Silmaril (Go) catalog.json');
  const entries: StoredEntry[] = [];
  let skipped = 0;
  for (const [name, m] of Object.entries(j.m as Record<string, any>).slice(0, MAX_GO_ENTRIES)) {
    if (!NAME_RE.test(name) || name.includes('..') || typeof m?.h !== 'string' || !/^[0-9a-fA-F]{40}$/.test(m.h)) {
      skipped++;
      continue;
    }
    const tags = Array.isArray(m.t) ? m.t.filter((t: unknown) => typeof t === 'string' && t.length <= 48) : [];
    entries.push({
      publisher: GO_PUBLISHER,
      name,
      seq: Number.isSafeInteger(j.seq) ? j.seq : 0,
      v1: m.h.toLowerCase(),
      size: Number.isSafeInteger(m.s) && m.s >= 0 ? m.s : 0,
      files: 0,
      license: '',
      tags: [...new Set<string>(tags.map((t: string) => t.toLowerCase().replace(/[\s,]+/g, '-')))].sort().slice(0, 32),
      description: '',
      format: '',
      architecture: '',
      parameters: 0,
      quantization: '',
      created: Number.isSafeInteger(m.a) ? m.a : 0,
      trackers: [],
      webSeeds: [],
      trusted: false,
      source: GO_PUBLISHER,
      seeders: 0,
    });
  }
  return { entries, skipped };
}

export class SilmarilGoSource {
  private lastInfohash?: string;

  constructor(
    private readonly catalog: Catalog,
    private readonly pointers: PointerClient,
    private readonly transport: CatalogTransport,
    private readonly log: Logger = silentLogger,
  ) {}

  async refresh(fresh = false): Promise<number> {
    const id = GO_PUBLISHER;
    try {
      const item = await this.pointers.getItem(Buffer.from(GO_PUBLIC_KEY, 'hex'), undefined, fresh);
      const p = item ? parseGoPointer(item.v) : undefined;
      if (!p) throw new Error('no Silmaril (Go) pointer found');
      if (p.infohash === this.lastInfohash) return 0;
      const bytes = await this.transport.fetch(p.infohash, GO_CATALOG_FILE, { maxBytes: MAX_GO_CATALOG });
      const { entries, skipped } = parseGoCatalog(bytes);
      // Union, as for signed entries: a Go peer that reset its catalog to empty does not erase what we saw.
      this.catalog.ingestUnsigned(entries, { id, kind: 'silmaril-go', pointerSeq: item.seq, infohash: p.infohash });
      if (skipped) this.log.debug(`silmaril-go: skipped ${skipped} malformed entries`);
      this.lastInfohash = p.infohash;
      return entries.length;
    } catch (err) {
      this.catalog.sourceFailed(id, 'silmaril-go', (err as Error).message);
      return 0;
    }
  }
}
