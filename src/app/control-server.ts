// The local control API every running node serves (the daemon's and the editor's): HTTP on 127.0.0.1, its port
// and a random token in `<home>/node.json` (mode 0600). Every request needs `Authorization: Bearer <token>`;
// a `Host` that is not a loopback name is refused (DNS rebinding: a web page cannot reach it through a name it
// controls). Routes follow Silmaril (Go)'s `/api/v1` where they overlap; docs/protocols.md, "Control API".
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile, unlink } from 'node:fs/promises';
import type { Logger } from '../log.js';
import { buildMagnet } from '../torrent/magnet.js';
import { writeFileAtomic } from '../shared/atomic-file.js';
import { homeLayout } from './layout.js';
import type { AppNode } from './node.js';
import { BadRequestError, NotFoundError } from './node.js';
import { SystemTransferError } from './errors.js';
import type { ChangeKind, DiscoverQuery, ListedEntry, OwnShare, SortKey, TransferView } from './types.js';
import { API_PREFIX, NODE_FILE_VERSION, type NodeFile } from './control-protocol.js';
import { SILMARIL_VERSION } from '../version.js';

const MAX_BODY = 1024 * 1024;
const LOOPBACK_HOST = /^(127\.0\.0\.1|localhost|\[::1\])(:\d{1,5})?$/i;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

type Handler = (req: IncomingMessage, url: URL, params: string[]) => Promise<unknown>;

export class ControlServer {
  private readonly server: Server;
  private readonly token = randomBytes(32).toString('hex');
  /** Open event streams, each with whether it asked for system transfers too (`?all=1`). */
  private readonly streams = new Map<ServerResponse, { all: boolean }>();
  private readonly routes: [method: string, path: RegExp, handler: Handler][];
  private readonly nodeJson: string;
  private changeSub?: { dispose(): void };
  private keepAlive?: NodeJS.Timeout;
  port = 0;

  private constructor(
    private readonly node: AppNode,
    private readonly opts: { kind: string; log: Logger; port?: number },
  ) {
    this.nodeJson = homeLayout(node.home).nodeJson;
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.headersTimeout = 10_000;
    this.routes = this.table();
  }

  /** Listens on 127.0.0.1 and writes `<home>/node.json`. */
  static async start(node: AppNode, opts: { kind: string; log: Logger; port?: number }): Promise<ControlServer> {
    const s = new ControlServer(node, opts);
    await new Promise<void>((resolve, reject) => {
      s.server.once('error', reject);
      s.server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
    });
    s.port = (s.server.address() as AddressInfo).port;
    const file: NodeFile = {
      version: NODE_FILE_VERSION,
      pid: process.pid,
      kind: opts.kind,
      home: node.home,
      url: `http://127.0.0.1:${s.port}${API_PREFIX}`,
      port: s.port,
      token: s.token,
      started: Date.now(),
    };
    await writeFileAtomic(s.nodeJson, JSON.stringify(file, null, 2) + '\n', { mode: 0o600 });
    s.changeSub = node.onChange((what) => s.broadcast(what));
    s.keepAlive = setInterval(() => {
      for (const r of s.streams.keys()) r.write(': keep-alive\n\n');
    }, 15_000);
    s.keepAlive.unref();
    opts.log.info(`control API on http://127.0.0.1:${s.port}${API_PREFIX} (token in ${s.nodeJson})`);
    return s;
  }

