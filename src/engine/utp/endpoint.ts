// A uTP endpoint: one UDP socket, the connections that run over it, and the routing between them. It answers
// SYNs when listening (the server side), opens connections (the client side, from the same port, so a peer sees the
// port we listen on), and answers packets for unknown connections with ST_RESET so a peer that lost us gives up at
// once. The API mirrors utp-native's (createServer/listen/connect/address/close), which is what WebTorrent calls.
import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import { UtpConnection, type ConnectionPort } from './connection.js';
import {
  DEFAULT_PACKET_SIZE,
  MAX_DATAGRAM,
  ST_RESET,
  ST_SYN,
  decodePacket,
  encodePacket,
  nowMicros,
  type Packet,
} from './packet.js';

export interface EndpointOptions {
  /** Caps the datagrams we send (MTU discovery stays under it). Default: no cap beyond the path's and the peer's:
   *  1,472 bytes to a peer that does not say it reads more (libtorrent reads 1,500), up to 64,000 over loopback. */
  packetSize?: number;
  /** The path to every peer, as MTU discovery would start from it (tests and the bench emulate a real link over
   *  loopback with it). Default: per peer address (pathMtu below). */
  pathMtu?: { floor: number; ceiling: number };
  /** Per-connection receive window in bytes (advertised to the peer). */
  recvWindow?: number;
  /** Per-connection bytes buffered from write() before it pushes back. */
  sendBuffer?: number;
  /** At most this many connections at once; further SYNs are reset. */
  maxConnections?: number;
}

export { DEFAULT_PACKET_SIZE };
/** Over loopback (MTU 65,536) the path is known: packets this large from the start, ~44 times fewer than at 1,472,
 *  and per-packet work (a syscall, an ack, a timer check) is what uTP costs over TCP there. Under MAX_DATAGRAM with
 *  room for the header's extensions. */
export const LOOPBACK_PACKET_SIZE = 64_000;
/** A datagram every path is assumed to carry (tunnels and PPPoE shave a little off 1,500): where MTU discovery on a
 *  real link starts, probing up towards the interface's MTU. */
export const SAFE_PACKET_SIZE = 1400;
const DEFAULT_RECV_WINDOW = 4 * 1024 * 1024;
const DEFAULT_SEND_BUFFER = 1024 * 1024;
const DEFAULT_MAX_CONNECTIONS = 512;
/** The longest an ack waits for a second packet (TCP allows 500 ms; Linux uses 40 ms). Under the sender's 10 ms
 *  tail-loss probe, so a delayed ack never looks like a lost tail. */
export const DELAYED_ACK_MS = 5;
/** Kernel socket buffers asked for (capped by net.core.rmem_max / wmem_max). A datagram that arrives while the
 *  receive queue is full is dropped, and a loss halves the sender's window: on a fast link the queue must hold a
 *  window's worth while the event loop is busy elsewhere. */
const SOCKET_RECV_BUFFER = 4 * 1024 * 1024;
const SOCKET_SEND_BUFFER = 1024 * 1024;
/** SILMARIL_UTP_TRACE=1 prints every packet on stderr (debugging interop). */
const TRACE = process.env.SILMARIL_UTP_TRACE === '1';
/** SILMARIL_UTP_TRACE=stats prints each connection's state once a second instead. */
const TRACE_STATS = process.env.SILMARIL_UTP_TRACE === 'stats';
const TYPES = ['DATA', 'FIN', 'STATE', 'RESET', 'SYN'];

function trace(dir: string, buf: Buffer, address: string, port: number): void {
  const p = decodePacket(buf);
  const h = p?.header;
  process.stderr.write(
    h
      ? `utp ${dir} ${address}:${port} ${TYPES[h.type]} id=${h.connId} seq=${h.seq} ack=${h.ack} wnd=${h.wnd} len=${p!.payload.length}${h.sack ? ` sack=${Buffer.from(h.sack).toString('hex')}` : ''}\n`
      : `utp ${dir} ${address}:${port} malformed ${buf.length} bytes ${buf.subarray(0, 48).toString('hex')}\n`,
  );
}

