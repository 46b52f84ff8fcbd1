// BEP 16 super-seeding for an initial seed: it tells each peer it has no pieces, then reveals pieces one peer at a
// time (a `have` each), a different piece to every peer and the rarest first, so the seed uploads each piece about
// once and the peers spread them among themselves. A peer is given its next piece once it announces one it was given
// (libtorrent does the same; strict BEP 16 waits until the piece is seen at a third peer, which stalls small swarms).
// Pure bookkeeping: scheduler.ts sends the `have` messages and feeds the events.

export class SuperSeeder<P> {
  /** Pieces revealed to each peer and not announced by it yet. */
  private readonly offered = new Map<P, Set<number>>();
  /** How many peers each piece is currently revealed to (0 or 1 while there are enough pieces). */
  private readonly offeredCount: Uint16Array;

  constructor(
    readonly pieceCount: number,
    /** Connected peers that have piece i. */
    private readonly availability: (i: number) => number,
    /** Pieces revealed to a peer at once (libtorrent: 2, keeps its request pipe full). */
    private readonly perPeer = 2,
    private readonly random: () => number = Math.random,
  ) {
    this.offeredCount = new Uint16Array(pieceCount);
  }

  /** Pieces to reveal to `peer` now (call on connect and after each of its haves). */
  next(peer: P, peerHas: (i: number) => boolean): number[] {
    let mine = this.offered.get(peer);
    if (!mine) this.offered.set(peer, (mine = new Set()));
    const out: number[] = [];
    while (mine.size < this.perPeer) {
      const i = this.rarestFor(peerHas, mine);
      if (i < 0) break;
      mine.add(i);
      this.offeredCount[i]++;
      out.push(i);
    }
    return out;
  }

  /** The peer announced piece i; returns true if it was one revealed to it (then call next). */
  announced(peer: P, i: number): boolean {
    const mine = this.offered.get(peer);
    if (!mine?.has(i)) return false;
    mine.delete(i);
    this.offeredCount[i]--;
    return true;
  }

  /** The peer left: its revealed pieces are free for others. */
  remove(peer: P): void {
    for (const i of this.offered.get(peer) ?? []) this.offeredCount[i]--;
    this.offered.delete(peer);
  }

  /** Pieces revealed to a peer (for tests). */
  offeredTo(peer: P): number[] {
    return [...(this.offered.get(peer) ?? [])];
  }

  /** The piece the peer lacks with the fewest holders and reveals (random ties), -1 if none. */
  private rarestFor(peerHas: (i: number) => boolean, mine: Set<number>): number {
    let best = -1;
    let bestKey = Infinity;
    let ties = 0;
    for (let i = 0; i < this.pieceCount; i++) {
      if (mine.has(i) || peerHas(i)) continue;
      // A piece already revealed to someone is given out again only when nothing else is left.
      const key = this.offeredCount[i] * 0x10000 + this.availability(i);
      if (key < bestKey) {
        bestKey = key;
        best = i;
        ties = 1;
      } else if (key === bestKey && this.random() * ++ties < 1) best = i;
    }
    return best;
  }
}
