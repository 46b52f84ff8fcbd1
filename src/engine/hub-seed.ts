// The Hugging Face Hub as a web seed for a torrent of a Hub snapshot (docs/huggingface.md).
//
// WebTorrent's BEP 19 web seed (lib/webconn.js in webtorrent 3.0.21) asks `<url>/<torrent name>/<path>` with a Range
// header, through a fetch that follows redirects with the same headers: it would hand an HF_TOKEN to the CDN host
// the Hub redirects to, cannot back off on 429, and cannot map a file to a Hub URL other than by the torrent's name.
// So the web seed connection is WebTorrent's (its piece picking, bitfield, retry-after-error, and every block still
// goes through our request path: SHA-1 per piece, v2 roots at the end, PeerGuard blame), but its one method
// `httpRequest(piece, offset, length, cb)` is replaced by HubSeed.request below, which:
// - maps the piece range onto the torrent's files, pad files being zeros never asked for;
// - asks `${endpoint}/<repo>/resolve/<commit>/<path>` (each component URL-encoded) with `Range: bytes=a-b`;
// - follows redirects itself (to the CDN), sending `Authorization: Bearer $HF_TOKEN` only to the endpoint's origin;
// - backs off on 429 and 5xx (Retry-After honoured, capped), and says plainly what 401/403/404 mean;
// - counts the bytes it brings, so transfers show bytes from the web apart from bytes from peers.
import type { ParsedTorrent } from '../torrent/types.js';

export interface HubSeedOptions {
  repo: string;
  commit: string;
  /** Default: $HF_ENDPOINT, else https://huggingface.co. */
  endpoint?: string;
  /** Default: $HF_TOKEN. Sent only to the endpoint's origin, never to a redirect's other host. */
  token?: string;
  /** Attempts per range on 429/5xx/network errors (default 4). */
  attempts?: number;
  /** First back-off delay in ms, doubled each time (default 500; Retry-After wins, capped at 30 s). */
  backoffMs?: number;
  /** Start using the Hub only after this long without enough peers (default 2000 ms). */
  graceMs?: number;
  /** "Too few peers": fewer connected peers with data than this (default 1). */
  minPeers?: number;
  /** "Too slow": download rate below this many bytes/s (default 0: peers are never "too slow"). */
  minRate?: number;
}

export class HubError extends Error {
  override name = 'HubError';
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

const MAX_REDIRECTS = 5;
/** How long a redirect target is reused (the Hub's CDN URLs are signed for much longer). */
const LOCATION_TTL_MS = 5 * 60_000;
const TIMEOUT_MS = 60_000;

export function defaultEndpoint(): string {
  return (process.env.HF_ENDPOINT || 'https://huggingface.co').replace(/\/+$/, '');
}

export class HubSeed {
  readonly repo: string;
  readonly commit: string;
  readonly endpoint: string;
  private readonly token?: string;
  private readonly origin: string;
  private readonly attempts: number;
  private readonly backoffMs: number;
  readonly graceMs: number;
  readonly minPeers: number;
  readonly minRate: number;
  /** Payload bytes received from the Hub (before piece checks). */
  bytes = 0;
  requests = 0;
  /** Answers that were retried (429, 5xx, network errors). */
  retries = 0;
  /** Pieces with Hub bytes that failed their hash (caught by the piece check, fetched again). */
  rejectedPieces = 0;
  /** Where each file's resolve URL redirected last (the CDN), reused for a while: one request per range instead of
   *  two. A failing CDN URL (expired signature...) is dropped and the file resolved again. */
  private readonly located = new Map<string, { url: string; at: number }>();

  constructor(o: HubSeedOptions) {
    this.repo = o.repo;
    this.commit = o.commit;
    this.endpoint = (o.endpoint ?? defaultEndpoint()).replace(/\/+$/, '');
    this.origin = new URL(this.endpoint).origin;
    this.token = o.token ?? (process.env.HF_TOKEN || undefined);
    this.attempts = o.attempts ?? 4;
    this.backoffMs = o.backoffMs ?? 500;
    this.graceMs = o.graceMs ?? 2000;
    this.minPeers = o.minPeers ?? 1;
    this.minRate = o.minRate ?? 0;
  }

  /** The web seed's id in WebTorrent (what BEP 19 would ask for the torrent's name = the commit). */
  get url(): string {
    return `${this.endpoint}/${this.repo}/resolve/`;
  }

  fileUrl(path: string[]): string {
    return `${this.endpoint}/${this.repo}/resolve/${this.commit}/${path.map(encodeURIComponent).join('/')}`;
  }

  /** Whether to bring the Hub in now: after the grace period, with too few peers or too slow a download. */
  shouldEngage(s: { elapsedMs: number; peersWithData: number; downloadRate: number }): boolean {
    if (s.elapsedMs < this.graceMs) return false;
    return s.peersWithData < this.minPeers || s.downloadRate < this.minRate;
  }

