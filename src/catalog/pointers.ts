// How catalogs are found on the DHT (docs/catalog-security.md has the threat model):
// - each publisher's own feed: a BEP 44 mutable item under its key, salt `silmaril:catalog:v1`, value {ih, n, t}
//   pointing at its catalog torrent. Only the key's holder can write it, so nobody can freeze or poison it.
// - the rendezvous: every node holding catalogs announces itself (announce_peer, implied port: its DHT port) on one
//   well-known infohash, and answers a BEP 44 `get` for that same target with its *directory*: a mutable item signed
//   by its own key (salt `silmaril:directory:v1`) listing a few publishers whose catalogs it holds. A newcomer looks
//   the rendezvous up, asks each node found there for its directory, and reads the feeds of the publishers named,
//   with per-source caps. There is no shared writable slot any more: the old shared index (a well-known private key
//   anyone could sign with) could be frozen forever by one writer putting the highest sequence number.
// Feed values are republished unchanged (same seq and signature) with jitter well inside the 2-hour BEP 44 expiry.
// Sequence numbers are exact: a seq that is not a safe integer (bittorrent-dht decodes them as JS numbers) is refused
// on read, never rounded, and we never write one.
// Fenced: this file uses bittorrent-dht's private members `_closest`, `_rpc.query`,
// `_rpc.id`, `_values` and `_peers`; test/integration/catalog-dht.test.ts fails if one disappears.
import bencode from 'bencode';
import { createHash } from 'node:crypto';
import { verifySignature } from './ed25519.js';
import { BDict, decodeStrict } from '../shared/bencode-strict.js';
import type { Identity } from './identity.js';
import { silentLogger, type Logger } from '../log.js';
import {
  canLookUp,
  hasLookUp,
  lookUp,
  nodeIdOf,
  queryNode,
  storedPeers,
  storedValue,
  storeValue,
} from '../engine/internals.js';

export const FEED_SALT = Buffer.from('silmaril:catalog:v1');
/** The rendezvous infohash: nodes holding catalogs announce themselves here and answer `get` with their directory. */
export const RENDEZVOUS = createHash('sha1').update('silmaril:catalog:rendezvous:v1').digest();
export const DIRECTORY_SALT = Buffer.from('silmaril:directory:v1');
/** Publisher keys one directory may name (and that we read from one): 24 x 32 bytes fit one UDP reply. */
export const MAX_DIRECTORY_KEYS = 24;
/** Rendezvous nodes asked per lookup, and per IP address (loopback and private test networks excepted). */
export const MAX_RENDEZVOUS_NODES = 256;
export const MAX_NODES_PER_HOST = 8;
/** Other publishers' feed items we keep alive by re-putting them unchanged. */
export const MAX_RELAYED = 64;
/** Rendezvous addresses taken from one get_peers reply, and from all replies of one host (loopback excepted). */
const MAX_PEERS_PER_REPLY = 32;
const MAX_PEERS_PER_SOURCE_HOST = 64;
/** Rendezvous nodes remembered as having answered (asked first, most recent kept). */
const MAX_GOOD_NODES = 64;
/** Republish period: 40 min +-10 min of jitter, against the 2 h expiry. */
export const REPUBLISH_MS = 40 * 60_000;
export const REPUBLISH_JITTER_MS = 10 * 60_000;
/** A looked-up pointer is reused this long before the DHT is asked again. */
export const LOOKUP_TTL_MS = 5 * 60_000;

/** What bittorrent-dht expects for `verify`: note its (sig, msg, pub) order. */
export const dhtVerify = (sig: Uint8Array, msg: Uint8Array, pub: Uint8Array) => verifySignature(msg, sig, pub);

export interface Pointer {
  /** Hex v1 infohash of the catalog torrent. */
  infohash: string;
  /** Entries in it (as claimed: the catalog itself is what counts). */
  entries: number;
  updated: number;
  /** Legacy (the old shared index): always empty now. */
  publishers: string[];
  /** The BEP 44 seq: always a safe integer (items with any other are refused). */
  seq: number;
}

