// One uTP connection (BEP 29) as a Node Duplex stream, so WebTorrent's wires run over it as they do over TCP.
// Reliability: 16-bit sequence numbers, cumulative and selective acks, fast retransmit on three duplicate acks or a
// SACK gap, a retransmission timer with back-off. Flow: the peer's advertised window. Congestion: LEDBAT
// (ledbat.ts). Packets are sent by the endpoint (endpoint.ts), which owns the UDP socket and routes what arrives.
//
// Wire details follow libtorrent's utp_stream.cpp, the reference peer: the initiator's SYN carries its receive id,
// the responder answers with ST_STATE whose seq_nr is the next it will send (and so is acked as seq_nr - 1), a FIN
// takes a sequence number but does not advance ours (later ST_STATEs carry the FIN's), and ST_STATE never takes one.
import { Duplex } from 'node:stream';
import { Ledbat, RttEstimator } from './ledbat.js';
import {
  DEFAULT_PACKET_SIZE,
  HEADER_SIZE,
  ST_DATA,
  ST_FIN,
  ST_RESET,
  ST_STATE,
  ST_SYN,
  buildSack,
  encodePacket,
  nowMicros,
  writeHeader,
  sackedSeqs,
  seqAdd,
  seqDiff,
  seqLess,
  type Header,
  type Packet,
  type PacketType,
} from './packet.js';

/** What a connection needs from its endpoint. */
export interface ConnectionPort {
  /** One datagram: a buffer, or its parts in order (sent gathered, without a copy). */
  send(buf: Buffer | Buffer[], port: number, address: string): void;
  /** The connection is finished: stop routing packets to it. */
  forget(conn: UtpConnection): void;
  localAddress(): { address: string; port: number; family: string } | undefined;
  /** The most we may advertise as our receive window (bounded by the shared UDP receive queue). */
  windowCap(): number;
  /** Calls conn.endOfTurn() once this turn of the event loop is over (the endpoint batches all its connections
   *  into one setImmediate). */
  defer(conn: UtpConnection): void;
  /** Calls conn.sendDelayedAck() within DELAYED_ACK_MS (one timer for the endpoint's connections). */
  delayAck(conn: UtpConnection): void;
}

export interface ConnectionOptions {
  remoteAddress: string;
  remotePort: number;
  recvId: number;
  sendId: number;
  /** The largest datagram we read, advertised to the peer (our EXT_MAX_DATAGRAM extension). */
  maxDatagram: number;
  /** What the path to the peer is known to carry (floor) and at most could (ceiling), in datagram bytes. Packets
   *  are sent at the floor; one at a time, a probe at the midpoint raises the floor when acked and lowers the
   *  ceiling when lost (libtorrent's MTU discovery). Both are further capped by what the peer reads. */
  pathMtu: { floor: number; ceiling: number };
  /** Bytes we buffer for the reader before advertising a zero window. */
  recvWindow: number;
  /** Bytes of written data we hold before write() asks the writer to wait. */
  sendBuffer: number;
}

type State = 'syn_sent' | 'connected' | 'closed';

interface Outgoing {
  seq: number;
  /** The header (and for a FIN, all of it): rewritten into a fresh buffer on every resend. */
  head: Buffer;
  /** The payload, as views of the written chunks (no copy; see sendData). */
  body: Buffer[];
  /** Datagram bytes. */
  size: number;
  payload: number;
  sentAt: number;
  transmissions: number;
  inFlight: boolean;
}

/** SYNs resent twice (at 1 and 3 s; libtorrent's utp_syn_resends is 2): given up 7 s after the first. */
const SYN_RETRIES = 2;
/** Consecutive timeouts before the peer is presumed gone (libtorrent's utp_num_resends is 3). */
const MAX_TIMEOUTS = 3;
const DUP_ACK_LIMIT = 3;
/** At most this many packets fast-resent per incoming ack (libtorrent resends up to 5 per SACK; the time rule can
 *  find a whole lost burst at once). */
const MAX_FAST_RESENDS = 32;
/** A hole is lost once a packet sent this much later (or a quarter round trip, if longer) has arrived: packets
 *  reordered by less are not resent. */
const MIN_REORDER_MS = 4;
/** The tail-loss probe waits at least this long. */
const MIN_PROBE_MS = 10;
/** The congestion window's ceiling. On a fast path the receiver's event loop, not the wire, sets the round trip
 *  (tens of ms when it is busy hashing and writing), so the window must hold that much data to keep the pipe full;
 *  the receiver's advertised window bounds it further. */
const MAX_CWND = 8 * 1024 * 1024;
const KEEPALIVE_MS = 29_000;
/** A peer that ignores our window cannot make us hold more than this many windows of out-of-order data. */
const REORDER_SLACK = 2;
/** A packet whose payload spans more written chunks than this is copied into one buffer: gathering many tiny
 *  views costs more than the copy. */
