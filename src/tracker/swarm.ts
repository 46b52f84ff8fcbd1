// In-memory swarms: the peers of one torrent, kept so an announce costs a few map and array operations.
// Nothing here touches the database: swarm state may be lost on a crash, the registry may not.

export interface Peer {
  /** peer_id (latin1) + '@' + client IP: the same client announcing over IPv4 and IPv6 is two peers. */
  key: string;
  /** The 20-byte peer_id as a latin1 string (non-compact replies). */
  peerId: string;
  /** Compact address: 4-byte IPv4 or 16-byte IPv6, then the port, big-endian (BEP 23 / BEP 7). */
  addr: Buffer;
  v6: boolean;
  seeder: boolean;
  /** Whether this peer's `completed` event has been counted: a hybrid's client announces it on both hashes. */
  completed: boolean;
  /** ms timestamp after which the peer is dropped unless it announces again. */
  expires: number;
  /** Position in its family's list, for O(1) removal. */
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

export class Swarm {
  readonly peers = new Map<string, Peer>();
  readonly v4: Peer[] = [];
  readonly v6: Peer[] = [];
  seeders = 0;
  leechers = 0;
  /** Completed downloads (the scrape's `downloaded`); for registered torrents seeded from the database. */
  downloaded = 0;

  constructor(private readonly counter: PeerCounter) {}

  get size(): number {
    return this.peers.size;
  }

  /**
   * Records one announce. `ip` is the compact address without the port. Returns the peer (undefined after
   * `stopped`) and sets `justCompleted` when this announce counted a completion.
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
      const addr = Buffer.allocUnsafe(ip.length + 2);
      ip.copy(addr, 0);
      addr.writeUInt16BE(port, ip.length);
      const list = v6 ? this.v6 : this.v4;
      peer = { key, peerId, addr, v6, seeder, completed: false, expires, index: list.length };
      list.push(peer);
      this.peers.set(key, peer);
      this.counter.peers++;
      if (seeder) this.seeders++;
      else this.leechers++;
    } else {
      peer.expires = expires;
      if (peer.addr.readUInt16BE(ip.length) !== port) peer.addr.writeUInt16BE(port, ip.length);
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

  /** Set by `announce` when it counted a completion (avoids allocating a result object per announce). */
  justCompleted = false;

  remove(peer: Peer): void {
    const list = peer.v6 ? this.v6 : this.v4;
    const last = list.pop()!;
    if (last !== peer) {
      list[peer.index] = last;
      last.index = peer.index;
    }
    this.peers.delete(peer.key);
    this.counter.peers--;
    if (peer.seeder) this.seeders--;
    else this.leechers--;
  }

  /** Drops every peer (takedown). */
  clear(): void {
    this.counter.peers -= this.peers.size;
    this.peers.clear();
    this.v4.length = 0;
    this.v6.length = 0;
    this.seeders = 0;
    this.leechers = 0;
  }

  /** Drops peers that have not announced in time; returns how many. */
  expire(now: number): number {
    // Walking down is safe: removal swaps the (already checked) last peer into the hole.
    let n = 0;
    for (const list of [this.v4, this.v6]) {
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

  /**
   * Picks up to `want` peers of one family other than `exclude`: all of them when few, else a random
   * contiguous run (cheap, and fair over successive announces).
   */
  pick(v6: boolean, exclude: Peer | undefined, want: number): Peer[] {
    const list = v6 ? this.v6 : this.v4;
    const n = list.length;
    const excluded = exclude !== undefined && exclude.v6 === v6 && list[exclude.index] === exclude ? 1 : 0;
    const k = Math.min(want, n - excluded);
    const out: Peer[] = [];
    if (k <= 0) return out;
    let i = k === n - excluded ? 0 : (Math.random() * n) | 0;
    while (out.length < k) {
      const p = list[i]!;
      if (p !== exclude) out.push(p);
      i = i + 1 === n ? 0 : i + 1;
    }
    return out;
  }

  /** Compact peers of one family (6 or 18 bytes each), excluding `exclude`. */
  compact(v6: boolean, exclude: Peer | undefined, want: number): Buffer {
    const picked = this.pick(v6, exclude, want);
    const size = v6 ? 18 : 6;
    const out = Buffer.allocUnsafe(picked.length * size);
    for (let j = 0; j < picked.length; j++) picked[j]!.addr.copy(out, j * size);
    return out;
  }
}