/** What one node at the rendezvous says about itself, signed by its own key. */
export interface Directory {
  /** The signer (hex): the node's own publisher key. */
  publisher: string;
  /** Publishers whose catalogs it holds (hex), at most MAX_DIRECTORY_KEYS, the signer not repeated. */
  publishers: string[];
  seq: number;
  updated: number;
  /** Where it answered from. */
  host: string;
  port: number;
}

/** The part of bittorrent-dht this module uses. */
export interface Dht {
  put(opts: any, cb: (err: Error | null, hash: Buffer, n?: number) => void): unknown;
  get(key: Buffer | string, opts: any, cb: (err: Error | null, res: any) => void): void;
  _values?: { set(key: string, value: unknown): void };
  _rpc?: { id: Buffer };
}

export function encodePointer(p: Omit<Pointer, 'seq' | 'publishers'>): Buffer {
  return Buffer.from(bencode.encode({ ih: Buffer.from(p.infohash, 'hex'), n: p.entries, t: p.updated }));
}

/** A directory value: {p: the keys' 32-byte strings concatenated, t: unix seconds}. */
export function encodeDirectory(publishers: string[], updated: number): Buffer {
  const keys = publishers.slice(0, MAX_DIRECTORY_KEYS).map((k) => Buffer.from(k, 'hex'));
  return Buffer.from(bencode.encode({ p: Buffer.concat(keys), t: updated }));
}

/** Reads a directory value; undefined for anything malformed. Keys past MAX_DIRECTORY_KEYS are not read. */
export function decodeDirectory(v: Uint8Array): { publishers: string[]; updated: number } | undefined {
  try {
    const d = decodeStrict(v, { maxDepth: 2, maxItems: 8, maxBytes: 1000 });
    if (!(d instanceof BDict)) return undefined;
    const p = d.get('p');
    const t = d.get('t');
    if (!(p instanceof Uint8Array) || p.length % 32 !== 0) return undefined;
    const publishers: string[] = [];
    for (let i = 0; i < p.length && publishers.length < MAX_DIRECTORY_KEYS; i += 32) {
      publishers.push(Buffer.from(p.subarray(i, i + 32)).toString('hex'));
    }
    return { publishers, updated: typeof t === 'number' && t >= 0 ? t : 0 };
  } catch {
    return undefined;
  }
}

/** Is `seq` a BEP 44 sequence number we can hold exactly? */
export function exactSeq(seq: unknown): seq is number {
  return typeof seq === 'number' && Number.isSafeInteger(seq) && seq >= 0;
}

/** Reads a pointer value; undefined for anything malformed (a value anyone could have written). */
export function decodePointer(v: Uint8Array, seq: number): Pointer | undefined {
  if (!exactSeq(seq)) return undefined;
  try {
    // Old nodes also wrote a `p` list (the shared index): read past it, bounded like everything else.
    const d = decodeStrict(v, { maxDepth: 3, maxItems: 64, maxBytes: 1000 });
    if (!(d instanceof BDict)) return undefined;
    const ih = d.get('ih');
    const n = d.get('n');
    const t = d.get('t');
    if (!(ih instanceof Uint8Array) || ih.length !== 20) return undefined;
    return {
      infohash: Buffer.from(ih).toString('hex'),
      entries: typeof n === 'number' && n >= 0 ? n : 0,
      updated: typeof t === 'number' && t >= 0 ? t : 0,
      publishers: [],
      seq,
    };
  } catch {
    return undefined;
  }
}

export function dhtTarget(publicKey: Uint8Array, salt?: Uint8Array): Buffer {
  return createHash('sha1')
    .update(salt && salt.length ? Buffer.concat([publicKey, salt]) : publicKey)
    .digest();
}

interface Published {
  opts: { k: Buffer; v: Buffer; seq: number; salt?: Buffer; sig: Buffer };
  timer?: NodeJS.Timeout;
}

