// Catalog files as torrents through the P2P engine: every node that holds a catalog seeds it (from
// <home>/catalogs/<v1>/), and a fetch is an ordinary download by infohash with peers from the DHT.
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Engine } from '../engine/engine.js';
import { createTorrent } from '../torrent/create.js';
import { MAX_CATALOG_BYTES } from './catalog-file.js';
import type { CatalogTransport } from './transport.js';

/** Versions of our own catalog kept seeded (a follower may still be fetching the one before the newest). */
const KEEP_PUBLISHED = 8;
/**
 * Others' catalogs kept seeded. Each publisher's catalog is its own torrent (there is no shared index catalog
 * holding everyone's), so a node keeps many: when a publisher is offline, its followers are who serve it.
 */
const KEEP_FETCHED = 64;

export class EngineTransport implements CatalogTransport {
  /** Our own catalogs, newest last: the one our feed names must stay seeded. */
  private readonly published: string[] = [];
  /** Catalogs fetched from others, newest last. */
  private readonly fetched: string[] = [];

  constructor(
    private readonly engine: Engine,
    private readonly home: string,
  ) {}

  private dir(ih: string) {
    return join(this.home, 'catalogs', ih);
  }

  async publish(bytes: Uint8Array, fileName: string): Promise<string> {
    // Made in a scratch folder, then moved under its infohash: a catalog is never rewritten while seeded.
    const scratch = join(this.home, 'catalogs', `.new-${process.pid}-${Date.now()}`);
    await mkdir(scratch, { recursive: true });
    await writeFile(join(scratch, fileName), bytes);
    const t = await createTorrent(join(scratch, fileName), { name: fileName });
    const final = this.dir(t.infoHashV1);
    if (await stat(join(final, fileName)).catch(() => undefined)) {
      // The same catalog (same infohash, same bytes) is already there and may be seeding: leave it alone.
      await rm(scratch, { recursive: true, force: true });
    } else {
      await rm(final, { recursive: true, force: true });
      await rename(scratch, final);
    }
    await this.seed(t.infoHashV1, join(final, fileName), t.torrentBytes);
    return t.infoHashV1;
  }

  private async seed(ih: string, path: string, torrent: Uint8Array) {
    if (!this.engine.get(ih)) await this.engine.seed(path, { torrent, trusted: true, system: true });
    await this.hold(ih, this.published);
  }

  /**
   * Catalogs published or fetched lately stay seeded (every node holding a catalog serves it); older ones are
   * dropped with their files, so <home>/catalogs does not grow with every version (unlike the Go network's torrent).
   */
  private async hold(ih: string, list: string[]) {
    const i = list.indexOf(ih);
    if (i >= 0) list.splice(i, 1);
    list.push(ih);
    const keep = list === this.published ? KEEP_PUBLISHED : KEEP_FETCHED;
    while (list.length > keep) {
      const old = list.shift()!;
      // Still wanted in the other list (we published what we had fetched, or the reverse): keep it.
      if (this.published.includes(old) || this.fetched.includes(old)) continue;
      await this.engine.remove(old).catch(() => {});
      await rm(this.dir(old), { recursive: true, force: true }).catch(() => {});
    }
  }

  announce(infohash: string): void {
    const dht = this.engine.dht;
    if (dht && this.engine.port) dht.announce(infohash, this.engine.port, () => {});
  }

  async fetch(infohash: string, fileName: string, opts: { maxBytes?: number; timeoutMs?: number } = {}) {
    const dir = this.dir(infohash);
    let path = join(dir, fileName);
    const max = opts.maxBytes ?? MAX_CATALOG_BYTES;
    const have = await stat(path).catch(() => undefined);
    if (!have) {
      const t = await this.engine.download(infohash, { outDir: dir, system: true });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          void this.engine.remove(infohash).catch(() => {});
          reject(new Error(`no seeder for catalog ${infohash} within ${(opts.timeoutMs ?? 60_000) / 1000} s`));
        }, opts.timeoutMs ?? 60_000);
        const check = () => {
          if ((t as any).parsed && (t as any).parsed.length > max) {
            clearTimeout(timer);
            void this.engine.remove(infohash, { removeFiles: true }).catch(() => {});
            reject(new Error(`catalog ${infohash} is over the size limit`));
          }
        };
        t.on('stats', check);
        t.once('done', () => (clearTimeout(timer), resolve()));
        t.once('error', (err: Error) => (clearTimeout(timer), reject(err)));
        if (t.doneInfo) {
          clearTimeout(timer);
          resolve();
        }
      });
    }
    // Ours hold one file, landing at <dir>/<fileName>; a Go Silmaril catalog torrent is a folder holding it.
    if (!(await stat(path).catch(() => undefined))) {
      const root = this.engine.get(infohash)?.contentRoot;
      if (root && (await stat(join(root, fileName)).catch(() => undefined))) path = join(root, fileName);
    }
    const s = await stat(path);
    if (s.size > max) throw new Error(`catalog ${infohash} is over the size limit`);
    const bytes = await readFile(path);
    await this.hold(infohash, this.fetched);
    return bytes;
  }
}