const MAX_GATHER = 8;
/** An ack is sent for at least every this many in-order data packets (TCP's delayed-ack rule). */
const ACK_EVERY = 2;
/** Payloads shorter than this end a burst: acked at once. */
const FULL_PACKET = 1000;
/** Payloads at least this large (on average) go to the reader as they are, not concatenated. */
const LARGE_PAYLOAD = 8 * 1024;

export class UtpConnection extends Duplex {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly remoteFamily = 'IPv4';
  readonly recvId: number;
  readonly sendId: number;
  state: State;
  /** Counters for stats, tests and the bench. */
  readonly counters = {
    packetsSent: 0,
    packetsReceived: 0,
    resent: 0,
    timeouts: 0,
    fastResends: 0,
    tailProbes: 0,
    dropped: 0,
  };
  readonly ledbat: Ledbat;
  readonly rtt = new RttEstimator();

  private readonly port: ConnectionPort;
  private readonly opts: ConnectionOptions;
  /** Datagram sizes: what the path is known to carry, its most, and the probe in flight (see pathMtu). */
  private mtuFloor: number;
  private mtuCeiling: number;
  private mtuProbeSeq: number | undefined;
  /** The largest datagram the peer reads (its EXT_MAX_DATAGRAM; libtorrent's 1,500-byte reads otherwise). */
  private peerMaxDatagram = DEFAULT_PACKET_SIZE;
  // send side
  private seq = 0;
  private ackedSeq = 0;
  private readonly outbuf = new Map<number, Outgoing>();
  private inFlightBytes = 0;
  private peerWnd = 0;
  private dupAcks = 0;
  private lossSeq = 0;
  /** Packets before this one were fast-resent already: a second fast resend waits for the timer. */
  private fastResendSeq = 0;
  private readonly queue: Buffer[] = [];
  private queueHead = 0;
  private queuedBytes = 0;
  private readonly waitingWrites: Array<() => void> = [];
  private finSeq: number | undefined;
  private finalCallback: ((err?: Error | null) => void) | undefined;
  private timeouts = 0;
  private rtoTimer: NodeJS.Timeout | undefined;
  /** When the retransmission timer is due (ms, performance.now()); the timer itself is re-armed lazily, so an ack costs
   *  no timer churn. */
  private rtoDeadline: number | undefined;
  private probeDeadline: number | undefined;
  private rtoTimerAt = 0;
  /** When the most recently sent of the packets the peer has acked was sent (RACK, RFC 8985). */
  private rackSentAt = 0;
  private synRetries = 0;
  private synSeq = 0;
  /** Some packet was marked lost by a timeout and waits to go again. */
  private resendPending = false;
  private finAcked = false;
  private lastSentAt = 0;
  private keepalive: NodeJS.Timeout | undefined;
  // receive side
  private ackNr = 0;
  private readonly reorder = new Map<number, Buffer>();
  private reorderBytes = 0;
  private eofSeq: number | undefined;
  private replyMicro = 0;
  private ackScheduled = false;
  /** The pending ack must not wait for a second packet (see endOfTurn). */
  private ackNow = false;
  /** In-order data packets received since our last ack. */
  private unacked = 0;
  private flushWanted = false;
  /** Deferred work, done once per event-loop turn (endOfTurn): hand data to the reader, send what the windows
   *  allow, and ack what arrived (once, for every packet of the turn, as libtorrent's defer_ack). */
  private turnScheduled = false;
  private advertisedZero = false;
  private pushedEnd = false;
  private endPending = false;
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(port: ConnectionPort, opts: ConnectionOptions, initial: 'connect' | Packet) {
    super({ allowHalfOpen: false, readableHighWaterMark: 256 * 1024, writableHighWaterMark: 256 * 1024 });
    this.port = port;
    this.opts = opts;
    this.remoteAddress = opts.remoteAddress;
    this.remotePort = opts.remotePort;
    this.recvId = opts.recvId;
    this.sendId = opts.sendId;
    this.mtuCeiling = Math.min(opts.pathMtu.ceiling, this.peerMaxDatagram);
    this.mtuFloor = Math.min(opts.pathMtu.floor, this.mtuCeiling);
    this.ledbat = new Ledbat(this.mtuFloor, MAX_CWND);
    this.seq = (Math.random() * 0x10000) & 0xffff;
    this.ackedSeq = seqAdd(this.seq, -1);
    this.lossSeq = this.ackedSeq;
    this.fastResendSeq = this.seq;
    if (initial === 'connect') {
      // The SYN takes a sequence number; the responder acks it.
      this.state = 'syn_sent';
      this.synSeq = this.seq;
      this.seq = seqAdd(this.seq, 1);
      this.sendSyn();
    } else {
      // A SYN arrived: we are connected at once and say so with an ST_STATE.
      this.state = 'connected';
      this.ackNr = initial.header.seq;
      this.peerWnd = initial.header.wnd;
      this.notePeerMaxDatagram(initial.header);
      this.noteTimestamps(initial.header);
      // The answer to a SYN tells a peer that announced its datagram size ours.
      this.sendState(initial.header.maxDatagram !== undefined);
      this.armKeepalive();
    }
    // Both directions closed (the peer's FIN read to the end, ours acked): the connection is done.
    this.once('end', () => this.maybeClose());
  }