  async stop(): Promise<void> {
    clearInterval(this.keepAlive);
    this.changeSub?.dispose();
    for (const r of this.streams.keys()) r.end();
    this.streams.clear();
    // Only our own node.json: a node started since may have written its own.
    try {
      const file = JSON.parse(await readFile(this.nodeJson, 'utf8')) as NodeFile;
      if (file.token === this.token) await unlink(this.nodeJson);
    } catch {}
    this.server.closeAllConnections?.();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    try {
      const host = req.headers.host ?? '';
      if (!LOOPBACK_HOST.test(host)) {
        throw new HttpError(
          403,
          `Host "${host}" refused: the control API answers only to 127.0.0.1, localhost or [::1]`,
        );
      }
      const origin = req.headers.origin;
      if (origin && !/^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/i.test(origin)) {
        throw new HttpError(403, `Origin "${origin}" refused`);
      }
      if (req.method === 'OPTIONS') {
        res.writeHead(204).end();
        return;
      }
      if (!this.authorized(req.headers.authorization)) {
        res.setHeader('WWW-Authenticate', 'Bearer realm="silmaril"');
        throw new HttpError(401, `missing or wrong bearer token (the token is in ${this.nodeJson})`);
      }
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      if (req.method === 'GET' && path === `${API_PREFIX}/events`) return this.openStream(res, allParam(url));
      for (const [method, re, handler] of this.routes) {
        const m = re.exec(path);
        if (!m) continue;
        if (method !== req.method) continue;
        const body = await handler(
          req,
          url,
          m.slice(1).map((p) => decodeURIComponent(p)),
        );
        this.send(res, 200, body);
        return;
      }
      if (this.routes.some(([, re]) => re.test(path))) throw new HttpError(405, `${req.method} not allowed on ${path}`);
      this.send(res, 404, { error: 'endpoint not found', path });
    } catch (err) {
      if (err instanceof SystemTransferError) {
        if (!res.headersSent) this.send(res, 409, { error: err.message, code: 'system-transfer' });
        return;
      }
      const status =
        err instanceof HttpError
          ? err.status
          : err instanceof BadRequestError ||
              (err as Error).name === 'TorrentError' ||
              (err as Error).name === 'UsageError'
            ? 400
            : err instanceof NotFoundError
              ? 404
              : 500;
      if (status === 500) this.opts.log.warn(`control API ${req.method} ${path}: ${(err as Error).message}`);
      if (!res.headersSent) this.send(res, status, { error: (err as Error).message });
      else res.end();
    }
  }

  private authorized(header: string | undefined): boolean {
    const m = /^Bearer\s+(\S+)$/i.exec(header ?? '');
    if (!m) return false;
    const given = Buffer.from(m[1]);
    const want = Buffer.from(this.token);
    return given.length === want.length && timingSafeEqual(given, want);
  }

