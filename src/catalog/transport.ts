// How catalog files travel: published under a v1 infohash, fetched by it. The node's transport seeds them as
// torrents through the engine (every node holding a catalog seeds it); tests use the in-memory one.
import { createHash } from 'node:crypto';
import { MAX_CATALOG_BYTES } from './catalog-file.js';

export interface CatalogTransport {
  /** Makes `bytes` available to others as `fileName`; returns the v1 infohash they fetch it by. */
  publish(bytes: Uint8Array, fileName: string): Promise<string>;
  /** Fetches `fileName` from the torrent `infohash`, refusing more than `maxBytes`. */
  fetch(infohash: string, fileName: string, opts?: { maxBytes?: number; timeoutMs?: number }): Promise<Uint8Array>;
  /** Tells the DHT again that we seed `infohash` (after the DHT found its first nodes). */
  announce?(infohash: string): void;
}

/** A shared map standing in for the swarm (tests): the key is SHA-1 of the bytes, like an infohash would be. */
export class MemoryTransport implements CatalogTransport {
  constructor(readonly blobs = new Map<string, Uint8Array>()) {}

  async publish(bytes: Uint8Array): Promise<string> {
    const ih = createHash('sha1').update(bytes).digest('hex');
    this.blobs.set(ih, bytes);
    return ih;
  }

  async fetch(infohash: string, _fileName: string, opts: { maxBytes?: number } = {}): Promise<Uint8Array> {
    const b = this.blobs.get(infohash);
    if (!b) throw new Error(`no seeder for catalog ${infohash}`);
    if (b.length > (opts.maxBytes ?? MAX_CATALOG_BYTES)) throw new Error(`catalog ${infohash} is over the size limit`);
    return b;
  }
}
