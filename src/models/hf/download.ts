// Downloading a catalog model into the Hugging Face cache (`get --hf-cache`, "Download into Hugging Face Cache").
// The torrent downloads into a staging folder inside the repository's cache folder (so the final moves are renames);
// blobs the cache already holds are placed there first, so the engine finds them complete and fetches only the rest;
// once every piece passed SHA-1 and every file its v2 root (and its etag), the files become blobs/<etag> and the
// snapshot appears in one rename (hf-cache.ts installSnapshot). With a repo id and commit, the Hub can be a web seed.
import { promises as fsp } from 'node:fs';
import type { Engine } from '../../engine/engine.js';
import type { HubSeedOptions } from '../../engine/hub-seed.js';
import type { HfCacheTarget } from '../../engine/state.js';
import { contentRootIn, realFiles } from '../../engine/layout.js';
import type { Transfer } from '../../engine/transfer.js';
import { hfOrigin } from '../../catalog/entry.js';
import { registryBase } from '../../tracker/registry-client.js';
import { parseMagnet } from '../../torrent/magnet.js';
import { parseTorrent } from '../../torrent/parse.js';
import type { ParsedTorrent } from '../../torrent/types.js';
import {
  etagOf,
  HfCacheError,
  hfCacheDir,
  installSnapshot,
  parseHfSpec,
  stageCachedBlobs,
  stagingDir,
} from '../hf-cache.js';

export interface HfOrigin {
  repo: string;
  commit: string;
  /** Blob names in torrent file order (from the signed entry); computed from the content when absent. */
  etags?: string[];
  /** Refs that pointed at the commit where it was shared (from the signed entry). */
  refs?: string[];
}

export interface HfDownloadOptions {
  engine: Engine;
  /** What Engine.download takes: magnet, infohash, .torrent path or bytes. */
  source: string | Uint8Array;
  /** The .torrent, when known before the download (needed to skip blobs the cache holds). */
  torrent?: Uint8Array;
  origin: HfOrigin;
  cacheDir?: string;
  /** refs/<ref> to point at the commit once installed. */
  ref?: string;
  peers?: string[];
  /** The Hub as a web seed (default on); false turns it off. */
  webSeed?: boolean | Omit<HubSeedOptions, 'repo' | 'commit'>;
}

export interface HfDownload {
  transfer: Transfer;
  /** Files found in the cache and not fetched. */
  reused: string[][];
  /** Resolves once the snapshot is in the cache (or rejects: nothing half-made is left visible). */
  done: Promise<{ snapshot: string; verified: boolean }>;
}

export async function downloadIntoHfCache(o: HfDownloadOptions): Promise<HfDownload> {
  const cacheDir = o.cacheDir ?? hfCacheDir();
  const outDir = stagingDir(cacheDir, o.origin.repo);
  const parsed: ParsedTorrent | undefined = o.torrent ? parseTorrent(o.torrent) : undefined;
  let reused: string[][] = [];
  if (parsed && o.origin.etags) {
    const real = parsed.files.filter((f) => !f.pad);
    if (real.length === o.origin.etags.length) {
      const files = real.map((f, i) => ({ path: f.path, etag: o.origin.etags![i] }));
      reused = await stageCachedBlobs(cacheDir, o.origin.repo, contentRootIn(outDir, parsed), files);
    }
  }
  const hub =
    o.webSeed === false
      ? undefined
      : { ...(typeof o.webSeed === 'object' ? o.webSeed : {}), repo: o.origin.repo, commit: o.origin.commit };
  const hfCache: HfCacheTarget = {
    cacheDir,
    repo: o.origin.repo,
    commit: o.origin.commit,
    etags: o.origin.etags,
    // The ref asked for; else the one the sharer's cache had (`main` as a rule), so the model resolves by name.
    ref: o.ref ?? preferredRef(o.origin.refs),
  };
  const transfer = await o.engine.download(o.torrent ?? o.source, { outDir, peers: o.peers, hub, hfCache });
  const done = installWhenDone(o.engine, transfer);
  done.catch(() => {});
  return { transfer, reused, done };
}

