// BEP 55 hole punching (ut_holepunch) and the PEX (BEP 11) it depends on, for one torrent.
//
// Two peers behind NATs cannot dial each other: each NAT drops packets from addresses its host has not sent to. A
// third peer connected to both (the relay) tells both to dial each other over uTP at the same moment; each side's
// outgoing SYN opens its own NAT for the other's, and one of the SYNs gets through (utp/endpoint.ts keeps exactly one
// connection when both do). Roles, as libtorrent plays them (bt_peer_connection.cpp, on_holepunch):
//   - relay: on `rendezvous` for an endpoint from a connected peer, if we are connected to that endpoint and it
//     supports ut_holepunch, send `connect` to both (each with the other's endpoint); otherwise an `error`;
//   - initiator: a peer we learned through PEX from a peer that supports ut_holepunch, flagged as supporting it, and
//     not connected a few seconds later: ask the peer that told us about it to rendezvous;
//   - both ends of a `connect`: dial the endpoint at once over uTP.
// WebTorrent receives PEX but never sends it, so this module also sends PEX (the relay must tell the initiator about
// the target, with the "uTP" and "holepunch" flags): the peers we are connected to, at most every 61 s per peer
// (ut_pex disconnects a peer that sends more often than once a minute), the first as soon as there is something to
// say.
//
// Hostile-internet rules: a peer cannot make us dial at a high rate (connects accepted per peer and per torrent
// within budgets) nor use us to relay to peers we are not connected to, or to bridge local and non-local addresses;
// addresses are parsed strictly (holepunch-msg.ts); everything malformed is dropped without an answer.
import bencode from 'bencode';
import {
  HP_CONNECT,
  HP_ERROR,
  HP_ERR_NOT_CONNECTED,
  HP_ERR_NO_SELF,
  HP_ERR_NO_SUCH_PEER,
  HP_ERR_NO_SUPPORT,
  HP_RENDEZVOUS,
  decodeHolepunch,
  encodeHolepunch,
  endpointKey,
  formatAddress,
  holepunchErrorName,
  isLocalAddress,
  normaliseAddress,
  parseAddress,
  type HolepunchMessage,
} from './holepunch-msg.js';
import { DialSocket } from './utp/dial.js';
import { UtpConnection } from './utp/connection.js';

export const HOLEPUNCH_EXTENSION = 'ut_holepunch';
/** How long a PEX-learned peer gets to connect directly before we ask for a hole punch. */
export const DIRECT_GRACE_MS = 4000;
/** One rendezvous per peer per this long, at most PUNCH_ATTEMPTS times. */
const PUNCH_RETRY_MS = 30_000;
const PUNCH_ATTEMPTS = 3;
/** ut_pex disconnects a peer whose PEX messages come less than 60 s apart. */
export const PEX_INTERVAL_MS = 61_000;
const PEX_MAX_PEERS = 50;
const TICK_MS = 1000;
/** Rate budgets per minute. */
const WINDOW_MS = 60_000;
const RENDEZVOUS_PER_PEER = 6; // rendezvous requests a peer may make of us (relay)
const CONNECTS_TO_TARGET = 6; // connects we send to one target on behalf of others (relay)
const CONNECTS_PER_PEER = 6; // connects a peer may ask of us (dials)
const CONNECTS_PER_TORRENT = 20;
const RENDEZVOUS_PER_TORRENT = 10; // rendezvous we send (initiator)
/** PEX flags (BEP 11). */
const PEX_SEED = 0x02;
const PEX_UTP = 0x04;
const PEX_HOLEPUNCH = 0x08;
const PEX_REACHABLE = 0x10;

export interface HolepunchOptions {
  /** Advertise ut_holepunch and dial on `connect` (uTP is on). */
  utp: boolean;
  /** Send PEX (public torrents with PEX on). */
  pex: boolean;
  log: (message: string) => void;
  /** Routine detail (each PEX message sent). */
  debug?: (message: string) => void;
  /** The port we listen on (TCP and uTP), sent in the extended handshake. */
  listenPort?: () => number | undefined;
  now?: () => number;
}

