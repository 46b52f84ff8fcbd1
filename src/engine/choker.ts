// Who we upload to: a fixed number of upload slots, as libtorrent's fixed_slots choker (unchoke_slots_limit 8).
//
// While downloading: tit-for-tat. The regular slots go to the interested peers that send us data fastest (ties: the
// ones already unchoked, to avoid fibrillation, then at random); one slot is optimistic and rotates every few rounds
// to the interested peer that has waited longest, so a newcomer with nothing to give yet gets a start.
// While seeding (nothing to receive, rates from peers mean nothing): round robin. A peer keeps its slot until it has
// been given its quota of bytes or held the slot for a few rounds, then goes behind every peer that has waited,
// so a seed spreads its upload over all peers (and, with rarest-first downloaders, different pieces to each) instead
// of feeding the same few.
// Pure logic: the caller (scheduler.ts) feeds it peers and applies the answer to the wires.

export interface ChokePeer {
  /** Stable identity of the peer (the wire object itself will do). */
  id: unknown;
  /** The peer wants something we have. */
  interested: boolean;
  /** The peer has everything: never upload to it. */
  isSeed: boolean;
  /** Bytes per second it sends us. */
  downloadRate: number;
  /** Bytes we have uploaded to it in total. */
  uploaded: number;
  /** Its requests we have not answered yet (held back ones included); unknown: undefined. */
  pending?: number;
  /** Milliseconds since it last asked us for a block, or since it was unchoked if later; unknown: undefined. */
  idleMs?: number;
}

export interface ChokerOptions {
  /** Upload slots, the optimistic one included (libtorrent's default: 8). */
  slots?: number;
  /** Rounds an optimistic unchoke lasts (libtorrent: 30 s at a 15 s interval = 2; WebTorrent: 3). */
  optimisticRounds?: number;
  /** Seeding: bytes a peer is given before it yields its slot. */
  seedQuota?: number;
  /** Seeding: rounds a peer may hold a slot before it yields it, whatever it was given. */
  seedRounds?: number;
  /** Seeding: an unchoked peer that asked for nothing this long yields its slot. */
  seedIdleMs?: number;
  random?: () => number;
}

interface PeerState {
  unchoked: boolean;
  /** Round in which the peer was last unchoked (or, while choked, since when it waits). */
  since: number;
  /** `uploaded` when it was last unchoked. */
  uploadedAtUnchoke: number;
  /** Round of its last optimistic unchoke (0: never), as libtorrent's last_optimistically_unchoked. */
  lastOptimistic: number;
}

export class Choker {
  readonly slots: number;
  private readonly optimisticRounds: number;
  private readonly seedQuota: number;
  private readonly seedRounds: number;
  private readonly seedIdleMs: number;
  private readonly random: () => number;
  private round = 0;
  private optimistic: unknown = null;
  private optimisticUntil = 0;
  private state = new Map<unknown, PeerState>();

  constructor(opts: ChokerOptions = {}) {
    this.slots = Math.max(1, opts.slots ?? 8);
    this.optimisticRounds = opts.optimisticRounds ?? 3;
    this.seedQuota = opts.seedQuota ?? 4 * 1024 * 1024;
    this.seedRounds = opts.seedRounds ?? 3;
    this.seedIdleMs = opts.seedIdleMs ?? 2000;
    this.random = opts.random ?? Math.random;
  }

  /** True if the peer is unchoked after the last round. */
  isUnchoked(id: unknown): boolean {
    return this.state.get(id)?.unchoked ?? false;
  }

  /** A peer left: forget it. */
  remove(id: unknown): void {
    this.state.delete(id);
    if (this.optimistic === id) this.optimistic = null;
  }

