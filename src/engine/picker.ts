// Which piece to ask a peer for next: rarest first with random ties, as libtorrent's piece_picker does it.
//
// Availability (how many connected peers have each piece) is kept incrementally from bitfield, have, have-all,
// have-none, dont-have and disconnects. Peers that have everything are only counted (`seeds`): a seed joining or
// leaving shifts every piece equally and changes no order, so it costs O(1) however many pieces there are.
//
// The wanted pieces sit in one array ordered by availability, in buckets: bucket a holds the pieces that a peers have,
// `start[a]` is where it begins. A change of one piece's availability by one swaps it across one bucket boundary
// (O(1)), then with a random member of its new bucket, so that equally rare pieces come out in random order and two
// downloaders of the same swarm do not ask the seed for the same pieces. Pieces we have (or do not want) leave the
// array, so picking for a peer that has everything costs the number of pieces in flight, not the piece count.
//
// Order of picking for one peer: pieces of a high priority (a user wants `config.json` first) in index order, then
// (sequential mode) the lowest missing index, else the first few pieces at random (to have something to trade soon),
// then rarest first. Pieces already in flight are the caller's (request scheduling finishes them before starting
// new ones, see scheduler.ts); `pick` skips them.

export type Rng = () => number;

export interface PickerOptions {
  /** Random number source in [0, 1): injectable so tests can be deterministic. */
  random?: Rng;
  /** Until we have this many pieces, pick at random among the peer's pieces (libtorrent: initial_picker_threshold). */
  randomFirst?: number;
  /** Pick the lowest missing index first instead of the rarest. */
  sequential?: boolean;
}

/** Priority 0: do not download. 1: normal. Higher: before all normal pieces, in index order. */
export type Priority = number;

export class PiecePicker {
  readonly pieceCount: number;
  /** Peers that have every piece (not counted per piece). */
  seeds = 0;
  sequential: boolean;
  private readonly random: Rng;
  private readonly randomFirst: number;
  /** Connected peers (not seeds) that have each piece. */
  private readonly avail: Uint32Array;
  /** Wanted, missing pieces ordered by availability. */
  private readonly order: Int32Array;
  /** Position of each piece in `order`, or -1 when it is not there (have, or priority 0). */
  private readonly pos: Int32Array;
  /** Bucket a is order[start[a] .. start[a+1]); the last entry is the number of pieces in `order`. */
  private start: number[] = [0, 0];
  private readonly have: Uint8Array;
  private readonly prio: Uint8Array;
  private haveCount = 0;
  private wantedMissing = 0;
  private zeroAvail = 0;
  /** Missing pieces of a priority above normal, kept sorted by index. */
  private high: number[] = [];
  private seqCursor = 0;

  constructor(pieceCount: number, opts: PickerOptions = {}) {
    this.pieceCount = pieceCount;
    this.random = opts.random ?? Math.random;
    this.randomFirst = opts.randomFirst ?? 4;
    this.sequential = !!opts.sequential;
    this.avail = new Uint32Array(pieceCount);
    this.order = new Int32Array(pieceCount);
    this.pos = new Int32Array(pieceCount).fill(-1);
    this.have = new Uint8Array(pieceCount);
    this.prio = new Uint8Array(pieceCount).fill(1);
    // All pieces start in bucket 0, shuffled (Fisher-Yates) so ties are random from the start.
    for (let i = 0; i < pieceCount; i++) this.order[i] = i;
    for (let i = pieceCount - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      const t = this.order[i];
      this.order[i] = this.order[j];
      this.order[j] = t;
    }
    for (let i = 0; i < pieceCount; i++) this.pos[this.order[i]] = i;
    this.start = [0, pieceCount];
    this.wantedMissing = pieceCount;
    this.zeroAvail = pieceCount;
  }

  /** Pieces that no connected peer has (seeds count as having all): what only we can give. */
  get nobodyElseHas(): number {
    return this.seeds > 0 ? 0 : this.zeroAvail;
  }

