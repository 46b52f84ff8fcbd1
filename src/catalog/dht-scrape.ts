// BEP 33 DHT scrapes: `get_peers` with `scrape: 1` to the nodes closest to an infohash; nodes that implement it
// (libtorrent's, so most of the mainline DHT) answer with two 256-byte bloom filters of the IPs that announced it,
// BFsd (seeds) and BFpe (downloaders). The filters of every answer are OR-ed and their size estimated from the bits
// left at 0. bittorrent-dht 11.0.12 sends no scrape of its own: this reaches its lookup through `_closest` and
// `_rpc`, the members src/catalog/pointers.ts already fences (its test fails if they go away). bittorrent-dht nodes
// do not answer scrapes, so on a network of them the count is undefined, never a false 0.
import type { PeerCount } from './swarm-counts.js';
import { canLookUp, keepClosestTable, lookUp, nodeIdOf } from '../engine/internals.js';

const M = 2048;
const K = 2;

/** BEP 33's estimate of how many distinct items a 256-byte bloom filter holds. */
export function bloomSize(filter: Uint8Array): number {
  let zeros = 0;
  for (let i = 0; i < M; i++) if (!(filter[i >> 3] & (1 << (i & 7)))) zeros++;
  if (zeros === M) return 0;
  // A full filter: the formula has no answer; BEP 33 caps at what a filter can tell (about 6000).
  const c = Math.max(zeros, 1);
  return Math.log(c / M) / (K * Math.log(1 - 1 / M));
}

/** Adds an IP (4 or 16 bytes) to a BEP 33 bloom filter (tests, and a node answering scrapes). */
export function bloomAdd(filter: Uint8Array, ip: Uint8Array, sha1: (b: Uint8Array) => Uint8Array): void {
  const h = sha1(ip);
  for (const i of [(h[0] | (h[1] << 8)) % M, (h[2] | (h[3] << 8)) % M]) filter[i >> 3] |= 1 << (i & 7);
}

/** Seeds and downloaders of `infohash` by BEP 33 scrape; undefined when no node answered with filters. */
export function dhtScrape(dht: any, infohash: string, timeoutMs = 10_000): Promise<PeerCount | undefined> {
  return new Promise((resolve) => {
    if (!canLookUp(dht)) return resolve(undefined);
    const seeds = new Uint8Array(256);
    const peers = new Uint8Array(256);
    let answered = 0;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (!answered) return resolve(undefined);
      resolve({ seeders: Math.round(bloomSize(seeds)), leechers: Math.round(bloomSize(peers)) });
    };
    const timer = setTimeout(finish, timeoutMs);
    timer.unref?.();
    const target = Buffer.from(infohash, 'hex');
    // The lookup caches the nodes it found as the infohash's table, and `announce()` trusts a cached table instead of
    // looking up: a download started within 5 min of a scrape would announce without a lookup and never hear of
    // the peers the DHT holds. Put back whatever table was there before.
    const restore = keepClosestTable(dht, target.toString('hex'));
    const merge = (into: Uint8Array, f: unknown) => {
      if (!(f instanceof Uint8Array) || f.length !== 256) return false;
      for (let i = 0; i < 256; i++) into[i] |= f[i];
      return true;
    };
    try {
      lookUp(
        dht,
        target,
        { q: 'get_peers', a: { id: nodeIdOf(dht), info_hash: target, scrape: 1 } },
        (message: any) => {
          const r = message?.r;
          const a = merge(seeds, r?.BFsd);
          const b = merge(peers, r?.BFpe);
          if (a || b) answered++;
          return true;
        },
        () => {
          restore();
          finish();
        },
      );
    } catch {
      finish();
    }
  });
}