  /** One choking round over the connected peers; returns the set of peers to unchoke (all others are choked). */
  rechoke(peers: ChokePeer[], seeding: boolean): Set<unknown> {
    this.round++;
    const live = new Set(peers.map((p) => p.id));
    for (const id of [...this.state.keys()]) if (!live.has(id)) this.remove(id);
    const st = (p: ChokePeer): PeerState => {
      let s = this.state.get(p.id);
      if (!s)
        this.state.set(
          p.id,
          (s = { unchoked: false, since: this.round, uploadedAtUnchoke: p.uploaded, lastOptimistic: 0 }),
        );
      return s;
    };
    const candidates = peers.filter((p) => p.interested && !p.isSeed);
    const keys = new Map(candidates.map((p) => [p.id, this.random()]));
    const unchoke = new Set<unknown>();

    if (seeding) {
      // Round robin: peers still within their turn first (the earliest unchoked first), then waiting peers by how
      // long they have waited; peers whose turn is over go last. A peer unchoked that asked for nothing for
      // seedIdleMs (interested, but fetching elsewhere: silmaril downloaders leave to their fellows what those
      // have, scheduler.ts) ends its turn too: it held one of the seed's few slots while peers that would use it
      // waited, and the seed sat idle for up to seedRounds rounds (seen at N = 16: 8 slots, most idle, 1-2 MiB/s).
      const idle = (p: ChokePeer) => p.pending === 0 && p.idleMs !== undefined && p.idleMs >= this.seedIdleMs;
      const turnOver = (p: ChokePeer) => {
        const s = st(p);
        return (
          s.unchoked &&
          (p.uploaded - s.uploadedAtUnchoke >= this.seedQuota || this.round - s.since >= this.seedRounds || idle(p))
        );
      };
      const rank = (p: ChokePeer) => {
        const s = st(p);
        if (turnOver(p)) return 2;
        return s.unchoked ? 0 : 1;
      };
      candidates.sort((a, b) => rank(a) - rank(b) || st(a).since - st(b).since || keys.get(a.id)! - keys.get(b.id)!);
      for (const p of candidates.slice(0, this.slots)) unchoke.add(p.id);
      this.optimistic = null;
    } else {
      // Tit-for-tat on what the peer sends us, then one optimistic slot.
      if (
        this.optimistic !== null &&
        (this.round >= this.optimisticUntil || !candidates.some((p) => p.id === this.optimistic))
      )
        this.optimistic = null;
      const regular = candidates.filter((p) => p.id !== this.optimistic);
      regular.sort(
        (a, b) =>
          b.downloadRate - a.downloadRate ||
          Number(st(b).unchoked) - Number(st(a).unchoked) ||
          keys.get(a.id)! - keys.get(b.id)!,
      );
      const regularSlots = this.slots > 1 ? this.slots - 1 : 1;
      for (const p of regular.slice(0, regularSlots)) unchoke.add(p.id);
      if (this.slots > 1) {
        if (this.optimistic === null) {
          // The interested peer whose last optimistic turn is oldest (ties at random).
          const waiting = regular.filter((p) => !unchoke.has(p.id));
          waiting.sort((a, b) => st(a).lastOptimistic - st(b).lastOptimistic || keys.get(a.id)! - keys.get(b.id)!);
          if (waiting.length) {
            this.optimistic = waiting[0].id;
            st(waiting[0]).lastOptimistic = this.round;
            this.optimisticUntil = this.round + this.optimisticRounds;
          }
        }
        if (this.optimistic !== null) unchoke.add(this.optimistic);
      }
    }

    for (const p of peers) {
      const s = st(p);
      const now = unchoke.has(p.id);
      if (now !== s.unchoked) {
        s.unchoked = now;
        s.since = this.round;
        if (now) s.uploadedAtUnchoke = p.uploaded;
      }
    }
    return unchoke;
  }

  /** A free slot for a newly interested peer without waiting for the next round? */
  hasFreeSlot(peers: ChokePeer[]): boolean {
    let used = 0;
    for (const p of peers) if (this.isUnchoked(p.id) && p.interested && !p.isSeed) used++;
    return used < this.slots;
  }
}
