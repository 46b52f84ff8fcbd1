// In-memory swarms: the peers of one torrent, kept so an announce costs a few map and array operations.
// Nothing here touches the database: swarm state may be lost on a crash, the registry may not.
//
// Compact addresses of each address family live side by side in one buffer (6 bytes per IPv4 peer, 18 per
// IPv6 peer, slot i belonging to list[i]), so a reply is one or two contiguous copies instead of 50 scattered
// reads: with many swarms, memory latency, not arithmetic, is what an announce costs.

export interface Peer {
  /** peer_id (latin1) + '@' + client IP: the same client announcing over IPv4 and IPv6 is two peers. */
  key: string;
  /** The 20-byte peer_id as a latin1 string (non-compact replies). */
  peerId: string;
  v6: boolean;
  seeder: boolean;
  /** Whether this peer's `completed` event has been counted: a hybrid's client announces it on both hashes. */
  completed: boolean;
  /** ms timestamp after which the peer is dropped unless it announces again. */
  expires: number;
  /** Position in its family's list and address buffer, for O(1) removal. */
  index: number;
}

/** Shared by every swarm of one tracker, so the total peer count is a field read. */
export interface PeerCounter {
  peers: number;
}

export const EVENT_NONE = 0;
export const EVENT_COMPLETED = 1;
export const EVENT_STARTED = 2;
export const EVENT_STOPPED = 3;

const EMPTY = Buffer.alloc(0);

/** One address family: its peers and their compact addresses, slot for slot. */
class Family {
  readonly list: Peer[] = [];
  buf: Buffer;

  constructor(readonly size: number) {
    this.buf = Buffer.alloc(size * 4);
  }

  add(peer: Peer, ip: Buffer, port: number): void {
    const i = this.list.length;
    const need = (i + 1) * this.size;
    if (need > this.buf.length) {
      const bigger = Buffer.alloc(this.buf.length * 2);
      this.buf.copy(bigger, 0, 0, i * this.size);
      this.buf = bigger;
    }
    peer.index = i;
    this.list.push(peer);
    const o = i * this.size;
    for (let j = 0; j < ip.length; j++) this.buf[o + j] = ip[j]!;
    this.buf.writeUInt16BE(port, o + this.size - 2);
  }

  port(peer: Peer): number {
    return this.buf.readUInt16BE(peer.index * this.size + this.size - 2);
  }

  setPort(peer: Peer, port: number): void {
    this.buf.writeUInt16BE(port, peer.index * this.size + this.size - 2);
  }

  remove(peer: Peer): void {
    const last = this.list.pop()!;
    if (last !== peer) {
      const from = last.index * this.size;
      this.buf.copy(this.buf, peer.index * this.size, from, from + this.size);
      this.list[peer.index] = last;
      last.index = peer.index;
    }
    // Give memory back when a big swarm has shrunk a lot.
    if (this.buf.length > 4096 && this.list.length * this.size * 4 < this.buf.length) {
      this.buf = Buffer.from(this.buf.subarray(0, this.buf.length / 2));
    }
  }

  /** Whether `peer` is in this family. */
  has(peer: Peer | undefined): peer is Peer {
    return peer !== undefined && this.list[peer.index] === peer;
  }

  /** The compact address of a peer of this family. */
  address(peer: Peer): Buffer {
    return this.buf.subarray(peer.index * this.size, (peer.index + 1) * this.size);
  }
}

export class Swarm {
  readonly peers = new Map<string, Peer>();
  private readonly f4 = new Family(6);
  private readonly f6 = new Family(18);
  seeders = 0;
  leechers = 0;
  /** Completed downloads (the scrape's `downloaded`); for registered torrents seeded from the database. */
  downloaded = 0;
  /** Set by `announce` when it counted a completion (avoids allocating a result object per announce). */
  justCompleted = false;

  constructor(private readonly counter: PeerCounter) {}

  get size(): number {
    return this.peers.size;
  }

  get v4(): readonly Peer[] {
    return this.f4.list;
  }

  get v6(): readonly Peer[] {
    return this.f6.list;
  }

  /**
   * Records one announce. `ip` is the compact address without the port (4 or 16 bytes). Returns the peer
   * (undefined after `stopped`) and sets `justCompleted` when this announce counted a completion.
   */
  announce(
    key: string,
    peerId: string,
    ip: Buffer,
    v6: boolean,
    port: number,
    left: number,
    event: number,
    expires: number,
  ): Peer | undefined {
    this.justCompleted = false;
    let peer = this.peers.get(key);
    if (event === EVENT_STOPPED) {
      if (peer) this.remove(peer);
      return undefined;
    }
    const seeder = left === 0;
    if (peer === undefined) {
      peer = { key, peerId, v6, seeder, completed: false, expires, index: 0 };
      (v6 ? this.f6 : this.f4).add(peer, ip, port);
      this.peers.set(key, peer);
      this.counter.peers++;
      if (seeder) this.seeders++;
      else this.leechers++;
    } else {
      peer.expires = expires;
      const fam = peer.v6 ? this.f6 : this.f4;
      if (fam.port(peer) !== port) fam.setPort(peer, port);
      if (peer.seeder !== seeder) {
        peer.seeder = seeder;
        if (seeder) {
          this.seeders++;
          this.leechers--;
        } else {
          this.seeders--;
          this.leechers++;
        }
      }
    }
    if (event === EVENT_COMPLETED && !peer.completed) {
      peer.completed = true;
      this.downloaded++;
      this.justCompleted = true;
    }
    return peer;
  }

