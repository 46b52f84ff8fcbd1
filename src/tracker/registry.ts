// The registry as the tracker sees it: the sql.js store plus an in-memory index from every hash a client may
// announce (v1, full v2, v2 truncated to 20 bytes) to the torrent's one swarm, and the blocklist as a set.
// Memory follows the database: a change is saved to disk first, then applied here.
import type { ParsedTorrent } from '../torrent/types.js';
import type { RegistryRow, RegistryStore } from './registry-store.js';
import { Swarm, type PeerCounter } from './swarm.js';

export interface RegisteredTorrent {
  row: RegistryRow;
  swarm: Swarm;
  /** Every hex form clients may use for it. */
  hashes: string[];
}

/** What a registration asks for, already type-checked (registry-api.ts). */
export interface RegistrationInput {
  infoHash: string;
  v1InfoHash?: string;
  name: string;
  description?: string;
  publisher?: string;
  license?: string;
  size?: number;
  category?: string;
  tags?: string;
  torrentData?: Uint8Array;
}

/** A refusal with the HTTP status and one-line message to send back. */
export class RegistryError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export type TorrentParser = (bytes: Uint8Array) => ParsedTorrent;

const HEX40 = /^[0-9a-f]{40}$/;
const HEX64 = /^[0-9a-f]{64}$/;

/** Lower-cases and checks a hex infohash (40 or 64 digits); undefined when it is neither. */
export function normalizeHash(s: string): string | undefined {
  const h = s.trim().toLowerCase();
  return HEX40.test(h) || HEX64.test(h) ? h : undefined;
}

/** The hex forms one torrent is announced under. */
export function hashForms(v1: string, v2: string): string[] {
  const forms: string[] = [];
  if (v1) forms.push(v1);
  if (v2) forms.push(v2, v2.slice(0, 40));
  return forms;
}

/** Tags as stored: comma-separated, trimmed, no empties, no duplicates. */
export function normalizeTags(tags: string): string {
  return [
    ...new Set(
      tags
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean),
    ),
  ].join(',');
}

/** The /api/registry/meta reply for a torrent (pad files are not files a user sees). */
export function metaOf(t: ParsedTorrent): string {
  return JSON.stringify({
    name: t.name,
    piece_length: t.pieceLength,
    piece_count: t.pieceCount,
    total_size: t.length,
    files: t.files.filter((f) => !f.pad).map((f) => ({ path: f.path.join('/'), length: f.length })),
  });
}

export class Registry {
  private readonly byHash = new Map<string, RegisteredTorrent>();
  private readonly byInfoHash = new Map<string, RegisteredTorrent>();
  private readonly blockedHashes = new Set<string>();
  /** Torrents whose completion count changed since the last flush. */
  private readonly dirty = new Set<RegisteredTorrent>();

  constructor(
    readonly store: RegistryStore,
    /** Peers across every swarm of the tracker (open swarms too). */
    readonly counter: PeerCounter,
    private readonly parse: TorrentParser,
  ) {
    for (const row of store.all()) this.index(row);
    for (const b of store.blocked()) this.blockedHashes.add(b.hash);
  }

  get size(): number {
    return this.byInfoHash.size;
  }

  get blockedCount(): number {
    return this.blockedHashes.size;
  }

  /** The registered torrent announced under `hex` (any form), if any. The announce path's only lookup. */
  lookup(hex: string): RegisteredTorrent | undefined {
    return this.byHash.get(hex);
  }

  isBlocked(hex: string): boolean {
    return this.blockedHashes.has(hex);
  }

  entries(): IterableIterator<RegisteredTorrent> {
    return this.byInfoHash.values();
  }

  private index(row: RegistryRow, swarm?: Swarm): RegisteredTorrent {
    const s = swarm ?? new Swarm(this.counter);
    if (!swarm) s.downloaded = row.completions;
    const t: RegisteredTorrent = { row, swarm: s, hashes: hashForms(row.v1InfoHash, row.v2InfoHash) };
    this.byInfoHash.set(row.infoHash, t);
    for (const h of t.hashes) this.byHash.set(h, t);
    return t;
  }

  private unindex(t: RegisteredTorrent): void {
    this.byInfoHash.delete(t.row.infoHash);
    for (const h of t.hashes) if (this.byHash.get(h) === t) this.byHash.delete(h);
    this.dirty.delete(t);
  }

  /** Called from the announce path when a swarm counted a completion: flushed to the database later. */
  completed(t: RegisteredTorrent): void {
    this.dirty.add(t);
  }