export class PointerClient {
  private readonly cache = new Map<string, { at: number; item: any }>();
  private readonly published = new Map<string, Published>();
  private closed = false;
  /** Our directory as served at the rendezvous (kept in our node's store; re-set as the store's LRU may drop it). */
  private directory?: { v: Buffer; k: Buffer; sig: Buffer; seq: number; salt: Buffer };
  private directoryTimer?: NodeJS.Timeout;
  /** Rendezvous nodes that answered with a valid directory before: asked first next time, outside the random draw. */
  private readonly goodNodes = new Map<string, { host: string; port: number }>();
  /** Nodes that stored our last put (0: nobody heard it, e.g. published before the DHT had any node). */
  lastAcks = 0;

  constructor(
    private readonly dht: Dht,
    private readonly log: Logger = silentLogger,
  ) {}

  /** A raw BEP 44 get, cached for LOOKUP_TTL_MS unless `fresh`. */
  async getItem(publicKey: Uint8Array, salt: Buffer | undefined, fresh = false): Promise<any | undefined> {
    const target = dhtTarget(publicKey, salt);
    const key = target.toString('hex');
    const cached = this.cache.get(key);
    if (!fresh && cached && Date.now() - cached.at < LOOKUP_TTL_MS) return cached.item;
    const item = await this.lookup(target, salt);
    // The signature and target are checked per reply; the key must also be the one we asked for.
    const ok = item && item.k && Buffer.compare(Buffer.from(item.k), Buffer.from(publicKey)) === 0;
    const value = ok ? item : undefined;
    this.cache.set(key, { at: Date.now(), item: value });
    return value;
  }

  /**
   * Asks the nodes closest to `target` and keeps the best valid item: the highest seq, and on a tie the larger
   * signature, so every reader agrees. Items whose seq is not an exact integer are refused.
   */
  private lookup(target: Buffer, salt: Buffer | undefined): Promise<any | undefined> {
    const dht = this.dht as any;
    if (!hasLookUp(dht)) {
      return new Promise((resolve, reject) =>
        dht.get(target, { salt, cache: false, verify: dhtVerify }, (e: Error | null, r: any) =>
          e ? reject(e) : resolve(r),
        ),
      );
    }
    let best: any;
    const onreply = (message: any) => {
      const r = message?.r;
      consider(r);
      return true;
    };
    const consider = (r: any) => {
      if (!r || !r.v || !r.k || !r.sig || !exactSeq(r.seq)) return true;
      if (!(r.k instanceof Uint8Array) || r.k.length !== 32) return true;
      if (Buffer.compare(dhtTarget(r.k, salt), target) !== 0) return true;
      const ref = salt ? { salt, seq: r.seq, v: r.v } : { seq: r.seq, v: r.v };
      if (!dhtVerify(r.sig, bencode.encode(ref).subarray(1, -1), r.k)) return true;
      if (!best || r.seq > best.seq || (r.seq === best.seq && Buffer.compare(r.sig, best.sig) > 0)) {
        best = { v: r.v, k: r.k, sig: r.sig, seq: r.seq, salt };
      }
      return true;
    };
    // What this node stores itself counts too (a lone node, or the one answering for what it published).
    consider(storedValue(dht, target.toString('hex')));
    return new Promise((resolve, reject) =>
      lookUp(dht, target, { q: 'get', a: { id: nodeIdOf(dht), target } }, onreply, (err: Error | null) =>
        err && !best ? reject(err) : resolve(best),
      ),
    );
  }

  async readFeed(publisher: string, fresh = false): Promise<Pointer | undefined> {
    const item = await this.getItem(Buffer.from(publisher, 'hex'), FEED_SALT, fresh);
    return item ? decodePointer(item.v, item.seq) : undefined;
  }