export class UtpEndpoint extends EventEmitter {
  private socket: dgram.Socket | undefined;
  private bound: Promise<void> | undefined;
  private readonly conns = new Map<string, UtpConnection>();
  /** Our outgoing connections still waiting for the peer's answer, by `address:port` (simultaneous open). */
  private readonly dialing = new Map<string, UtpConnection>();
  private readonly synAgainAt = new WeakMap<UtpConnection, number>();
  private listening = false;
  private closed = false;
  private readonly opts: Required<Omit<EndpointOptions, 'pathMtu'>> & Pick<EndpointOptions, 'pathMtu'>;
  private sendBufferSize = SOCKET_SEND_BUFFER;
  private recvBufferSize = SOCKET_RECV_BUFFER;
  /** What the kernel granted for the receive queue (bytes), once bound. */
  private grantedRecvBuffer = 0;
  /** Counters for tests and stats. */
  readonly counters = { malformed: 0, resets: 0, refused: 0, simultaneous: 0 };
  /** Connections with work deferred to the end of this event-loop turn: one setImmediate serves them all. */
  private deferred: UtpConnection[] = [];
  /** Connections holding back an ack for a second packet: one timer serves them all. */
  private delayedAcks: UtpConnection[] = [];

  constructor(opts: EndpointOptions = {}) {
    super();
    if (TRACE_STATS) {
      const t = setInterval(() => {
        for (const c of this.conns.values()) process.stderr.write(`utp ${JSON.stringify(c.describe())}\n`);
      }, 1000);
      t.unref();
    }
    this.opts = {
      packetSize: opts.packetSize ?? MAX_DATAGRAM,
      recvWindow: opts.recvWindow ?? DEFAULT_RECV_WINDOW,
      sendBuffer: opts.sendBuffer ?? DEFAULT_SEND_BUFFER,
      maxConnections: opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
      pathMtu: opts.pathMtu,
    };
  }

  get connectionCount(): number {
    return this.conns.size;
  }

  /** Binds the UDP socket and accepts incoming connections ('connection' events). */
  listen(port = 0, host?: string | (() => void), cb?: () => void): this {
    if (typeof host === 'function') [cb, host] = [host, undefined];
    this.listening = true;
    this.bind(port, host).then(
      () => {
        this.emit('listening');
        cb?.();
      },
      (err: Error) => this.emit('error', err),
    );
    return this;
  }

