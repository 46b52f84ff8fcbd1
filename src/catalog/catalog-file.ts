// The catalog file: every entry we hold (tombstones included) as signed records. Same entries give the same bytes, so
// every node holding the same catalog seeds the same torrent. Two versions (docs/protocols.md, "Catalog file"):
// - version 2 (written): an uncompressed bencoded dictionary whose `chunks` list holds independently
//   brotli-compressed lists of records, oldest entries first and cut where the content says (below). A catalog that
//   grew keeps its old chunks byte for byte, so a reader that remembers the chunks it merged (by SHA-256) inflates and
//   parses only the new ones: an incremental update no longer costs a decompression of the whole catalog.
// - version 1 (still read): one bencoded dictionary, sorted by (publisher, name), brotli-compressed as a whole.
// Reading is bounded (compressed size, expanded size, records, chunks, depth) by the one strict bencode reader: a
// catalog over any limit is refused whole, as soon as it passes it.
import bencode from 'bencode';
import { createHash } from 'node:crypto';
import { decodeStrict, readKey, readValue, strictReader, BDict, type BValue } from '../shared/bencode-strict.js';
import {
  brotliCompressSync,
  brotliDecompress,
  brotliDecompressSync,
  constants,
  createBrotliDecompress,
} from 'node:zlib';
import type { CatalogEntry } from './entry.js';

export const CATALOG_FORMAT = 'silmaril-catalog';
/** The version written (encodeCatalog). Readers take 1 and 2. */
export const CATALOG_VERSION = 2;
export const CATALOG_VERSION_1 = 1;
export const CATALOG_FILE_NAME = 'catalog.bin';
/** Compressed bytes accepted from the network. */
export const MAX_CATALOG_BYTES = 64 * 1024 * 1024;
/** Decompressed bytes accepted (brotli stops there instead of filling memory). */
export const MAX_CATALOG_EXPANDED = 256 * 1024 * 1024;
export const MAX_CATALOG_ENTRIES = 1_000_000;

export class CatalogFileError extends Error {
  override name = 'CatalogFileError';
}

/** Version 2 chunks: no more records than this in one (a chunk boundary is forced). */
export const MAX_CHUNK_RECORDS = 4096;
/** ...and no fewer than this before a content-defined boundary may end one (the last chunk excepted). */
const MIN_CHUNK_RECORDS = 64;
/** A record whose signature hash is 0 modulo this ends a chunk: ~512 records (~75 KB compressed) per chunk. */
const CHUNK_DIVISOR = 512;
/** Decompressed bytes accepted from one chunk (MAX_CHUNK_RECORDS records of up to MAX_ENTRY_BYTES fit easily). */
export const MAX_CHUNK_EXPANDED = 16 * 1024 * 1024;
/** Chunks accepted in one catalog. */
export const MAX_CATALOG_CHUNKS = 65_536;
/** Quality 5: ~the size of quality 11 on this data (signatures and hashes do not compress) at a fraction of the time. */
const BROTLI = { params: { [constants.BROTLI_PARAM_QUALITY]: 5 } };

/**
 * Builds the catalog file (version 2) from entries, whatever order they come in. Records go oldest first (created,
 * then publisher and name), so new models land in the last chunks; a chunk ends after a record whose signature (random,
 * fixed by the record) hashes to 0 modulo CHUNK_DIVISOR, so an entry added or replaced in the middle changes only the
 * chunk it lands in, and the chunks after it keep their bytes.
 */
export function encodeCatalog(entries: Iterable<CatalogEntry>): Uint8Array {
  const list = [...entries].sort(compareAge);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i < list.length; i++) {
    const n = i + 1 - start;
    const last = i === list.length - 1;
    if (
      last ||
      n >= MAX_CHUNK_RECORDS ||
      (n >= MIN_CHUNK_RECORDS && boundaryHash(list[i].record) % CHUNK_DIVISOR === 0)
    ) {
      const raw = bencode.encode(list.slice(start, i + 1).map((e) => e.record));
      chunks.push(new Uint8Array(brotliCompressSync(raw, BROTLI)));
      start = i + 1;
    }
  }
  return new Uint8Array(bencode.encode({ chunks, format: CATALOG_FORMAT, version: CATALOG_VERSION }));
}

