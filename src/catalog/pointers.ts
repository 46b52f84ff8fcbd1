// BEP 44 mutable items (bittorrent-dht, ed25519 via tweetnacl keys) that point at catalog torrents:
// - each publisher's own feed: its key, salt `silmaril:catalog:v1`, value {ih, n, t}: only it can write there;
// - the shared index: a well-known key anyone may write, value {ih, p, t}, written with CAS on the seq read after
//   merging the catalog it pointed at, so concurrent writers retry instead of erasing each other.
// Values are republished unchanged (same seq and signature) with jitter well inside the 2-hour BEP 44 expiry.
import bencode from 'bencode';
import { createHash } from 'node:crypto';
import { keyPairFromSeed, makeSigner, verifySignature } from './ed25519.js';
import type { Identity } from './identity.js';
import { silentLogger, type Logger } from '../log.js';

export const FEED_SALT = Buffer.from('silmaril:catalog:v1');
/** The shared index key: everyone derives the same pair, so anyone can write (and the merge makes that safe). */
export const INDEX_SEED = createHash('sha256').update('silmaril:index:v1').digest();
export const INDEX_SALT = Buffer.from('silmaril:index:v1');
/** Republish period: 40 min +-10 min of jitter, against the 2 h expiry. */
export const REPUBLISH_MS = 40 * 60_000;
export const REPUBLISH_JITTER_MS = 10 * 60_000;
/** A looked-up pointer is reused this long before the DHT is asked again. */
export const LOOKUP_TTL_MS = 5 * 60_000;
const MAX_INDEX_PUBLISHERS = 20;

/** What bittorrent-dht expects for `verify`: note its (sig, msg, pub) order. */
export const dhtVerify = (sig: Uint8Array, msg: Uint8Array, pub: Uint8Array) => verifySignature(msg, sig, pub);

export interface Pointer {
  /** Hex v1 infohash of the catalog torrent. */
  infohash: string;
  /** Entries in it (as claimed: the catalog itself is what counts). */
  entries: number;
  updated: number;
  /** Index only: recent publisher keys (hex). */
  publishers: string[];
  seq: number;
}

/** The part of bittorrent-dht this module uses. */
export interface Dht {
  put(opts: any, cb: (err: Error | null, hash: Buffer, n?: number) => void): unknown;
  get(key: Buffer | string, opts: any, cb: (err: Error | null, res: any) => void): void;
  _values?: { set(key: string, value: unknown): void };
  _rpc?: { id: Buffer };
}

export function encodePointer(p: Omit<Pointer, 'seq'>, index: boolean): Buffer {
  const d: Record<string, unknown> = { ih: Buffer.from(p.infohash, 'hex'), n: p.entries, t: p.updated };
  if (index) d.p = p.publishers.slice(0, MAX_INDEX_PUBLISHERS).map((k) => Buffer.from(k, 'hex'));
  return Buffer.from(bencode.encode(d));
}

