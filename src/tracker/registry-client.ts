// Registering a torrent with a tracker's registry (Weightless API: POST <base>/api/registry with the entry and
// the .torrent as base64). A tracker without a registry (a plain BEP 3 tracker: 404 and the like, or a UDP
// tracker) is simply announced to: that is not an error.

/** What registration needs of a torrent (ParsedTorrent and CreatedTorrent both fit). */
export interface RegistrableTorrent {
  infoHashV1?: string;
  infoHashV2?: string;
  name: string;
  /** Total bytes of real files. */
  length: number;
  torrentBytes: Uint8Array;
}

export interface RegistrationMeta {
  /** Display name (default: the torrent's name). */
  name?: string;
  description?: string;
  publisher?: string;
  license?: string;
  category?: string;
  /** Comma-separated, or a list. */
  tags?: string | string[];
}

export interface RegisterOptions {
  /** Registry write key (X-Weightless-Key); default: $SILMARIL_REGISTRY_KEY. */
  apiKey?: string;
  /** Give up after this many ms (default 30 s). */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

export type RegisterOutcome =
  | { status: 'registered'; registry: string }
  /** The tracker has no registry API: clients will still announce to it. */
  | { status: 'announce-only'; reason: string };

/** A registry that exists but refused (bad key, mismatching torrent, blocked) or could not be reached. */
export class RegistryClientError extends Error {
  override name = 'RegistryClientError';
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/**
 * The registry API base of a tracker URL: `http://h:p/announce` (or `/announce/<passkey>`) -> `http://h:p`; a
 * prefix path is kept (`https://h/t/announce` -> `https://h/t`). Undefined for non-HTTP trackers (UDP, WebSocket).
 */
export function registryBase(trackerUrl: string): string | undefined {
  let url: URL;
  try {
    url = new URL(trackerUrl);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  const at = url.pathname.search(/\/announce(\/|$)/);
  const prefix = (at >= 0 ? url.pathname.slice(0, at) : url.pathname).replace(/\/+$/, '');
  return `${url.protocol}//${url.host}${prefix}`;
}

/** The Weightless entry for a torrent, with torrent_data. */
export function registrationBody(t: RegistrableTorrent, meta: RegistrationMeta = {}): Record<string, unknown> {
  const infoHash = t.infoHashV2 ?? t.infoHashV1;
  if (!infoHash) throw new RegistryClientError('the torrent has no infohash');
  const tags = Array.isArray(meta.tags) ? meta.tags.join(',') : meta.tags;
  const body: Record<string, unknown> = { info_hash: infoHash, name: meta.name ?? t.name };
  if (t.infoHashV2 && t.infoHashV1) body.v1_info_hash = t.infoHashV1;
  if (meta.description) body.description = meta.description;
  if (meta.publisher) body.publisher = meta.publisher;
  if (meta.license) body.license = meta.license;
  body.size = t.length;
  if (meta.category) body.category = meta.category;
  if (tags) body.tags = tags;
  body.torrent_data = Buffer.from(t.torrentBytes).toString('base64');
  return body;
}

function unreachable(endpoint: string, err: unknown): RegistryClientError {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return new RegistryClientError(
    `cannot reach the registry at ${endpoint}: ${cause?.code ?? cause?.message ?? (err as Error).message}`,
  );
}

/**
 * Whether `base` serves a registry: its search answers 200 with a JSON array. Plain trackers answer anything
 * else (opentracker: 400 to every unknown path, bittorrent-tracker: 404).
 */
export async function hasRegistry(base: string, timeoutMs = 30_000): Promise<boolean> {
  const endpoint = `${base}/api/registry/search?limit=1`;
  let res: Response;
  try {
    res = await fetch(endpoint, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
  } catch (err) {
    throw unreachable(endpoint, err);
  }
  if (res.status === 429)
    throw new RegistryClientError(`the registry at ${base} is rate limiting us: try again later`, 429);
  const text = await res.text().catch(() => '');
  if (res.status !== 200) return false;
  try {
    return Array.isArray(JSON.parse(text));
  } catch {
    return false;
  }
}

/** Registers `torrent` with the registry behind `trackerUrl`. */
export async function registerTorrent(
  trackerUrl: string,
  torrent: RegistrableTorrent,
  meta: RegistrationMeta = {},
  options: RegisterOptions = {},
): Promise<RegisterOutcome> {
  const base = registryBase(trackerUrl);
  if (!base) return { status: 'announce-only', reason: `${trackerUrl} is not an HTTP tracker` };
  const timeoutMs = options.timeoutMs ?? 30_000;
  if (!(await hasRegistry(base, timeoutMs))) {
    return { status: 'announce-only', reason: `${base} has no registry API` };
  }
  const apiKey = options.apiKey ?? (options.env ?? process.env).SILMARIL_REGISTRY_KEY;
  const endpoint = `${base}/api/registry`;
  let res: Response;
  try {
    res = await fetch(endpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...(apiKey ? { 'X-Weightless-Key': apiKey } : {}) },
      body: JSON.stringify(registrationBody(torrent, meta)),
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'error',
    });
  } catch (err) {
    throw unreachable(endpoint, err);
  }
  const text = (await res.text().catch(() => '')).trim().slice(0, 300);
  if (res.status === 201 || res.status === 200) return { status: 'registered', registry: base };
  const refused = `the registry at ${base} refused the registration (HTTP ${res.status}${text ? `: ${text}` : ''})`;
  if ((res.status === 401 || res.status === 403) && !apiKey) {
    throw new RegistryClientError(`${refused}; pass its key with --api-key or $SILMARIL_REGISTRY_KEY`, res.status);
  }
  throw new RegistryClientError(refused, res.status);
}

export interface TrackerRegistration {
  tracker: string;
  outcome?: RegisterOutcome;
  /** Set when the registry refused or could not be reached. */
  error?: string;
}

/** Registers with every tracker in turn; never throws (each result says what happened). */
export async function registerWithTrackers(
  trackers: readonly string[],
  torrent: RegistrableTorrent,
  meta: RegistrationMeta = {},
  options: RegisterOptions = {},
): Promise<TrackerRegistration[]> {
  const out: TrackerRegistration[] = [];
  for (const tracker of trackers) {
    try {
      out.push({ tracker, outcome: await registerTorrent(tracker, torrent, meta, options) });
    } catch (err) {
      out.push({ tracker, error: (err as Error).message });
    }
  }
  return out;
}

export type UnregisterOutcome =
  | { status: 'unregistered'; registry: string }
  /** The registry does not list it (never registered there, or already removed). */
  | { status: 'not-registered'; registry: string }
  /** The tracker has no registry API: nothing to remove. */
  | { status: 'announce-only'; reason: string };

/**
 * Removes a torrent's listing from the registry behind `trackerUrl` (the publisher withdrew it): `DELETE
 * <base>/api/registry?info_hash=H&reason=...&block=0`, H being the key it was registered under (v2 when it has one,
 * as registrationBody posts it). `block=0` asks our tracker not to block the hash, so the same bytes can be shared
 * again; a Weightless registry ignores it and blocks the hash, as its takedown always does.
 */
export async function unregisterTorrent(
  trackerUrl: string,
  hashes: { infoHashV1?: string; infoHashV2?: string },
  options: RegisterOptions = {},
): Promise<UnregisterOutcome> {
  const base = registryBase(trackerUrl);
  if (!base) return { status: 'announce-only', reason: `${trackerUrl} is not an HTTP tracker` };
  const infoHash = hashes.infoHashV2 ?? hashes.infoHashV1;
  if (!infoHash) throw new RegistryClientError('the torrent has no infohash');
  const timeoutMs = options.timeoutMs ?? 30_000;
  if (!(await hasRegistry(base, timeoutMs))) return { status: 'announce-only', reason: `${base} has no registry API` };
  const apiKey = options.apiKey ?? (options.env ?? process.env).SILMARIL_REGISTRY_KEY;
  const query = new URLSearchParams({ info_hash: infoHash, reason: 'withdrawn by its publisher', block: '0' });
  const endpoint = `${base}/api/registry?${query}`;
  let res: Response;
  try {
    res = await fetch(endpoint, {
      method: 'DELETE',
      headers: apiKey ? { 'X-Weightless-Key': apiKey } : {},
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'error',
    });
  } catch (err) {
    throw unreachable(`${base}/api/registry`, err);
  }
  const text = (await res.text().catch(() => '')).trim().slice(0, 300);
  if (res.status === 200 || res.status === 204) return { status: 'unregistered', registry: base };
  if (res.status === 404) return { status: 'not-registered', registry: base };
  const refused = `the registry at ${base} refused to remove the listing (HTTP ${res.status}${text ? `: ${text}` : ''})`;
  if ((res.status === 401 || res.status === 403) && !apiKey) {
    throw new RegistryClientError(`${refused}; pass its key with $SILMARIL_REGISTRY_KEY`, res.status);
  }
  throw new RegistryClientError(refused, res.status);
}