  /** The state that matters when a connection stalls (tests and SILMARIL_UTP_TRACE diagnostics). */
  describe(): Record<string, unknown> {
    return {
      state: this.state,
      seq: this.seq,
      ackedSeq: this.ackedSeq,
      ackNr: this.ackNr,
      finSeq: this.finSeq,
      finAcked: this.finAcked,
      eofSeq: this.eofSeq,
      outbuf: this.outbuf.size,
      inFlight: this.inFlightBytes,
      queued: this.queuedBytes,
      reorder: this.reorder.size,
      pending: this.pendingBytes,
      peerWnd: this.peerWnd,
      cwnd: Math.round(this.ledbat.cwnd),
      mtu: [this.mtuFloor, this.mtuCeiling],
      rttMs: Math.round(this.rtt.rttMs),
      delayMs: Math.round(this.ledbat.queuingDelayUs / 1000),
      readableEnded: this.readableEnded,
      writableFinished: this.writableFinished,
      counters: this.counters,
    };
  }

  // ---- stream plumbing -------------------------------------------------------------------------------------------

  get connected(): boolean {
    return this.state === 'connected';
  }

  address(): { address: string; port: number; family: string } | undefined {
    return this.port.localAddress();
  }

  setNoDelay(): this {
    return this;
  }

  setKeepAlive(): this {
    return this;
  }

  setTimeout(): this {
    return this;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.enqueue(chunk);
    this.afterEnqueue(cb);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
    for (const c of chunks) this.enqueue(c.chunk);
    this.afterEnqueue(cb);
  }

  private enqueue(chunk: Buffer): void {
    if (!chunk.length) return;
    this.queue.push(chunk);
    this.queuedBytes += chunk.length;
  }