  /** Points our feed at a catalog torrent: seq = the highest seen + 1, then kept alive by republish. */
  async publishFeed(identity: Identity, p: Omit<Pointer, 'seq' | 'publishers'>): Promise<number> {
    const prev = await this.getItem(identity.publicKey, FEED_SALT, true).catch(() => undefined);
    const mine = this.published.get(dhtTarget(identity.publicKey, FEED_SALT).toString('hex'));
    const seq = Math.max(prev?.seq ?? 0, mine?.opts.seq ?? 0) + 1;
    if (!Number.isSafeInteger(seq)) throw new Error('feed sequence number exhausted');
    const v = encodePointer(p);
    await this.put({ k: Buffer.from(identity.publicKey), v, seq, salt: FEED_SALT }, (m) => identity.sign(m));
    return seq;
  }

  /**
   * Sets the directory this node serves at the rendezvous: signed by `identity`, naming `publishers` (ours first).
   * It is not put anywhere: it lives in our own node's store, answered to whoever asks us, so nobody else can
   * overwrite or freeze it. Re-set every minute (the store is an LRU other puts could push it out of).
   */
  setDirectory(identity: Identity, publishers: string[]): void {
    const keys = [...new Set(publishers.filter((k) => /^[0-9a-f]{64}$/.test(k) && k !== identity.publisher))];
    const v = encodeDirectory(keys, Math.floor(Date.now() / 1000));
    // Seconds since 2025, or one more than the last: exact, increasing, far from 2^53.
    const seq = Math.max((this.directory?.seq ?? 0) + 1, Math.floor(Date.now() / 1000) - 1_735_689_600);
    const ref = { salt: DIRECTORY_SALT, seq, v };
    const sig = Buffer.from(identity.sign(bencode.encode(ref).subarray(1, -1)));
    this.directory = { v, k: Buffer.from(identity.publicKey), sig, seq, salt: DIRECTORY_SALT };
    this.storeDirectory();
    if (!this.directoryTimer && !this.closed) {
      this.directoryTimer = setInterval(() => this.storeDirectory(), 60_000);
      this.directoryTimer.unref?.();
    }
  }

  private storeDirectory(): void {
    if (this.directory) storeValue(this.dht, RENDEZVOUS.toString('hex'), { ...this.directory, id: nodeIdOf(this.dht) });
  }

  /** Announces this node at the rendezvous (implied port: the address others reach our DHT node at). */
  announceRendezvous(): Promise<number> {
    const dht = this.dht as any;
    if (typeof dht.announce !== 'function') return Promise.resolve(0);
    return new Promise((resolve) =>
      dht.announce(RENDEZVOUS, 0, (err: Error | null, n?: number) => {
        if (err) this.log.debug(`rendezvous announce: ${err.message}`);
        resolve(err ? 0 : (n ?? 0));
      }),
    );
  }