  private bind(port = 0, host?: string): Promise<void> {
    if (this.bound) return this.bound;
    const socket = dgram.createSocket({ type: 'udp4', reuseAddr: false });
    this.socket = socket;
    socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo.address, rinfo.port));
    this.bound = new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, host, () => {
        socket.off('error', reject);
        socket.on('error', (err) => this.emit('error', err));
        this.applyBufferSizes();
        resolve();
      });
    });
    return this.bound;
  }

  private applyBufferSizes(): void {
    if (!this.socket) return;
    try {
      this.socket.setSendBufferSize(this.sendBufferSize);
    } catch {
      // The kernel caps these (net.core.wmem_max); a smaller buffer still works.
    }
    try {
      this.socket.setRecvBufferSize(this.recvBufferSize);
    } catch {
      // As above (net.core.rmem_max).
    }
    try {
      // Linux reports twice what it uses for data (the rest is bookkeeping).
      this.grantedRecvBuffer = Math.floor(this.socket.getRecvBufferSize() / 2);
    } catch {
      this.grantedRecvBuffer = 0;
    }
  }

  /** utp-native's API: WebTorrent asks for 1 MiB; we never go below our own defaults. */
  setSendBufferSize(n: number): void {
    this.sendBufferSize = Math.max(n, SOCKET_SEND_BUFFER);
    this.applyBufferSizes();
  }

  setRecvBufferSize(n: number): void {
    this.recvBufferSize = Math.max(n, SOCKET_RECV_BUFFER);
    this.applyBufferSizes();
  }

  address(): { address: string; port: number; family: string } {
    const a = this.socket?.address();
    return a ? { address: a.address, port: a.port, family: a.family } : { address: '0.0.0.0', port: 0, family: 'IPv4' };
  }

  /** Opens a connection to `host:port` from this endpoint's socket (bound to an ephemeral port if not listening). */
  connect(port: number, host = '127.0.0.1'): UtpConnection {
    let recvId = 0;
    for (let i = 0; i < 64; i++) {
      recvId = (Math.random() * 0x10000) & 0xffff;
      if (!this.conns.has(key(host, port, recvId)) && !this.conns.has(key(host, port, (recvId + 1) & 0xffff))) break;
    }
    const conn = new UtpConnection(this.port(), this.connOptions(host, port, recvId, (recvId + 1) & 0xffff), 'connect');
    this.conns.set(key(host, port, recvId), conn);
    const peer = `${host}:${port}`;
    this.dialing.set(peer, conn);
    const done = () => {
      if (this.dialing.get(peer) === conn) this.dialing.delete(peer);
    };
    conn.once('connect', done);
    conn.once('close', done);
    return conn;
  }

  close(cb?: () => void): void {
    if (this.closed) {
      cb?.();
      return;
    }
    this.closed = true;
    for (const c of [...this.conns.values()]) c.destroy();
    this.conns.clear();
    const socket = this.socket;
    if (!socket) {
      queueMicrotask(() => {
        this.emit('close');
        cb?.();
      });
      return;
    }
    socket.close(() => {
      this.emit('close');
      cb?.();
    });
  }

  private connOptions(address: string, port: number, recvId: number, sendId: number) {
    return {
      remoteAddress: address,
      remotePort: port,
      recvId,
      sendId,
      maxDatagram: MAX_DATAGRAM,
      pathMtu: this.opts.pathMtu ?? pathMtu(address, this.opts.packetSize),
      recvWindow: this.opts.recvWindow,
      sendBuffer: this.opts.sendBuffer,
    };
  }

  private port(): ConnectionPort {
    return {
      send: (buf, port, address) => {
        if (this.closed) return;
        if (TRACE) trace('>', Array.isArray(buf) ? Buffer.concat(buf) : buf, address, port);
        if (this.socket && this.bound) {
          this.socket.send(buf, port, address);
          return;
        }
        // A client-only endpoint binds on first use; what is sent meanwhile waits for the bind.
        this.bind().then(
          () => this.socket?.send(buf, port, address),
          () => {},
        );
      },
      forget: (conn) => {
        const k = key(conn.remoteAddress, conn.remotePort, conn.recvId);
        if (this.conns.get(k) === conn) this.conns.delete(k);
      },
      localAddress: () => this.address(),
      defer: (conn) => {
        if (this.deferred.push(conn) === 1) setImmediate(() => this.endOfTurn());
      },
      delayAck: (conn) => {
        if (this.delayedAcks.push(conn) === 1) setTimeout(() => this.sendDelayedAcks(), DELAYED_ACK_MS).unref();
      },
      // A window larger than the kernel's receive queue invites drops whenever our event loop is busy: advertise
      // at most what we asked the queue to hold. Linux grants twice that and counts each datagram's bookkeeping
      // against the double (about 60% overhead at 1,472 bytes, under 2% at 64 KB), so the queue still holds it.
      windowCap: () => (this.grantedRecvBuffer ? Math.max(16 * 1024, this.grantedRecvBuffer) : Infinity),
    };
  }

  private sendDelayedAcks(): void {
    const conns = this.delayedAcks;
    this.delayedAcks = [];
    for (const c of conns) c.sendDelayedAck();
  }

  private endOfTurn(): void {
    const conns = this.deferred;
    this.deferred = [];
    for (const c of conns) c.endOfTurn();
  }

  private onMessage(msg: Buffer, address: string, port: number): void {
    if (TRACE) trace('<', msg, address, port);
    const p = decodePacket(msg);
    if (!p) {
      this.counters.malformed++;
      return;
    }
    const h = p.header;
    if (h.type === ST_SYN) {
      // The responder's receive id is the SYN's id + 1; a repeated SYN reaches the connection it already made.
      const recvId = (h.connId + 1) & 0xffff;
      const existing = this.conns.get(key(address, port, recvId));
      const mine = this.dialing.get(`${address}:${port}`);
      if (existing && existing !== mine) return existing.onPacket(p);
      if (mine?.state === 'syn_sent') return this.simultaneousOpen(mine, p, address, port);
      if (existing) return existing.onPacket(p);
      if (!this.listening || this.closed) return this.reset(address, port, h.connId, h.seq);
      if (this.conns.size >= this.opts.maxConnections) {
        this.counters.refused++;
        return this.reset(address, port, h.connId, h.seq);
      }
      const conn = new UtpConnection(this.port(), this.connOptions(address, port, recvId, h.connId), p);
      this.conns.set(key(address, port, recvId), conn);
      this.emit('connection', conn);
      return;
    }
    const conn = this.conns.get(key(address, port, h.connId));
    if (conn) return conn.onPacket(p);
    if (h.type === ST_RESET) {
      // Implementations disagree on which id a reset carries (ours or theirs): a reset closes either.
      const other =
        this.conns.get(key(address, port, (h.connId - 1) & 0xffff)) ??
        this.conns.get(key(address, port, (h.connId + 1) & 0xffff));
      other?.onPacket(p);
      return;
    }
    // Not ours (a connection we already closed, or a stray): tell the sender.
    this.reset(address, port, h.connId, h.seq);
  }

  /**
   * A SYN from a peer we are dialling ourselves: both sides opened at once, as BEP 55 hole punching makes them do.
   * Each side sees the other's SYN id and its own, so both keep the connection whose initiator picked the lower id
   * and exactly one survives: the side that picked the lower id ignores the SYN and sends its own again at once
   * (the peer's packet just opened the way through the peer's NAT; waiting for the retry timer could miss it, as
   * the last retry may have gone out before), the other answers it and hands the new connection to whoever waits on
   * its own attempt ('replaced'), which it then drops without a word (the peer never took it). With equal ids (or
   * ids one apart, which would share a routing key) both sides keep their own: both attempts time out and the dial
   * is tried again with fresh ids.
   */
  private simultaneousOpen(mine: UtpConnection, p: Packet, address: string, port: number): void {
    const h = p.header;
    const recvId = (h.connId + 1) & 0xffff;
    if (this.closed || !this.listening) return;
    if (mine.recvId <= h.connId || mine.recvId === recvId) {
      // Ours is kept: send it again now rather than at its next retry (the peer's SYN just opened its NAT for it),
      // at most every 200 ms whatever the peer sends.
      const now = Date.now();
      if (now - (this.synAgainAt.get(mine) ?? 0) >= 200) {
        this.synAgainAt.set(mine, now);
        mine.synAgain();
      }
      return;
    }
    const conn = new UtpConnection(this.port(), this.connOptions(address, port, recvId, h.connId), p);
    this.conns.set(key(address, port, recvId), conn);
    this.dialing.delete(`${address}:${port}`);
    this.counters.simultaneous++;
    if (mine.listenerCount('replaced')) {
      mine.emit('replaced', conn);
      mine.destroy();
    } else {
      mine.destroy(Object.assign(new Error("superseded by the peer's own connection"), { code: 'ECONNRESET' }));
      this.emit('connection', conn);
    }
  }

  private reset(address: string, port: number, connId: number, ack: number): void {
    if (!this.socket) return;
    this.counters.resets++;
    const buf = encodePacket({
      type: ST_RESET,
      connId,
      timestamp: nowMicros(),
      timestampDiff: 0,
      wnd: 0,
      seq: (Math.random() * 0x10000) & 0xffff,
      ack,
    });
    this.socket.send(buf, port, address);
  }
}

