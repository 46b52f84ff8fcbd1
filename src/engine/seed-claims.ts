// Downloaders telling each other which piece they just started at a seed, so no second one starts it there.
//
// A seed is the swarm's bottleneck, and a piece two downloaders fetch from it at once is uploaded twice. libtorrent's
// seed sends whatever it is asked (ours holds a duplicate back, seed-spread.ts), and BitTorrent has no message for
// "I am fetching piece i": a `have` only comes once the piece is complete, a second or more later at a shared,
// rate-limited seed. So silmaril downloaders send one (BEP 10 extension `silmaril_fetching`, 4 bytes: the piece
// index, big-endian) to their fellow downloaders when they start a piece at a seed; a downloader skips claimed pieces
// when choosing what to ask a seed for (scheduler.ts), as long as it has another. A claim lapses after CLAIM_MS or
// when the claimant announces the piece; a peer holds at most MAX_CLAIMS at once (an honest downloader starts one
// piece at a time at a seed), so a peer claiming everything only keeps us off a few pieces for a few seconds. A
// downloader the seed chokes in the middle of a piece says so (a release): that piece, partly fetched and stuck, is
// the next one its owner among the fellows still fetching takes (scheduler.ts), instead of waiting for the claim to
// lapse and then its turn in random order (seen: a piece claimed at 2 s by a downloader choked at once was taken up
// again at 10.9 s, and the whole swarm of 16 waited for it).

export const FETCHING_EXTENSION = 'silmaril_fetching';
/** How long a claim keeps others off a piece at the seed (a 1 MiB piece at 1 MiB/s, with margin for a loaded host). */
export const CLAIM_MS = 4000;
/** Claims one peer holds at once; older ones are forgotten first. */
export const MAX_CLAIMS = 4;

export function encodeClaim(piece: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(piece >>> 0);
  return b;
}

/**
 * "I stopped fetching piece i at the seed before it was whole" (the seed choked us): 5 bytes, the index then a 0.
 * Peers that only know claims drop it as malformed, so it needs no new extension name.
 */
export function encodeRelease(piece: number): Buffer {
  const b = Buffer.alloc(5);
  b.writeUInt32BE(piece >>> 0);
  return b;
}

/** The piece index, or undefined for anything but exactly 4 bytes naming a piece below `pieceCount`. */
export function decodeClaim(buf: Uint8Array, pieceCount: number): number | undefined {
  if (buf.length !== 4) return undefined;
  const i = Buffer.from(buf.buffer, buf.byteOffset, 4).readUInt32BE(0);
  return i < pieceCount ? i : undefined;
}

/** A claim or a release, or undefined for anything else (seed-claims' two messages). */
export function decodeFetching(
  buf: Uint8Array,
  pieceCount: number,
): { kind: 'claim' | 'release'; piece: number } | undefined {
  if (buf.length === 4) {
    const piece = decodeClaim(buf, pieceCount);
    return piece === undefined ? undefined : { kind: 'claim', piece };
  }
  if (buf.length !== 5 || buf[4] !== 0) return undefined;
  const piece = Buffer.from(buf.buffer, buf.byteOffset, 4).readUInt32BE(0);
  return piece < pieceCount ? { kind: 'release', piece } : undefined;
}

/** Pieces other downloaders said they are fetching from a seed, per peer. */
export class SeedClaims<P> {
  private readonly byPeer = new Map<P, Map<number, number>>();
  /** When each peer last claimed a piece (kept after its claims end: it tells who fetches from seeds lately). */
  private readonly lastClaim = new Map<P, number>();

  constructor(
    private readonly claimMs = CLAIM_MS,
    private readonly maxClaims = MAX_CLAIMS,
  ) {}

  /** `peer` started piece i at a seed at `now`. */
  add(peer: P, i: number, now: number): void {
    let m = this.byPeer.get(peer);
    if (!m) this.byPeer.set(peer, (m = new Map()));
    m.delete(i);
    m.set(i, now + this.claimMs);
    this.lastClaim.set(peer, now);
    this.everClaimed = true;
    // Insertion order is age: forget the oldest beyond the cap.
    while (m.size > this.maxClaims) m.delete(m.keys().next().value as number);
  }

  /**
   * `peer` stopped fetching piece i at a seed before it was whole (the seed choked it): the piece is free again, and
   * the peer no longer fetches from a seed. Returns true if it had claimed it.
   */
  release(peer: P, i: number): boolean {
    const had = this.byPeer.get(peer)?.delete(i) ?? false;
    this.lastClaim.delete(peer);
    return had;
  }

  /** `peer` has piece i now (its `have`): its claim is done. */
  done(peer: P, i: number): void {
    this.byPeer.get(peer)?.delete(i);
  }

  /** The peer left. */
  remove(peer: P): void {
    this.byPeer.delete(peer);
    this.lastClaim.delete(peer);
  }

  /** Whether any fellow ever claimed a piece (until then nobody knows who fetches from the seeds). */
  get anyEver(): boolean {
    return this.everClaimed;
  }
  private everClaimed = false;

  /** The peers that claimed a piece at `since` or later: the fellows fetching from a seed lately. */
  claimantsSince(since: number): P[] {
    const out: P[] = [];
    for (const [peer, at] of this.lastClaim) if (at >= since) out.push(peer);
    return out;
  }

  /** Some peer claims piece i and its claim has not lapsed. */
  claimed(i: number, now: number): boolean {
    for (const m of this.byPeer.values()) {
      const until = m.get(i);
      if (until !== undefined && until > now) return true;
    }
    return false;
  }

  /** Whether any claim is held at all (so a caller can skip the check). */
  get size(): number {
    let n = 0;
    for (const m of this.byPeer.values()) n += m.size;
    return n;
  }
}