  /** Wanted missing pieces that no connected peer other than the seeds has: still to come from a seed first-hand. */
  get onSeedsAlone(): number {
    return this.start.length > 1 ? this.start[1] - this.start[0] : 0;
  }

  /** Peers (other than seeds) that have piece `i`, plus the seeds. */
  availability(i: number): number {
    return this.avail[i] + this.seeds;
  }

  hasPiece(i: number): boolean {
    return this.have[i] === 1;
  }

  /** Number of pieces verified here. */
  get haveTotal(): number {
    return this.haveCount;
  }

  /** Wanted pieces not verified yet (in flight or not). */
  get remaining(): number {
    return this.wantedMissing;
  }

  /** A piece passed its hash check. */
  setHave(i: number): void {
    if (this.have[i]) return;
    this.have[i] = 1;
    this.haveCount++;
    if (this.prio[i] > 0) this.wantedMissing--;
    if (this.pos[i] >= 0) this.remove(i);
    if (this.prio[i] > 1) this.high.splice(this.high.indexOf(i), 1);
  }

  /** Priority of pieces [from, to] (a file's pieces): 0 skips them, above 1 fetches them first. */
  setPriority(from: number, to: number, priority: Priority): void {
    for (let i = Math.max(0, from); i <= Math.min(to, this.pieceCount - 1); i++) {
      const old = this.prio[i];
      if (old === priority) continue;
      this.prio[i] = priority;
      if (this.have[i]) continue;
      if (old > 1) this.high.splice(this.high.indexOf(i), 1);
      if (priority > 1) this.high.splice(lowerBound(this.high, i), 0, i);
      if (old === 0 && priority > 0) {
        this.wantedMissing++;
        this.insert(i);
      } else if (old > 0 && priority === 0) {
        this.wantedMissing--;
        this.remove(i);
      }
    }
  }

  priority(i: number): Priority {
    return this.prio[i];
  }

  // ---- availability ----

  /** A peer announced piece `i` (have, or one bit of its bitfield). */
  inc(i: number): void {
    const a = this.avail[i];
    this.avail[i] = a + 1;
    if (a === 0) this.zeroAvail--;
    if (this.pos[i] < 0) return;
    if (a + 2 >= this.start.length) this.start.push(this.start[this.start.length - 1]);
    // Move to the last slot of bucket a, then shrink bucket a by one: the piece is now first of bucket a+1.
    const last = this.start[a + 1] - 1;
    this.swap(this.pos[i], last);
    this.start[a + 1]--;
    this.shuffleInto(i, a + 1);
  }

  /** A peer lost piece `i` (dont-have) or left. */
  dec(i: number): void {
    const a = this.avail[i];
    if (a === 0) return;
    this.avail[i] = a - 1;
    if (a === 1) this.zeroAvail++;
    if (this.pos[i] < 0) return;
    const first = this.start[a];
    this.swap(this.pos[i], first);
    this.start[a]++;
    this.shuffleInto(i, a - 1);
  }

  /** A peer with every piece joined (BEP 6 have-all, or a full bitfield). */
  addSeed(): void {
    this.seeds++;
  }

  removeSeed(): void {
    if (this.seeds > 0) this.seeds--;
  }

  // ---- picking ----

  /**
   * The next piece to start for a peer that has the pieces `peerHas` says, skipping the ones `busy` says are
   * already in flight; -1 when the peer has nothing we want that is not in flight.
   */
  pick(peerHas: (i: number) => boolean, busy: (i: number) => boolean = () => false): number {
    for (const i of this.high) if (!busy(i) && peerHas(i)) return i;
    const n = this.start[this.start.length - 1];
    if (n === 0) return -1;
    if (this.sequential) return this.pickSequential(peerHas, busy);
    if (this.haveCount < this.randomFirst) {
      // A few random probes into the whole array: any piece is as good as another while we have nothing to trade.
      for (let tries = 0; tries < 16; tries++) {
        const i = this.order[Math.floor(this.random() * n)];
        if (!busy(i) && peerHas(i)) return i;
      }
    }
    for (let p = 0; p < n; p++) {
      const i = this.order[p];
      if (!busy(i) && peerHas(i)) return i;
    }
    return -1;
  }

