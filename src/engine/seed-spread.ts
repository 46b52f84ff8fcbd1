// How a seed keeps from sending the same piece to two downloaders at once, and how a downloader steps aside when
// told to. Pure bookkeeping (times are passed in); scheduler.ts applies it to the wires.
//
// Downloaders pick rarest first with random ties, but while a piece is on its way from the seed to one of them, the
// others cannot know: each of them may pick it too, and the seed would upload it several times. So the seed tracks,
// per piece, the one peer it is sending it to (`PieceOwners`). A request for a piece another peer is being sent, and
// does not have yet, is a duplicate:
//  - a peer that said it understands (BEP 10 handshake key `DUPLICATE_REJECT_KEY`, a silmaril downloader) gets a
//    BEP 6 reject at once, and picks another piece for `REJECT_BACKOFF_MS` (`RejectBackoff`); by then the first peer
//    usually has the piece and it comes from there;
//  - any other peer's request is held back while the owner is still fetching the piece (at most MAX_HOLD_MS), and
//    once the owner has it a moment more (CANCEL_GRACE_MS) for the requester's cancel, then served if still wanted.
// And while some piece is still on the seed alone, a silmaril downloader asking for a piece other peers already have
// gets the same reject ('elsewhere'): the seed's upload goes to pieces only it can give, the rest is traded among
// the downloaders, and the seed uploads the torrent about once. (A downloader only asks a seed for a piece its
// unchoking peers have not got, but peers that choke it may have it.)
// A peer owns a piece while it keeps asking for its blocks and they go out to it: ownership lapses `OWNER_IDLE_MS`
// after its last request for it or its last block served, and only once it has no request for it queued at us (choked, gone, or got it elsewhere), so a piece never stays locked to a peer that stopped fetching it.

/** Key in our BEP 10 extended handshake: "reject my duplicate requests, I will pick another piece". */
export const DUPLICATE_REJECT_KEY = 'silmaril_dup_reject';
/** After a reject from a seed, how long a downloader does not ask that seed for the piece again. */
export const REJECT_BACKOFF_MS = 1000;
/** A peer owns a piece for this long after its last request for a block of it. */
export const OWNER_IDLE_MS = 2000;
/**
 * A peer refused everything it asked for this long is then served whatever it asks for as long again: owners are
 * whoever keeps asking, so a peer that asks for every piece and never finishes one (a request flood) would otherwise
 * lock every honest downloader out (the hostile soak showed it).
 */
export const STARVE_MS = 3000;
/**
 * A held-back request (a duplicate) waits while its piece's owner is still fetching it, at most this long: at a
 * rate-limited seed shared by 8 peers a 1 MiB piece takes a second or more to reach its owner, so a fixed short
 * hold-back ran out first and the piece went out twice.
 */
export const MAX_HOLD_MS = 5000;
/** Once the owner has the piece, a held-back request waits this much longer for the requester's cancel. */
export const CANCEL_GRACE_MS = 750;

/** A request held back by the seed (see PieceOwners.hold). */
export interface HeldRequest<W> {
  wire: W;
  index: number;
  /** When it was held back (ms). */
  since: number;
  /** When its piece's owner was first seen to have the piece. */
  ownerHadAt?: number;
  /** Held as 'elsewhere' (other peers have the piece while some piece is on the seed alone). */
  elsewhere?: boolean;
}

/**
 * 'duplicate': another peer is being sent the piece now. 'elsewhere': other peers have the piece while some piece
 * nobody but us has is left: our upload goes to those first, the requester gets this one from its peers.
 */
export type Verdict = 'serve' | 'duplicate' | 'elsewhere';

/** What the seed knows of the swarm, for the 'elsewhere' rule (only for peers that take a reject well). */
export interface Spread {
  /** Connected peers other than the requester that have piece i (seeds included). */
  othersHave(i: number): number;
  /** Pieces no connected peer has. */
  nobodyElseHas: number;
}

export class PieceOwners<W> {
  private owners = new Map<number, { wire: W; at: number }>();

  /**
   * `fetching(w, i)`: peer w still has requests for piece i queued at us. Its ownership does not lapse then, however
   * long it has been idle: a CPU-starved downloader that reads its socket slowly is still getting the piece, and
   * giving it to the next peer sent it twice.
   */
  constructor(private readonly fetching: (w: W, i: number) => boolean = () => false) {}

  private lapsed(o: { wire: W; at: number }, index: number, now: number): boolean {
    return now - o.at >= OWNER_IDLE_MS && !this.fetching(o.wire, index);
  }
  /** Peers refused since: cleared by the next request served to them. */
  private refusedSince = new Map<W, number>();
  /** Peers found starved: served whatever they ask until then. */
  private graceUntil = new Map<W, number>();

  /**
   * A request from `wire` for a block of piece `index` at time `now` (ms). `has(w, i)`: peer w has piece i.
   * `gone(w)`: the peer disconnected.
   */
  request(
    wire: W,
    index: number,
    now: number,
    has: (w: W, i: number) => boolean,
    gone: (w: W) => boolean = () => false,
    spread?: Spread,
  ): Verdict {
    const grace = this.graceUntil.get(wire);
    if (grace !== undefined && now < grace) return 'serve';
    const verdict = this.verdict(wire, index, now, has, gone, spread);
    if (verdict === 'serve') {
      this.refusedSince.delete(wire);
      return verdict;
    }
    const since = this.refusedSince.get(wire);
    if (since === undefined) this.refusedSince.set(wire, now);
    else if (now - since >= STARVE_MS) {
      this.refusedSince.delete(wire);
      this.graceUntil.set(wire, now + STARVE_MS);
      return 'serve';
    }
    return verdict;
  }

