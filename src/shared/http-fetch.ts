// The fetch that WebTorrent's parts are given (build/aliases.mjs maps their `cross-fetch-ponyfill` here): the plain
// GETs they make (tracker announces and scrapes, a .torrent behind a URL, BEP 19 web seed ranges) over node:http and
// node:https. Node's global fetch is undici: loading it and compiling its HTTP parser (WebAssembly) on the first
// announce cost every process ~80 ms of CPU, which in a 16-downloader swarm on 2 cores is ~0.6 s of wall time
// before the first byte. node:http's parser is built in. Anything this does not handle (another method, a body, a
// proxy agent or dispatcher, another scheme) goes to the global fetch unchanged.
import http from 'node:http';
import https from 'node:https';

/** Redirects followed, as fetch does (it allows 20; trackers and CDNs use one or two). */
const MAX_REDIRECTS = 10;
/** A response body larger than this is refused: a hostile tracker or web seed cannot make us buffer without end. */
export const MAX_BODY_BYTES = 256 * 1024 * 1024;

export interface HttpFetchInit {
  method?: string;
  headers?: Record<string, string> | Headers | [string, string][];
  signal?: AbortSignal | null;
  body?: unknown;
  agent?: unknown;
  dispatcher?: unknown;
  [other: string]: unknown;
}

/** The part of a fetch Response its callers read. */
export interface HttpFetchResponse {
  status: number;
  statusText: string;
  ok: boolean;
  url: string;
  redirected: boolean;
  headers: FetchHeaders;
  /** The body stream, already read (bittorrent-tracker listens for its 'error'); the methods below give its bytes. */
  body: NodeJS.ReadableStream | ReadableStream | null;
  arrayBuffer(): Promise<ArrayBuffer>;
  text(): Promise<string>;
  json(): Promise<unknown>;
}

/** What callers read of a response's headers (the global fetch's Headers has these too). */
export interface FetchHeaders {
  get(name: string): string | null;
  has(name: string): boolean;
  forEach(fn: (value: string, name: string) => void): void;
}

/** A response's headers, read-only, with the Headers methods callers use. Not the global Headers: touching it loads
 *  Node's whole bundled undici, ~20 ms of CPU per process (the point of this file, see above). Names are lower case;
 *  repeated headers are joined with ", " as Headers does. */
export class ResponseHeaders implements FetchHeaders, Iterable<[string, string]> {
  private readonly map = new Map<string, string>();
  constructor(raw: http.IncomingHttpHeaders = {}) {
    for (const [k, v] of Object.entries(raw)) {
      if (v !== undefined) this.map.set(k.toLowerCase(), Array.isArray(v) ? v.join(', ') : v);
    }
  }
  get(name: string): string | null {
    return this.map.get(name.toLowerCase()) ?? null;
  }
  has(name: string): boolean {
    return this.map.has(name.toLowerCase());
  }
  forEach(fn: (value: string, name: string) => void): void {
    for (const [k, v] of this.map) fn(v, k);
  }
  entries(): IterableIterator<[string, string]> {
    return this.map.entries();
  }
  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.map.entries();
  }
}

function headerRecord(h: HttpFetchInit['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  if (!h) return out;
  if (typeof (h as Headers).forEach === 'function' && !Array.isArray(h)) {
    (h as Headers).forEach((v, k) => (out[k] = v));
  } else if (Array.isArray(h)) {
    for (const [k, v] of h) out[k.toLowerCase()] = v;
  } else {
    for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k.toLowerCase()] = String(v);
  }
  return out;
}

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  const err = new Error('This operation was aborted');
  err.name = 'AbortError';
  return err;
}

const isHttp = (url: URL) => url.protocol === 'http:' || url.protocol === 'https:';
const REDIRECT_STATUSES = [301, 302, 303, 307, 308];

/** True when this module can serve the request itself (else the global fetch does). */
function handles(url: URL, method: string, init: HttpFetchInit): boolean {
  return isHttp(url) && (method === 'GET' || method === 'HEAD') && init.body == null && !init.agent && !init.dispatcher;
}

export async function httpFetch(input: string | URL, init: HttpFetchInit = {}): Promise<HttpFetchResponse> {
  let url = new URL(String(input));
  const method = (init.method ?? 'GET').toUpperCase();
  if (!handles(url, method, init)) {
    return (await globalThis.fetch(String(input), init as RequestInit)) as HttpFetchResponse;
  }
  const headers = headerRecord(init.headers);
  const signal = init.signal ?? undefined;
  for (let hop = 0; ; hop++) {
    const res = await request(url, method, headers, signal);
    const location = res.headers.get('location');
    if (REDIRECT_STATUSES.includes(res.status) && location) {
      if (hop >= MAX_REDIRECTS) throw new TypeError(`fetch failed: more than ${MAX_REDIRECTS} redirects from ${input}`);
      url = new URL(location, url);
      if (!isHttp(url)) throw new TypeError(`fetch failed: redirect to ${url}`);
      continue;
    }
    return Object.assign(res, { redirected: hop > 0 });
  }
}

function request(
  url: URL,
  method: string,
  headers: Record<string, string>,
  signal: AbortSignal | undefined,
): Promise<HttpFetchResponse> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal));
    const lib = url.protocol === 'https:' ? https : http;
    const req = lib.request(url, { method, headers });
    const onAbort = () => req.destroy(abortError(signal!));
    signal?.addEventListener('abort', onAbort, { once: true });
    const done = () => signal?.removeEventListener('abort', onAbort);
    req.on('error', (err) => {
      done();
      reject(Object.assign(new TypeError(`fetch failed: ${err.message}`), { cause: err, name: err.name }));
    });
    req.on('response', (msg) => {
      const status = msg.statusCode ?? 0;
      const h = new ResponseHeaders(msg.headers);
      // The whole body is read before the response is given: a body that fails (cut short, too large) rejects the
      // fetch itself, which every caller catches. bittorrent-tracker reads the body outside its try, so a body that
      // failed there was an unhandled rejection: one tracker cutting its answer short crashed the process.
      const chunks: Buffer[] = [];
      let size = 0;
      const fail = (why: string) => {
        done();
        reject(new TypeError(`fetch failed: ${why}`));
      };
      msg.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY_BYTES) {
          msg.destroy();
          fail(`response from ${url.host} larger than ${MAX_BODY_BYTES} bytes`);
          return;
        }
        chunks.push(c);
      });
      msg.on('error', (err) => fail(`response from ${url.host}: ${err.message}`));
      msg.on('aborted', () => fail(`response from ${url.host} was cut short`));
      msg.on('end', () => {
        done();
        if (!msg.complete) return fail(`response from ${url.host} was cut short`);
        const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size);
        resolve({
          status,
          statusText: msg.statusMessage ?? '',
          ok: status >= 200 && status < 300,
          url: url.href,
          redirected: false,
          headers: h,
          body: msg,
          arrayBuffer: async () => body.buffer.slice(body.byteOffset, body.byteOffset + body.length) as ArrayBuffer,
          text: async () => body.toString('utf8'),
          json: async () => JSON.parse(body.toString('utf8')) as unknown,
        });
      });
    });
    req.end();
  });
}

export default httpFetch;