  /**
   * Like pick, but the piece with the lowest `score` (0 is taken at once), equal scores rarest first: one pass over
   * the wanted missing pieces. High-priority pieces and sequential mode keep pick's order.
   */
  pickLowest(peerHas: (i: number) => boolean, busy: (i: number) => boolean, score: (i: number) => number): number {
    if (this.sequential) return this.pick(peerHas, busy);
    for (const i of this.high) if (!busy(i) && peerHas(i)) return i;
    const n = this.start[this.start.length - 1];
    let best = -1;
    let bestScore = Infinity;
    for (let p = 0; p < n; p++) {
      const i = this.order[p];
      if (busy(i) || !peerHas(i)) continue;
      const s = score(i);
      if (s <= 0) return i;
      if (s < bestScore) {
        best = i;
        bestScore = s;
      }
    }
    return best;
  }

  private pickSequential(peerHas: (i: number) => boolean, busy: (i: number) => boolean): number {
    while (this.seqCursor < this.pieceCount && (this.have[this.seqCursor] || !this.prio[this.seqCursor]))
      this.seqCursor++;
    for (let i = this.seqCursor; i < this.pieceCount; i++) {
      if (this.pos[i] < 0) continue;
      if (!busy(i) && peerHas(i)) return i;
    }
    return -1;
  }

  /** Wanted, missing pieces in picking order (for tests and diagnostics). */
  ordered(): number[] {
    return Array.from(this.order.subarray(0, this.start[this.start.length - 1]));
  }

  // ---- the bucket array ----

  private swap(a: number, b: number): void {
    if (a === b) return;
    const pa = this.order[a];
    const pb = this.order[b];
    this.order[a] = pb;
    this.order[b] = pa;
    this.pos[pb] = a;
    this.pos[pa] = b;
  }

  /** Piece `i` just entered bucket `a`: swap it with a random member, so ties stay in random order. */
  private shuffleInto(i: number, a: number): void {
    const lo = this.start[a];
    const hi = this.start[a + 1];
    if (hi - lo < 2) return;
    this.swap(this.pos[i], lo + Math.floor(this.random() * (hi - lo)));
  }

  /** Takes piece `i` out of the array: carried to the end of each bucket above its own, then dropped. */
  private remove(i: number): void {
    const top = this.start.length - 1;
    for (let b = this.avail[i]; b < top; b++) {
      this.swap(this.pos[i], this.start[b + 1] - 1);
      this.start[b + 1]--;
    }
    this.pos[i] = -1;
  }

  /** Puts piece `i` back: appended to the top bucket, then carried down to the bucket of its availability. */
  private insert(i: number): void {
    while (this.start.length - 2 < this.avail[i]) this.start.push(this.start[this.start.length - 1]);
    const end = this.start[this.start.length - 1];
    this.order[end] = i;
    this.pos[i] = end;
    this.start[this.start.length - 1]++;
    for (let b = this.start.length - 2; b > this.avail[i]; b--) {
      this.swap(this.pos[i], this.start[b]);
      this.start[b]++;
    }
    this.shuffleInto(i, this.avail[i]);
  }
}