const installing = new WeakMap<Transfer, Promise<{ snapshot: string; verified: boolean }>>();

/** Once `transfer` (a download into the cache) is done and verified, moves it into the cache (installSnapshot). */
export function installWhenDone(engine: Engine, transfer: Transfer): Promise<{ snapshot: string; verified: boolean }> {
  const known = installing.get(transfer);
  if (known) return known;
  const target = transfer.hfCache;
  if (!target)
    return Promise.reject(new HfCacheError(`${transfer.name} is not a download into the Hugging Face cache`));
  const done = (async () => {
    const outcome = await transfer.whenDone();
    if (!outcome.verified) return { snapshot: '', verified: false };
    const parsed = transfer.parsed!;
    const contentRoot = transfer.contentRoot!;
    // The transfer is forgotten (its files are about to move into blobs/); the files themselves are kept.
    await engine.remove(transfer.id);
    const files: { path: string[]; etag: string }[] = [];
    const real = realFiles(contentRoot, parsed);
    const etags = target.etags?.length === real.length ? target.etags : undefined;
    for (let i = 0; i < real.length; i++) {
      const { file, path } = real[i];
      if (file.length === 0) await fsp.writeFile(path, '', { flag: 'a' });
      files.push({ path: file.path, etag: etags?.[i] ?? (await etagOf(path, file.length)) });
    }
    const snapshot = await installSnapshot({
      cacheDir: target.cacheDir,
      repo: target.repo,
      commit: target.commit,
      ref: target.ref,
      contentRoot,
      files,
    });
    return { snapshot, verified: true };
  })();
  installing.set(transfer, done);
  return done;
}

/** After Engine.restore: downloads into the cache from an earlier run are installed when they complete. */
export function resumeHfInstalls(engine: Engine, log: { warn(msg: string): void }): void {
  for (const t of engine.transfers.values()) {
    if (t.kind !== 'download' || !t.hfCache || installing.has(t)) continue;
    installWhenDone(engine, t).then(
      (r) => (r.verified ? undefined : log.warn(`${t.name}: did not verify; not installed into the cache`)),
      (err: Error) => log.warn(`${t.name}: could not install into the Hugging Face cache: ${err.message}`),
    );
  }
}

/** The Hugging Face origin of the catalog entry with this v1 infohash (trusted or not: the bytes are checked
 *  against the torrent either way), with the entry's trackers. */
/** A catalog entry, as much of it as the origin lookup reads. */
export type HfEntryLike = { v1?: string; trackers: string[]; record?: Uint8Array } & Parameters<typeof hfOrigin>[0];

export function hfOriginIn(
  entries: Iterable<HfEntryLike>,
  v1: string,
): (HfOrigin & { trackers: string[] }) | undefined {
  for (const e of entries) {
    if (e.v1 !== v1.toLowerCase()) continue;
    const o = hfOrigin(e);
    if (o) return { ...o, trackers: e.trackers };
  }
  return undefined;
}

/** The .torrent from a tracker's registry (`GET /api/registry/torrent`): how a node with no peer at all gets the
 *  info dictionary it needs to check the Hub's bytes (docs/huggingface.md). Undefined when no registry has it. */
export async function torrentFromRegistry(trackers: string[], v1: string): Promise<Uint8Array | undefined> {
  for (const t of trackers) {
    const base = registryBase(t);
    if (!base) continue;
    try {
      const res = await fetch(`${base}/api/registry/torrent?info_hash=${v1}`, { signal: AbortSignal.timeout(15_000) });
      if (!res.ok) continue;
      const bytes = new Uint8Array(await res.arrayBuffer());
      if (parseTorrent(bytes).infoHashV1 === v1.toLowerCase()) return bytes; // the registry is not trusted either
    } catch {}
  }
  return undefined;
}

