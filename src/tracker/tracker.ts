// The embedded tracker: HTTP (announce, scrape, registry API, health, metrics) and UDP (BEP 15) on one port
// number, swarms in memory, registry in a sql.js file. Used by `silmaril tracker` and by the editor.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP, type AddressInfo, type Socket } from 'node:net';
import { silentLogger, type Logger } from '../log.js';
import { parseTorrent } from '../torrent/parse.js';
import { ClientIpResolver, ipBytes, isLoopbackHost, normalizeIp } from './client-ip.js';
import { limitConnections } from './conn-limit.js';
import { FAIL_RATE, TrackerCore, type CoreConfig } from './core.js';
import { handleAnnounce, handleScrape, sendFailure, type ClientAddress } from './http-announce.js';
import { HttpGuard } from './http-guard.js';
import { renderMetrics } from './metrics.js';
import { verifyPasskey } from './passkey.js';
import { RateLimiter, type RateLimitOptions } from './rate-limit.js';
import {
  handleMeta,
  handleRegistry,
  handleSearch,
  handleTorrent,
  sendText,
  type RegistryApiConfig,
} from './registry-api.js';
import { RegistryStore } from './registry-store.js';
import { Registry, type TorrentParser } from './registry.js';
import { UdpTracker } from './udp.js';

export interface TrackerOptions {
  /** Address to listen on (default 127.0.0.1: only this machine). */
  host?: string;
  /** Port for HTTP and UDP both (default 6969; 0 picks a free one). */
  port?: number;
  /** The registry's database file; without one the registry lives in memory only. */
  dbPath?: string;
  /** Track any infohash, not only registered ones. */
  open?: boolean;
  /** Key registry writes must carry in `X-Weightless-Key`. Without one, writes are allowed only when the
   *  tracker listens on loopback alone. */
  registryKey?: string;
  /** Weightless passkey secret: when set, announces need `/announce/<user>.<hmac>`. */
  passkeySecret?: string;
  /** Proxies whose X-Forwarded-For is believed. */
  trustedProxies?: string[];
  /** Per-client token bucket (default 20/s, burst 100); false turns it off. */
  rateLimit?: RateLimitOptions | false;
  /** Announce interval in seconds (default 1800). */
  interval?: number;
  /** Minimum announce interval in seconds (default 60). */
  minInterval?: number;
  /** Most peers per reply (default 50). */
  maxPeers?: number;
  /** Serve UDP too (default true). */
  udp?: boolean;
  /** Largest registry POST body (default 32 MiB). */
  maxBody?: number;
  /** How often changed completion counts are written to the database, ms (default 30 s). */
  flushInterval?: number;
  /** Shown by `GET /`. */
  version?: string;
  logger?: Logger;
  /** Torrent parser for registry posts (default: src/torrent's). */
  parse?: TorrentParser;
  /** Names the tracker is reached by beyond loopback (checked against `Host`; see http-guard.ts). */
  publicHosts?: string[];
  /** Open HTTP connections per client address (default 128: a benchmark or a NAT holds many) and in all
   *  (default 1024). */
  maxConnectionsPerIp?: number;
  maxConnections?: number;
  /** A client whose request headers are not complete after this many ms is dropped (default 10 s). */
  headersTimeout?: number;
}

export interface TrackerAddress {
  host: string;
  port: number;
  /** `http://host:port` (the registry API base). */
  url: string;
  /** `http://host:port/announce` */
  announce: string;
  /** `udp://host:port` when UDP is served. */
  udp?: string;
}

export interface TrackerStats {
  registered: number;
  blocked: number;
  swarms: number;
  peers: number;
  seeders: number;
  leechers: number;
  announces: number;
  scrapes: number;
  completions: number;
  /** Registered torrents with their live swarm figures. */
  torrents: {
    infoHash: string;
    v1InfoHash?: string;
    name: string;
    seeders: number;
    leechers: number;
    completions: number;
  }[];
}

const kClient = Symbol('silmaril.trackerClient');
type TrackedSocket = Socket & { [kClient]?: ClientAddress | null };

