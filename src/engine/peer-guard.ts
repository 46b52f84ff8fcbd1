// Finds and bans peers that send data failing its hash. A failed piece's blocks are kept with the peer that sent
// each one; when the piece later passes, each kept block is compared with the good bytes, so blame lands exactly on
// the peer whose block was wrong even when several peers contributed to the piece. A piece that came entirely from
// one peer blames it at once. Two strikes and the peer is disconnected and never reconnected (by address and by
// peer id: on loopback an IP ban would also ban honest peers).

/** The part of a bittorrent-protocol Wire the guard needs. */
export interface GuardWire {
  remoteAddress?: string;
  remotePort?: number;
  peerId?: string;
  type?: string;
  destroy(): void;
}

interface Kept {
  offset: number;
  data: Uint8Array;
  wire: GuardWire;
}

export const STRIKES_TO_BAN = 2;

export function wireAddr(wire: GuardWire): string {
  return `${wire.remoteAddress}:${wire.remotePort}`;
}

export class PeerGuard {
  private readonly strikes = new Map<GuardWire, number>();
  private readonly failed = new Map<number, Kept[]>();
  private readonly bannedAddrs = new Set<string>();
  private readonly bannedIds = new Set<string>();
  hashFailures = 0;

  constructor(private readonly onBan: (wire: GuardWire, reason: string) => void) {}

  isBanned(addrOrId: string | undefined): boolean {
    return !!addrOrId && (this.bannedAddrs.has(addrOrId) || this.bannedIds.has(addrOrId));
  }

  get banned(): string[] {
    return [...this.bannedAddrs];
  }

  /** A piece failed its hash: `blocks` are its blocks with the wire that sent each. */
  pieceFailed(index: number, blocks: Kept[]): void {
    this.hashFailures++;
    const senders = new Set(blocks.map((b) => b.wire));
    if (senders.size === 1) {
      this.strike([...senders][0], `sent piece ${index} failing its hash`);
      return;
    }
    // Several senders: keep the blocks to find the culprit once a good copy arrives (bounded: drop old pieces).
    if (this.failed.size > 64) this.failed.delete(this.failed.keys().next().value as number);
    this.failed.set(index, blocks);
  }

  /** A piece passed: blame whoever had sent a different block for it before. */
  /** True while a failed copy of piece `index` waits for a good one to compare with (piecePassed). */
  expectsCopy(index: number): boolean {
    return this.failed.has(index);
  }

  piecePassed(index: number, good: Uint8Array): void {
    const kept = this.failed.get(index);
    if (!kept) return;
    this.failed.delete(index);
    const blamed = new Set<GuardWire>();
    for (const k of kept) {
      const right = good.subarray(k.offset, k.offset + k.data.length);
      if (!Buffer.from(right.buffer, right.byteOffset, right.length).equals(k.data)) blamed.add(k.wire);
    }
    for (const w of blamed) this.strike(w, `sent wrong data for piece ${index}`);
  }

  /** Bans a peer at once (it broke the protocol in a way no honest peer does, e.g. metadata failing its hash). */
  ban(wire: GuardWire, reason: string): void {
    const again = this.isBanned(wireAddr(wire)) || this.isBanned(wire.peerId);
    this.bannedAddrs.add(wireAddr(wire));
    if (wire.peerId) this.bannedIds.add(wire.peerId);
    if (!again) this.onBan(wire, reason);
    wire.destroy();
  }

  private strike(wire: GuardWire, reason: string): void {
    const n = (this.strikes.get(wire) ?? 0) + 1;
    this.strikes.set(wire, n);
    if (n < STRIKES_TO_BAN) return;
    this.strikes.delete(wire);
    const again = this.isBanned(wireAddr(wire)) || this.isBanned(wire.peerId);
    this.bannedAddrs.add(wireAddr(wire));
    if (wire.peerId) this.bannedIds.add(wire.peerId);
    if (!again) this.onBan(wire, `${reason} (${n} bad pieces)`);
    wire.destroy();
  }
}
