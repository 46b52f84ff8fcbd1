// The catalog file: every entry we hold (tombstones included), sorted by (publisher, name), as signed records in one
// bencoded dictionary, brotli-compressed. Same entries give the same bytes, so every node holding the same catalog
// seeds the same torrent. Reading is bounded (compressed size, expanded size, records, depth) by the one strict bencode
// reader: a catalog over any limit is refused whole, with memory bounded by the expanded-size cap.
import bencode from 'bencode';
import { BDict, decodeStrict, type BValue } from '../shared/bencode-strict.js';
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
    // maxOutputLength stops the decompressor as soon as its output passes the cap (it does not inflate, then check).
    raw = brotliDecompressSync(file, { maxOutputLength: MAX_CATALOG_EXPANDED });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE') throw new CatalogFileError('catalog expands beyond the size limit');
    throw new CatalogFileError('catalog is not brotli-compressed');
  }
  return readCatalog(raw);
}

const fail = (message: string): never => {
  throw new CatalogFileError(message);
};

/**
 * Reads the decompressed catalog with the strict reader, bounded: at most MAX_CATALOG_ENTRIES records (plus the few
 * values around them) are read before it refuses, so an expansion bomb of millions of empty records costs a
 * counter, not an object each; nesting is at most 3 deep. Records are views into `raw` (no copies).
 */
export function readCatalog(raw: Uint8Array): Uint8Array[] {
  const limits = { maxDepth: 3, maxItems: MAX_CATALOG_ENTRIES + 16, what: 'catalog', fail };
  let top: BValue;
  try {
    top = decodeStrict(raw, limits);
  } catch (err) {
    if (err instanceof CatalogFileError && /more than \d+ values/.test(err.message)) {
      throw new CatalogFileError(`catalog holds more than ${MAX_CATALOG_ENTRIES} entries`);
    }
    throw err instanceof CatalogFileError ? err : new CatalogFileError('catalog is not bencode');
  }
  const format = top instanceof BDict ? top.get('format') : undefined;
  const entries = top instanceof BDict ? top.get('entries') : undefined;
  const formatText = format instanceof Uint8Array ? Buffer.from(format).toString() : undefined;
  if (formatText !== CATALOG_FORMAT || (top as BDict).get('version') !== CATALOG_VERSION || !Array.isArray(entries)) {
    throw new CatalogFileError('not a Silmaril catalog (format/version/entries)');
  }
  if (entries.length > MAX_CATALOG_ENTRIES) throw new CatalogFileError(`catalog holds ${entries.length} entries`);
  // Non-string items are passed through as empty records so merge counts them as malformed.
  return entries.map((r) => (r instanceof Uint8Array ? r : new Uint8Array(0)));
}
