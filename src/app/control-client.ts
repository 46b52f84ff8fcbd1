// The control API from the other side: a NodeApi over HTTP to the node that runs a home (found through
// `<home>/node.json`). The CLI commands use it when a daemon or an editor runs their home; the editor uses it to
// attach to a daemon.
import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { resolve } from 'node:path';
import { findHfSnapshot } from '../models/hf/share.js';
import type { NodeApi } from './api.js';
import { API_PREFIX, type NodeFile } from './control-protocol.js';
import { SystemTransferError } from './errors.js';
import { homeLayout } from './layout.js';
import { processAlive } from './lock.js';
import type * as T from './types.js';

/** An error answer of the control API: `status` is the HTTP status, the message the server's `error`. */
export class ControlApiError extends Error {
  override name = 'ControlApiError';
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** A download's source as the API takes it: bytes in base64, a .torrent path made absolute (the node runs in
 *  another folder), other strings as they are. */
function sourceBody(source: string | Uint8Array): Record<string, string> {
  if (typeof source !== 'string') return { torrent: Buffer.from(source).toString('base64') };
  return { source: /\.torrent$/i.test(source) ? resolve(source) : source };
}

function webSeedBody(w: T.DownloadRequest['webSeed']): Record<string, unknown> {
  if (w === false) return { web_seed: false };
  return w?.minRate ? { web_seed_below: w.minRate } : {};
}

/** The node file of a home whose node is alive, or undefined. */
export async function readNodeFile(home: string): Promise<NodeFile | undefined> {
  try {
    const f = JSON.parse(await readFile(homeLayout(home).nodeJson, 'utf8')) as NodeFile;
    if (typeof f?.port !== 'number' || typeof f.token !== 'string') return undefined;
    return processAlive(f.pid) ? f : undefined;
  } catch {
    return undefined;
  }
}

export class ControlClient implements NodeApi {
  readonly where = 'remote' as const;

  constructor(readonly node: NodeFile) {}

  /** A client for the node running `home`, when one runs and answers; undefined otherwise. */
  static async connect(home: string): Promise<ControlClient | undefined> {
    const file = await readNodeFile(home);
    if (!file) return undefined;
    const client = new ControlClient(file);
    try {
      await client.call('GET', '/health', undefined, 5000);
      return client;
    } catch {
      return undefined;
    }
  }

