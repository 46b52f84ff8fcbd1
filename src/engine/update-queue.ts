// Scheduling passes, coalesced and narrowed. WebTorrent asks for a pass over every wire (Torrent#_update) on each
// have, bitfield, unchoke... of any one peer: in a swarm of 16, every piece a peer announces cost a pass over all 16
// wires, though only that peer's availability changed, so only its request queue can gain anything. Here a pass
// asked for on behalf of one wire looks at that wire alone; a pass asked for without one (a block arrived, a piece
// was verified or failed, a wire closed, a timer) stays a pass over every wire. Requests within one turn are merged:
// one pass per turn, over every wire if any request wanted that, else over the wires named.

export class UpdateQueue<W> {
  private all = false;
  private readonly wires = new Set<W>();
  private queued = false;

  constructor(
    /** Runs the flush later (queueMicrotask in the engine). */
    private readonly schedule: (run: () => void) => void,
    /** A pass over every wire. */
    private readonly passAll: () => void,
    /** A pass over one wire. */
    private readonly passOne: (wire: W) => void,
  ) {}

  /** Asks for a pass: over `wire` alone when the change concerned only that peer, else (undefined) over all. */
  request(wire?: W): void {
    if (wire === undefined) {
      this.all = true;
      this.wires.clear();
    } else if (!this.all) this.wires.add(wire);
    if (this.queued) return;
    this.queued = true;
    this.schedule(() => this.flush());
  }

  private flush(): void {
    this.queued = false;
    const all = this.all;
    const wires = [...this.wires];
    this.all = false;
    this.wires.clear();
    if (all) this.passAll();
    else for (const w of wires) this.passOne(w);
  }
}
