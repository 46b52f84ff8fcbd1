// A fake Hugging Face Hub on 127.0.0.1: `/<repo>/resolve/<commit>/<path>` answers 302 to `/cdn/<etag>` (as the Hub
// redirects LFS files to its CDN), the CDN serves HTTP ranges; unknown paths 404; a gated repo answers 401 without
// `Authorization: Bearer <token>`; chosen files can be served corrupted (for their first `corruptTimes` answers).
// Every request is logged with the headers that matter (to prove the token never reaches the CDN).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { etagFor, type FakeFile } from '../unit/models/hf-fake-cache.js';

/** A file of a fake cache (hf-fake-cache.ts) as the Hub serves it: its etag is the cache's (etagFor) unless given. */
export interface HubFile extends FakeFile {
  etag?: string;
}

export interface FakeHubOptions {
  repos: Record<string, { commit: string; files: HubFile[]; gatedToken?: string }>;
  /** Paths ("repo/path") served with every byte altered, for their first n CDN answers (Infinity: always). */
  corrupt?: Record<string, number>;
  /** Bytes per second for the CDN (bench); default unlimited. */
  rate?: number;
}

export interface LoggedRequest {
  url: string;
  range?: string;
  authorization?: string;
  status: number;
}

export interface FakeHub {
  endpoint: string;
  log: LoggedRequest[];
  /** Payload bytes the CDN sent. */
  bytesServed: number;
  close(): Promise<void>;
}

export async function startFakeHub(o: FakeHubOptions): Promise<FakeHub> {
  const repos = Object.fromEntries(
    Object.entries(o.repos).map(([repo, r]) => [
      repo,
      { ...r, files: r.files.map((f) => ({ ...f, etag: f.etag ?? etagFor(f) })) },
    ]),
  );
  const byEtag = new Map<string, { repo: string; file: HubFile }>();
  for (const [repo, r] of Object.entries(repos)) for (const f of r.files) byEtag.set(f.etag, { repo, file: f });
  const corruptLeft = new Map(Object.entries(o.corrupt ?? {}));
  const hub: FakeHub = { endpoint: '', log: [], bytesServed: 0, close: async () => {} };
  // The rate limit is shared by all connections (one uplink).
  let nextFree = Date.now();
  let cdnBase = '';
  const server: Server = createServer((req, res) => {
    const url = decodeURIComponent(req.url ?? '/');
    const entry: LoggedRequest = {
      url,
      range: req.headers.range,
      authorization: req.headers.authorization,
      status: 0,
    };
    hub.log.push(entry);
    const send = (status: number, headers: Record<string, string> = {}, body?: Buffer) => {
      entry.status = status;
      res.writeHead(status, headers);
      if (!body || !o.rate) return void res.end(body);
      hub.bytesServed += body.length;
      const now = Date.now();
      const start = Math.max(now, nextFree);
      nextFree = start + (body.length / o.rate) * 1000;
      setTimeout(() => res.end(body), nextFree - now);
    };
    const m = /^\/(.+)\/resolve\/([0-9a-f]{40})\/(.+)$/.exec(url);
    if (m) {
      const [, repo, commit, path] = m;
      const r = repos[repo];
      if (r?.gatedToken && req.headers.authorization !== `Bearer ${r.gatedToken}`) return send(401);
      const f = r && r.commit === commit ? r.files.find((x) => x.path === path) : undefined;
      if (!f) return send(404);
      return send(302, { location: `${cdnBase}/cdn/${f.etag}` });
    }
    const c = /^\/cdn\/([0-9a-f]+)$/.exec(url);
    const found = c ? byEtag.get(c[1]) : undefined;
    if (!found) return send(404);
    let bytes = found.file.bytes;
    const key = `${found.repo}/${found.file.path}`;
    const left = corruptLeft.get(key) ?? 0;
    if (left > 0) {
      corruptLeft.set(key, left - 1);
      bytes = Buffer.from(bytes.map((x) => x ^ 0x5a)); // every byte wrong: whichever range is asked
    }
    const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    if (!range) return send(200, { 'content-length': String(bytes.length) }, bytes);
    const a = Number(range[1]);
    const b = Math.min(Number(range[2]), bytes.length - 1);
    if (a > b) return send(416);
    const body = bytes.subarray(a, b + 1);
    if (!o.rate) hub.bytesServed += body.length;
    send(206, { 'content-range': `bytes ${a}-${b}/${bytes.length}`, 'content-length': String(body.length) }, body);
  });
  // The CDN is another origin (another port): what the Hub's token must never reach.
  const cdn: Server = createServer((req, res) => server.emit('request', req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  await new Promise<void>((r) => cdn.listen(0, '127.0.0.1', r));
  hub.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  cdnBase = `http://127.0.0.1:${(cdn.address() as AddressInfo).port}`;
  hub.close = async () => {
    for (const s of [server, cdn]) {
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    }
  };
  return hub;
}