  private send(res: ServerResponse, status: number, body: unknown): void {
    if (body instanceof Uint8Array) {
      res.writeHead(status, { 'Content-Type': 'application/x-bittorrent', 'Content-Length': body.length });
      res.end(body);
      return;
    }
    const text = JSON.stringify(body ?? {});
    res.writeHead(status, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': Buffer.byteLength(text),
      'Cache-Control': 'no-store',
    });
    res.end(text);
  }

  // ---- server-sent events: `transfers` (once a second while the node runs), `catalog`, `tracker`, `local`

  private openStream(res: ServerResponse, all: boolean): void {
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', Connection: 'keep-alive' });
    res.write(': silmaril events\n\n');
    this.streams.set(res, { all });
    res.on('close', () => this.streams.delete(res));
    this.write(res, 'transfers', { transfers: this.node.transfersNow({ all }).map(goTransfer) });
  }

  private write(res: ServerResponse, event: string, data: unknown): void {
    res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  private lastTransfers = '';
  private broadcast(what: ChangeKind): void {
    if (!this.streams.size) return;
    if (what === 'transfers') {
      const all = this.node.transfersNow({ all: true }).map(goTransfer);
      const text = JSON.stringify(all);
      // The tick fires every second; an idle node sends nothing new.
      if (text === this.lastTransfers) return;
      this.lastTransfers = text;
      const models = all.filter((t) => !t.view.system);
      for (const [r, o] of this.streams) this.write(r, what, { transfers: o.all ? all : models });
      return;
    }
    const data = what === 'tracker' ? this.node.trackerStatus() : {};
    for (const r of this.streams.keys()) this.write(r, what, data);
  }

  // ---- routes

  private table(): [string, RegExp, Handler][] {
    const n = this.node;
    const p = (s: string) => new RegExp(`^${API_PREFIX}${s}/?$`);
    return [
      [
        'GET',
        p('/health'),
        async () => ({ status: 'healthy', version: SILMARIL_VERSION, time: Math.floor(Date.now() / 1000) }),
      ],
      [
        'GET',
        p('/status'),
        async (_req, url) => {
          const s = await n.status({ all: allParam(url) });
          const transfers = s.transfers;
          return {
            pid: s.pid,
            uptime: goDuration(s.uptime),
            uptime_seconds: s.uptime,
            // System transfers (catalog files) are never counted: they are the node's business, not the user's.
            active_transfers: s.activeTransfers,
            total_peers: transfers.reduce((a, t) => a + t.peers, 0),
            dht_nodes: s.dhtNodes,
            kind: s.kind,
            home: s.home,
            port: s.port,
            dht_port: s.dhtPort,
            publisher: s.publisher,
            fingerprint: s.fingerprint,
            catalog_entries: s.catalogEntries,
            catalog_publish: s.catalogPublish,
            tracker: s.tracker,
            transfers: transfers.map(goTransfer),
          };
        },
      ],
      [
        'GET',
        p('/models'),
        async () => {
          const models = (await n.shares()).map(goModel);
          return { models, count: models.length };
        },
      ],
      ['POST', p('/models/share'), async (req) => this.share(await readJson(req))],
      ['POST', p('/models/download'), async (req) => this.download(await readJson(req))],
      [
        'GET',
        p('/models/(.+)'),
        async (_req, _url, [name]) => {
          const hit = (await n.shares()).find((s) => s.name === name);
          if (!hit) throw new HttpError(404, `model ${name} not found`);
          return { ...goModel(hit), share: hit };
        },
      ],
      [
        'DELETE',
        p('/models/(.+)'),
        async (_req, _url, [name]) => {
          if (!(await n.shares()).some((s) => s.name === name)) throw new HttpError(404, `model ${name} not found`);
          const w = await n.withdraw(name);
          return {
            message: 'model withdrawn',
            model_name: w.name,
            name: w.name,
            seq: w.seq,
            publisher: w.publisher,
            unregistered: w.unregistered ?? [],
            warnings: w.warnings ?? [],
          };
        },
      ],
      ['GET', p('/discover'), async (_req, url) => this.discover(url)],
      ['GET', p('/shares'), async () => ({ shares: await n.shares() })],
      [
        'GET',
        p('/transfers'),
        async (_req, url) => {
          let list = n.transfersNow({ all: allParam(url) });
          const status = url.searchParams.get('status');
          if (status) list = list.filter((t) => goStatus(t) === status);
          return { transfers: list.map(goTransfer), count: list.length };
        },
      ],
      ['POST', p('/seed'), async (req) => this.seed(await readJson(req))],
      ['GET', p('/transfers/([^/]+)'), async (_req, _url, [id]) => goTransfer(await n.transfer(id))],
      ['GET', p('/transfers/([^/]+)/stats'), async (_req, _url, [id]) => n.transferStats(id)],
      [
        'GET',
        p('/transfers/([^/]+)/hf'),
        async (_req, _url, [id]) => {
          const job = this.hfJobs.get(id);
          if (!job) throw new HttpError(404, `no download into the Hugging Face cache with id ${id}`);
          return job;
        },
      ],
      ['GET', p('/transfers/([^/]+)/torrent'), async (_req, _url, [id]) => n.torrentFile(id)],
      [
        'PUT',
        p('/transfers/([^/]+)/pause'),
        async (_req, url, [id]) => (
          await n.pause(id, { force: url.searchParams.get('force') === 'true' }),
          { message: 'transfer paused', transfer_id: id }
        ),
      ],
      [
        'PUT',
        p('/transfers/([^/]+)/resume'),
        async (_req, _url, [id]) => (await n.resume(id), { message: 'transfer resumed', transfer_id: id }),
      ],
      ['POST', p('/transfers/([^/]+)/verify'), async (_req, _url, [id]) => n.verify(id)],
      [
        'POST',
        p('/transfers/([^/]+)/copy'),
        async (req, _url, [id]) => {
          const dest = str(await readJson(req), 'dest');
          if (!dest) throw new HttpError(400, 'must specify dest (a folder)');
          return n.copyPresent(id, dest);
        },
      ],
      [
        'POST',
        p('/transfers/([^/]+)/stop-sharing'),
        async (req, _url, [id]) => {
          const b = await readJson(req);
          const r = await n.stopSharing(id, { withdraw: bool(b, 'withdraw'), force: bool(b, 'force') });
          return {
            message: r.withdrawn.length ? 'sharing stopped and catalog entry withdrawn' : 'sharing stopped',
            transfer_id: r.id,
            withdrawn: r.withdrawn,
          };
        },
      ],
      [
        'DELETE',
        p('/transfers/([^/]+)'),
        async (_req, url, [id]) => {
          await n.cancel(id, url.searchParams.get('delete_files') === 'true', {
            force: url.searchParams.get('force') === 'true',
          });
          return { message: 'transfer cancelled', transfer_id: id };
        },
      ],
      // The embedded tracker: an editor attached to this node (or a script) starts and stops it here.
      ['GET', p('/tracker'), async () => n.trackerStatus()],
      [
        'POST',
        p('/tracker/start'),
        async (req) => {
          const b = await readJson(req);
          const port = int(b, 'port') ?? 6969;
          if (port > 65535) throw new HttpError(400, 'port must be 0 to 65535');
          return n.startTracker(str(b, 'host'), port);
        },
      ],
      ['POST', p('/tracker/stop'), async () => (await n.stopTracker(), n.trackerStatus())],
      [
        'POST',
        p('/admin/shutdown'),
        async () => {
          // After the answer has gone out.
          setTimeout(() => void n.shutdown(), 100);
          return { message: 'daemon shutting down' };
        },
      ],
    ];
  }

  private async share(b: Record<string, unknown>) {
    if (b.repo_url !== undefined || b.all !== undefined || (b.model_name !== undefined && b.path === undefined)) {
      throw new HttpError(
        400,
        'this node shares a folder: give path, name and license (repo_url, all and model_name are not supported)',
      );
    }
    const path = str(b, 'path');
    const name = str(b, 'name');
    const license = str(b, 'license');
    if (!path) throw new HttpError(400, 'must specify path');
    if (!name || !license) throw new HttpError(400, 'name and license are required when publishing from directory');
    const result = await this.node.share({
      path,
      name,
      license,
      tags: list(b, 'tags'),
      description: str(b, 'description'),
      trackers: list(b, 'trackers'),
      pieceLength: int(b, 'piece_length'),
      registryKey: str(b, 'registry_key'),
      v1Only: b.v1_only === true,
      superSeed: b.super_seed === true,
      allowDuplicate: b.allow_duplicate === true,
    });
    if (result.duplicateOf && !result.published) {
      return {
        message: `already shared as ${result.duplicateOf.name}: nothing published (allow_duplicate to publish anyway)`,
        model_name: result.name,
        info_hash: result.v1,
        result,
      };
    }
    return {
      message: 'model published and seeding started',
      model_name: result.name,
      info_hash: result.v1,
      transfer_id: result.v1,
      result,
    };
  }

  /** Downloads into the Hugging Face cache started through the API, by transfer id: what `GET .../hf` answers once
   *  the transfer has left the node (its files became the cache's blobs). */
  private readonly hfJobs = new Map<
    string,
    { state: 'running' | 'done' | 'failed'; snapshot?: string; verified?: boolean; error?: string }
  >();

  private async download(b: Record<string, unknown>) {
    const torrent = str(b, 'torrent');
    const source: string | Uint8Array | undefined = torrent
      ? Buffer.from(torrent, 'base64')
      : (str(b, 'magnet') ?? str(b, 'info_hash') ?? str(b, 'source') ?? str(b, 'model_name'));
    if (!source) throw new HttpError(400, 'must specify model_name, info_hash, magnet or torrent');
    const peers = list(b, 'peers');
    if (b.web_seed !== undefined && typeof b.web_seed !== 'boolean')
      throw new HttpError(400, 'web_seed must be true or false');
    const webSeed = b.web_seed === false ? (false as const) : { minRate: int(b, 'web_seed_below') };
    // `hf_cache`: true for the node's default cache folder, or the folder (the caller's HF_HUB_CACHE).
    if (b.hf_cache !== undefined && b.hf_cache !== false) {
      if (b.hf_cache !== true && typeof b.hf_cache !== 'string') {
        throw new HttpError(400, 'hf_cache must be true or a folder');
      }
      const d = await this.node.downloadIntoHfCache({
        source,
        repoSpec: str(b, 'hf_repo'),
        cacheDir: b.hf_cache === true ? undefined : str(b, 'hf_cache'),
        ref: str(b, 'hf_ref'),
        peers,
        webSeed,
      });
      const id = d.transfer.id;
      this.hfJobs.set(id, { state: 'running' });
      d.done.then(
        (r) => this.hfJobs.set(id, { state: 'done', snapshot: r.snapshot, verified: r.verified }),
        (err: Error) => this.hfJobs.set(id, { state: 'failed', error: err.message }),
      );
      return {
        transfer_id: id,
        model_name: str(b, 'model_name') ?? d.transfer.name,
        info_hash: id,
        message: 'download into the Hugging Face cache started',
        reused: d.reused,
        transfer: goTransfer(d.transfer),
      };
    }
    const order = { first: list(b, 'first_files'), sequential: bool(b, 'sequential') };
    const t = await this.node.download({ source, outDir: str(b, 'out_dir'), peers, webSeed, order });
    return {
      transfer_id: t.id,
      model_name: str(b, 'model_name') ?? t.name,
      info_hash: t.id,
      message: t.status === 'present' ? `already here: ${t.path}` : 'download started',
      status: t.status,
      path: t.path,
      transfer: goTransfer(t),
    };
  }

  private async seed(b: Record<string, unknown>) {
    const path = str(b, 'path');
    if (!path) throw new HttpError(400, 'must specify path');
    const torrent = str(b, 'torrent');
    const t = await this.node.seed({
      path,
      torrent: torrent ? Buffer.from(torrent, 'base64') : undefined,
      pieceLength: int(b, 'piece_length'),
      trackers: list(b, 'trackers'),
      superSeed: b.super_seed === true,
    });
    return { transfer_id: t.id, message: 'seeding started', transfer: goTransfer(t) };
  }

  private async discover(url: URL) {
    const q = url.searchParams;
    const num = (k: string) => {
      const v = q.get(k);
      if (v === null || v === '') return undefined;
      if (!/^\d+$/.test(v)) throw new HttpError(400, `${k} must be a whole number`);
      return Number(v);
    };
    const pattern = q.get('pattern') ?? q.get('q') ?? '';
    const sort = q.get('sort') ?? undefined;
    if (sort && !['name', 'size', 'date', 'seeders'].includes(sort)) {
      throw new HttpError(400, 'sort must be name, size, date or seeders');
    }
    const query: DiscoverQuery = {
      text: pattern === '*' ? '' : pattern,
      license: q.get('license') ?? undefined,
      tags: q.getAll('tag').length ? q.getAll('tag') : undefined,
      publisher: q.get('publisher') ?? undefined,
      format: q.get('format') ?? undefined,
      minSize: num('min_size'),
      maxSize: num('max_size'),
      sort: sort as SortKey | undefined,
      descending: q.get('desc') === 'true',
      limit: Math.min(num('limit') ?? 100, 10_000),
      trustedOnly: q.get('trusted') === 'true',
      signedOnly: q.get('signed') === 'true',
      trust: q.getAll('trust'),
      refresh: q.get('refresh') === 'true',
      timeoutMs: num('timeout_ms'),
      registries: q.getAll('registry').map((r) => {
        if (!/^https?:\/\/[^\s]+$/.test(r)) throw new HttpError(400, `registry must be an http(s) tracker URL: ${r}`);
        return r;
      }),
    };
    const r = await this.node.discover(query);
    const models = r.entries.map(goDiscovered);
    return { models, count: models.length, pattern, total: r.total, sources: r.sources, refreshed: r.refreshed };
  }
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const type = req.headers['content-type'] ?? '';
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new HttpError(413, `request body over ${MAX_BODY} bytes`);
    chunks.push(c as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text.trim()) return {};
  if (!/^application\/json\b/i.test(type)) throw new HttpError(415, 'the request body must be application/json');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, `invalid JSON body: ${(err as Error).message}`);
  }
  if (!body || typeof body !== 'object' || Array.isArray(body))
    throw new HttpError(400, 'the JSON body must be an object');
  return body as Record<string, unknown>;
}