  /**
   * The directories of the nodes at the rendezvous: get_peers on it (at most MAX_PEERS_PER_REPLY addresses from one
   * reply, MAX_PEERS_PER_SOURCE_HOST from one host), then a direct `get` to each node found (nodes that answered
   * before first, then a random draw: at most MAX_RENDEZVOUS_NODES, MAX_NODES_PER_HOST per IP but loopback). Each answer is checked like any BEP 44 item (an
   * exact seq, the signature over the directory salt); anything else is ignored. Never throws.
   */
  async findDirectories(opts: { maxNodes?: number; perHost?: number } = {}): Promise<Directory[]> {
    const dht = this.dht as any;
    if (!canLookUp(dht)) return [];
    const maxNodes = opts.maxNodes ?? MAX_RENDEZVOUS_NODES;
    const perHost = opts.perHost ?? MAX_NODES_PER_HOST;
    const found = new Map<string, { host: string; port: number }>();
    const add = (compact: unknown) => {
      if (!(compact instanceof Uint8Array) || compact.length !== 6) return;
      const host = `${compact[0]}.${compact[1]}.${compact[2]}.${compact[3]}`;
      const port = (compact[4] << 8) | compact[5];
      if (port > 0) found.set(`${host}:${port}`, { host, port });
    };
    for (const c of storedPeers(dht, RENDEZVOUS.toString('hex'), 1000) ?? []) add(c);
    const fromHost = new Map<string, number>();
    await new Promise<void>((resolve) =>
      lookUp(
        dht,
        RENDEZVOUS,
        { q: 'get_peers', a: { id: nodeIdOf(dht), info_hash: RENDEZVOUS } },
        (message: any, from: any) => {
          const values = message?.r?.values;
          if (!Array.isArray(values)) return true;
          // Per-source cap: one replying node (or host) cannot fill the draw below with addresses it made up.
          const host = String(from?.host ?? from?.address ?? '');
          const left = isLocal(host) ? Infinity : MAX_PEERS_PER_SOURCE_HOST - (fromHost.get(host) ?? 0);
          const room = Math.min(MAX_PEERS_PER_REPLY, left);
          const taken = shuffle(values.slice(0, 1000)).slice(0, Math.max(0, room));
          fromHost.set(host, (fromHost.get(host) ?? 0) + taken.length);
          for (const v of taken) add(v);
          return true;
        },
        () => resolve(),
      ),
    );
    const own = dht.address?.()?.port;
    const perHostCount = new Map<string, number>();
    const chosen: { host: string; port: number }[] = [];
    // Nodes that answered before come first: a flood of fake addresses at the rendezvous cannot push them out.
    const good = [...this.goodNodes.values()].slice(-MAX_GOOD_NODES);
    for (const node of good) found.delete(`${node.host}:${node.port}`);
    for (const node of [...good, ...shuffle([...found.values()])]) {
      if (node.port === own && isLocal(node.host)) continue;
      const n = perHostCount.get(node.host) ?? 0;
      if (!isLocal(node.host) && n >= perHost) continue;
      perHostCount.set(node.host, n + 1);
      chosen.push(node);
      if (chosen.length >= maxNodes) break;
    }
    const directories = (await mapLimit(chosen, 32, (node) => this.askDirectory(node))).filter(
      (d): d is Directory => d !== undefined,
    );
    for (const d of directories) {
      const key = `${d.host}:${d.port}`;
      this.goodNodes.delete(key);
      this.goodNodes.set(key, { host: d.host, port: d.port });
    }
    while (this.goodNodes.size > MAX_GOOD_NODES) this.goodNodes.delete(this.goodNodes.keys().next().value!);
    return directories;
  }

  private askDirectory(node: { host: string; port: number }): Promise<Directory | undefined> {
    const dht = this.dht as any;
    return new Promise((resolve) => {
      try {
        queryNode(
          dht,
          node,
          { q: 'get', a: { id: nodeIdOf(dht), target: RENDEZVOUS } },
          (err: Error | null, res: any) => {
            if (err) return resolve(undefined);
            resolve(checkDirectory(res?.r, node));
          },
        );
      } catch {
        resolve(undefined);
      }
    });
  }

  private async put(item: { k: Buffer; v: Buffer; seq: number; salt?: Buffer }, sign: (m: Uint8Array) => Uint8Array) {
    // Sign here rather than through bittorrent-dht's opts.sign so republish can resend the very same item.
    // BEP 44 signs the bencoded dictionary {salt, seq, v} without its outer `d` and `e`.
    const ref = item.salt ? { salt: item.salt, seq: item.seq, v: item.v } : { seq: item.seq, v: item.v };
    const sig = Buffer.from(sign(bencode.encode(ref).subarray(1, -1)));
    const opts = { k: item.k, v: item.v, seq: item.seq, salt: item.salt, sig };
    this.lastAcks = await this.send(opts);
    const target = dhtTarget(item.k, item.salt).toString('hex');
    // A node answers for what it published: keep it in our own store too.
    storeValue(this.dht, target, { v: item.v, k: item.k, salt: item.salt, sig, seq: item.seq, id: nodeIdOf(this.dht) });
    this.cache.delete(target);
    const prev = this.published.get(target);
    if (prev?.timer) clearTimeout(prev.timer);
    const entry: Published = { opts: { k: item.k, v: item.v, seq: item.seq, salt: item.salt, sig } };
    this.published.set(target, entry);
    this.schedule(target, entry);
  }