  private verdict(
    wire: W,
    index: number,
    now: number,
    has: (w: W, i: number) => boolean,
    gone: (w: W) => boolean,
    spread?: Spread,
  ): Verdict {
    const o = this.owners.get(index);
    // The owner asking for more of its piece is served even if others have it now: it is half-way through.
    const continuing = !!o && o.wire === wire && !this.lapsed(o, index, now);
    if (!continuing && spread && spread.nobodyElseHas > 0 && spread.othersHave(index) > 0) return 'elsewhere';
    if (!o || o.wire === wire || gone(o.wire) || this.lapsed(o, index, now)) {
      this.owners.set(index, { wire, at: now });
      return 'serve';
    }
    // The owner has it now and it can give it; but the requester asked before it heard, so its cancel is on the
    // way: hold back too (hold() serves it if it is still wanted after CANCEL_GRACE_MS, e.g. the owner chokes it).
    return 'duplicate';
  }

  /**
   * A request held back since `held.since`: 'wait' while its piece's owner is still fetching it (up to MAX_HOLD_MS)
   * or, held as 'elsewhere', while other peers have it and some piece is still on the seed alone (as long)
   * or, once the owner has it, CANCEL_GRACE_MS for the requester's cancel; then 'serve' (if it is still wanted, the
   * caller's check). A starved requester (see STARVE_MS) is served at once.
   */
  hold(
    held: HeldRequest<W>,
    now: number,
    has: (w: W, i: number) => boolean,
    gone: (w: W) => boolean = () => false,
    spread?: Spread,
  ): 'wait' | 'serve' {
    const grace = this.graceUntil.get(held.wire);
    if (grace !== undefined && now < grace) return 'serve';
    if (held.elsewhere) {
      // Others have it: wait while some piece is still on the seed alone (the requester may get it from them), at
      // most MAX_HOLD_MS (they may all choke it).
      const still = !!spread && spread.nobodyElseHas > 0 && spread.othersHave(held.index) > 0;
      return still && now - held.since < MAX_HOLD_MS ? 'wait' : 'serve';
    }
    const o = this.owners.get(held.index);
    if (!o || o.wire === held.wire || gone(o.wire)) return 'serve';
    if (has(o.wire, held.index)) {
      held.ownerHadAt ??= now;
      return now - held.ownerHadAt >= CANCEL_GRACE_MS ? 'serve' : 'wait';
    }
    if (this.lapsed(o, held.index, now)) return 'serve';
    return now - held.since >= MAX_HOLD_MS ? 'serve' : 'wait';
  }

  /**
   * A block of piece `index` was handed to `wire` (after the upload limit): an owner keeps the piece while blocks
   * still go out to it, not only while it asks, so a piece whose last requests sat seconds in the rate-limited queue
   * is not given away as lapsed just before the owner gets it.
   */
  served(wire: W, index: number, now: number): void {
    const o = this.owners.get(index);
    if (o && o.wire === wire && now > o.at) o.at = now;
  }

  /**
   * Pieces `wire` owns now and does not have yet (partly sent to it). A seed rotating its upload slots lets such a
   * peer finish them before choking it (scheduler.ts): choked mid-piece, the rest of the piece went to the next
   * peer that asked, the whole piece again.
   */
  owning(wire: W, now: number, has: (w: W, i: number) => boolean): number {
    let n = 0;
    for (const [i, o] of this.owners) {
      if (o.wire !== wire) continue;
      // A lapsed entry means nothing any more: dropped, so the map holds only pieces in flight.
      if (this.lapsed(o, i, now)) this.owners.delete(i);
      else if (!has(wire, i)) n++;
    }
    return n;
  }

  /** A peer left: its pieces are free at once. */
  remove(wire: W): void {
    for (const [i, o] of this.owners) if (o.wire === wire) this.owners.delete(i);
    this.refusedSince.delete(wire);
    this.graceUntil.delete(wire);
  }

  /** The peer a piece is being sent to now, if any. */
  ownerOf(index: number, now: number): W | undefined {
    const o = this.owners.get(index);
    return o && !this.lapsed(o, index, now) ? o.wire : undefined;
  }
}

/** Downloader side, per seed wire: pieces that seed rejected recently. */
export class RejectBackoff {
  private until = new Map<number, number>();

  reject(index: number, now: number): void {
    this.until.set(index, now + REJECT_BACKOFF_MS);
  }

  /** True while the piece should not be asked of this seed. */
  blocked(index: number, now: number): boolean {
    const u = this.until.get(index);
    if (u === undefined) return false;
    if (now < u) return true;
    this.until.delete(index);
    return false;
  }

  get size(): number {
    return this.until.size;
  }
}

/**
 * Downloaders: peer ids we saw missing a piece, also once they complete. A seed we never saw missing one is the
 * swarm's origin as far as we know: its upload is what every downloader waits on, while what a downloader that
 * completed sends costs the origin nothing (scheduler.ts asks the origin for nothing while such a one unchokes us,
 * and asks it for no piece twice while some piece is still on the seeds alone). Bounded, so a flood of peer ids
 * cannot grow it without end (then newcomers count as origins: the cautious side).
 */
export class Downloaders {
  private readonly ids = new Set<string>();

  constructor(private readonly max = 10_000) {}

  /** `id` was seen missing a piece. */
  note(id: string | undefined): void {
    if (id && this.ids.size < this.max) this.ids.add(id);
  }

  /** A seed with this id is the origin (never seen missing a piece). */
  isOrigin(id: string | undefined): boolean {
    return !(id && this.ids.has(id));
  }
}
