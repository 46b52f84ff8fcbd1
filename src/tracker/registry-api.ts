// The registry's JSON API, with Weightless's paths, shapes and status codes (docs/protocols.md, "Registries"). Errors are plain text with the status, as Weightless (Go's http.Error) sends them.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { timingSafeEqual, createHash } from 'node:crypto';
import type { TrackerCore } from './core.js';
import {
  normalizeHash,
  normalizeTags,
  RegistryError,
  type RegisteredTorrent,
  type RegistrationInput,
} from './registry.js';

export interface RegistryApiConfig {
  /** Key registry writes need in `X-Weightless-Key`; undefined: no key. */
  registryKey: string | undefined;
  /** Without a key, may anyone write? (true only when the tracker listens on loopback alone.) */
  openWrites: boolean;
  /** Largest POST body in bytes. */
  maxBody: number;
}

/** Sent with every registry answer: nothing we serve is a page, so a browser must never render or run it, even
 *  where a description holds markup (it is text; the views show it as text). */
const INERT = { 'X-Content-Type-Options': 'nosniff', 'Content-Security-Policy': "default-src 'none'; sandbox" };

/** Control characters (C0 but tab and newline, DEL, C1) are removed from stored text: they can rewrite a
 *  terminal or hide text in a view. */
export function plainText(v: string): string {
  // eslint-disable-next-line no-control-regex
  return v.replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, '');
}

export function sendText(res: ServerResponse, status: number, text: string, extra: Record<string, string> = {}): void {
  const body = Buffer.from(text.endsWith('\n') ? text : text + '\n');
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    ...INERT,
    'Content-Length': String(body.length),
    ...extra,
  });
  res.end(body);
}

export function sendJson(
  res: ServerResponse,
  status: number,
  value: unknown,
  extra: Record<string, string> = {},
): void {
  const body = Buffer.from(JSON.stringify(value) + '\n');
  res.writeHead(status, {
    'Content-Type': 'application/json',
    ...INERT,
    'Content-Length': String(body.length),
    ...extra,
  });
  res.end(body);
}

/** The query parameters of a registry URL (UTF-8 text, unlike the announce path). */
function params(url: string): URLSearchParams {
  const q = url.indexOf('?');
  return new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
}

/** The JSON entry Weightless clients read; empty optional fields are left out, as its `omitempty` does. */
export function entryJson(t: RegisteredTorrent): Record<string, unknown> {
  const r = t.row;
  const o: Record<string, unknown> = { info_hash: r.infoHash };
  if (r.v1InfoHash && r.v1InfoHash !== r.infoHash) o.v1_info_hash = r.v1InfoHash;
  o.name = r.name;
  o.verified = r.verified;
  o.completions = t.swarm.downloaded;
  if (r.description) o.description = plainText(r.description);
  if (r.publisher) o.publisher = r.publisher;
  if (r.license) o.license = r.license;
  if (r.size) o.size = r.size;
  if (r.category) o.category = r.category;
  if (r.tags) o.tags = r.tags;
  o.seeders = t.swarm.seeders;
  o.leechers = t.swarm.leechers;
  return o;
}

function keyMatches(given: string | string[] | undefined, key: string): boolean {
  if (typeof given !== 'string') return false;
  // Compare digests so the comparison takes the same time whatever the lengths.
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(key).digest();
  return timingSafeEqual(a, b);
}

/** Checks the write permission; sends the refusal and returns false when there is none. */
function mayWrite(cfg: RegistryApiConfig, req: IncomingMessage, res: ServerResponse): boolean {
  if (cfg.registryKey !== undefined) {
    if (keyMatches(req.headers['x-weightless-key'], cfg.registryKey)) return true;
    sendText(res, 401, 'Unauthorized');
    return false;
  }
  if (cfg.openWrites) return true;
  sendText(res, 403, 'Registry writes are disabled: this tracker listens beyond loopback and has no registry key');
  return false;
}