  /** One request; resolves with the parsed JSON (or the bytes of a binary answer). `timeoutMs` bounds the silence
   *  on the socket; 0 waits as long as the work takes (hashing a large model for a share or a verify). */
  call<T = any>(method: string, path: string, body?: unknown, timeoutMs = 60_000): Promise<T> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise<T>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: this.node.port,
          method,
          path: API_PREFIX + path,
          headers: {
            Authorization: `Bearer ${this.node.token}`,
            ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': payload.length } : {}),
          },
          ...(timeoutMs ? { timeout: timeoutMs } : {}),
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const raw = Buffer.concat(chunks);
            const type = String(res.headers['content-type'] ?? '');
            if (!type.startsWith('application/json')) {
              if ((res.statusCode ?? 500) < 300) resolve(new Uint8Array(raw) as T);
              else reject(new ControlApiError(`HTTP ${res.statusCode}`, res.statusCode ?? 500));
              return;
            }
            let json: any;
            try {
              json = JSON.parse(raw.toString('utf8'));
            } catch {
              reject(
                new ControlApiError(`the node answered HTTP ${res.statusCode} with bad JSON`, res.statusCode ?? 500),
              );
              return;
            }
            if (res.statusCode === 409 && json?.code === 'system-transfer') reject(new SystemTransferError(json.error));
            else if ((res.statusCode ?? 500) >= 400)
              reject(new ControlApiError(json?.error ?? `HTTP ${res.statusCode}`, res.statusCode!));
            else resolve(json as T);
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`the node (pid ${this.node.pid}) did not answer in time`)));
      req.on('error', (err) =>
        reject(
          new Error(`cannot reach the ${this.node.kind} node (pid ${this.node.pid}) of this home: ${err.message}`),
        ),
      );
      req.end(payload);
    });
  }

  async status(opts: T.TransferListOptions = {}): Promise<T.NodeStatus> {
    const s = await this.call('GET', `/status${opts.all ? '?all=1' : ''}`);
    return {
      pid: s.pid,
      kind: s.kind,
      home: s.home,
      uptime: s.uptime_seconds,
      port: s.port,
      dhtPort: s.dht_port,
      dhtNodes: s.dht_nodes,
      publisher: s.publisher,
      fingerprint: s.fingerprint,
      catalogEntries: s.catalog_entries,
      transfers: (s.transfers as { view: T.TransferView }[]).map((t) => t.view),
      activeTransfers: s.active_transfers,
      catalogPublish: s.catalog_publish,
      tracker: s.tracker,
    };
  }

  async transfers(opts: T.TransferListOptions = {}): Promise<T.TransferView[]> {
    const r = await this.call('GET', `/transfers${opts.all ? '?all=1' : ''}`);
    return (r.transfers as { view: T.TransferView }[]).map((t) => t.view);
  }

  async transfer(id: string): Promise<T.TransferView> {
    return (await this.call('GET', `/transfers/${encodeURIComponent(id)}`)).view;
  }

  transferStats(id: string): Promise<T.TransferStats> {
    return this.call('GET', `/transfers/${encodeURIComponent(id)}/stats`);
  }

  async share(req: T.ShareRequest, work: T.WorkOptions = {}): Promise<T.ShareResult> {
    work.onProgress?.({ fraction: 0, message: `the ${this.node.kind} (pid ${this.node.pid}) is hashing` });
    // A Hugging Face spec is this process's cache (its HF_HUB_CACHE): the node gets the snapshot folder, which it
    // recognises as a cache folder whatever its own environment says.
    const snapshot = req.hf ? await findHfSnapshot({ spec: req.hf }) : undefined;
    const r = await this.call(
      'POST',
      '/models/share',
      {
        // Paths are the caller's: the node may run in another folder.
        path: snapshot ? snapshot.snapshotDir : resolve(req.path),
        name: req.name || snapshot?.repo,
        license: req.license,
        tags: req.tags,
        description: req.description,
        trackers: req.trackers,
        piece_length: req.pieceLength,
        registry_key: req.registryKey,
        v1_only: req.v1Only,
        super_seed: req.superSeed,
        allow_duplicate: req.allowDuplicate,
      },
      0,
    );
    return r.result;
  }

  withdraw(name: string): Promise<T.WithdrawResult> {
    return this.call('DELETE', `/models/${encodeURIComponent(name)}`);
  }

  async seed(req: T.SeedRequest): Promise<T.TransferView> {
    const r = await this.call(
      'POST',
      '/seed',
      {
        path: resolve(req.path),
        torrent: req.torrent ? Buffer.from(req.torrent).toString('base64') : undefined,
        piece_length: req.pieceLength,
        trackers: req.trackers,
        super_seed: req.superSeed,
      },
      0,
    );
    return r.transfer.view;
  }

  async download(req: T.DownloadRequest): Promise<T.DownloadResult> {
    const r = await this.call('POST', '/models/download', {
      ...sourceBody(req.source),
      out_dir: req.outDir === undefined ? undefined : resolve(req.outDir),
      peers: req.peers,
      ...webSeedBody(req.webSeed),
      first_files: req.order?.first,
      sequential: req.order?.sequential || undefined,
    });
    return { ...r.transfer.view, status: r.status ?? 'started', path: r.path ?? r.transfer.view.path };
  }

  copyPresent(id: string, dest: string): Promise<T.CopyPresentResult> {
    return this.call('POST', `/transfers/${encodeURIComponent(id)}/copy`, { dest: resolve(dest) }, 0);
  }

  /** The node downloads into the cache folder this process names (its HF_HUB_CACHE, resolved here); `done` follows
   *  the node's install of the snapshot (`GET /transfers/:id/hf`, polled). */
  async downloadIntoHfCache(req: T.HfDownloadRequest): Promise<T.HfDownloadStarted> {
    const r = await this.call('POST', '/models/download', {
      ...sourceBody(req.source),
      hf_cache: req.cacheDir === undefined ? true : resolve(req.cacheDir),
      hf_repo: req.repoSpec,
      hf_ref: req.ref,
      peers: req.peers,
      ...webSeedBody(req.webSeed),
    });
    const id: string = r.transfer_id;
    const done = (async () => {
      for (;;) {
        const job = await this.call('GET', `/transfers/${encodeURIComponent(id)}/hf`);
        if (job.state === 'done') return { snapshot: job.snapshot as string, verified: job.verified === true };
        if (job.state === 'failed') throw new Error(job.error ?? 'the download into the Hugging Face cache failed');
        await new Promise((ok) => setTimeout(ok, 500));
      }
    })();
    done.catch(() => {});
    return { transfer: r.transfer.view, reused: r.reused ?? [], done };
  }

  startTracker(host: string | undefined, port: number): Promise<T.TrackerStatus> {
    return this.call('POST', '/tracker/start', { host, port });
  }

  async stopTracker(): Promise<void> {
    await this.call('POST', '/tracker/stop');
  }

  trackerStatus(): Promise<T.TrackerStatus> {
    return this.call('GET', '/tracker');
  }

  async pause(id: string, opts: T.StopOptions = {}): Promise<void> {
    await this.call('PUT', `/transfers/${encodeURIComponent(id)}/pause${opts.force ? '?force=true' : ''}`);
  }

  async resume(id: string): Promise<void> {
    await this.call('PUT', `/transfers/${encodeURIComponent(id)}/resume`);
  }

  async cancel(id: string, deleteFiles = false, opts: T.StopOptions = {}): Promise<void> {
    const q = new URLSearchParams();
    if (deleteFiles) q.set('delete_files', 'true');
    if (opts.force) q.set('force', 'true');
    await this.call('DELETE', `/transfers/${encodeURIComponent(id)}${q.size ? `?${q}` : ''}`);
  }

  async stopSharing(id: string, opts: T.StopSharingOptions = {}): Promise<T.StopSharingResult> {
    const r = await this.call('POST', `/transfers/${encodeURIComponent(id)}/stop-sharing`, {
      withdraw: !!opts.withdraw,
      force: !!opts.force,
    });
    return { id: r.transfer_id, withdrawn: r.withdrawn };
  }

  verify(id: string): Promise<T.VerifyOutcome> {
    return this.call('POST', `/transfers/${encodeURIComponent(id)}/verify`, undefined, 0);
  }

  torrentFile(id: string): Promise<Uint8Array> {
    return this.call('GET', `/transfers/${encodeURIComponent(id)}/torrent`);
  }

  async discover(query: T.DiscoverQuery): Promise<T.DiscoverResult> {
    const q = new URLSearchParams();
    const set = (k: string, v: string | number | boolean | undefined) =>
      v !== undefined && v !== '' && q.set(k, String(v));
    set('pattern', query.text);
    set('license', query.license);
    for (const t of query.tags ?? []) q.append('tag', t);
    set('publisher', query.publisher);
    set('format', query.format);
    set('min_size', query.minSize);
    set('max_size', query.maxSize);
    set('sort', query.sort);
    if (query.descending) set('desc', true);
    set('limit', query.limit);
    if (query.trustedOnly) set('trusted', true);
    if (query.signedOnly) set('signed', true);
    for (const k of Array.isArray(query.trust) ? query.trust : [...(query.trust?.keys ?? [])]) q.append('trust', k);
    if (query.refresh) set('refresh', true);
    for (const r of query.registries ?? []) if (/^https?:\/\//.test(r)) q.append('registry', r);
    set('timeout_ms', query.timeoutMs);
    const r = await this.call('GET', `/discover?${q}`);
    return {
      entries: (r.models as { entry: T.DiscoverResult['entries'][number] }[]).map((m) => m.entry),
      total: r.total,
      sources: r.sources,
      refreshed: r.refreshed,
    };
  }

  async shares(): Promise<T.OwnShare[]> {
    return (await this.call('GET', '/shares')).shares;
  }

  /** Server-sent events: each `transfers`, `catalog`, `tracker` or `local` event calls the listener. The stream
   *  reconnects while the node's process lives; `onGone` is called once it has ended. */
  onChange(
    listener: (what: T.ChangeKind, data?: unknown) => void,
    onGone?: () => void,
    opts: T.TransferListOptions = {},
  ): { dispose(): void } {
    let closed = false;
    let current: ReturnType<typeof request> | undefined;
    let retry: NodeJS.Timeout | undefined;
    const again = () => {
      if (closed) return;
      if (!processAlive(this.node.pid)) {
        closed = true;
        onGone?.();
        return;
      }
      retry = setTimeout(open, 1000);
    };
    const open = () => {
      if (closed) return;
      current = request(
        {
          host: '127.0.0.1',
          port: this.node.port,
          path: `${API_PREFIX}/events${opts.all ? '?all=1' : ''}`,
          headers: { Authorization: `Bearer ${this.node.token}`, Accept: 'text/event-stream' },
        },
        (res) => {
          res.setEncoding('utf8');
          let buf = '';
          res.on('data', (d: string) => {
            buf += d;
            let end;
            while ((end = buf.indexOf('\n\n')) >= 0) {
              const block = buf.slice(0, end);
              buf = buf.slice(end + 2);
              const event = /^event: (.*)$/m.exec(block)?.[1];
              const data = /^data: (.*)$/m.exec(block)?.[1];
              if (!event) continue;
              let parsed: unknown;
              try {
                parsed = data ? JSON.parse(data) : undefined;
              } catch {}
              listener(event as T.ChangeKind, parsed);
            }
          });
          res.on('end', again);
        },
      );
      current.on('error', again);
      current.end();
    };
    open();
    return {
      dispose: () => {
        closed = true;
        clearTimeout(retry);
        current?.destroy();
      },
    };
  }

  async shutdown(): Promise<void> {
    await this.call('POST', '/admin/shutdown');
  }
}