function str(b: Record<string, unknown>, k: string): string | undefined {
  const v = b[k];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new HttpError(400, `${k} must be a string`);
  return v;
}

function bool(b: Record<string, unknown>, k: string): boolean {
  const v = b[k];
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw new HttpError(400, `${k} must be true or false`);
  return v;
}

/** `?all=1` (or `true`): system transfers (catalog files) included. */
function allParam(url: URL): boolean {
  const v = url.searchParams.get('all');
  return v === '1' || v === 'true';
}

function int(b: Record<string, unknown>, k: string): number | undefined {
  const v = b[k];
  if (v === undefined || v === null) return undefined;
  if (!Number.isSafeInteger(v) || (v as number) < 0) throw new HttpError(400, `${k} must be a whole number`);
  return v as number;
}

/** A list, or a comma-separated string (Weightless style tags). */
function list(b: Record<string, unknown>, k: string): string[] | undefined {
  const v = b[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string')
    return v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  throw new HttpError(400, `${k} must be a list of strings`);
}

/** Go's `time.Duration.String()` for whole seconds: `1h2m3s`, `45s`. */
function goDuration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return `${h ? `${h}h` : ''}${h || m ? `${m}m` : ''}${s}s`;
}

function goStatus(t: TransferView): string {
  // A finished download is `seeding` in our views; Go names it completed.
  if (t.kind === 'download' && t.complete) return 'completed';
  switch (t.state) {
    case 'done':
      return 'completed';
    case 'paused':
      return 'paused';
    case 'error':
      return 'failed';
    case 'downloading':
    case 'seeding':
      return 'active';
    default:
      return 'pending';
  }
}

