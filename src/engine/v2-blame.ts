// Per-block blame from BEP 52 leaf hashes. A piece that fails its hash with blocks from several peers does not say
// which block was bad; v1 can only wait for a good copy and compare (peer-guard.ts). With v2, the piece's 16 KiB
// leaf hashes can be fetched from any v2 peer (a hash request with base 0, proven against the piece-layer node we
// already hold, so even the liar cannot forge them), and each received block is checked against its own leaf: the
// peer that sent a bad block is struck at once, and only that peer. Without a v2 peer, layers or an answer within
// ANSWER_TIMEOUT_MS, the failure goes to the v1 mechanism unchanged.
import { BLOCK_SIZE, sha256 } from '../torrent/merkle.js';
import type { ParsedTorrent } from '../torrent/types.js';
import { wireAddr, type GuardWire, type PeerGuard } from './peer-guard.js';
import { requestHashes, type HashRequest, type TorrentHashes } from './v2-wire.js';

export const ANSWER_TIMEOUT_MS = 15_000;
/** Failed pieces waiting for leaf hashes at once (more go straight to the v1 mechanism). */
const MAX_PENDING = 16;

interface Kept {
  offset: number;
  data: Uint8Array;
  wire: GuardWire;
}

/** v2 peers asked for one piece's leaves: the first proven answer settles it (a liar's answer cannot prove). */
const ASK_PEERS = 3;

interface Pending {
  index: number;
  blocks: Kept[];
  timer: NodeJS.Timeout;
  fallback: () => void;
  /** Peers asked that have not answered yet. */
  waiting: number;
}

export class BlockBlame {
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly parsed: () => ParsedTorrent | undefined,
    private readonly trees: () => TorrentHashes | undefined,
    private readonly v2Wires: () => any[],
    private readonly guard: PeerGuard,
    private readonly log: (message: string) => void = () => {},
  ) {}

  /** Wraps guard.pieceFailed: multi-sender failures are settled by leaf hashes when a v2 peer can give them. */
  install(): void {
    // A transfer re-adds its torrent after a pause, with a new BlockBlame: always wrap the guard's own method.
    const g = this.guard as PeerGuard & { __v1PieceFailed?: PeerGuard['pieceFailed'] };
    const pieceFailed = (g.__v1PieceFailed ??= g.pieceFailed.bind(g));
    this.guard.pieceFailed = (index: number, blocks: Kept[]) => {
      if (!this.take(index, blocks, () => pieceFailed(index, blocks))) pieceFailed(index, blocks);
    };
  }

  private take(index: number, blocks: Kept[], fallback: () => void): boolean {
    const senders = new Set(blocks.map((b) => b.wire));
    if (senders.size < 2 || this.pending.size >= MAX_PENDING) return false;
    const req = this.trees()?.blockRequest(index);
    if (!req) return false;
    // Peers that sent none of the blocks first; any v2 peer will do, as the answer is proven anyway.
    const wires = this.v2Wires().filter((w) => !w.destroyed);
    const ask = [...wires.filter((w) => !senders.has(w)), ...wires.filter((w) => senders.has(w))].slice(0, ASK_PEERS);
    if (!ask.length) return false;
    const key = keyOf(req);
    if (this.pending.has(key)) return false;
    const timer = setTimeout(() => this.settle(key, undefined), ANSWER_TIMEOUT_MS);
    timer.unref?.();
    this.pending.set(key, { index, blocks, timer, fallback, waiting: ask.length });
    for (const w of ask) requestHashes(w, req);
    return true;
  }

  /** A hashes or hash reject message: true when it answered one of our block requests. */
  onAnswer(m: HashRequest & { hashes?: Uint8Array }): boolean {
    const key = keyOf(m);
    const p = this.pending.get(key);
    if (!p) return false;
    const leaves = m.hashes ? this.trees()?.provenLeaves({ ...m, hashes: m.hashes }) : undefined;
    if (leaves || --p.waiting <= 0) this.settle(key, leaves);
    return true;
  }

  private settle(key: string, leaves: Buffer | undefined): void {
    const p = this.pending.get(key);
    if (!p) return;
    this.pending.delete(key);
    clearTimeout(p.timer);
    const parsed = this.parsed();
    const bad = leaves && parsed ? badBlocks(parsed, p.index, p.blocks, leaves) : undefined;
    if (!bad?.length) return p.fallback(); // no answer, or the bad bytes lie in pad (v1-only) bytes
    // One strike per peer that sent a bad block (PeerGuard strikes the only sender of a "piece").
    const byWire = new Map<GuardWire, Kept[]>();
    for (const k of bad) byWire.set(k.wire, [...(byWire.get(k.wire) ?? []), k]);
    for (const [wire, blocks] of byWire) {
      const offsets = blocks.map((b) => b.offset).join(', ');
      this.log(`piece ${p.index}: block(s) at ${offsets} from ${wireAddr(wire)} fail their v2 leaf hashes`);
      this.guard.pieceFailed(p.index, blocks);
    }
  }
}

/** The blocks of piece `index` whose file bytes do not hash to their leaf (pad bytes are not in v2 leaves). */
export function badBlocks(parsed: ParsedTorrent, index: number, blocks: Kept[], leaves: Uint8Array): Kept[] {
  const start = index * parsed.pieceLength;
  const file = parsed.files.find((f) => !f.pad && f.piecesRoot && f.offset <= start && start < f.offset + f.length);
  if (!file) return [];
  // `leaves` are exactly this piece's (blockRequest asks for one piece): block k's leaf is leaves[k].
  const out: Kept[] = [];
  for (const k of blocks) {
    const at = start + k.offset;
    const inFile = Math.min(k.data.length, file.offset + file.length - at);
    if (inFile <= 0 || k.offset % BLOCK_SIZE !== 0) continue;
    const b = k.offset / BLOCK_SIZE;
    const leaf = leaves.subarray(b * 32, (b + 1) * 32);
    if (!sha256(k.data.subarray(0, inFile)).equals(leaf)) out.push(k);
  }
  return out;
}

function keyOf(r: HashRequest): string {
  return `${Buffer.from(r.root).toString('hex')}:${r.base}:${r.index}:${r.count}`;
}