/** The version 1 file (one brotli stream, sorted by key): what nodes before version 2 publish and read. */
export function encodeCatalogV1(entries: Iterable<CatalogEntry>): Uint8Array {
  const list = [...entries].sort((a, b) => compareKeys(a, b)).map((e) => e.record);
  const raw = bencode.encode({ entries: list, format: CATALOG_FORMAT, version: CATALOG_VERSION_1 });
  return new Uint8Array(brotliCompressSync(raw, BROTLI));
}

function compareAge(a: CatalogEntry, b: CatalogEntry): number {
  if (a.created !== b.created) return a.created < b.created ? -1 : 1;
  return compareKeys(a, b);
}

/** 32 bits of the record's signature, its bytes 32-35 (a record ends `<64-byte signature>e`). */
function boundaryHash(record: Uint8Array): number {
  const i = record.length - 33;
  if (i < 0) return 1;
  return (record[i] | (record[i + 1] << 8) | (record[i + 2] << 16) | (record[i + 3] << 24)) >>> 0;
}

/** Version 2 files begin with these bytes (the canonical dictionary's first key); a version 1 file is brotli. */
const V2_PREFIX = Buffer.from('d6:chunksl');

export function isChunkedCatalog(file: Uint8Array): boolean {
  return file.length >= V2_PREFIX.length && Buffer.compare(file.subarray(0, V2_PREFIX.length), V2_PREFIX) === 0;
}

/** One compressed chunk of a version 2 file, named by the SHA-256 of its bytes. */
export interface CatalogChunk {
  digest: string;
  data: Uint8Array;
}

/** Reads a version 2 file's frame (not its chunks): bounded, strict, no decompression. Throws CatalogFileError. */
export function catalogChunks(file: Uint8Array): CatalogChunk[] {
  if (file.length > MAX_CATALOG_BYTES) throw new CatalogFileError(`catalog is ${file.length} bytes, over the limit`);
  const top = decodeStrict(file, { maxDepth: 2, maxItems: MAX_CATALOG_CHUNKS + 8, what: 'catalog', fail });
  if (!(top instanceof BDict)) fail('not a Silmaril catalog (not a dictionary)');
  const d = top as BDict;
  const format = d.get('format');
  const chunks = d.get('chunks');
  if (
    !(format instanceof Uint8Array) ||
    Buffer.from(format).toString() !== CATALOG_FORMAT ||
    d.get('version') !== CATALOG_VERSION ||
    !Array.isArray(chunks)
  ) {
    fail('not a Silmaril catalog (format/version/chunks)');
  }
  return (chunks as BValue[]).map((c) => {
    if (!(c instanceof Uint8Array)) return fail('not a Silmaril catalog (a chunk is not a string)');
    return { digest: createHash('sha256').update(c).digest('hex'), data: c };
  });
}

/** The records of one chunk, in order (items that are not strings come back empty: merge counts them malformed). */
export async function decodeChunk(chunk: Uint8Array, budget: { records: number } = { records: MAX_CATALOG_ENTRIES }) {
  const raw = await new Promise<Buffer>((resolve, reject) =>
    // Async: zlib's thread pool inflates, the event loop (an editor's extension host) stays free.
    brotliDecompress(chunk, { maxOutputLength: MAX_CHUNK_EXPANDED }, (err, out) => {
      if (!err) resolve(out);
      else if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        reject(new CatalogFileError('catalog chunk expands beyond the size limit'));
      } else reject(new CatalogFileError('catalog chunk is not brotli-compressed'));
    }),
  );
  return readChunk(raw, budget);
}

/** Reads a decompressed chunk, `l<record>...e`, counting records against the catalog's budget. */
export function readChunk(raw: Uint8Array, budget: { records: number }): Uint8Array[] {
  const r = strictReader(raw, ITEM_LIMITS);
  const end = raw.length;
  if (raw[0] !== 0x6c) fail('not a Silmaril catalog (a chunk is not a list)');
  r.pos = 1;
  const out: Uint8Array[] = [];
  for (;;) {
    if (r.pos >= end) fail('truncated catalog: unterminated chunk');
    if (raw[r.pos] === 0x65) break;
    const v = readValue(r, end, 1);
    if (--budget.records < 0) fail(`catalog holds more than ${MAX_CATALOG_ENTRIES} entries`);
    out.push(v instanceof Uint8Array ? v : new Uint8Array(0));
  }
  if (r.pos + 1 !== end) fail(`malformed bencode: ${end - r.pos - 1} trailing bytes after the data`);
  return out;
}