  /**
   * Checks and stores a registration, durably, then indexes it. Refusals throw RegistryError:
   * torrent_data that does not parse or whose hashes differ from the posted ones (400), a blocked hash (403),
   * hashes that belong to another entry (409).
   */
  async register(input: RegistrationInput, now = Math.floor(Date.now() / 1000)): Promise<RegisteredTorrent> {
    let infoHash = input.infoHash;
    let v1 = input.v1InfoHash ?? '';
    let v2 = infoHash.length === 64 ? infoHash : '';
    let size = input.size ?? 0;
    let meta = '';
    let verified = false;
    if (infoHash.length === 40) {
      if (v1 && v1 !== infoHash) throw new RegistryError(400, 'v1_info_hash differs from the v1 info_hash');
      v1 = infoHash;
    }
    if (input.torrentData) {
      let t: ParsedTorrent;
      try {
        t = this.parse(input.torrentData);
      } catch (err) {
        throw new RegistryError(400, `torrent_data is not a valid torrent: ${(err as Error).message}`);
      }
      const primary = t.infoHashV2 ?? t.infoHashV1;
      if (primary !== infoHash) {
        const which = t.infoHashV2 ? 'v2' : 'v1';
        throw new RegistryError(400, `info_hash does not match torrent_data (its ${which} infohash is ${primary})`);
      }
      if (input.v1InfoHash && input.v1InfoHash !== (t.infoHashV1 ?? '')) {
        throw new RegistryError(
          400,
          `v1_info_hash does not match torrent_data (its v1 infohash is ${t.infoHashV1 ?? 'absent: v2-only torrent'})`,
        );
      }
      v1 = t.infoHashV1 ?? '';
      v2 = t.infoHashV2 ?? '';
      infoHash = primary;
      if (!size) size = t.length;
      meta = metaOf(t);
      verified = true;
    }
    const forms = hashForms(v1, v2);
    for (const h of forms) {
      if (this.blockedHashes.has(h)) throw new RegistryError(403, 'info_hash is blocked');
      const other = this.byHash.get(h);
      if (other && other.row.infoHash !== infoHash) {
        throw new RegistryError(409, `hash ${h} is already registered under info_hash ${other.row.infoHash}`);
      }
    }
    const old = this.byInfoHash.get(infoHash);
    const row: RegistryRow = {
      infoHash,
      v1InfoHash: v1,
      v2InfoHash: v2,
      name: input.name,
      verified,
      completions: old ? old.swarm.downloaded : 0,
      description: input.description ?? '',
      publisher: input.publisher ?? '',
      license: input.license ?? '',
      size,
      category: input.category ?? '',
      tags: normalizeTags(input.tags ?? ''),
      createdAt: old ? old.row.createdAt : now,
      updatedAt: now,
      meta,
    };
    const oldData = old ? this.store.torrentData(infoHash) : undefined;
    this.store.upsert(row, input.torrentData);
    try {
      await this.store.save();
    } catch (err) {
      // Not on disk: undo in the database so memory, database and file keep agreeing.
      if (old) this.store.upsert(old.row, oldData);
      else this.store.delete(infoHash);
      throw new RegistryError(500, `could not save the registry: ${(err as Error).message}`);
    }
    // The same torrent may have been re-posted with different hashes for its v1 side: rebuild its index.
    const current = this.byInfoHash.get(infoHash);
    if (current) this.unindex(current);
    return this.index(row, current?.swarm);
  }

  /**
   * Takedown: deletes the entry that `hex` names (any of its forms), blocks every hash of it (or just `hex`
   * and its truncation when nothing is registered under it), drops its swarm. Durable before it returns.
   * `block: false` (a publisher withdrawing its own listing): deleted, not blocked, so the same bytes can be
   * registered again later.
   */
  async takedown(
    hex: string,
    reason: string,
    now = Math.floor(Date.now() / 1000),
    opts: { block?: boolean } = {},
  ): Promise<{ removed: boolean; hashes: string[] }> {
    const t = this.byHash.get(hex);
    if (!t && opts.block === false) return { removed: false, hashes: [] };
    const forms = t ? t.hashes : hex.length === 64 ? [hex, hex.slice(0, 40)] : [hex];
    const owner = t ? t.row.infoHash : hex;
    const data = t ? this.store.torrentData(t.row.infoHash) : undefined;
    if (t) this.store.delete(t.row.infoHash);
    const added = opts.block === false ? [] : forms.filter((h) => !this.blockedHashes.has(h));
    for (const h of added) this.store.block(h, owner, reason, now);
    try {
      await this.store.save();
    } catch (err) {
      for (const h of added) this.store.unblock(h);
      if (t) this.store.upsert(t.row, data);
      throw new RegistryError(500, `could not save the registry: ${(err as Error).message}`);
    }
    for (const h of added) this.blockedHashes.add(h);
    if (t) {
      this.unindex(t);
      t.swarm.clear();
    }
    return { removed: t !== undefined, hashes: forms };
  }

  /** Writes changed completion counts to the database file. */
  async flushCompletions(): Promise<void> {
    if (this.dirty.size === 0) return;
    const changed = [...this.dirty];
    this.dirty.clear();
    this.store.setCompletions(changed.map((t) => [t.row.infoHash, t.swarm.downloaded] as [string, number]));
    for (const t of changed) t.row.completions = t.swarm.downloaded;
    await this.store.save();
  }
}
