// Sharing a Hugging Face cache snapshot: the torrent is made from the snapshot folder, its files read through the
// snapshot's links into the repository's blobs/ (and nowhere else), seeded in place; the catalog entry records the
// repo id, the commit and each file's etag (in torrent order) so a downloader can rebuild the cache and use the Hub
// as a web seed. Called by the CLI (`share --hf`) and the editor (Share Folder on a cache folder).
import { EntryError } from '../../catalog/entry.js';
import { createTorrent, type CreatedTorrent, type CreateOptions } from '../../torrent/create.js';
import { hfCacheDir, hfFolderOf, parseHfSpec, resolveSnapshot, type ResolvedSnapshot } from '../hf-cache.js';

export interface HfShareSource {
  /** `org/name[@rev]` (rev: a ref or a commit; default main)... */
  spec?: string;
  /** ...or a folder of the cache (a `models--org--name` folder or one of its snapshots). */
  folder?: string;
  /** Default: HF_HUB_CACHE / HF_HOME / ~/.cache/huggingface/hub. */
  cacheDir?: string;
}

export interface HfShare {
  snapshot: ResolvedSnapshot;
  torrent: CreatedTorrent;
  /** Default catalog name: the repo id when it has an org (`org/name`), else undefined (the user must give one). */
  defaultName?: string;
  /** The entry's Hugging Face fields. */
  hf: { hfRepo: string; hfCommit: string; hfEtags: string[]; hfRefs?: string[] };
}

/** Resolves `source` to a cached snapshot, or undefined when a folder is not part of a Hugging Face cache. */
export async function findHfSnapshot(source: HfShareSource): Promise<ResolvedSnapshot | undefined> {
  if (source.spec) {
    const { repo, revision } = parseHfSpec(source.spec);
    return resolveSnapshot(repo, revision, source.cacheDir ?? hfCacheDir());
  }
  if (!source.folder) throw new Error('findHfSnapshot needs a spec or a folder');
  const at = await hfFolderOf(source.folder);
  return at ? resolveSnapshot(at.repo, at.revision, at.cacheDir) : undefined;
}

/** Makes the torrent of a snapshot: named by its commit (so `<hub>/<repo>/resolve/` + name + path is each file's
 *  Hub URL), paths = snapshot paths. */
export async function createHfTorrent(
  snapshot: ResolvedSnapshot,
  options: Omit<CreateOptions, 'linkRoot' | 'name'> = {},
): Promise<HfShare> {
  const torrent = await createTorrent(snapshot.snapshotDir, { ...options, linkRoot: snapshot.repoPath });
  const byPath = new Map(snapshot.files.map((f) => [f.path.join('/'), f.etag]));
  if (torrent.files.length !== snapshot.files.length) {
    throw new Error(`${snapshot.snapshotDir}: ${snapshot.files.length - torrent.files.length} files could not be read`);
  }
  const hfEtags = torrent.files.map((f) => byPath.get(f.path.join('/'))!);
  return {
    snapshot,
    torrent,
    defaultName: snapshot.repo.includes('/') ? snapshot.repo : undefined,
    hf: { hfRepo: snapshot.repo, hfCommit: snapshot.commit, hfEtags, hfRefs: snapshot.refs },
  };
}

/**
 * Publishes with the Hugging Face fields; when the etags would make the signed entry pass its size limit (a model of
 * ~100 files or more), publishes without them: downloaders then name the blobs by content (etagOf).
 */
export function publishWithHf<T>(publish: (hf: Partial<HfShare['hf']>) => T, hf: HfShare['hf'] | undefined): T {
  if (!hf) return publish({});
  try {
    return publish(hf);
  } catch (err) {
    if (!(err instanceof EntryError) || err.reason !== 'oversized') throw err;
    return publish({ hfRepo: hf.hfRepo, hfCommit: hf.hfCommit, hfRefs: hf.hfRefs });
  }
}