function clientOf(ip: string): ClientAddress | null {
  const n = normalizeIp(ip);
  const bytes = ipBytes(n);
  return bytes ? { ip: n, bytes, v6: bytes.length === 16 } : null;
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

export class Tracker {
  private readonly opts: TrackerOptions;
  private readonly log: Logger;
  private readonly ips: ClientIpResolver;
  private core: TrackerCore | undefined;
  private store: RegistryStore | undefined;
  private http: Server | undefined;
  private udpSocket: UdpSocket | undefined;
  private timers: NodeJS.Timeout[] = [];
  private api: RegistryApiConfig | undefined;
  private bound: TrackerAddress | undefined;
  private guard: HttpGuard | undefined;

  constructor(options: TrackerOptions = {}) {
    this.opts = options;
    this.log = options.logger ?? silentLogger;
    this.ips = new ClientIpResolver(options.trustedProxies);
  }

  async start(): Promise<TrackerAddress> {
    if (this.bound) return this.bound;
    try {
      return await this.listen();
    } catch (err) {
      // Leave nothing half-started (the editor may try again with another port).
      await this.stop().catch(() => {});
      throw err;
    }
  }

  private async listen(): Promise<TrackerAddress> {
    const o = this.opts;
    const host = !o.host || o.host === 'localhost' ? '127.0.0.1' : o.host;
    this.store = await RegistryStore.open(o.dbPath);
    const interval = o.interval ?? 1800;
    const config: CoreConfig = {
      open: o.open ?? false,
      interval,
      minInterval: Math.min(o.minInterval ?? 60, interval),
      maxPeers: o.maxPeers ?? 50,
      peerTtl: Math.max(interval * 2, 120),
      maxTotalPeers: 2_000_000,
      maxOpenSwarms: 200_000,
    };
    const limiter = o.rateLimit === false ? undefined : new RateLimiter(o.rateLimit ?? { perSecond: 20, burst: 100 });
    const registry = new Registry(this.store, { peers: 0 }, o.parse ?? ((b) => parseTorrent(b)));
    const core = new TrackerCore(registry, config, limiter);
    this.core = core;
    this.api = {
      registryKey: o.registryKey || undefined,
      openWrites: isLoopbackHost(host),
      maxBody: o.maxBody ?? 32 * 1024 * 1024,
    };

    this.guard = new HttpGuard({ listenHost: host, publicHosts: o.publicHosts });

    const wantPort = o.port ?? 6969;
    const useUdp = o.udp ?? true;
    // With port 0 the HTTP port is picked first and UDP may find it taken: try a few times.
    for (let attempt = 0; ; attempt++) {
      const http = this.makeHttp();
      await new Promise<void>((resolve, reject) => {
        http.once('error', reject);
        http.listen(wantPort, host, () => {
          http.off('error', reject);
          resolve();
        });
      });
      const port = (http.address() as AddressInfo).port;
      if (!useUdp) {
        this.http = http;
        break;
      }
      try {
        this.udpSocket = await this.bindUdp(host, port);
        this.http = http;
        break;
      } catch (err) {
        await new Promise<void>((r) => http.close(() => r()));
        if (wantPort !== 0 || attempt >= 4) {
          throw new Error(`cannot serve UDP on ${host}:${port}: ${(err as Error).message}`, { cause: err });
        }
      }
    }
    if (this.udpSocket) new UdpTracker(core, this.udpSocket, { passkeyRequired: !!o.passkeySecret });

    const sweepMs = Math.min(60_000, config.peerTtl * 250);
    this.timers.push(setInterval(() => core.sweep(), sweepMs).unref());
    this.timers.push(
      setInterval(() => {
        registry.flushCompletions().catch((err) => this.log.warn(`tracker: could not save completions: ${err}`));
      }, o.flushInterval ?? 30_000).unref(),
    );

    const port = (this.http!.address() as AddressInfo).port;
    this.guard.setPort(port);
    const base = `http://${urlHost(host)}:${port}`;
    this.bound = {
      host,
      port,
      url: base,
      announce: `${base}/announce`,
      udp: this.udpSocket ? `udp://${urlHost(host)}:${port}` : undefined,
    };
    if (!this.api.registryKey && !this.api.openWrites) {
      this.log.warn('tracker: listening beyond loopback without a registry key: registry writes are refused');
    }
    this.log.info(`tracker: serving ${base} (${config.open ? 'open' : 'registry-only'}, ${registry.size} registered)`);
    return this.bound;
  }

  private makeHttp(): Server {
    const o = this.opts;
    const headersTimeout = o.headersTimeout ?? 10_000;
    const server = createServer(
      {
        requestTimeout: Math.max(30_000, headersTimeout),
        headersTimeout,
        // Node checks these timeouts every 30 s by default: a slow client would hold its socket that long.
        connectionsCheckingInterval: Math.min(1000, headersTimeout),
      },
      (req, res) => this.onRequest(req, res),
    );
    server.keepAliveTimeout = 15_000;
    limitConnections(
      server,
      {
        perIp: o.maxConnectionsPerIp ?? 128,
        total: o.maxConnections ?? 1024,
        exempt: new Set((o.trustedProxies ?? []).map(normalizeIp)),
      },
      this.core!.metrics,
    );
    server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      // Unparseable or too slow requests get a 400 or 408 and the connection is closed, whether or not the client
      // ever closes its side: ending ours alone would leave a slowloris client holding the socket.
      const timedOut = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
      if (socket.writable && !(socket as Socket).writableEnded) {
        const status = timedOut ? '408 Request Timeout' : '400 Bad Request';
        socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`, () => socket.destroy());
      } else socket.destroy();
    });
    return server;
  }

  private bindUdp(host: string, port: number): Promise<UdpSocket> {
    const socket = createSocket({
      type: host.includes(':') ? 'udp6' : 'udp4',
      recvBufferSize: 4 << 20,
      // Replies go to the address a packet came from, always an IP literal: skip dns.lookup (and the
      // process.nextTick it costs per packet).
      lookup: ((address: string, family: unknown, cb: (err: null, address: string, family: number) => void) =>
        cb(null, address, isIP(address))) as never,
    });
    return new Promise((resolve, reject) => {
      socket.once('error', (err) => {
        socket.close();
        reject(err);
      });
      socket.bind(port, host, () => {
        socket.removeAllListeners('error');
        socket.on('error', (err) => this.log.warn(`tracker: udp: ${err.message}`));
        resolve(socket);
      });
    });
  }

  /** Where the tracker listens (after start). */
  address(): TrackerAddress | undefined {
    return this.bound;
  }

  stats(): TrackerStats {
    const core = this.core;
    if (!core) {
      return {
        registered: 0,
        blocked: 0,
        swarms: 0,
        peers: 0,
        seeders: 0,
        leechers: 0,
        announces: 0,
        scrapes: 0,
        completions: 0,
        torrents: [],
      };
    }
    const t = core.totals();
    const torrents = [...core.registry.entries()].map((e) => ({
      infoHash: e.row.infoHash,
      v1InfoHash: e.row.v1InfoHash || undefined,
      name: e.row.name,
      seeders: e.swarm.seeders,
      leechers: e.swarm.leechers,
      completions: e.swarm.downloaded,
    }));
    return {
      registered: core.registry.size,
      blocked: core.registry.blockedCount,
      ...t,
      announces: core.metrics.announces,
      scrapes: core.metrics.scrapes,
      completions: core.metrics.completions,
      torrents,
    };
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    const http = this.http;
    const udp = this.udpSocket;
    this.http = undefined;
    this.udpSocket = undefined;
    if (http) {
      await new Promise<void>((r) => {
        http.close(() => r());
        http.closeAllConnections();
      });
    }
    if (udp) await new Promise<void>((r) => udp.close(() => r()));
    if (this.core) {
      try {
        await this.core.registry.flushCompletions();
      } catch (err) {
        this.log.warn(`tracker: could not save completions: ${err}`);
      }
    }
    this.store?.close();
    this.store = undefined;
    this.core = undefined;
    this.bound = undefined;
  }

  private client(req: IncomingMessage): ClientAddress | null {
    const socket = req.socket as TrackedSocket;
    if (!this.ips.hasTrustedProxies) {
      let c = socket[kClient];
      if (c === undefined) {
        c = clientOf(socket.remoteAddress ?? '');
        socket[kClient] = c;
      }
      return c;
    }
    return clientOf(this.ips.resolve(socket.remoteAddress ?? '', req.headers['x-forwarded-for']));
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    try {
      const done = this.route(req, res);
      if (done) done.catch((err) => this.internalError(res, err));
    } catch (err) {
      this.internalError(res, err);
    }
  }

  private internalError(res: ServerResponse, err: unknown): void {
    this.log.error(`tracker: ${(err as Error)?.stack ?? err}`);
    if (!res.headersSent) sendText(res, 500, 'Internal error');
    else res.destroy();
  }

  private route(req: IncomingMessage, res: ServerResponse): Promise<void> | void {
    const core = this.core!;
    core.metrics.httpRequests++;
    const url = req.url ?? '/';
    const badHost = this.guard!.hostRefusal(req);
    if (badHost !== undefined) {
      core.metrics.foreignRequests++;
      return sendText(res, 421, badHost);
    }
    // The hot path first: /announce, /announce?..., /announce/<passkey>...
    if (url.startsWith('/announce')) {
      const c = url.charCodeAt(9);
      if (Number.isNaN(c) || c === 63 || c === 47) return this.announce(core, req, res, url);
    }
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    if (path === '/health') {
      return this.store?.ping() ? sendText(res, 200, 'OK') : sendText(res, 503, 'Database unreachable');
    }
    if (path === '/metrics') {
      const t = core.totals();
      const body = renderMetrics(core.metrics, {
        ...t,
        registered: core.registry.size,
        blocked: core.registry.blockedCount,
      });
      return sendText(res, 200, body, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' });
    }
    const client = this.client(req);
    if (!client) return sendText(res, 400, 'Invalid remote address');
    if (core.rateLimiter && !core.rateLimiter.take(client.ip)) {
      core.metrics.rateLimited++;
      return sendText(res, 429, 'Too Many Requests', { 'Retry-After': '1' });
    }
    const get = req.method === 'GET' || req.method === 'HEAD';
    if (path === '/scrape' || path.startsWith('/scrape/')) {
      if (!get) return sendText(res, 405, 'Method not allowed', { Allow: 'GET' });
      return handleScrape(core, res, url);
    }
    if (path === '/api/registry') {
      if (!get) {
        // Without a registry key, the body's declared type is what keeps a web page's form POST out (with a key,
        // the custom header already needs a CORS preflight we never grant, and Weightless clients may send any).
        const refused = this.guard!.writeRefusal(req, this.api!.registryKey === undefined);
        if (refused !== undefined) {
          core.metrics.foreignRequests++;
          return sendText(res, refused.includes('application/json') ? 415 : 403, refused);
        }
      }
      return handleRegistry(core, this.api!, req, res, url);
    }
    if (path === '/api/registry/search' || path === '/api/registry/torrent' || path === '/api/registry/meta') {
      if (!get) return sendText(res, 405, 'Method not allowed', { Allow: 'GET' });
      if (path === '/api/registry/search') return handleSearch(core, res, url);
      if (path === '/api/registry/torrent') return handleTorrent(core, res, url);
      return handleMeta(core, res, url);
    }
    if (path === '/') return sendText(res, 200, `Silmaril tracker ${this.opts.version ?? ''}`.trim());
    return sendText(res, 404, 'Not found');
  }

  private announce(core: TrackerCore, req: IncomingMessage, res: ServerResponse, url: string): void {
    if (req.method !== 'GET') return sendText(res, 405, 'Method not allowed', { Allow: 'GET' });
    const client = this.client(req);
    if (!client) return sendFailure(core, res, 'Invalid remote address');
    if (core.rateLimiter !== undefined && !core.rateLimiter.take(client.ip)) {
      core.metrics.rateLimited++;
      return sendFailure(core, res, FAIL_RATE);
    }
    const secret = this.opts.passkeySecret;
    if (secret) {
      const q = url.indexOf('?');
      const segment = (q < 0 ? url : url.slice(0, q)).slice(10).replace(/\/+$/, '');
      if (!segment) return sendFailure(core, res, 'Unauthorized: Passkey required in path (/announce/ID.SIG)');
      let passkey: string;
      try {
        passkey = decodeURIComponent(segment);
      } catch {
        return sendFailure(core, res, 'Unauthorized');
      }
      if (verifyPasskey(secret, passkey) === undefined) return sendFailure(core, res, 'Unauthorized');
    }
    handleAnnounce(core, res, url, client);
  }
}