class BodyError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (declared > max) {
      reject(new BodyError(413, `Request body too large (at most ${max} bytes)`));
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        reject(new BodyError(413, `Request body too large (at most ${max} bytes)`));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

const TEXT_LIMITS: Record<string, number> = {
  name: 1024,
  description: 65536,
  publisher: 1024,
  license: 256,
  category: 256,
  tags: 4096,
};

/** Type-checks a POST body into a registration; throws RegistryError(400) with the first problem. */
export function parseRegistration(body: unknown): RegistrationInput {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new RegistryError(400, 'Invalid JSON body');
  const b = body as Record<string, unknown>;
  if (typeof b.info_hash !== 'string' || b.info_hash === '' || typeof b.name !== 'string' || b.name.trim() === '') {
    throw new RegistryError(400, 'Missing info_hash or name');
  }
  const infoHash = normalizeHash(b.info_hash);
  if (!infoHash) throw new RegistryError(400, 'Invalid info_hash: must be 40 (v1) or 64 (v2) hex digits');
  const input: RegistrationInput = { infoHash, name: plainText(b.name).trim() };
  if (b.v1_info_hash !== undefined && b.v1_info_hash !== null && b.v1_info_hash !== '') {
    const v1 = typeof b.v1_info_hash === 'string' ? normalizeHash(b.v1_info_hash) : undefined;
    if (!v1 || v1.length !== 40) throw new RegistryError(400, 'Invalid v1_info_hash: must be 40 hex digits');
    input.v1InfoHash = v1;
  }
  for (const [field, limit] of Object.entries(TEXT_LIMITS)) {
    let v = b[field];
    if (v === undefined || v === null) continue;
    if (field === 'tags' && Array.isArray(v) && v.every((x) => typeof x === 'string')) v = v.join(',');
    if (typeof v !== 'string') throw new RegistryError(400, `Invalid ${field}: must be a string`);
    if (v.length > limit) throw new RegistryError(400, `Invalid ${field}: longer than ${limit} characters`);
    const clean = plainText(v);
    if (field === 'tags') input.tags = normalizeTags(clean);
    else if (field !== 'name') (input as unknown as Record<string, string>)[field] = clean;
  }
  if (b.size !== undefined && b.size !== null) {
    if (typeof b.size !== 'number' || !Number.isSafeInteger(b.size) || b.size < 0) {
      throw new RegistryError(400, 'Invalid size: must be a non-negative integer');
    }
    input.size = b.size;
  }
  if (b.torrent_data !== undefined && b.torrent_data !== null && b.torrent_data !== '') {
    if (typeof b.torrent_data !== 'string' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(b.torrent_data.replace(/\s+/g, ''))) {
      throw new RegistryError(400, 'Invalid torrent_data: must be base64');
    }
    input.torrentData = Buffer.from(b.torrent_data, 'base64');
    if (input.torrentData.length === 0) throw new RegistryError(400, 'Invalid torrent_data: empty');
  }
  return input;
}

/** Finds the entry a query names by any of its hashes; sends 400/404 and returns undefined otherwise. */
function entryFor(core: TrackerCore, q: URLSearchParams, res: ServerResponse): RegisteredTorrent | undefined {
  const raw = q.get('info_hash');
  if (!raw) {
    sendText(res, 400, 'Missing info_hash');
    return undefined;
  }
  const hex = normalizeHash(raw);
  if (!hex) {
    sendText(res, 400, 'Invalid info_hash: must be 40 (v1) or 64 (v2) hex digits');
    return undefined;
  }
  const t = core.registry.lookup(hex);
  if (!t) sendText(res, 404, 'Not found');
  return t;
}

export async function handleRegistry(
  core: TrackerCore,
  cfg: RegistryApiConfig,
  req: IncomingMessage,
  res: ServerResponse,
  url: string,
): Promise<void> {
  const q = params(url);
  switch (req.method) {
    case 'GET':
    case 'HEAD': {
      const t = entryFor(core, q, res);
      if (t) sendJson(res, 200, entryJson(t));
      return;
    }
    case 'POST': {
      if (!mayWrite(cfg, req, res)) return;
      try {
        const raw = await readBody(req, cfg.maxBody);
        let body: unknown;
        try {
          body = JSON.parse(raw.toString('utf8'));
        } catch {
          throw new RegistryError(400, 'Invalid JSON body');
        }
        await core.registry.register(parseRegistration(body));
        core.metrics.registryWrites++;
        sendJson(res, 201, { status: 'created' });
      } catch (err) {
        core.metrics.registryRefusals++;
        if (err instanceof RegistryError || err instanceof BodyError) sendText(res, err.status, err.message);
        else throw err;
      }
      return;
    }
    case 'DELETE': {
      if (!mayWrite(cfg, req, res)) return;
      const raw = q.get('info_hash');
      if (!raw) return sendText(res, 400, 'Missing info_hash');
      const hex = normalizeHash(raw);
      if (!hex) return sendText(res, 400, 'Invalid info_hash: must be 40 (v1) or 64 (v2) hex digits');
      const reason = (q.get('reason') ?? '').slice(0, 1024);
      // `block=0`, our extension: a publisher withdrawing its listing, deleted without blocking the hash (a
      // Weightless registry ignores it and takes the entry down as it always does).
      const block = q.get('block') !== '0';
      try {
        const { removed, hashes } = await core.registry.takedown(hex, reason, undefined, { block });
        if (!block && !removed) return sendText(res, 404, 'Not found');
        core.dropOpen(hashes);
        core.metrics.registryWrites++;
        sendJson(res, 200, { status: 'deleted' });
      } catch (err) {
        if (err instanceof RegistryError) sendText(res, err.status, err.message);
        else throw err;
      }
      return;
    }
    default:
      sendText(res, 405, 'Method not allowed', { Allow: 'GET, POST, DELETE' });
  }
}

const SORTS = new Set(['created_at', 'completions', 'seeders']);

/** `GET /api/registry/search`: a JSON array, the total in `X-Total-Count`. */
export function handleSearch(core: TrackerCore, res: ServerResponse, url: string): void {
  const q = params(url);
  const intParam = (name: string, dflt: number, max: number) => {
    const v = Number.parseInt(q.get(name) ?? '', 10);
    return Number.isFinite(v) && v >= 0 ? Math.min(v, max) : dflt;
  };
  let limit = intParam('limit', 50, 100);
  if (limit === 0) limit = 50;
  const offset = intParam('offset', 0, Number.MAX_SAFE_INTEGER);
  const sort = SORTS.has(q.get('sort') ?? '') ? q.get('sort')! : 'created_at';
  const tags = normalizeTags(q.get('tags') ?? '');
  const rows = core.registry.store.search({
    q: (q.get('q') ?? '').slice(0, 256) || undefined,
    category: q.get('category') || undefined,
    publisher: q.get('publisher') || undefined,
    tags: tags ? tags.split(',') : undefined,
  });
  const found = rows
    .map((r) => core.registry.lookup(r.infoHash))
    .filter((t): t is RegisteredTorrent => t !== undefined);
  const score = (t: RegisteredTorrent) =>
    sort === 'completions' ? t.swarm.downloaded : sort === 'seeders' ? t.swarm.seeders : t.row.createdAt;
  // Newest first on ties, then by hash so pages are stable.
  found.sort(
    (a, b) => score(b) - score(a) || b.row.createdAt - a.row.createdAt || (a.row.infoHash < b.row.infoHash ? -1 : 1),
  );
  sendJson(res, 200, found.slice(offset, offset + limit).map(entryJson), { 'X-Total-Count': String(found.length) });
}

/** A file name safe in a Content-Disposition header: ASCII fallback plus the RFC 5987 UTF-8 form. */
function disposition(name: string): string {
  const base = name.replace(/[/\\]/g, '_');
  const ascii = base.replace(/[^\x20-\x7e]/g, '_').replace(/["%;]/g, '_') || 'torrent';
  return `attachment; filename="${ascii}.torrent"; filename*=UTF-8''${encodeURIComponent(base + '.torrent')}`;
}

/** `GET /api/registry/torrent`: the stored .torrent. */
export function handleTorrent(core: TrackerCore, res: ServerResponse, url: string): void {
  const t = entryFor(core, params(url), res);
  if (!t) return;
  const data = core.registry.store.torrentData(t.row.infoHash);
  if (!data) return sendText(res, 404, 'Torrent not found');
  res.writeHead(200, {
    'Content-Type': 'application/x-bittorrent',
    ...INERT,
    'Content-Disposition': disposition(t.row.name),
    'Content-Length': String(data.length),
  });
  res.end(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
}

/** `GET /api/registry/meta`: name, piece length and count, size and files, parsed when it was posted. */
export function handleMeta(core: TrackerCore, res: ServerResponse, url: string): void {
  const t = entryFor(core, params(url), res);
  if (!t) return;
  if (!t.row.meta) return sendText(res, 404, 'No torrent data available');
  const body = Buffer.from(t.row.meta + '\n');
  res.writeHead(200, { 'Content-Type': 'application/json', ...INERT, 'Content-Length': String(body.length) });
  res.end(body);
}