function key(address: string, port: number, recvId: number): string {
  return `${address}:${port}/${recvId}`;
}

/** What the path to `address` is known to carry and at most could, as datagram sizes (capped by `cap`). */
export function pathMtu(address: string, cap: number): { floor: number; ceiling: number } {
  if (address.startsWith('127.')) {
    const size = Math.min(cap, LOOPBACK_PACKET_SIZE);
    return { floor: size, ceiling: size };
  }
  const ceiling = Math.min(cap, Math.max(DEFAULT_PACKET_SIZE, largestInterfaceMtu() - 28));
  return { floor: Math.min(ceiling, SAFE_PACKET_SIZE), ceiling };
}

let interfaceMtu: number | undefined;
/** The largest MTU among the machine's non-loopback interfaces (Linux /sys; 1,500 elsewhere), read once. */
function largestInterfaceMtu(): number {
  if (interfaceMtu !== undefined) return interfaceMtu;
  interfaceMtu = 1500;
  try {
    let best = 0;
    for (const name of fs.readdirSync('/sys/class/net')) {
      if (name === 'lo') continue;
      const mtu = Number(fs.readFileSync(`/sys/class/net/${name}/mtu`, 'utf8').trim());
      if (Number.isFinite(mtu) && mtu > best) best = mtu;
    }
    if (best >= 576) interfaceMtu = Math.min(best, 65535);
  } catch {
    // Not Linux, or /sys unreadable: assume Ethernet.
  }
  return interfaceMtu;
}