/** What readCatalogFile found: the records of the chunks read, and the chunks it skipped. */
export interface CatalogRead {
  records: Uint8Array[];
  /** Version 2: every chunk read, with its record count (to remember as seen once merged). */
  chunks: { digest: string; records: number }[];
  /** Chunks left unread because `seen` knew them, and the records they hold by its count. */
  skipped: { chunks: number; records: number };
}

/**
 * Reads a catalog file of either version. `seen(digest)` returns the record count of a chunk this node has merged
 * before (its records are already in the store): that chunk is not inflated. Version 1 files are read whole.
 */
export async function readCatalogFile(
  file: Uint8Array,
  seen: (digest: string) => number | undefined = () => undefined,
): Promise<CatalogRead> {
  if (!isChunkedCatalog(file)) {
    return { records: await decodeCatalogStream(file), chunks: [], skipped: { chunks: 0, records: 0 } };
  }
  const budget = { records: MAX_CATALOG_ENTRIES };
  const out: CatalogRead = { records: [], chunks: [], skipped: { chunks: 0, records: 0 } };
  for (const c of catalogChunks(file)) {
    const known = seen(c.digest);
    if (known !== undefined) {
      out.skipped.chunks++;
      out.skipped.records += known;
      continue;
    }
    const records = await decodeChunk(c.data, budget);
    for (const rec of records) out.records.push(rec);
    out.chunks.push({ digest: c.digest, records: records.length });
  }
  return out;
}

function compareKeys(a: CatalogEntry, b: CatalogEntry): number {
  if (a.publisher !== b.publisher) return a.publisher < b.publisher ? -1 : 1;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * The signed records in a catalog file (either version), unverified (merge checks each one). Throws CatalogFileError.
 * Reads a file already in memory: brotli stops at MAX_CATALOG_EXPANDED (version 1) or MAX_CHUNK_EXPANDED per chunk,
 * then the records are read bounded. For catalogs from the network, readCatalogFile holds far less and skips chunks
 * already merged.
 */
export function decodeCatalog(file: Uint8Array): Uint8Array[] {
  if (file.length > MAX_CATALOG_BYTES) throw new CatalogFileError(`catalog is ${file.length} bytes, over the limit`);
  if (isChunkedCatalog(file)) {
    const budget = { records: MAX_CATALOG_ENTRIES };
    const out: Uint8Array[] = [];
    for (const c of catalogChunks(file)) {
      let raw: Buffer;
      try {
        raw = brotliDecompressSync(c.data, { maxOutputLength: MAX_CHUNK_EXPANDED });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
          throw new CatalogFileError('catalog chunk expands beyond the size limit');
        }
        throw new CatalogFileError('catalog chunk is not brotli-compressed');
      }
      for (const rec of readChunk(raw, budget)) out.push(rec);
    }
    return out;
  }
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
 * decodeCatalog of a version 1 file as a stream: brotli output is read record by record as it comes (64 KiB at a time), and
 * decompression stops at the first limit passed: an expansion bomb of millions of empty records is refused after
 * the first MAX_CATALOG_ENTRIES of them (about 2 MB of output), whatever it would expand to.
 */
export function decodeCatalogStream(file: Uint8Array): Promise<Uint8Array[]> {
  if (file.length > MAX_CATALOG_BYTES) {
    return Promise.reject(new CatalogFileError(`catalog is ${file.length} bytes, over the limit`));
  }
  if (isChunkedCatalog(file)) return readCatalogFile(file).then((r) => r.records);
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
    // Version 1 only: version 2 is not one brotli stream (readCatalogFile tells them apart by their first bytes).
    if (
      formatText !== CATALOG_FORMAT ||
      this.values.get('version') !== CATALOG_VERSION_1 ||
      !this.keys.has('entries')
    ) {
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
