// The catalog file: every entry we hold (tombstones included), sorted by (publisher, name), as signed records in one
// bencoded dictionary, brotli-compressed. Same entries give the same bytes, so every node holding the same catalog
// seeds the same torrent. Reading is bounded: a catalog too large compressed or expanded is refused whole.
import bencode from 'bencode';
import { brotliCompressSync, brotliDecompressSync, constants } from 'node:zlib';
import type { CatalogEntry } from './entry.js';

export const CATALOG_FORMAT = 'silmaril-catalog';
export const CATALOG_VERSION = 1;
export const CATALOG_FILE_NAME = 'catalog.bin';
/** Compressed bytes accepted from the network. */
export const MAX_CATALOG_BYTES = 64 * 1024 * 1024;
/** Decompressed bytes accepted (brotli stops there instead of filling memory). */
export const MAX_CATALOG_EXPANDED = 256 * 1024 * 1024;
export const MAX_CATALOG_ENTRIES = 1_000_000;

export class CatalogFileError extends Error {
  override name = 'CatalogFileError';
}

/** Builds the catalog file from entries (sorted here, whatever order they come in). */
export function encodeCatalog(entries: Iterable<CatalogEntry>): Uint8Array {
  const list = [...entries].sort((a, b) => compareKeys(a, b)).map((e) => e.record);
  const raw = bencode.encode({ entries: list, format: CATALOG_FORMAT, version: CATALOG_VERSION });
  // Quality 5: ~the size of quality 11 on this data (signatures and hashes do not compress) at a fraction of the time.
  return new Uint8Array(brotliCompressSync(raw, { params: { [constants.BROTLI_PARAM_QUALITY]: 5 } }));
}

function compareKeys(a: CatalogEntry, b: CatalogEntry): number {
  if (a.publisher !== b.publisher) return a.publisher < b.publisher ? -1 : 1;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** The signed records in a catalog file, unverified (merge checks each one). Throws CatalogFileError. */
export function decodeCatalog(file: Uint8Array): Uint8Array[] {
  if (file.length > MAX_CATALOG_BYTES) throw new CatalogFileError(`catalog is ${file.length} bytes, over the limit`);
  let raw: Buffer;
  try {
    raw = brotliDecompressSync(file, { maxOutputLength: MAX_CATALOG_EXPANDED });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE') throw new CatalogFileError('catalog expands beyond the size limit');
    throw new CatalogFileError('catalog is not brotli-compressed');
  }
  const fast = canonicalRecords(raw);
  if (fast) return fast;
  let d: any;
  try {
    d = bencode.decode(raw);
  } catch {
    throw new CatalogFileError('catalog is not bencode');
  }
  const format = d?.format instanceof Uint8Array ? Buffer.from(d.format).toString() : undefined;
  if (format !== CATALOG_FORMAT || d.version !== CATALOG_VERSION || !Array.isArray(d.entries)) {
    throw new CatalogFileError('not a Silmaril catalog (format/version/entries)');
  }
  if (d.entries.length > MAX_CATALOG_ENTRIES) throw new CatalogFileError(`catalog holds ${d.entries.length} entries`);
  // Non-string items are passed through as empty records so merge counts them as malformed.
  return d.entries.map((r: unknown) => (r instanceof Uint8Array ? r : new Uint8Array(0)));
}

const HEAD = Buffer.from('d7:entriesl');
const TAIL = Buffer.from(`e6:format${CATALOG_FORMAT.length}:${CATALOG_FORMAT}7:versioni${CATALOG_VERSION}ee`);

/**
 * The records of a catalog in exactly the form encodeCatalog writes, read as views into `raw` without decoding it
 * generically (bencode copies every string: ~1 s for 100,000 records). Anything else gives undefined and goes the
 * generic way, so the result never differs.
 */
function canonicalRecords(raw: Buffer): Uint8Array[] | undefined {
  if (raw.length < HEAD.length + TAIL.length || !raw.subarray(0, HEAD.length).equals(HEAD)) return undefined;
  const end = raw.length - TAIL.length;
  if (!raw.subarray(end).equals(TAIL)) return undefined;
  const records: Uint8Array[] = [];
  let i = HEAD.length;
  while (i < end) {
    const digits = i;
    let len = 0;
    while (i < end && raw[i] >= 0x30 && raw[i] <= 0x39 && i - digits < 9) len = len * 10 + raw[i++] - 0x30;
    if (i === digits || raw[i] !== 0x3a || (raw[digits] === 0x30 && i - digits > 1)) return undefined;
    const start = i + 1;
    if (start + len > end) return undefined;
    records.push(raw.subarray(start, start + len));
    if (records.length > MAX_CATALOG_ENTRIES) return undefined;
    i = start + len;
  }
  return i === end ? records : undefined;
}
