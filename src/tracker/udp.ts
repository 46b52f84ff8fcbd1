// UDP tracker, BEP 15: connect, announce, scrape, error. Connection ids are stateless: an HMAC of the client
// address and the current minute, so a spoofed source address cannot get a usable id, and nothing is stored
// per client. An id is accepted for the minute it was made in and the next one.
import { createHmac, randomBytes } from 'node:crypto';
import type { RemoteInfo, Socket } from 'node:dgram';
import { ipBytes, normalizeIp } from './client-ip.js';
import { FAIL_RATE, type TrackerCore } from './core.js';
import { EVENT_STOPPED, type Swarm } from './swarm.js';

const ACTION_CONNECT = 0;
const ACTION_ANNOUNCE = 1;
const ACTION_SCRAPE = 2;
const ACTION_ERROR = 3;
const PROTOCOL_HI = 0x417;
const PROTOCOL_LO = 0x27101980;
const WINDOW_MS = 60_000;
const MAX_CACHE = 100_000;

export interface UdpOptions {
  /** Passkeys are required over HTTP: UDP announces (which cannot carry one) are refused. */
  passkeyRequired: boolean;
}

export class UdpTracker {
  private readonly secret = randomBytes(32);
  private window = -1;
  private cur = new Map<string, readonly [number, number]>();
  private prev = new Map<string, readonly [number, number]>();
  private readonly ipCache = new Map<string, Buffer>();

  constructor(
    private readonly core: TrackerCore,
    private readonly socket: Socket,
    private readonly options: UdpOptions,
  ) {
    socket.on('message', (msg: Buffer, rinfo: RemoteInfo) => {
      try {
        this.onMessage(msg, rinfo);
      } catch (err) {
        // A bug must not take the tracker down; the client just gets no answer.
        this.core.metrics.udpErrors++;
        void err;
      }
    });
  }

  /** The connection id for `ip` in `window`: 8 bytes of HMAC, as two 32-bit halves. */
  private idFor(ip: string, window: number): readonly [number, number] {
    const mac = createHmac('sha256', this.secret).update(`${window}|${ip}`).digest();
    return [mac.readUInt32BE(0), mac.readUInt32BE(4)];
  }

  private rotate(now: number): number {
    const w = Math.floor(now / WINDOW_MS);
    if (w !== this.window) {
      this.prev = w === this.window + 1 ? this.cur : new Map();
      this.cur = new Map();
      this.window = w;
    }
    return w;
  }

  /** Ids are cached per window (bounded), so a busy client costs one HMAC a minute, not one a packet. */
  private idIn(map: Map<string, readonly [number, number]>, ip: string, window: number): readonly [number, number] {
    let id = map.get(ip);
    if (id === undefined) {
      id = this.idFor(ip, window);
      if (map.size < MAX_CACHE) map.set(ip, id);
    }
    return id;
  }

  private validId(ip: string, hi: number, lo: number, now: number): boolean {
    const w = this.rotate(now);
    const id = this.idIn(this.cur, ip, w);
    if (id[0] === hi && id[1] === lo) return true;
    const old = this.idIn(this.prev, ip, w - 1);
    return old[0] === hi && old[1] === lo;
  }

  private send(buf: Buffer, rinfo: RemoteInfo): void {
    this.socket.send(buf, rinfo.port, rinfo.address);
  }

  private error(tid: number, message: string, rinfo: RemoteInfo): void {
    this.core.metrics.udpErrors++;
    const text = Buffer.from(message);
    const out = Buffer.allocUnsafe(8 + text.length);
    out.writeUInt32BE(ACTION_ERROR, 0);
    out.writeUInt32BE(tid, 4);
    text.copy(out, 8);
    this.send(out, rinfo);
  }

  private addrBytes(ip: string): Buffer | undefined {
    let b = this.ipCache.get(ip);
    if (b === undefined) {
      b = ipBytes(ip);
      if (b === undefined) return undefined;
      if (this.ipCache.size >= 10_000) this.ipCache.clear();
      this.ipCache.set(ip, b);
    }
    return b;
  }

  onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    const core = this.core;
    core.metrics.udpPackets++;
    // Shorter than a request header: there is no transaction id to answer to.
    if (msg.length < 16) return;
    const action = msg.readUInt32BE(8);
    const tid = msg.readUInt32BE(12);
    const ip = normalizeIp(rinfo.address);
    const now = Date.now();
    if (action === ACTION_CONNECT) {
      if (msg.readUInt32BE(0) !== PROTOCOL_HI || msg.readUInt32BE(4) !== PROTOCOL_LO) {
        return this.error(tid, 'invalid protocol id', rinfo);
      }
      // Unanswered when over the limit: a reply would let spoofed packets aim us at someone.
      if (core.rateLimiter !== undefined && !core.rateLimiter.take(ip, now)) {
        core.metrics.rateLimited++;
        return;
      }
      // Rotate first: `this.cur` is replaced by rotate(), and reading it before would hand out the id of a
      // window that is already over (after two idle minutes the announce that follows is refused).
      const window = this.rotate(now);
      const [hi, lo] = this.idIn(this.cur, ip, window);
      const out = Buffer.allocUnsafe(16);
      out.writeUInt32BE(ACTION_CONNECT, 0);
      out.writeUInt32BE(tid, 4);
      out.writeUInt32BE(hi, 8);
      out.writeUInt32BE(lo, 12);
      core.metrics.udpConnects++;
      return this.send(out, rinfo);
    }
    if (action !== ACTION_ANNOUNCE && action !== ACTION_SCRAPE) return this.error(tid, 'unknown action', rinfo);
    if (!this.validId(ip, msg.readUInt32BE(0), msg.readUInt32BE(4), now)) {
      return this.error(tid, 'invalid or expired connection id', rinfo);
    }
    if (core.rateLimiter !== undefined && !core.rateLimiter.take(ip, now)) {
      core.metrics.rateLimited++;
      return this.error(tid, FAIL_RATE, rinfo);
    }
    if (action === ACTION_ANNOUNCE) return this.announce(msg, tid, ip, rinfo);
    return this.scrape(msg, tid, rinfo);
  }

  private announce(msg: Buffer, tid: number, ip: string, rinfo: RemoteInfo): void {
    const core = this.core;
    if (msg.length < 98) return this.error(tid, 'malformed announce: shorter than 98 bytes', rinfo);
    if (this.options.passkeyRequired) {
      return this.error(tid, 'this tracker needs a passkey: use its HTTP announce URL', rinfo);
    }
    const event = msg.readUInt32BE(80);
    if (event > 3) return this.error(tid, 'invalid event', rinfo);
    const port = msg.readUInt16BE(96);
    if (port === 0) return this.error(tid, 'invalid port: must be 1-65535', rinfo);
    const bytes = this.addrBytes(ip);
    if (bytes === undefined) return this.error(tid, 'unsupported address', rinfo);
    const found = core.swarmFor(msg.toString('hex', 16, 36));
    if (typeof found === 'string') {
      core.metrics.announceFailures++;
      return this.error(tid, found, rinfo);
    }
    const swarm: Swarm = found;
    const peerId = msg.toString('latin1', 36, 56);
    const key = peerId + '@' + ip;
    if (!core.hasRoom && event !== EVENT_STOPPED && !swarm.peers.has(key)) {
      return this.error(tid, 'tracker is full, try again later', rinfo);
    }
    const left = msg.readUInt32BE(64) === 0 && msg.readUInt32BE(68) === 0 ? 0 : 1;
    const v6 = bytes.length === 16;
    const cfg = core.config;
    core.metrics.announces++;
    core.metrics.udpAnnounces++;
    const self = swarm.announce(key, peerId, bytes, v6, port, left, event, Date.now() + cfg.peerTtl * 1000);
    core.afterAnnounce(swarm);
    const numwant = msg.readInt32BE(92);
    const want = event === EVENT_STOPPED ? 0 : numwant < 0 ? cfg.maxPeers : Math.min(numwant, cfg.maxPeers);
    // BEP 15: the address family of the reply's peers is the one the request came over.
    const peers = swarm.compact(v6, self, want);
    const out = Buffer.allocUnsafe(20 + peers.length);
    out.writeUInt32BE(ACTION_ANNOUNCE, 0);
    out.writeUInt32BE(tid, 4);
    out.writeUInt32BE(cfg.interval, 8);
    out.writeUInt32BE(swarm.leechers, 12);
    out.writeUInt32BE(swarm.seeders, 16);
    peers.copy(out, 20);
    this.send(out, rinfo);
  }

  private scrape(msg: Buffer, tid: number, rinfo: RemoteInfo): void {
    const n = Math.floor((msg.length - 16) / 20);
    if (n < 1) return this.error(tid, 'malformed scrape: no info_hash', rinfo);
    if (n > 74) return this.error(tid, 'too many info_hash values (at most 74)', rinfo);
    this.core.metrics.scrapes++;
    const out = Buffer.allocUnsafe(8 + n * 12);
    out.writeUInt32BE(ACTION_SCRAPE, 0);
    out.writeUInt32BE(tid, 4);
    for (let i = 0; i < n; i++) {
      const s = this.core.scrapeSwarm(msg.toString('hex', 16 + i * 20, 36 + i * 20));
      out.writeUInt32BE(s ? s.seeders : 0, 8 + i * 12);
      out.writeUInt32BE(s ? s.downloaded : 0, 12 + i * 12);
      out.writeUInt32BE(s ? s.leechers : 0, 16 + i * 12);
    }
    this.send(out, rinfo);
  }
}
