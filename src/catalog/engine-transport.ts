// Catalog files as torrents through the P2P engine: every node that holds a catalog seeds it (from
// <home>/catalogs/<v1>/), and a fetch is an ordinary download by infohash with peers from the DHT.
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Engine } from '../engine/engine.js';
import { createTorrent } from '../torrent/create.js';
import { MAX_CATALOG_BYTES } from './catalog-file.js';
import type { CatalogTransport } from './transport.js';

const KEEP_SEEDED = 4;

export class EngineTransport implements CatalogTransport {
  private readonly seeded: string[] = [];

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
    await rm(final, { recursive: true, force: true });
    await rename(scratch, final);
    await this.seed(t.infoHashV1, join(final, fileName), t.torrentBytes);
    return t.infoHashV1;
  }

  private async seed(ih: string, path: string, torrent: Uint8Array) {
    if (!this.engine.get(ih)) await this.engine.seed(path, { torrent, trusted: true });
    this.seeded.push(ih);
    // Old catalogs of ours stop being seeded (the torrent does not grow with every version, unlike the Go one).
    while (this.seeded.length > KEEP_SEEDED) {
      const old = this.seeded.shift()!;
      if (!this.seeded.includes(old)) await this.engine.remove(old).catch(() => {});
    }
  }

  async fetch(infohash: string, fileName: string, opts: { maxBytes?: number; timeoutMs?: number } = {}) {
    const dir = this.dir(infohash);
    const path = join(dir, fileName);
    const max = opts.maxBytes ?? MAX_CATALOG_BYTES;
    const have = await stat(path).catch(() => undefined);
    if (!have) {
      const t = await this.engine.download(infohash, { outDir: dir });
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
    // A catalog torrent holds one file; a download lands it in <dir>/<fileName> (single-file torrent).
    const s = await stat(path);
    if (s.size > max) throw new Error(`catalog ${infohash} is over the size limit`);
    return readFile(path);
  }
}