/**
 * What a download into the cache needs, from what the user gave: the v1 infohash, the .torrent when it can be had
 * (a file, the state directory's copy, a registry), and the Hugging Face origin (`repoSpec` = `org/name@commit`, else
 * the catalog entry with that infohash).
 */
export async function prepareHfGet(o: {
  /** A magnet, an infohash, a .torrent path, or the .torrent's bytes. */
  source: string | Uint8Array;
  /** Catalog entries to look the origin up in. */
  entries: () => Promise<Iterable<HfEntryLike>>;
  repoSpec?: string;
  savedTorrent?: (v1: string) => Promise<Uint8Array | undefined>;
}): Promise<{ torrent?: Uint8Array; origin: HfOrigin }> {
  let torrent: Uint8Array | undefined;
  let v1: string;
  if (typeof o.source !== 'string') {
    torrent = o.source;
    const id = parseTorrent(torrent).infoHashV1;
    if (!id) throw new HfCacheError('a v2-only torrent: Silmaril needs a v1 or hybrid torrent');
    v1 = id;
  } else if (/^[0-9a-fA-F]{40}$/.test(o.source)) v1 = o.source.toLowerCase();
  else if (o.source.startsWith('magnet:')) {
    const m = parseMagnet(o.source);
    if (!m.infoHashV1) throw new HfCacheError('this magnet has no btih (v1) hash');
    v1 = m.infoHashV1;
  } else {
    torrent = await fsp.readFile(o.source);
    const id = parseTorrent(torrent).infoHashV1;
    if (!id) throw new HfCacheError('a v2-only torrent: Silmaril needs a v1 or hybrid torrent');
    v1 = id;
  }
  torrent ??= await o.savedTorrent?.(v1);
  let origin: (HfOrigin & { trackers?: string[] }) | undefined;
  if (o.repoSpec) {
    const at = o.repoSpec.lastIndexOf('@');
    const commit = at > 0 ? o.repoSpec.slice(at + 1).toLowerCase() : '';
    if (!/^[0-9a-f]{40}$/.test(commit)) throw new HfCacheError('--hf-repo needs ORG/NAME@COMMIT (a 40-digit commit)');
    origin = { repo: parseHfSpec(o.repoSpec).repo, commit };
  } else {
    origin = hfOriginIn(await o.entries(), v1);
    if (!origin) {
      throw new HfCacheError(
        `no catalog entry with infohash ${v1} says which Hub repository and commit it is: give --hf-repo ORG/NAME@COMMIT`,
      );
    }
  }
  torrent ??= origin.trackers ? await torrentFromRegistry(origin.trackers, v1) : undefined;
  return { torrent, origin: { repo: origin.repo, commit: origin.commit, etags: origin.etags, refs: origin.refs } };
}

/** The Hub web seed options for a plain download (not into the cache) of a catalog entry that records its Hub
 *  origin; undefined when the source is not such an entry. */
export async function hubFor(
  source: string | Uint8Array,
  entries: () => Promise<Iterable<HfEntryLike>>,
  extra: Omit<HubSeedOptions, 'repo' | 'commit'> = {},
): Promise<HubSeedOptions | undefined> {
  let v1: string | undefined;
  try {
    if (typeof source !== 'string') v1 = parseTorrent(source).infoHashV1;
    else if (/^[0-9a-fA-F]{40}$/.test(source)) v1 = source.toLowerCase();
    else if (source.startsWith('magnet:')) v1 = parseMagnet(source).infoHashV1;
    else v1 = parseTorrent(await fsp.readFile(source)).infoHashV1;
  } catch {
    return undefined; // the download itself reports a bad source
  }
  const origin = v1 ? hfOriginIn(await entries(), v1) : undefined;
  return origin ? { ...extra, repo: origin.repo, commit: origin.commit } : undefined;
}

/** `main` when the sharer had it, else the first ref it had. */
function preferredRef(refs: string[] | undefined): string | undefined {
  if (!refs?.length) return undefined;
  return refs.includes('main') ? 'main' : refs[0];
}