  private send(opts: any): Promise<number> {
    return new Promise((resolve) => {
      // Errors from single nodes (an older seq they hold) are logged; the ack count says whether anyone stored it.
      this.dht.put(opts, (err, _hash, n) => {
        if (err) this.log.debug(`dht put: ${err.message}`);
        resolve(n ?? 0);
      });
    });
  }

  private schedule(target: string, entry: Published): void {
    if (this.closed) return;
    const delay = REPUBLISH_MS + (Math.random() * 2 - 1) * REPUBLISH_JITTER_MS;
    entry.timer = setTimeout(() => {
      if (this.published.get(target) !== entry) return;
      void this.send(entry.opts).then(() => this.schedule(target, entry));
    }, delay);
    entry.timer.unref?.();
  }

  /** Feed targets we relay for others (insertion order = oldest first), at most MAX_RELAYED. */
  private readonly relayed = new Set<string>();

  /**
   * Keeps another publisher's feed item alive: re-puts the very item we read (its seq and signature, which anyone
   * may resend under BEP 44) on the republish schedule, so a feed outlives its publisher being offline for more than
   * the two-hour expiry, as long as someone follows it. Only items we verified; at most MAX_RELAYED, oldest dropped.
   */
  relayFeed(publisher: string): void {
    if (this.closed) return;
    const target = dhtTarget(Buffer.from(publisher, 'hex'), FEED_SALT).toString('hex');
    const item = this.cache.get(target)?.item;
    if (!item || !exactSeq(item.seq)) return;
    const prev = this.published.get(target);
    if (prev && !this.relayed.has(target)) return; // our own feed
    if (prev && prev.opts.seq >= item.seq) {
      this.relayed.delete(target);
      this.relayed.add(target);
      return;
    }
    if (prev?.timer) clearTimeout(prev.timer);
    const entry: Published = {
      opts: {
        k: Buffer.from(item.k),
        v: Buffer.from(item.v),
        seq: item.seq,
        salt: FEED_SALT,
        sig: Buffer.from(item.sig),
      },
    };
    this.published.set(target, entry);
    this.relayed.delete(target);
    this.relayed.add(target);
    this.schedule(target, entry);
    while (this.relayed.size > MAX_RELAYED) {
      const old = this.relayed.values().next().value!;
      this.relayed.delete(old);
      const e = this.published.get(old);
      if (e?.timer) clearTimeout(e.timer);
      this.published.delete(old);
    }
  }

  /** Re-sends every pointer we published now (same seq and signature). */
  async republishAll(): Promise<void> {
    await Promise.all([...this.published.values()].map((p) => this.send(p.opts)));
  }

  close(): void {
    this.closed = true;
    if (this.directoryTimer) clearInterval(this.directoryTimer);
    for (const p of this.published.values()) if (p.timer) clearTimeout(p.timer);
  }
}

/** Checks one node's answer to our rendezvous `get`: a directory signed by its key, or undefined. */
function checkDirectory(r: any, node: { host: string; port: number }): Directory | undefined {
  if (!r || !(r.v instanceof Uint8Array) || !(r.k instanceof Uint8Array) || !(r.sig instanceof Uint8Array)) return;
  if (r.k.length !== 32 || r.sig.length !== 64 || !exactSeq(r.seq) || r.v.length > 1000) return;
  const ref = { salt: DIRECTORY_SALT, seq: r.seq, v: r.v };
  if (!dhtVerify(r.sig, bencode.encode(ref).subarray(1, -1), r.k)) return;
  const d = decodeDirectory(r.v);
  if (!d) return;
  const publisher = Buffer.from(r.k).toString('hex');
  return {
    publisher,
    publishers: d.publishers.filter((k) => k !== publisher),
    seq: r.seq,
    updated: d.updated,
    host: node.host,
    port: node.port,
  };
}

/** Loopback: a test network on one machine, where every node shares one IP. */
function isLocal(host: string): boolean {
  return host.startsWith('127.');
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

/** Maps with at most `limit` calls in flight. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