/** What the holepunch state knows about a wire. */
interface WireInfo {
  wire: any;
  peer: any;
  /** Reachable endpoint (`ip:port`), once known. */
  endpoint?: string;
  overUtp: boolean;
  outgoing: boolean;
  pexSent: Set<string>;
  pexLastAt: number;
  rendezvousIn: Budget;
  connectsIn: Budget;
  connectsOut: Budget;
}

/** ut_pex's decoded flags (0x02 is `isSender`: a seed). */
interface PexFlags {
  supportsUtHolepunch?: boolean;
  isSender?: boolean;
}

interface Learned {
  at: number;
  seed: boolean;
  via: Set<any>;
  punchedAt: number;
  attempts: number;
}

/** A count of events in the last minute, capped. */
class Budget {
  private times: number[] = [];
  constructor(
    private readonly max: number,
    private readonly now: () => number,
  ) {}
  take(): boolean {
    const t = this.now();
    this.times = this.times.filter((x) => t - x < WINDOW_MS);
    if (this.times.length >= this.max) return false;
    this.times.push(t);
    return true;
  }
}

export class Holepunch {
  private readonly wires = new Map<any, WireInfo>();
  private readonly learned = new Map<string, Learned>();
  /** Endpoints we dialled on a `connect`, to say how the punched connection came up. */
  private readonly punching = new Map<string, number>();
  private readonly now: () => number;
  private readonly connectsIn: Budget;
  private readonly rendezvousOut: Budget;
  private timer: NodeJS.Timeout | undefined;
  /** Counters (tests, stats). */
  readonly counters = {
    rendezvousSent: 0,
    rendezvousRelayed: 0,
    connectsDialled: 0,
    punched: 0,
    errorsSent: 0,
    dropped: 0,
  };

