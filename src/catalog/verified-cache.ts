// Signed records whose signature this home has verified, by the SHA-256 of the whole record (body, signature and the
// publisher key inside the body): a record seen again with exactly these bytes needs no second ed25519 verify (~100 us
// each). The merge index already skips records identical to the entries it holds; this also covers what it does not
// hold: a store rebuilt or migrated from its catalog files, two overlapping catalogs merged at once, a record that
// lost to another version in the same merge. Kept beside the store (`<home>/verified.bin`, 16 bytes a record:
// second-preimage resistance of 128 bits) and saved with it. A fresh home starts empty: everything is verified.
import * as nodeCrypto from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../shared/atomic-file.js';

/** Bytes of the digest kept per record. */
const DIGEST_BYTES = 16;
/** Records remembered at most (16 MB on disk); past it the oldest half is forgotten (they are verified again). */
export const MAX_VERIFIED = 1_000_000;
export const VERIFIED_FILE = 'verified.bin';

// crypto.hash (Node >= 20.12) is one call instead of three (half the time); the editor's Node may be older.
const oneShot = (nodeCrypto as { hash?: (alg: string, data: Uint8Array, enc: 'buffer') => Buffer }).hash;

/** The digest a record is remembered by, as a 16-character latin1 string (a compact Set key). */
export function recordDigest(record: Uint8Array): string {
  const d = oneShot ? oneShot('sha256', record, 'buffer') : nodeCrypto.createHash('sha256').update(record).digest();
  return d.toString('latin1', 0, DIGEST_BYTES);
}

export class VerifiedCache {
  private digests = new Set<string>();
  private dirty = false;

  private constructor(readonly path: string | undefined) {}

  /** Reads `path` (missing or unreadable: empty, which only costs verifies); no path keeps it in memory. */
  static async open(path?: string): Promise<VerifiedCache> {
    const cache = new VerifiedCache(path);
    if (!path) return cache;
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch {
      return cache;
    }
    const n = Math.min(Math.floor(bytes.length / DIGEST_BYTES), MAX_VERIFIED);
    for (let i = 0; i < n; i++) cache.digests.add(bytes.toString('latin1', i * DIGEST_BYTES, (i + 1) * DIGEST_BYTES));
    return cache;
  }

  get size(): number {
    return this.digests.size;
  }

  has(digest: string): boolean {
    return this.digests.has(digest);
  }

  /** Remembers records whose signature was just found valid (never call it for anything else). */
  add(digest: string): void {
    if (this.digests.has(digest)) return;
    if (this.digests.size >= MAX_VERIFIED) {
      // Sets iterate in insertion order: forget the oldest half.
      const keep = [...this.digests].slice(MAX_VERIFIED / 2);
      this.digests = new Set(keep);
    }
    this.digests.add(digest);
    this.dirty = true;
  }

  /** Writes the file atomically when something was added. */
  async save(): Promise<void> {
    if (!this.path || !this.dirty) return;
    const out = Buffer.allocUnsafe(this.digests.size * DIGEST_BYTES);
    let at = 0;
    for (const d of this.digests) at += out.write(d, at, 'latin1');
    this.dirty = false;
    await writeFileAtomic(this.path, out);
  }
}