  /** Bytes [start, end] (inclusive) of one file of the snapshot. */
  async fetchRange(path: string[], start: number, end: number): Promise<Uint8Array> {
    const want = end - start + 1;
    let delay = this.backoffMs;
    for (let attempt = 1; ; attempt++) {
      let retryAfter: number | undefined;
      try {
        return await this.fetchOnce(path, start, end, want);
      } catch (err) {
        const status = (err as HubError).status;
        const transient = status === undefined || status === 429 || status >= 500;
        if (!transient || attempt >= this.attempts) throw err;
        retryAfter = (err as HubError & { retryAfterMs?: number }).retryAfterMs;
      }
      this.retries++;
      await new Promise((r) => setTimeout(r, Math.min(retryAfter ?? delay, 30_000)));
      delay *= 2;
    }
  }

  private async fetchOnce(path: string[], start: number, end: number, want: number): Promise<Uint8Array> {
    const resolveUrl = this.fileUrl(path);
    const cached = this.located.get(resolveUrl);
    if (cached && Date.now() - cached.at < LOCATION_TTL_MS) {
      try {
        return await this.fetchFrom(cached.url, path, start, end, want, resolveUrl);
      } catch (err) {
        const status = (err as HubError).status;
        if (status === 429 || (status !== undefined && status >= 500)) throw err; // the CDN is busy: back off
        this.located.delete(resolveUrl); // expired or gone: ask the Hub again
      }
    }
    return this.fetchFrom(resolveUrl, path, start, end, want, resolveUrl);
  }

  private async fetchFrom(
    first: string,
    path: string[],
    start: number,
    end: number,
    want: number,
    resolveUrl: string,
  ): Promise<Uint8Array> {
    let url = first;
    this.requests++;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const headers: Record<string, string> = { range: `bytes=${start}-${end}`, 'user-agent': 'silmaril' };
      // The token goes to the Hub only: a CDN (or any other host a redirect names) never sees it.
      if (this.token && new URL(url).origin === this.origin) headers.authorization = `Bearer ${this.token}`;
      let res: Response;
      try {
        res = await fetch(url, { headers, redirect: 'manual', signal: AbortSignal.timeout(TIMEOUT_MS) });
      } catch (err) {
        throw new HubError(`${this.repo}: ${(err as Error).message}`);
      }
      if (res.status >= 300 && res.status < 400 && res.headers.get('location')) {
        await res.body?.cancel();
        url = new URL(res.headers.get('location')!, url).toString();
        if (!/^https?:$/.test(new URL(url).protocol)) throw new HubError(`redirect to ${url} refused`, res.status);
        continue;
      }
      if (res.status === 206 || res.status === 200) {
        const body = new Uint8Array(await res.arrayBuffer());
        // A 200 is the whole file (no Range support): cut the range out of it.
        const data = res.status === 200 ? body.subarray(start, end + 1) : body;
        if (data.length !== want) {
          throw new HubError(`${path.join('/')}: the Hub sent ${data.length} bytes for a ${want}-byte range`, 502);
        }
        if (url !== resolveUrl) this.located.set(resolveUrl, { url, at: Date.now() });
        this.bytes += data.length;
        return data;
      }
      await res.body?.cancel();
      const what = `${this.repo}@${this.commit.slice(0, 12)}/${path.join('/')}`;
      if (res.status === 401 || res.status === 403) {
        throw new HubError(
          this.token
            ? `${what}: the Hub refused HF_TOKEN (${res.status})`
            : `${what}: the Hub wants a token (${res.status}; a gated or private repo: set HF_TOKEN)`,
          res.status,
        );
      }
      if (res.status === 404) throw new HubError(`${what}: not on the Hub (404)`, 404);
      const err = new HubError(`${what}: the Hub answered ${res.status}`, res.status) as HubError & {
        retryAfterMs?: number;
      };
      const ra = Number(res.headers.get('retry-after'));
      if (Number.isFinite(ra) && ra >= 0) err.retryAfterMs = ra * 1000;
      throw err;
    }
    throw new HubError(`${this.repo}: too many redirects`);
  }

  /**
   * A WebConn `httpRequest` for `parsed`: the piece range split over the files it covers (pad files are zeros), each
   * part fetched from the Hub, joined in order.
   */
  requestFor(parsed: ParsedTorrent) {
    return (piece: number, offset: number, length: number, cb: (err: Error | null, data?: Uint8Array) => void) => {
      const start = piece * parsed.pieceLength + offset;
      const end = start + length;
      const out = new Uint8Array(length);
      const jobs: Promise<void>[] = [];
      for (const f of parsed.files) {
        if (f.length === 0 || f.offset >= end || f.offset + f.length <= start) continue;
        if (f.pad) continue; // zeros
        const a = Math.max(start, f.offset);
        const b = Math.min(end, f.offset + f.length);
        jobs.push(this.fetchRange(f.path, a - f.offset, b - f.offset - 1).then((data) => out.set(data, a - start)));
      }
      Promise.all(jobs).then(
        () => cb(null, out),
        (err: Error) => cb(err),
      );
    };
  }
}
