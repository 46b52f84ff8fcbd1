// Which handshake our outgoing connections open with: plaintext BitTorrent first, protocol encryption (MSE) only for
// a peer that closed a plaintext connection before answering it (one set to require encryption), for a while.
//
// Why: an MSE handshake costs two extra round trips before the BitTorrent one (the Diffie-Hellman exchange, then the
// encrypted negotiation), and a rate-limited libtorrent seed answers each only on its bandwidth manager's next tick:
// 16 downloaders reached a libtorrent seed limited to 8 MiB/s 0.8-1.2 s after dialling it with MSE, 0.3-0.4 s in
// plaintext, and its upload started ~0.6 s sooner (bench:swarm, docs/swarm.md). Nothing is lost: our payload is
// plaintext either way (engine.ts: `secure: 1`, MSE's RC4 would cost CPU for nothing), and incoming connections still
// take either handshake, as libtorrent, qBittorrent and Transmission dial encrypted first by default.

/** How long a peer that refused a plaintext handshake is dialled with MSE. */
export const MSE_MEMORY_MS = 30 * 60_000;
/** Peers remembered at most (a long-running node meets many). */
const MAX_REMEMBERED = 4096;

export class PlainFirst {
  private readonly mse = new Map<string, number>();

  constructor(private readonly memoryMs = MSE_MEMORY_MS) {}

  /** Whether to open the connection to `addr` ("host:port") with a plaintext handshake. */
  plaintext(addr: string, now: number): boolean {
    const until = this.mse.get(addr);
    if (until === undefined) return true;
    if (until > now) return false;
    this.mse.delete(addr);
    return true;
  }

  /** A plaintext connection to `addr` closed before the peer's handshake: dial it with MSE from now on. */
  refused(addr: string, now: number): void {
    this.mse.delete(addr);
    this.mse.set(addr, now + this.memoryMs);
    // Insertion order is age: forget the oldest beyond the cap.
    while (this.mse.size > MAX_REMEMBERED) this.mse.delete(this.mse.keys().next().value as string);
  }
}