  constructor(
    private readonly torrent: any,
    private readonly opts: HolepunchOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.connectsIn = new Budget(CONNECTS_PER_TORRENT, this.now);
    this.rendezvousOut = new Budget(RENDEZVOUS_PER_TORRENT, this.now);
    if (opts.utp || opts.pex) {
      this.timer = setInterval(() => this.tick(), TICK_MS);
      this.timer.unref?.();
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.punching.clear();
    this.wires.clear();
    this.learned.clear();
  }

  /** Called from the torrent's 'wire' event, before the extended handshake goes out. */
  attach(wire: any, peer: any): void {
    if (!wire || wire.type === 'webSeed' || this.wires.has(wire)) return;
    const conn = peer?.conn;
    const overUtp = conn instanceof UtpConnection || (conn instanceof DialSocket && conn.transport === 'utp');
    const outgoing = typeof peer?.type === 'string' ? peer.type.includes('Outgoing') : false;
    const info: WireInfo = {
      wire,
      peer,
      overUtp,
      outgoing,
      pexSent: new Set(),
      pexLastAt: -Infinity,
      rendezvousIn: new Budget(RENDEZVOUS_PER_PEER, this.now),
      connectsIn: new Budget(CONNECTS_PER_PEER, this.now),
      connectsOut: new Budget(CONNECTS_TO_TARGET, this.now),
    };
    info.endpoint = this.endpointOf(info);
    this.wires.set(wire, info);
    const punchedAt = info.endpoint && this.punching.get(info.endpoint);
    if (punchedAt && this.now() - punchedAt < PUNCH_RETRY_MS) {
      this.punching.delete(info.endpoint!);
      this.counters.punched++;
      this.opts.log(`ut_holepunch: connected to ${info.endpoint} over ${overUtp ? 'uTP' : 'TCP'}`);
    }
    wire.once('close', () => {
      this.wires.delete(wire);
      for (const l of this.learned.values()) l.via.delete(wire);
    });
    // The extended handshake names the port the peer listens on (for TCP connections it came from another).
    wire.on('extended', (ext: string) => {
      if (ext === 'handshake') info.endpoint = this.endpointOf(info);
    });
    // BEP 10's `p`: without it a peer we dialled cannot tell others where we listen, and libtorrent leaves a peer
    // that connected to it out of its PEX messages altogether (ut_pex.cpp, send_peer).
    const port = this.opts.listenPort?.();
    if (port && port > 0 && port <= 0xffff && wire.extendedHandshake && wire.extendedHandshake.p === undefined) {
      wire.extendedHandshake.p = port;
    }
    if (this.opts.utp) wire.use(holepunchExtension(this));
    if (this.opts.pex && wire.ut_pex) {
      wire.ut_pex.on('peer', (addr: string, flags: PexFlags) => this.onPexPeer(wire, addr, flags));
    }
  }

  /** The endpoint others can reach this peer at: over uTP the address it talks from (its NAT's mapping of its uTP
   *  socket, what hole punching needs); over TCP the address it dialled, or for incoming TCP its listen port. */
  private endpointOf(info: WireInfo): string | undefined {
    const w = info.wire;
    const address = normaliseAddress(w.remoteAddress ?? info.peer?.conn?.remoteAddress);
    if (!address) return undefined;
    let port: number | undefined = info.overUtp || info.outgoing ? Number(w.remotePort) : undefined;
    const p = w.peerExtendedHandshake?.p;
    if (!port && Number.isInteger(p)) port = p;
    if (!port || port < 1 || port > 0xffff) return undefined;
    return endpointKey(address, port);
  }

  private supports(wire: any): boolean {
    return Number(wire?.peerExtendedMapping?.[HOLEPUNCH_EXTENSION]) > 0;
  }

  private connectedTo(key: string): WireInfo | undefined {
    for (const info of this.wires.values()) {
      if (info.wire.destroyed) continue;
      if (info.endpoint === key) return info;
      const a = normaliseAddress(info.wire.remoteAddress);
      if (a && endpointKey(a, Number(info.wire.remotePort)) === key) return info;
    }
    return undefined;
  }

  private send(wire: any, m: HolepunchMessage): void {
    if (!this.supports(wire) || wire.destroyed) return;
    try {
      wire.extended(HOLEPUNCH_EXTENSION, encodeHolepunch(m));
    } catch (err) {
      this.opts.log(`ut_holepunch: could not send to ${wire.remoteAddress}: ${(err as Error).message}`);
    }
  }

  /** A ut_holepunch message from `wire`. */
  onMessage(wire: any, buf: Uint8Array): void {
    const info = this.wires.get(wire);
    // A peer that did not advertise ut_holepunch could not be answered (libtorrent ignores it too).
    const m = info && this.supports(wire) ? decodeHolepunch(buf) : undefined;
    if (!info || !m) {
      this.counters.dropped++;
      return;
    }
    const key = endpointKey(m.address, m.port);
    if (m.type === HP_RENDEZVOUS) this.onRendezvous(info, m, key);
    else if (m.type === HP_CONNECT) this.onConnect(info, m, key);
    else if (m.type === HP_ERROR) {
      this.opts.log(`ut_holepunch: ${wire.remoteAddress} cannot introduce ${key}: ${holepunchErrorName(m.error)}`);
      this.learned.get(key)?.via.delete(wire);
    }
  }

  /** Relay: introduce the asking peer to the one at `key`, if we are connected to both. */
  private onRendezvous(from: WireInfo, m: HolepunchMessage, key: string): void {
    if (!from.rendezvousIn.take()) {
      this.counters.dropped++;
      return;
    }
    const fail = (error: number) => {
      this.counters.errorsSent++;
      this.send(from.wire, { type: HP_ERROR, address: m.address, port: m.port, error });
    };
    const fromAddress = normaliseAddress(from.wire.remoteAddress);
    // Never bridge a local network and the internet (libtorrent's rule): that would expose LAN addresses.
    if (!fromAddress || isLocalAddress(m.address) !== isLocalAddress(fromAddress)) return fail(HP_ERR_NO_SUCH_PEER);
    const target = this.connectedTo(key);
    if (!target) return fail(HP_ERR_NOT_CONNECTED);
    if (target === from) return fail(HP_ERR_NO_SELF);
    if (!this.supports(target.wire)) return fail(HP_ERR_NO_SUPPORT);
    const fromKey = from.endpoint ?? endpointKey(fromAddress, Number(from.wire.remotePort));
    const [fa, fp] = splitKey(fromKey);
    if (!fa || !target.connectsOut.take()) return;
    this.counters.rendezvousRelayed++;
    this.send(from.wire, { type: HP_CONNECT, address: m.address, port: m.port, error: 0 });
    this.send(target.wire, { type: HP_CONNECT, address: fa, port: fp, error: 0 });
  }

  /** Both ends: dial `key` over uTP now (the other side is dialling us at the same moment). */
  private onConnect(from: WireInfo, m: HolepunchMessage, key: string): void {
    const fromAddress = normaliseAddress(from.wire.remoteAddress);
    // A non-local peer cannot point us at a local address (libtorrent's rule), nor at ourselves or IPv6 (WebTorrent
    // dials uTP only over IPv4).
    if (!fromAddress || (isLocalAddress(m.address) && !isLocalAddress(fromAddress)))
      return void this.counters.dropped++;
    if (parseAddress(m.address)?.length !== 4) return void this.counters.dropped++;
    if (this.connectedTo(key)) return;
    if (!from.connectsIn.take() || !this.connectsIn.take()) return void this.counters.dropped++;
    const t = this.torrent;
    if (!t || t.destroyed) return;
    this.counters.connectsDialled++;
    if (this.punching.size < 1000) this.punching.set(key, this.now());
    this.opts.log(`ut_holepunch: dialling ${key} over uTP (introduced by ${fromAddress})`);
    // A dial already waiting out its back-off would hold the slot: start afresh, now.
    t.removePeer(key);
    t.addPeer(key, 'ut_holepunch');
  }

  private onPexPeer(wire: any, addr: string, flags: PexFlags): void {
    if (!this.opts.utp || !flags?.supportsUtHolepunch) return;
    const [a, port] = splitKey(addr);
    if (!a || parseAddress(a)?.length !== 4 || this.isSelf(a, port)) return;
    let l = this.learned.get(addr);
    if (!l) {
      if (this.learned.size >= 1000) return;
      l = { at: this.now(), seed: !!flags.isSender, via: new Set(), punchedAt: -Infinity, attempts: 0 };
      this.learned.set(addr, l);
    }
    l.via.add(wire);
  }

  /** Our own endpoint as peers see it (libtorrent's PEX lists the receiver too): our listen port at the address a
   *  peer reports for us in its extended handshake (BEP 10 `yourip`). */
  private isSelf(address: string, port: number): boolean {
    if (port !== this.opts.listenPort?.()) return false;
    for (const info of this.wires.values()) {
      const yourip = info.wire.peerExtendedHandshake?.yourip;
      if (yourip instanceof Uint8Array && (yourip.length === 4 || yourip.length === 16)) {
        if (
          formatAddress(yourip.length === 16 ? (parseAddress(formatAddress(yourip)) ?? yourip) : yourip) === address
        ) {
          return true;
        }
      }
    }
    return false;
  }

  private tick(): void {
    if (this.torrent?.destroyed) return this.close();
    const now = this.now();
    if (this.opts.utp) {
      for (const [key, l] of this.learned) {
        if (this.connectedTo(key) || l.attempts >= PUNCH_ATTEMPTS) {
          this.learned.delete(key);
          continue;
        }
        if (now - l.at < DIRECT_GRACE_MS || now - l.punchedAt < PUNCH_RETRY_MS) continue;
        // A seed has nothing to get from another seed.
        if (l.seed && this.torrent.done) continue;
        const via = [...l.via].find((w) => !w.destroyed && this.supports(w));
        if (!via) continue;
        if (!this.rendezvousOut.take()) break;
        const [address, port] = splitKey(key);
        l.punchedAt = now;
        l.attempts++;
        this.counters.rendezvousSent++;
        this.opts.log(`ut_holepunch: asking ${via.remoteAddress} to introduce us to ${key} (not reachable directly)`);
        this.send(via, { type: HP_RENDEZVOUS, address: address!, port, error: 0 });
      }
    }
    if (this.opts.pex && !this.torrent.private) for (const info of this.wires.values()) this.sendPex(info, now);
  }

  /** PEX to one peer: the peers we are connected to, as added/dropped since the last message. */
  private sendPex(to: WireInfo, now: number): void {
    const w = to.wire;
    if (w.destroyed || !(Number(w.peerExtendedMapping?.ut_pex) > 0) || now - to.pexLastAt < PEX_INTERVAL_MS) return;
    const current = new Map<string, number>();
    for (const info of this.wires.values()) {
      if (info === to || info.wire.destroyed || !info.endpoint || !info.wire.peerId) continue;
      let flags = 0;
      if (info.overUtp) flags |= PEX_UTP;
      if (this.supports(info.wire)) flags |= PEX_HOLEPUNCH;
      if (info.outgoing) flags |= PEX_REACHABLE;
      if (info.wire.isSeeder) flags |= PEX_SEED;
      current.set(info.endpoint, flags);
    }
    const added = [...current.keys()].filter((k) => !to.pexSent.has(k)).slice(0, PEX_MAX_PEERS);
    const dropped = [...to.pexSent].filter((k) => !current.has(k)).slice(0, PEX_MAX_PEERS);
    if (!added.length && !dropped.length) return;
    const msg = {
      added: compact(added.filter(isV4)),
      'added.f': Buffer.from(added.filter(isV4).map((k) => current.get(k)!)),
      dropped: compact(dropped.filter(isV4)),
      added6: compact(added.filter((k) => !isV4(k))),
      'added6.f': Buffer.from(added.filter((k) => !isV4(k)).map((k) => current.get(k)!)),
      dropped6: compact(dropped.filter((k) => !isV4(k))),
    };
    try {
      w.extended('ut_pex', bencode.encode(msg));
    } catch {
      return;
    }
    to.pexLastAt = now;
    this.opts.debug?.(
      `ut_pex: sent ${added.length} added, ${dropped.length} dropped to ${to.endpoint ?? w.remoteAddress}`,
    );
    for (const k of added) to.pexSent.add(k);
    for (const k of dropped) to.pexSent.delete(k);
  }
}

function isV4(key: string): boolean {
  return !key.startsWith('[');
}

/** `ip:port` or `[ip6]:port` into its parts (undefined address if malformed). */
function splitKey(key: string): [string | undefined, number] {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)):(\d{1,5})$/.exec(key);
  const port = m ? Number(m[3]) : 0;
  const address = m ? normaliseAddress(m[1] ?? m[2]) : undefined;
  return port >= 1 && port <= 0xffff ? [address, port] : [undefined, 0];
}

/** Compact peer form (BEP 23 / BEP 7): address bytes then the port, big-endian. */
function compact(keys: string[]): Buffer {
  const parts: Buffer[] = [];
  for (const k of keys) {
    const [a, port] = splitKey(k);
    const raw = a && parseAddress(a);
    if (!raw) continue;
    const b = Buffer.alloc(raw.length + 2);
    b.set(raw);
    b.writeUInt16BE(port, raw.length);
    parts.push(b);
  }
  return Buffer.concat(parts);
}

/** The bittorrent-protocol extension (wire.use): advertises ut_holepunch and hands its messages over. */
function holepunchExtension(hp: Holepunch) {
  class UtHolepunch {
    constructor(private readonly wire: any) {}
    onMessage(buf: Uint8Array): void {
      hp.onMessage(this.wire, buf);
    }
  }
  (UtHolepunch.prototype as any).name = HOLEPUNCH_EXTENSION;
  return UtHolepunch;
}