  private afterEnqueue(cb: () => void): void {
    if (this.queuedBytes <= this.opts.sendBuffer) cb();
    else this.waitingWrites.push(cb);
    this.scheduleFlush();
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.state === 'closed') return cb();
    this.finalCallback = cb;
    this.scheduleFlush();
  }

  override _read(): void {
    // The reader caught up: if we had told the peer our window was full, tell it there is room again.
    if (this.advertisedZero && this.state === 'connected') this.sendState();
  }

  override _destroy(err: Error | null, cb: (err: Error | null) => void): void {
    // An ack still waiting for the end of this tick goes now (often the ack of the peer's FIN).
    if (this.ackScheduled && this.state === 'connected') this.sendState();
    if (this.state === 'connected' && this.finSeq === undefined) {
      // Best effort, not retransmitted: the peer learns we are gone without waiting for its timeout.
      this.finSeq = this.seq;
      this.sendControl(ST_FIN, this.seq);
    }
    this.shutdown();
    cb(err);
  }

  private shutdown(): void {
    this.state = 'closed';
    clearTimeout(this.rtoTimer);
    clearTimeout(this.keepalive);
    this.rtoTimer = undefined;
    this.rtoDeadline = undefined;
    this.keepalive = undefined;
    this.outbuf.clear();
    this.reorder.clear();
    this.queue.length = 0;
    this.queueHead = 0;
    this.queuedBytes = 0;
    for (const cb of this.waitingWrites.splice(0)) cb();
    this.port.forget(this);
  }

  // ---- sending ---------------------------------------------------------------------------------------------------

  private header(type: PacketType, seq: number, sack?: Uint8Array, announce = false): Header {
    const h: Header = {
      type,
      connId: type === ST_SYN ? this.recvId : this.sendId,
      timestamp: nowMicros(),
      timestampDiff: this.replyMicro,
      wnd: this.receiveWindow(),
      seq,
      ack: this.ackNr,
      sack,
    };
    if (announce) h.maxDatagram = this.opts.maxDatagram;
    return h;
  }

  /** The peer said how large a datagram it reads (or did not: then it is libtorrent's 1,500-byte buffer). */
  private notePeerMaxDatagram(h: Header): void {
    this.peerMaxDatagram = Math.max(DEFAULT_PACKET_SIZE, Math.min(h.maxDatagram ?? DEFAULT_PACKET_SIZE, 0xffff));
    this.mtuCeiling = Math.min(this.opts.pathMtu.ceiling, this.peerMaxDatagram);
    this.mtuFloor = Math.min(this.opts.pathMtu.floor, this.mtuCeiling);
    this.ledbat.setMtu(this.mtuFloor);
  }

  /** The datagram size in use (the floor of the MTU search: what the path is known to carry). */
  get packetSize(): number {
    return this.mtuFloor;
  }

  private receiveWindow(): number {
    const used = this.readableLength + this.reorderBytes + this.pendingBytes;
    const wnd = Math.max(0, Math.min(this.opts.recvWindow, this.port.windowCap()) - used);
    this.advertisedZero = wnd < this.mtuFloor;
    return wnd;
  }

  private transmit(buf: Buffer | Buffer[]): void {
    this.counters.packetsSent++;
    this.lastSentAt = Date.now();
    this.port.send(buf, this.remotePort, this.remoteAddress);
  }

  private sendSyn(): void {
    const buf = encodePacket(this.header(ST_SYN, this.synSeq, undefined, true));
    this.transmit(buf);
    clearTimeout(this.rtoTimer);
    this.rtoTimer = setTimeout(() => this.onSynTimeout(), this.rtt.rtoMs * 2 ** this.synRetries);
    this.rtoTimer.unref?.();
  }

  private onSynTimeout(): void {
    if (this.state !== 'syn_sent') return;
    if (++this.synRetries > SYN_RETRIES) {
      this.destroy(
        Object.assign(new Error(`uTP connect to ${this.remoteAddress}:${this.remotePort} timed out`), {
          code: 'ETIMEDOUT',
        }),
      );
      return;
    }
    this.sendSyn();
  }

  /** Sends our SYN again now (the endpoint saw the peer's own SYN: the path is open, as when hole punching). */
  synAgain(): void {
    if (this.state === 'syn_sent') this.sendSyn();
  }

  /** ST_STATE: acks what we have, with a SACK for what arrived out of order. Takes no sequence number. */
  private sendState(announce = false): void {
    this.clearPendingAck();
    const sack = this.reorder.size ? buildSack(this.ackNr, 256, (s) => this.reorder.has(s)) : undefined;
    this.transmit(encodePacket(this.header(ST_STATE, this.seq, sack, announce)));
  }

  private sendControl(type: PacketType, seq: number): void {
    this.transmit(encodePacket(this.header(type, seq)));
  }

  private scheduleAck(now: boolean): void {
    this.ackScheduled = true;
    if (now) this.ackNow = true;
    this.scheduleTurn();
  }

  private clearPendingAck(): void {
    this.ackScheduled = false;
    this.ackNow = false;
    this.unacked = 0;
  }

  /** The delayed-ack timer fired: an ack still pending goes now. */
  sendDelayedAck(): void {
    if (this.ackScheduled && this.state === 'connected') this.sendState();
  }

  private scheduleFlush(): void {
    this.flushWanted = true;
    this.scheduleTurn();
  }

  private scheduleTurn(): void {
    if (this.turnScheduled) return;
    this.turnScheduled = true;
    this.port.defer(this);
  }

  /**
   * After every packet of this event-loop turn was processed: the reader gets the data (and may answer at once),
   * new data goes out carrying our ack, and an ST_STATE goes only if no data packet carried the ack (or a SACK must).
   */
  endOfTurn(): void {
    this.turnScheduled = false;
    if (this.pending.length) this.flushDelivered();
    if (this.state === 'closed') return;
    if (this.flushWanted) {
      this.flushWanted = false;
      this.flush();
    }
    if (this.ackScheduled && this.state === 'connected') {
      // Delayed ack (TCP's rule, RFC 1122/5681): at least every second full-sized packet, at once for anything that
      // tells the sender about a loss, a FIN, a short packet (the end of a burst) or a duplicate; a lone full-sized
      // packet waits up to DELAYED_ACK_MS for a second. Half the acks: each costs a datagram on both sides.
      if (this.ackNow || this.unacked >= ACK_EVERY || this.reorder.size) this.sendState();
      else this.port.delayAck(this);
    }
  }

  private window(): number {
    return Math.min(this.ledbat.cwnd, this.peerWnd);
  }

  /** Sends what the windows allow: retransmissions first, then new data, then our FIN when everything is out. */
  private flush(): void {
    if (this.state !== 'connected') return;
    const window = this.window();
    // Retransmissions after a timeout, oldest first.
    if (this.resendPending) {
      // Up to our FIN when it is out: it holds a sequence number without advancing `seq`.
      const end = this.finSeq !== undefined ? seqAdd(this.finSeq, 1) : this.seq;
      for (let s = seqAdd(this.ackedSeq, 1); seqLess(s, end); s = seqAdd(s, 1)) {
        const o = this.outbuf.get(s);
        if (!o || o.inFlight) continue;
        if (this.inFlightBytes > 0 && this.inFlightBytes + o.size > window) return this.armRto();
        this.resend(o);
      }
      this.resendPending = false;
    }
    // New data. With nothing in flight one packet always goes: it probes a zero window.
    while (this.queuedBytes > 0 && this.finSeq === undefined) {
      // One packet at a time is an MTU probe at the midpoint of what the path may carry, once the window is wide
      // enough that the probe's loss can be told from congestion (libtorrent's rule: cwnd over 3 packets).
      const probeSize = (this.mtuFloor + this.mtuCeiling + 1) >> 1;
      const probe =
        this.mtuProbeSeq === undefined &&
        this.mtuFloor < this.mtuCeiling &&
        this.ledbat.cwnd > 3 * this.mtuFloor &&
        this.queuedBytes >= probeSize - HEADER_SIZE;
      const size = Math.min((probe ? probeSize : this.mtuFloor) - HEADER_SIZE, this.queuedBytes);
      if (this.inFlightBytes > 0 && this.inFlightBytes + size + HEADER_SIZE > window) break;
      if (this.outbuf.size >= 0x7fff) break; // never let the sequence window wrap onto unacked packets
      if (probe) this.mtuProbeSeq = this.seq;
      this.sendData(size);
    }
    if (this.waitingWrites.length && this.queuedBytes <= this.opts.sendBuffer) {
      for (const cb of this.waitingWrites.splice(0)) cb();
    }
    if (this.finalCallback && this.queuedBytes === 0 && this.finSeq === undefined) {
      // Our FIN takes the next sequence number but does not advance ours: what we send after it carries the same.
      this.finSeq = this.seq;
      const buf = encodePacket(this.header(ST_FIN, this.seq));
      this.outbuf.set(this.seq, {
        seq: this.seq,
        head: buf,
        body: [],
        size: buf.length,
        payload: 0,
        sentAt: performance.now(),
        transmissions: 1,
        inFlight: true,
      });
      this.inFlightBytes += buf.length;
      this.transmit(buf);
    }
    this.armRto();
  }

  private sendData(size: number): void {
    // The header in its own small buffer, the payload as views of the queued writes, sent gathered (sendmsg with
    // an iovec): no per-packet copy of up to 64 KB. A resend needs only a new header. The views live until acked:
    // a writer must not change a chunk after write() (Node's streams make no copy either; bittorrent-protocol's
    // messages, its RC4 output and WebTorrent's piece reads are all fresh buffers).
    const seq = this.seq;
    this.seq = seqAdd(this.seq, 1);
    const head = Buffer.allocUnsafe(HEADER_SIZE);
    writeHeader(head, this.header(ST_DATA, seq));
    let body: Buffer[] = [];
    let left = size;
    while (left > 0) {
      const chunk = this.queue[this.queueHead];
      const n = Math.min(chunk.length, left);
      left -= n;
      if (n === chunk.length) {
        body.push(chunk);
        this.queue[this.queueHead++] = undefined as unknown as Buffer;
      } else {
        body.push(chunk.subarray(0, n));
        this.queue[this.queueHead] = chunk.subarray(n);
      }
    }
    if (body.length > MAX_GATHER) body = [Buffer.concat(body, size)];
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
    this.queuedBytes -= size;
    const o: Outgoing = {
      seq,
      head,
      body,
      size: HEADER_SIZE + size,
      payload: size,
      sentAt: performance.now(),
      transmissions: 1,
      inFlight: true,
    };
    this.outbuf.set(seq, o);
    this.inFlightBytes += o.size;
    // This packet carries our ack: a pending ST_STATE is still sent when it must carry a SACK.
    if (!this.reorder.size) this.clearPendingAck();
    this.transmit([head, ...body]);
  }

  private resend(o: Outgoing): void {
    // A fresh header: the first may still sit in the UDP send queue. Timestamps, ack and window are brought up to date.
    const h = this.header((o.head[0] >> 4) as PacketType, o.seq);
    const buf = Buffer.from(o.head);
    buf.writeUInt32BE(h.timestamp >>> 0, 4);
    buf.writeUInt32BE(h.timestampDiff >>> 0, 8);
    buf.writeUInt32BE(h.wnd, 12);
    buf.writeUInt16BE(h.ack, 18);
    o.head = buf;
    o.sentAt = performance.now();
    o.transmissions++;
    if (!o.inFlight) {
      o.inFlight = true;
      this.inFlightBytes += o.size;
    }
    this.counters.resent++;
    this.transmit(o.body.length ? [buf, ...o.body] : buf);
  }

  /** Starts the retransmission clock if something is outstanding and it is not running. */
  private armRto(): void {
    if (this.state !== 'connected') return;
    if (this.outbuf.size === 0) {
      this.rtoDeadline = undefined;
      return;
    }
    if (this.rtoDeadline !== undefined) return;
    const now = performance.now();
    this.rtoDeadline = now + this.rtt.rtoMs;
    // The tail-loss probe goes first, after about two round trips without an ack (see onRtoTimer).
    const pto = Math.max(2 * this.rtt.rttMs + 2, MIN_PROBE_MS);
    this.probeDeadline = this.rtt.rttMs > 0 && pto < this.rtt.rtoMs ? now + pto : undefined;
    this.armRtoTimer(this.probeDeadline !== undefined ? pto : this.rtt.rtoMs);
  }

  /** Makes sure the timer fires within `ms`: a running timer due by then is kept (it re-arms itself lazily). */
  private armRtoTimer(ms: number): void {
    const at = performance.now() + ms;
    if (this.rtoTimer) {
      if (this.rtoTimerAt <= at) return;
      clearTimeout(this.rtoTimer);
    }
    this.rtoTimerAt = at;
    this.rtoTimer = setTimeout(() => this.onRtoTimer(), ms);
    this.rtoTimer.unref?.();
  }

  /** An ack that moves things forward restarts the clock (the timer notices when it fires). */
  private restartRto(): void {
    this.timeouts = 0;
    this.rtoDeadline = undefined;
    this.probeDeadline = undefined;
  }

  private onRtoTimer(): void {
    this.rtoTimer = undefined;
    if (this.rtoDeadline === undefined) return;
    const now = performance.now();
    if (this.probeDeadline !== undefined && now >= this.probeDeadline) {
      this.probeDeadline = undefined;
      this.sendTailProbe();
    }
    const next = Math.min(this.rtoDeadline, this.probeDeadline ?? Infinity) - now;
    if (next > 0) return this.armRtoTimer(next);
    this.rtoDeadline = undefined;
    this.onTimeout();
  }

  /**
   * Tail-loss probe (RFC 8985's TLP): nothing was acked for about two round trips, so the last packets of a burst
   * may all be lost, and with nothing after them to SACK only the retransmission timeout (500 ms at least) would
   * find out. The newest outstanding packet goes again: if it arrives past a hole, its SACK shows the receiver what
   * is missing, and the packets sent well before it are resent at once (time-based loss detection in onAck).
   */
  private sendTailProbe(): void {
    if (this.state !== 'connected' || this.outbuf.size === 0) return;
    const newest = this.outbuf.get(this.finSeq ?? seqAdd(this.seq, -1));
    if (!newest) return;
    this.counters.tailProbes++;
    this.resend(newest);
  }

  private onTimeout(): void {
    if (this.state !== 'connected' || this.outbuf.size === 0) return;
    this.counters.timeouts++;
    if (++this.timeouts > MAX_TIMEOUTS) {
      this.destroy(
        Object.assign(new Error(`uTP connection to ${this.remoteAddress}:${this.remotePort} timed out`), {
          code: 'ETIMEDOUT',
        }),
      );
      return;
    }
    this.ledbat.onTimeout();
    this.rtt.backOff();
    // A probe among the lost says nothing sure about the path, but the search must not stall on it: search lower.
    const probe = this.mtuProbeSeq !== undefined ? this.outbuf.get(this.mtuProbeSeq) : undefined;
    if (probe) this.probeLost(probe);
    // Everything outstanding is presumed lost and goes again as the (now one-packet) window allows.
    for (const o of this.outbuf.values()) o.inFlight = false;
    this.inFlightBytes = 0;
    this.resendPending = true;
    this.lossSeq = seqAdd(this.seq, -1);
    this.flush();
  }

  /** The MTU probe was lost: the path carries less than its size. */
  private probeLost(o: Outgoing): void {
    this.mtuCeiling = Math.max(this.mtuFloor, o.size - 1);
    this.mtuProbeSeq = undefined;
  }

  /** The MTU probe arrived: the path carries that much. */
  private probeAcked(o: Outgoing): void {
    this.mtuFloor = Math.min(this.mtuCeiling, Math.max(this.mtuFloor, o.size));
    this.ledbat.setMtu(this.mtuFloor);
    this.mtuProbeSeq = undefined;
  }

  private armKeepalive(): void {
    clearTimeout(this.keepalive);
    this.keepalive = setTimeout(() => {
      if (this.state !== 'connected') return;
      // NAT bindings expire on idle UDP flows; an ST_STATE now and then keeps ours open.
      if (Date.now() - this.lastSentAt >= KEEPALIVE_MS - 100) this.sendState();
      this.armKeepalive();
    }, KEEPALIVE_MS);
    this.keepalive.unref?.();
  }

  // ---- receiving -------------------------------------------------------------------------------------------------

  private noteTimestamps(h: Header): void {
    this.replyMicro = (nowMicros() - h.timestamp) >>> 0;
  }

  /** Called by the endpoint for every packet routed to this connection. */
  onPacket(p: Packet): void {
    if (this.state === 'closed') return;
    const h = p.header;
    this.counters.packetsReceived++;
    this.noteTimestamps(h);
    if (h.type === ST_SYN) {
      // Our ST_STATE was lost: the initiator asks again.
      if (seqAdd(this.ackNr, 0) === h.seq) this.sendState();
      return;
    }
    if (h.type === ST_RESET) {
      // After both FINs a reset only means the peer has forgotten us first: that is a close, not an error.
      if (this.finSeq !== undefined && this.eofSeq !== undefined) {
        this.destroy();
        return;
      }
      this.destroy(
        Object.assign(new Error(`uTP connection reset by ${this.remoteAddress}:${this.remotePort}`), {
          code: 'ECONNRESET',
        }),
      );
      return;
    }
    if (this.state === 'syn_sent') {
      // Only the ack of our SYN (seq - 1) opens the connection.
      if (h.ack !== seqAdd(this.seq, -1)) return;
      this.state = 'connected';
      clearTimeout(this.rtoTimer);
      this.rtoTimer = undefined;
      this.notePeerMaxDatagram(h);
      this.ackedSeq = h.ack;
      this.lossSeq = h.ack;
      this.fastResendSeq = this.seq;
      this.ackNr = seqAdd(h.seq, -1);
      this.peerWnd = h.wnd;
      this.armKeepalive();
      this.emit('connect');
      if (h.type === ST_STATE) {
        this.scheduleFlush();
        return;
      }
    }
    this.onAck(h);
    if (this.destroyed) return;
    if (h.type === ST_DATA) this.onData(h.seq, p.payload);
    else if (h.type === ST_FIN) this.onFin(h.seq);
  }

  private onAck(h: Header): void {
    this.peerWnd = h.wnd;
    const lastSent = this.finSeq ?? seqAdd(this.seq, -1);
    // An ack for a packet we never sent is forged or corrupt: ignore its ack part (libtorrent does the same).
    if (seqLess(lastSent, h.ack)) return;
    const now = performance.now();
    const inFlightBefore = this.inFlightBytes;
    const saturated = this.inFlightBytes + this.mtuFloor > this.window() || this.queuedBytes > 0;
    let acked = 0;
    // The round trip is the quickest among the packets this ack covers (libtorrent's min_rtt): the others may have
    // waited at the receiver behind a hole, and would inflate the estimate and so the retransmission timeout.
    let minRtt = Infinity;
    const take = (s: number): void => {
      const o = this.outbuf.get(s);
      if (!o) return;
      if (o.inFlight) this.inFlightBytes -= o.size;
      if (o.transmissions === 1) minRtt = Math.min(minRtt, now - o.sentAt);
      if (o.sentAt > this.rackSentAt) this.rackSentAt = o.sentAt;
      if (s === this.mtuProbeSeq) this.probeAcked(o);
      acked += o.size;
      this.outbuf.delete(s);
    };
    if (seqLess(this.ackedSeq, h.ack)) {
      for (let s = seqAdd(this.ackedSeq, 1); ; s = seqAdd(s, 1)) {
        take(s);
        if (s === h.ack) break;
      }
      this.ackedSeq = h.ack;
      this.dupAcks = 0;
      this.restartRto();
    } else if (h.ack === this.ackedSeq && h.type === ST_STATE && this.outbuf.size) {
      this.dupAcks++;
    }
    if (seqLess(this.fastResendSeq, seqAdd(this.ackedSeq, 1))) this.fastResendSeq = seqAdd(this.ackedSeq, 1);
    const lost: Outgoing[] = [];
    if (h.sack) {
      const sacked = sackedSeqs(h.ack, h.sack);
      for (const s of sacked) take(s);
      // A hole is lost when at least DUP_ACK_LIMIT packets after it arrived (libtorrent's parse_sack; once per
      // packet, fastResendSeq), or when a packet sent well after it arrived (RACK: this also finds a resend that
      // was lost again, and, after a tail-loss probe, a whole lost burst). Every such hole is resent now, not one per
      // round trip, or a burst of drops at a full queue takes seconds to repair while the window sits full of
      // packets that are gone.
      if (sacked.length) {
        const limit = sacked.length >= DUP_ACK_LIMIT ? sacked[sacked.length - DUP_ACK_LIMIT] : h.ack;
        const last = sacked[sacked.length - 1];
        const sentBefore = this.rackSentAt - Math.max(MIN_REORDER_MS, this.rtt.rttMs / 4);
        for (let s = seqAdd(h.ack, 1); seqLess(s, last) && lost.length < MAX_FAST_RESENDS; s = seqAdd(s, 1)) {
          const o = this.outbuf.get(s);
          if (!o) continue;
          if ((seqLess(s, limit) && !seqLess(s, this.fastResendSeq)) || o.sentAt < sentBefore) lost.push(o);
        }
      }
    }
    if (!lost.length && this.dupAcks >= DUP_ACK_LIMIT) {
      const first = seqAdd(this.ackedSeq, 1);
      const o = this.outbuf.get(first);
      if (o && !seqLess(first, this.fastResendSeq)) lost.push(o);
      this.dupAcks = 0;
    }
    if (minRtt !== Infinity) this.rtt.sample(minRtt);
    if (h.timestampDiff !== 0) this.ledbat.addDelaySample(h.timestampDiff, now);
    if (acked > 0) this.ledbat.onAck(acked, inFlightBefore, saturated);
    let cut = false;
    for (const o of lost) {
      if (!seqLess(o.seq, this.fastResendSeq)) this.fastResendSeq = seqAdd(o.seq, 1);
      if (o.seq === this.mtuProbeSeq) {
        // A lost probe says the path is narrower than it, not that it is congested: no window cut.
        this.probeLost(o);
      } else if (!cut && seqLess(this.lossSeq, o.seq)) {
        // Halve once per window: later holes of the same burst cost nothing more.
        this.ledbat.onLoss();
        this.lossSeq = seqAdd(this.seq, -1);
        cut = true;
      }
      if (o.inFlight) {
        o.inFlight = false;
        this.inFlightBytes -= o.size;
      }
      this.counters.fastResends++;
      this.resend(o);
    }
    if (this.finSeq !== undefined && !this.finAcked && !this.outbuf.has(this.finSeq)) {
      this.finAcked = true;
      const cb = this.finalCallback;
      this.finalCallback = undefined;
      cb?.();
      this.maybeClose();
      return;
    }
    // Also after a pure window update: the peer may have room again.
    this.flush();
  }

  private onData(seq: number, payload: Buffer): void {
    if (this.eofSeq !== undefined && seqLess(this.eofSeq, seq)) return;
    const next = seqAdd(this.ackNr, 1);
    if (seq === next) {
      this.deliver(payload);
      this.ackNr = seq;
      const filled = this.reorder.size > 0;
      this.drainReorder();
      this.unacked++;
      // A short packet ends a burst (nothing may follow to make a pair); a filled hole is news for the sender.
      this.scheduleAck(filled || payload.length < FULL_PACKET);
      return;
    } else if (seqLess(this.ackNr, seq)) {
      const ahead = seqDiff(seq, this.ackNr);
      const room = this.opts.recvWindow * REORDER_SLACK - this.reorderBytes - this.readableLength - this.pendingBytes;
      if (ahead > 4096 || payload.length > room) {
        this.counters.dropped++;
      } else if (!this.reorder.has(seq)) {
        // A view of the datagram would pin the endpoint's receive buffer: keep a copy.
        this.reorder.set(seq, Buffer.from(payload));
        this.reorderBytes += payload.length;
      }
    }
    // Out-of-order data is acked at once (with a SACK); old or duplicate data too: our earlier ack may have been lost.
    this.scheduleAck(true);
  }

  private onFin(seq: number): void {
    if (this.eofSeq === undefined) this.eofSeq = seq;
    if (seq === seqAdd(this.ackNr, 1)) this.ackNr = seq;
    this.scheduleAck(true);
    this.maybeEnd();
  }

  private drainReorder(): void {
    for (;;) {
      const n = seqAdd(this.ackNr, 1);
      if (this.eofSeq === n) {
        this.ackNr = n;
        break;
      }
      const data = this.reorder.get(n);
      if (!data) break;
      this.reorder.delete(n);
      this.reorderBytes -= data.length;
      this.deliver(data);
      this.ackNr = n;
    }
    this.maybeEnd();
  }

  /**
   * In-order payloads are handed to the reader once per turn of the event loop. Small ones are concatenated: a
   * reader parsing BitTorrent messages does far less work on one 64 KiB chunk than on forty-five 1,452-byte ones
   * (TCP reads come in such chunks too). Large ones (loopback or jumbo packets) are pushed as they are, without a
   * copy: each is a view of its own datagram.
   */
  private deliver(payload: Buffer): void {
    if (!payload.length) return;
    this.pending.push(payload);
    this.pendingBytes += payload.length;
    this.scheduleTurn();
  }

  private flushDelivered(): void {
    if (!this.pending.length || this.destroyed) return;
    const parts = this.pending;
    const bytes = this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    if (parts.length === 1) this.push(parts[0]);
    else if (bytes / parts.length >= LARGE_PAYLOAD) for (const p of parts) this.push(p);
    else this.push(Buffer.concat(parts, bytes));
    if (this.endPending) {
      this.endPending = false;
      this.push(null);
    }
  }

  private maybeEnd(): void {
    if (this.eofSeq !== undefined && this.ackNr === this.eofSeq && !this.pushedEnd) {
      this.pushedEnd = true;
      // After the data still waiting to be handed over.
      if (this.pending.length) this.endPending = true;
      else this.push(null);
    }
  }

  private maybeClose(): void {
    if (this.readableEnded && this.finAcked && !this.destroyed) this.destroy();
  }
}