/** A transfer in Silmaril (Go)'s shape (ids are v1 infohashes; `eta_seconds`, not Go's nanoseconds), plus ours. */
export function goTransfer(t: TransferView) {
  return {
    id: t.id,
    type: t.kind === 'seed' ? 'seed' : 'download',
    status: goStatus(t),
    model_name: t.name,
    info_hash: t.id,
    total_bytes: t.size,
    bytes_transferred: t.kind === 'seed' ? t.uploaded : Math.round(t.progress * t.size),
    progress: Math.round(t.progress * 100),
    download_rate: t.downloadRate,
    upload_rate: t.uploadRate,
    peers: t.peers,
    seeders: t.seeds ?? 0,
    ...(t.etaSeconds !== undefined ? { eta_seconds: t.etaSeconds } : {}),
    ...(t.error ? { error: t.error } : {}),
    system: t.system,
    view: t,
  };
}

function goModel(s: OwnShare) {
  const magnet = s.v1 || s.v2 ? buildMagnet({ infoHashV1: s.v1, infoHashV2: s.v2, name: s.name }) : undefined;
  return {
    name: s.name,
    version: String(s.seq),
    description: s.description,
    model_type: s.format,
    license: s.license,
    inference_hints: {},
    ...(s.architecture ? { architecture: s.architecture } : {}),
    ...(s.parameters ? { parameters: s.parameters } : {}),
    ...(s.size ? { total_size: s.size } : {}),
    ...(magnet ? { magnet_uri: magnet } : {}),
  };
}

function goDiscovered(e: ListedEntry) {
  return {
    name: e.name,
    version: '',
    magnet: e.magnet,
    info_hash: e.v1 ?? e.v2 ?? '',
    size: e.size,
    time: e.created,
    entry: e,
  };
}
