// The catalog file: every entry we hold (tombstones included), sorted by (publisher, name), as signed records in one
// bencoded dictionary, brotli-compressed. Same entries give the same bytes, so every node holding the same catalog
// seeds the same torrent. Reading is bounded (compressed size, expanded size, records, depth) by the one strict bencode
// reader, record by record as the file decompresses: a catalog over any limit is refused whole, as soon as it passes it.
import bencode from 'bencode';
import { readKey, readValue, strictReader, type BValue } from '../shared/bencode-strict.js';
import { brotliCompressSync, brotliDecompressSync, constants, createBrotliDecompress } from 'node:zlib';
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

/**
 * The signed records in a catalog file, unverified (merge checks each one). Throws CatalogFileError. Reads a file
 * already in memory: brotli stops at MAX_CATALOG_EXPANDED, then the records are read bounded. For catalogs from the
 * network, decodeCatalogStream holds far less: it reads records while decompressing and stops at the first limit.
 */
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

/**
 * decodeCatalog as a stream: brotli output is read record by record as it comes (64 KiB at a time), and
 * decompression stops at the first limit passed: an expansion bomb of millions of empty records is refused after
 * the first MAX_CATALOG_ENTRIES of them (about 2 MB of output), whatever it would expand to.
 */
export function decodeCatalogStream(file: Uint8Array): Promise<Uint8Array[]> {
  if (file.length > MAX_CATALOG_BYTES) {
    return Promise.reject(new CatalogFileError(`catalog is ${file.length} bytes, over the limit`));
  }
  return new Promise((resolve, reject) => {
    const reader = new CatalogReader();
    const z = createBrotliDecompress({ chunkSize: 64 * 1024 });
    let expanded = 0;
    let failed = false;
    const stop = (err: unknown) => {
      if (failed) return;
      failed = true;
      z.destroy();
      reject(err instanceof CatalogFileError ? err : new CatalogFileError('catalog is not brotli-compressed'));
    };
    z.on('data', (chunk: Buffer) => {
      if (failed) return;
      try {
        expanded += chunk.length;
        if (expanded > MAX_CATALOG_EXPANDED) throw new CatalogFileError('catalog expands beyond the size limit');
        reader.push(chunk);
      } catch (err) {
        stop(err);
      }
    });
    z.on('error', stop);
    z.on('end', () => {
      if (failed) return;
      try {
        resolve(reader.finish());
      } catch (err) {
        stop(err);
      }
    });
    z.end(file);
  });
}

const fail = (message: string): never => {
  throw new CatalogFileError(message);
};

/** Reads a whole decompressed catalog (bounded like the stream: one window holding everything). */
export function readCatalog(raw: Uint8Array): Uint8Array[] {
  const reader = new CatalogReader();
  reader.push(raw);
  return reader.finish();
}

/** A list item cut by a window's end is carried to the next window; one larger than this refuses the catalog. */
const MAX_ITEM_BYTES = 1024 * 1024;
/** List items inside `entries` may nest this deep (a non-string record is read, then counted as malformed). */
const ITEM_LIMITS = { maxDepth: 3, what: 'catalog', fail };

/**
 * The catalog's top-level dictionary read in windows of decompressed bytes, with the one strict bencode reader
 * (src/shared/bencode-strict.ts) for every key and value: `entries` item by item (counted against
 * MAX_CATALOG_ENTRIES as they come), other keys whole. An item cut by the end of a window is read again once the
 * next window arrives; records are views into the windows (no copies).
 */
export class CatalogReader {
  private carry?: Uint8Array;
  private state: 'start' | 'keys' | 'entries' | 'done' = 'start';
  private readonly keys = new Set<string>();
  private readonly values = new Map<string, BValue>();
  private readonly records: Uint8Array[] = [];

  push(chunk: Uint8Array): void {
    this.read(this.carry ? Buffer.concat([this.carry, chunk]) : chunk, false);
  }

  finish(): Uint8Array[] {
    this.read(this.carry ?? new Uint8Array(0), true);
    const format = this.values.get('format');
    const formatText = format instanceof Uint8Array ? Buffer.from(format).toString() : undefined;
    if (formatText !== CATALOG_FORMAT || this.values.get('version') !== CATALOG_VERSION || !this.keys.has('entries')) {
      throw new CatalogFileError('not a Silmaril catalog (format/version/entries)');
    }
    return this.records;
  }

  private read(buf: Uint8Array, final: boolean): void {
    this.carry = undefined;
    const r = strictReader(buf, ITEM_LIMITS);
    const end = buf.length;
    let itemStart = 0;
    try {
      for (;;) {
        itemStart = r.pos;
        if (this.state === 'done') {
          if (r.pos < end) fail(`malformed bencode: ${end - r.pos} trailing bytes after the data`);
          return;
        }
        if (r.pos >= end) {
          if (final) fail('truncated catalog: unexpected end of data');
          return;
        }
        const c = buf[r.pos];
        if (this.state === 'start') {
          if (c !== 0x64) fail('not a Silmaril catalog (not a dictionary)');
          r.pos++;
          this.state = 'keys';
        } else if (this.state === 'keys') {
          if (c === 0x65) {
            r.pos++;
            this.state = 'done';
            continue;
          }
          const key = readKey(r, end);
          if (this.keys.has(key)) fail(`malformed bencode: duplicate dictionary key ${JSON.stringify(key)}`);
          if (key === 'entries') {
            if (r.pos >= end) {
              if (final) fail('truncated catalog: unexpected end of data');
              break;
            }
            if (buf[r.pos] !== 0x6c) fail('not a Silmaril catalog (entries is not a list)');
            r.pos++;
            this.keys.add(key);
            this.state = 'entries';
          } else {
            const v = readValue(r, end, 1);
            this.keys.add(key);
            this.values.set(key, v);
          }
        } else {
          if (c === 0x65) {
            r.pos++;
            this.state = 'keys';
            continue;
          }
          const v = readValue(r, end, 2);
          if (this.records.length >= MAX_CATALOG_ENTRIES) {
            fail(`catalog holds more than ${MAX_CATALOG_ENTRIES} entries`);
          }
          // Non-string items are passed through as empty records so merge counts them as malformed.
          this.records.push(v instanceof Uint8Array ? v : new Uint8Array(0));
        }
      }
    } catch (err) {
      // Cut by the window's end: read it again with the next window (a key and its `l` are re-read together).
      const cut = err instanceof CatalogFileError && /truncated|unterminated|bad string length/.test(err.message);
      if (!final && cut && end - itemStart < MAX_ITEM_BYTES) {
        this.carry = buf.subarray(itemStart);
        return;
      }
      throw err;
    }
    // Reached only by the `break` above (an `entries` key whose list had not begun): read it again next window.
    this.carry = buf.subarray(itemStart);
  }
}