/** Reads a pointer value; undefined for anything malformed (a value anyone could have written). */
export function decodePointer(v: Uint8Array, seq: number): Pointer | undefined {
  try {
    const d = bencode.decode(v);
    if (!(d.ih instanceof Uint8Array) || d.ih.length !== 20) return undefined;
    const publishers = Array.isArray(d.p)
      ? d.p
          .filter((k: unknown) => k instanceof Uint8Array && k.length === 32)
          .map((k: Uint8Array) => Buffer.from(k).toString('hex'))
      : [];
    return {
      infohash: Buffer.from(d.ih).toString('hex'),
      entries: Number.isSafeInteger(d.n) ? d.n : 0,
      updated: Number.isSafeInteger(d.t) ? d.t : 0,
      publishers,
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
  private readonly index = keyPairFromSeed(INDEX_SEED);
  private readonly indexSign = makeSigner(this.index.secretKey);
  private closed = false;
  /** Nodes that stored our last put (0: nobody heard it, e.g. published before the DHT had any node). */
  lastAcks = 0;

  constructor(
    private readonly dht: Dht,
    private readonly log: Logger = silentLogger,
  ) {}

  get indexPublicKey(): string {
    return Buffer.from(this.index.publicKey).toString('hex');
  }

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
   * Asks the nodes closest to `target` and keeps the best valid item: the highest seq, and on a tie (two writers
   * racing on the shared index) the larger signature, so every reader and writer agrees on who won the race.
   */
  private lookup(target: Buffer, salt: Buffer | undefined): Promise<any | undefined> {
    const dht = this.dht as any;
    if (typeof dht._closest !== 'function') {
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
      if (!r || !r.v || !r.k || !r.sig || typeof r.seq !== 'number') return true;
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
    consider(dht._values?.get?.(target.toString('hex')));
    return new Promise((resolve, reject) =>
      dht._closest(target, { q: 'get', a: { id: dht._rpc.id, target } }, onreply, (err: Error | null) =>
        err && !best ? reject(err) : resolve(best),
      ),
    );
  }

  async readFeed(publisher: string, fresh = false): Promise<Pointer | undefined> {
    const item = await this.getItem(Buffer.from(publisher, 'hex'), FEED_SALT, fresh);
    return item ? decodePointer(item.v, item.seq) : undefined;
  }

  async readIndex(fresh = false): Promise<Pointer | undefined> {
    const item = await this.getItem(this.index.publicKey, INDEX_SALT, fresh);
    return item ? decodePointer(item.v, item.seq) : undefined;
  }

  /** Points our feed at a catalog torrent: seq = the highest seen + 1, then kept alive by republish. */
  async publishFeed(identity: Identity, p: Omit<Pointer, 'seq' | 'publishers'>): Promise<number> {
    const prev = await this.getItem(identity.publicKey, FEED_SALT, true).catch(() => undefined);
    const mine = this.published.get(dhtTarget(identity.publicKey, FEED_SALT).toString('hex'));
    const seq = Math.max(prev?.seq ?? 0, mine?.opts.seq ?? 0) + 1;
    const v = encodePointer({ ...p, publishers: [] }, false);
    await this.put({ k: Buffer.from(identity.publicKey), v, seq, salt: FEED_SALT }, (m) => identity.sign(m));
    return seq;
  }

  /**
   * One read-merge-write round on the shared index. `merge(current)` gets what the index points at now (after our
   * caller merged it into its catalog) and returns the pointer to write; the put carries `cas` = the seq read. The
   * write is then read back: if someone else won the race, the round starts over from their value.
   */
  async updateIndex(
    merge: (current: Pointer | undefined) => Promise<Omit<Pointer, 'seq'>>,
    opts: { attempts?: number } = {},
  ): Promise<Pointer> {
    const attempts = opts.attempts ?? 8;
    for (let i = 0; i < attempts; i++) {
      const cur = await this.readIndex(true);
      const next = await merge(cur);
      const seq = (cur?.seq ?? 0) + 1;
      const v = encodePointer(next, true);
      await this.put({ k: Buffer.from(this.index.publicKey), v, seq, salt: INDEX_SALT, cas: cur?.seq }, this.indexSign);
      const after = await this.readIndex(true);
      if (after && after.seq === seq && after.infohash === next.infohash) return after;
      this.log.debug(`index: lost a CAS race at seq ${seq}, retrying`);
      await sleep(50 + Math.random() * 200 * (i + 1));
    }
    throw new Error(`could not update the shared index after ${attempts} attempts`);
  }

  private async put(
    item: { k: Buffer; v: Buffer; seq: number; salt?: Buffer; cas?: number },
    sign: (m: Uint8Array) => Uint8Array,
  ) {
    // Sign here rather than through bittorrent-dht's opts.sign so republish can resend the very same item.
    // BEP 44 signs the bencoded dictionary {salt, seq, v} without its outer `d` and `e`.
    const ref = item.salt ? { salt: item.salt, seq: item.seq, v: item.v } : { seq: item.seq, v: item.v };
    const sig = Buffer.from(sign(bencode.encode(ref).subarray(1, -1)));
    const opts = { k: item.k, v: item.v, seq: item.seq, salt: item.salt, sig, cas: item.cas };
    this.lastAcks = await this.send(opts);
    const target = dhtTarget(item.k, item.salt).toString('hex');
    // A node answers for what it published: keep it in our own store too.
    this.dht._values?.set(target, { v: item.v, k: item.k, salt: item.salt, sig, seq: item.seq, id: this.dht._rpc?.id });
    this.cache.delete(target);
    const prev = this.published.get(target);
    if (prev?.timer) clearTimeout(prev.timer);
    const entry: Published = { opts: { k: item.k, v: item.v, seq: item.seq, salt: item.salt, sig } };
    this.published.set(target, entry);
    this.schedule(target, entry);
  }

  private send(opts: any): Promise<number> {
    return new Promise((resolve) => {
      // Errors from single nodes (CAS mismatch, older seq) are expected in a race: the read-back decides.
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

  /** Re-sends every pointer we published now (same seq and signature). */
  async republishAll(): Promise<void> {
    await Promise.all([...this.published.values()].map((p) => this.send(p.opts)));
  }

  close(): void {
    this.closed = true;
    for (const p of this.published.values()) if (p.timer) clearTimeout(p.timer);
  }
}

function sleep(ms: number) {
  return new Promise((r) => setTimeout(r, ms));
}