function lowerBound(a: number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * What one peer has told us, counted into a picker: bitfield, have, have-all / have-none (BEP 6), dont-have, and
 * its departure. Keeps its own copy of what it counted, so a second bitfield or a have for a piece already counted
 * cannot skew availability.
 */
export class PeerAvailability {
  private counted: Uint8Array;
  private seed = false;
  private closed = false;
  /** Pieces it has that we do not (not kept for a seed: it has them all). */
  useful = 0;

  constructor(private readonly picker: PiecePicker) {
    this.counted = new Uint8Array(picker.pieceCount);
  }

  get isSeed(): boolean {
    return this.seed;
  }

  has(i: number): boolean {
    return this.seed || this.counted[i] === 1;
  }

  /** A full bitfield (BEP 3); `get(i)` reads bit i. */
  bitfield(get: (i: number) => boolean): void {
    if (this.closed) return;
    const n = this.picker.pieceCount;
    let all = true;
    for (let i = 0; i < n && all; i++) if (!get(i)) all = false;
    if (all) return this.haveAll();
    this.unseed();
    for (let i = 0; i < n; i++) {
      const bit = get(i) ? 1 : 0;
      if (bit === this.counted[i]) continue;
      this.counted[i] = bit;
      if (bit) this.count(i);
      else this.uncount(i);
    }
  }

  have(i: number): void {
    if (this.closed || this.seed || i < 0 || i >= this.picker.pieceCount || this.counted[i]) return;
    this.count(i);
  }

  dontHave(i: number): void {
    if (this.closed || i < 0 || i >= this.picker.pieceCount) return;
    if (this.seed) {
      // A seed that loses a piece is counted per piece from now on.
      this.seed = false;
      this.picker.removeSeed();
      for (let j = 0; j < this.picker.pieceCount; j++) {
        if (j !== i) this.count(j);
      }
      return;
    }
    if (this.counted[i]) this.uncount(i);
  }

  /** We verified piece i: one fewer piece this peer could give us. */
  weGot(i: number): void {
    if (this.counted[i]) this.useful--;
  }

  haveAll(): void {
    if (this.closed || this.seed) return;
    this.clearCounted();
    this.seed = true;
    this.picker.addSeed();
  }

  haveNone(): void {
    if (this.closed) return;
    this.unseed();
    this.clearCounted();
  }

  /** The peer disconnected: everything it had no longer counts. */
  close(): void {
    if (this.closed) return;
    this.unseed();
    this.clearCounted();
    this.closed = true;
  }

  private unseed(): void {
    if (!this.seed) return;
    this.seed = false;
    this.picker.removeSeed();
  }

  private clearCounted(): void {
    const c = this.counted;
    for (let i = 0; i < c.length; i++) if (c[i]) this.uncount(i);
  }

  private count(i: number): void {
    this.counted[i] = 1;
    if (!this.picker.hasPiece(i)) this.useful++;
    this.picker.inc(i);
  }

  private uncount(i: number): void {
    this.counted[i] = 0;
    if (!this.picker.hasPiece(i)) this.useful--;
    this.picker.dec(i);
  }
}

/**
 * Seed sparing: every downloader of a swarm fetches the pieces only the seed has from it, and two that pick the same
 * piece at once make the seed upload it twice (libtorrent's seed sends both; ours holds one back). So each
 * downloader ranks itself per piece among the downloaders it knows (itself included, seeds not) by rendezvous
 * hashing (highest random weight: piece i is weighed for each peer id, the heaviest "owns" it), and asks a seed
 * first for the pieces it owns (rank 0), then those it is next in line for (rank 1; their owner may be choked by
 * the seed, as libtorrent's seed unchokes 8 of 16), then any.
 *
 * Rendezvous rather than "rank among the sorted ids, pieces i mod n": early on each downloader knows a different
 * part of the swarm, and with i mod n one peer more or less moves every piece to another stripe, so differing views
 * collide on most pieces; with rendezvous a peer unknown to one of two downloaders only moves the pieces that peer
 * would own. Returns undefined when there is nobody to share with.
 */
export function seedRanks(ourId: string, downloaderIds: Iterable<string>): ((i: number) => number) | undefined {
  const others = [...new Set(downloaderIds)].filter((id) => id !== ourId).map(idHash);
  if (others.length === 0) return undefined;
  const ours = idHash(ourId);
  const cache = new Map<number, number>();
  return (i) => {
    let r = cache.get(i);
    if (r === undefined) {
      const w = weight(ours, i);
      r = 0;
      for (const h of others) {
        const o = weight(h, i);
        if (o > w || (o === w && h > ours)) r++;
      }
      cache.set(i, r);
    }
    return r;
  };
}

export interface SeedPickOptions {
  /** Pieces in flight here (or to be skipped at this seed for now). */
  busy: (i: number) => boolean;
  /** Pieces a fellow downloader said it just started at a seed (seed-claims.ts). */
  claimed: (i: number) => boolean;
  /** Our place in line per piece among the downloaders we know (seedRanks), undefined when alone. */
  rank?: (i: number) => number;
  /** The seed is the swarm's origin (not a downloader that completed): its upload is what everyone waits on. */
  origin: boolean;
  /** Fellow downloaders (or ones that completed) are sending us blocks now: the origin is not our only source. */
  fedByFellows?: boolean;
  /** Pieces to take before the others if we own them (rank 0), under the same rules (pieces fellows released
   *  part-way, seed-claims.ts). */
  first?: Iterable<number>;
}

/**
 * The next piece to start at a seed, or -1 to ask it for nothing now. Only pieces no fellow downloader has nor
 * claims, the one we are furthest up the line for (lowest rank, seedRanks) first: a downloader that took any fresh
 * piece at random, or any within a few ranks, collided with one that did the same at the same moment (both fetched
 * it from the seed before either's claim arrived, and libtorrent's seed sends it twice), while two downloaders'
 * ranks for one piece always differ. Then, from a seed that is not the origin or
 * once every piece has left the origin, pieces others have or claim. While some piece is still on the seeds alone
 * (in flight from the origin to a fellow downloader), the origin is asked for no duplicate: its upload is the
 * swarm's bottleneck, and a piece sent twice before every piece was sent once delays every downloader. Nor while
 * fellows are feeding us blocks: the pieces they have reach us from them once they unchoke us (their choking rounds
 * rotate), and a downloader near the end that asked the origin for them made it upload 1.1-1.2x at N = 16.
 */
export function pickAtSeed(picker: PiecePicker, peerHas: (i: number) => boolean, o: SeedPickOptions): number {
  const open = (i: number) => o.busy(i) || o.claimed(i);
  const rank = o.rank;
  const elsewhere = (i: number) => open(i) || picker.availability(i) > picker.seeds;
  // Released pieces first, by their owner only (every fellow heard of the release at once).
  if (o.first)
    for (const i of o.first) if (!picker.hasPiece(i) && peerHas(i) && !elsewhere(i) && !(rank && rank(i) > 0)) return i;
  const index = rank ? picker.pickLowest(peerHas, elsewhere, rank) : picker.pick(peerHas, elsewhere);
  if (index >= 0 || (o.origin && (picker.onSeedsAlone > 0 || o.fedByFellows))) return index;
  return picker.pick(peerHas, open);
}

/** The pieces a downloader asks a seed for first (its rank-0 pieces, see seedRanks), or undefined when alone. */
export function seedStripe(ourId: string, downloaderIds: Iterable<string>): ((i: number) => boolean) | undefined {
  const rank = seedRanks(ourId, downloaderIds);
  return rank && ((i) => rank(i) === 0);
}

/** FNV-1a of a peer id, 32 bits. */
function idHash(id: string): number {
  let h = 0x811c9dc5;
  for (let k = 0; k < id.length; k++) h = Math.imul(h ^ id.charCodeAt(k), 0x01000193);
  return h >>> 0;
}

/** The weight of piece i for a peer: murmur3's finaliser of (id hash, piece), well mixed in every bit. */
function weight(h: number, i: number): number {
  let x = (h ^ Math.imul(i + 1, 0x9e3779b1)) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}
