// Downloaders telling each other which piece they just started at a seed, so no second one starts it there.
//
// A seed is the swarm's bottleneck, and a piece two downloaders fetch from it at once is uploaded twice. libtorrent's
// seed sends whatever it is asked (ours holds a duplicate back, seed-spread.ts), and BitTorrent has no message for
// "I am fetching piece i": a `have` only comes once the piece is complete, a second or more later at a shared,
// rate-limited seed. So silmaril downloaders send one (BEP 10 extension `silmaril_fetching`, 4 bytes: the piece
// index, big-endian) to their fellow downloaders when they start a piece at a seed; a downloader skips claimed pieces
// when choosing what to ask a seed for (scheduler.ts), as long as it has another. A claim lapses after CLAIM_MS or
// when the claimant announces the piece; a peer holds at most MAX_CLAIMS at once (an honest downloader starts one
// piece at a time at a seed), so a peer claiming everything only keeps us off a few pieces for a few seconds.

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

/** The piece index, or undefined for anything but exactly 4 bytes naming a piece below `pieceCount`. */
export function decodeClaim(buf: Uint8Array, pieceCount: number): number | undefined {
  if (buf.length !== 4) return undefined;
  const i = Buffer.from(buf.buffer, buf.byteOffset, 4).readUInt32BE(0);
  return i < pieceCount ? i : undefined;
}

/** Pieces other downloaders said they are fetching from a seed, per peer. */
export class SeedClaims<P> {
  private readonly byPeer = new Map<P, Map<number, number>>();

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
    // Insertion order is age: forget the oldest beyond the cap.
    while (m.size > this.maxClaims) m.delete(m.keys().next().value as number);
  }

  /** `peer` has piece i now (its `have`): its claim is done. */
  done(peer: P, i: number): void {
    this.byPeer.get(peer)?.delete(i);
  }

  /** The peer left. */
  remove(peer: P): void {
    this.byPeer.delete(peer);
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