  remove(peer: Peer): void {
    (peer.v6 ? this.f6 : this.f4).remove(peer);
    this.peers.delete(peer.key);
    this.counter.peers--;
    if (peer.seeder) this.seeders--;
    else this.leechers--;
  }

  /** Drops every peer (takedown). */
  clear(): void {
    for (const p of [...this.peers.values()]) this.remove(p);
  }

  /** Drops peers that have not announced in time; returns how many. */
  expire(now: number): number {
    // Walking down is safe: removal swaps the (already checked) last peer into the hole.
    let n = 0;
    for (const list of [this.f4.list, this.f6.list]) {
      for (let i = list.length - 1; i >= 0; i--) {
        const p = list[i];
        if (p !== undefined && p.expires < now) {
          this.remove(p);
          n++;
        }
      }
    }
    return n;
  }

  /** The compact address (IP then port) of one of this swarm's peers. */
  address(peer: Peer): Buffer {
    return (peer.v6 ? this.f6 : this.f4).address(peer);
  }

  /** The slots a reply takes: up to `want` of one family, other than `exclude`, from a random start. */
  private ranges(
    fam: Family,
    exclude: Peer | undefined,
    want: number,
    visit: (from: number, to: number) => void,
  ): number {
    const n = fam.list.length;
    const ex = fam.has(exclude) ? exclude.index : -1;
    const avail = ex >= 0 ? n - 1 : n;
    const k = Math.min(want, avail);
    if (k <= 0) return 0;
    // All of them when few, else a random contiguous run (cheap, and fair over successive announces).
    let i = k === avail ? 0 : (Math.random() * n) | 0;
    let left = k;
    while (left > 0) {
      const end = Math.min(n, i + left);
      if (ex >= i && ex < end) {
        if (ex > i) visit(i, ex);
        left -= ex - i;
        i = ex + 1;
      } else {
        visit(i, end);
        left -= end - i;
        i = end;
      }
      if (i >= n) i = 0;
    }
    return k;
  }

  /** Up to `want` peers of one family other than `exclude` (non-compact replies). */
  pick(v6: boolean, exclude: Peer | undefined, want: number): Peer[] {
    const fam = v6 ? this.f6 : this.f4;
    const out: Peer[] = [];
    this.ranges(fam, exclude, want, (from, to) => {
      for (let j = from; j < to; j++) out.push(fam.list[j]!);
    });
    return out;
  }

  /** How many peers `compactInto` would write for the same arguments. */
  compactCount(v6: boolean, exclude: Peer | undefined, want: number): number {
    const fam = v6 ? this.f6 : this.f4;
    const n = fam.list.length;
    const k = Math.min(want, fam.has(exclude) ? n - 1 : n);
    return k > 0 ? k : 0;
  }

  /**
   * Copies the compact addresses of `compactCount(v6, exclude, want)` peers of one family other than `exclude`
   * into `out` at `offset` (the same slots `ranges` picks, without a visitor closure: this is the announce
   * hot path). Returns the bytes written.
   */
  compactInto(v6: boolean, exclude: Peer | undefined, want: number, out: Buffer, offset: number): number {
    const fam = v6 ? this.f6 : this.f4;
    const n = fam.list.length;
    const ex = fam.has(exclude) ? exclude.index : -1;
    const avail = ex >= 0 ? n - 1 : n;
    const k = Math.min(want, avail);
    if (k <= 0) return 0;
    const size = fam.size;
    const buf = fam.buf;
    let o = offset;
    let i = k === avail ? 0 : (Math.random() * n) | 0;
    let left = k;
    while (left > 0) {
      const end = Math.min(n, i + left);
      if (ex >= i && ex < end) {
        if (ex > i) o += buf.copy(out, o, i * size, ex * size);
        left -= ex - i;
        i = ex + 1;
      } else {
        o += buf.copy(out, o, i * size, end * size);
        left -= end - i;
        i = end;
      }
      if (i >= n) i = 0;
    }
    return o - offset;
  }

  /** Compact addresses (6 or 18 bytes each) of up to `want` peers of one family other than `exclude`. */
  compact(v6: boolean, exclude: Peer | undefined, want: number): Buffer {
    const k = this.compactCount(v6, exclude, want);
    if (k === 0) return EMPTY;
    const out = Buffer.allocUnsafe(k * (v6 ? 18 : 6));
    this.compactInto(v6, exclude, want, out, 0);
    return out;
  }
}
