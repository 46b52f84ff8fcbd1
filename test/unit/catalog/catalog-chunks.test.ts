// Version 2 catalog files (docs/protocols.md, "Catalog file"): independently compressed chunks, so a catalog that
// grew is read by inflating only its new chunks; old (version 1) files still read; the limits still refuse whole.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import bencode from 'bencode';
import { brotliCompressSync } from 'node:zlib';
import { Catalog } from '../../../src/catalog/catalog.js';
import {
  catalogChunks,
  CatalogFileError,
  decodeCatalog,
  decodeCatalogStream,
  encodeCatalog,
  encodeCatalogV1,
  isChunkedCatalog,
  MAX_CATALOG_CHUNKS,
  MAX_CHUNK_EXPANDED,
  MAX_CHUNK_RECORDS,
  readCatalogFile,
} from '../../../src/catalog/catalog-file.js';
import type { CatalogEntry } from '../../../src/catalog/entry.js';
import { Identity } from '../../../src/catalog/identity.js';
import { makeEntry } from './helpers.js';

// A fixed key: chunk boundaries follow the records' bytes, and with a random key a 3,000-entry feed fell in one chunk
// about once in 300 runs. With this key every run cuts the same chunks.
const alice = new Identity(new Uint8Array(32).fill(7));
const hexOf = (rs: Uint8Array[]) => rs.map((r) => Buffer.from(r).toString('hex'));
const sortedHex = (rs: Uint8Array[]) => hexOf(rs).sort();
/** `count` entries of one publisher, created one second apart from `from` on (a feed that grows over time). */
const feed = (count: number, from = 0): CatalogEntry[] =>
  Array.from({ length: count }, (_, i) =>
    makeEntry(alice, `acme/m${from + i}`, 1, { created: 1_700_000_000 + from + i }),
  );
/** A version 2 frame around raw chunk bytes (for hostile files). */
const frame = (chunks: Uint8Array[], extra: Record<string, unknown> = {}) =>
  new Uint8Array(bencode.encode({ chunks, format: 'silmaril-catalog', version: 2, ...extra }));

// One shared catalog for the tests below (signing thousands of entries is the slow part).
const base = feed(3000);
const newer = feed(100, 3000);

test('version 2 catalog files: every record reads back, canonical bytes, oldest first, in bounded chunks', async () => {
  const file = encodeCatalog(base);
  assert.ok(isChunkedCatalog(file));
  assert.deepEqual(Buffer.from(encodeCatalog([...base].reverse())), Buffer.from(file), 'same entries, same bytes');
  const records = decodeCatalog(file);
  assert.deepEqual(hexOf(records), hexOf(base.map((e) => e.record)), 'oldest first');
  assert.deepEqual(hexOf(await decodeCatalogStream(file)), hexOf(records));
  const read = await readCatalogFile(file);
  assert.deepEqual(hexOf(read.records), hexOf(records));
  const chunks = catalogChunks(file);
  assert.ok(chunks.length >= 2, `${chunks.length} chunks`);
  assert.equal(read.chunks.length, chunks.length);
  assert.equal(
    read.chunks.reduce((n, c) => n + c.records, 0),
    base.length,
  );
  for (const c of read.chunks) assert.ok(c.records <= MAX_CHUNK_RECORDS);
  assert.deepEqual(decodeCatalog(encodeCatalog([])), []);
});

test('version 1 catalog files (what older nodes publish) still read through every path', async () => {
  const v1 = encodeCatalogV1(base.slice(0, 50));
  assert.ok(!isChunkedCatalog(v1));
  const want = sortedHex(base.slice(0, 50).map((e) => e.record));
  assert.deepEqual(sortedHex(decodeCatalog(v1)), want);
  assert.deepEqual(sortedHex(await decodeCatalogStream(v1)), want);
  const read = await readCatalogFile(v1);
  assert.deepEqual(sortedHex(read.records), want);
  assert.deepEqual(read.chunks, []);
});

test('a catalog that grew keeps its old chunks: only the new ones are inflated', async () => {
  const before = catalogChunks(encodeCatalog(base)).map((c) => c.digest);
  const grown = encodeCatalog([...base, ...newer]);
  const after = catalogChunks(grown).map((c) => c.digest);
  // Every chunk but the last one of the old file is in the new file byte for byte.
  const kept = before.slice(0, -1).filter((d) => after.includes(d));
  assert.equal(kept.length, before.length - 1);
  const counts = new Map((await readCatalogFile(encodeCatalog(base))).chunks.map((c) => [c.digest, c.records]));
  const read = await readCatalogFile(grown, (d) => counts.get(d));
  assert.equal(read.skipped.chunks, before.length - 1);
  assert.ok(read.chunks.length <= 2, `${read.chunks.length} chunks inflated`);
  // The records read are the new ones plus the rest of the old last chunk, nothing else.
  const got = new Set(hexOf(read.records));
  for (const e of newer) assert.ok(got.has(Buffer.from(e.record).toString('hex')));
  assert.equal(read.records.length + read.skipped.records, base.length + newer.length);

  // An entry replaced in the middle (a new version, same age) changes only the chunk it is in.
  const changed = [...base];
  changed[1500] = makeEntry(alice, 'acme/m1500', 2, { created: 1_700_000_000 + 1500 });
  const moved = catalogChunks(encodeCatalog(changed)).map((c) => c.digest);
  assert.equal(moved.filter((d) => !before.includes(d)).length, 1);
});

test('version 2 limits: bombs, junk chunks and frames are refused whole with a CatalogFileError', async () => {
  const rec = Buffer.from(base[0].record);
  const list = (n: number) =>
    Buffer.concat([
      Buffer.from('l'),
      ...Array(n)
        .fill(Buffer.from(`${rec.length}:`))
        .flatMap((p) => [p, rec]),
      Buffer.from('e'),
    ]);
  const ok = brotliCompressSync(list(3));
  assert.equal(decodeCatalog(frame([ok])).length, 3);
  const refused = async (file: Uint8Array, why: RegExp) => {
    assert.throws(
      () => decodeCatalog(file),
      (err: Error) => err instanceof CatalogFileError && why.test(err.message),
    );
    await assert.rejects(
      readCatalogFile(file),
      (err: Error) => err instanceof CatalogFileError && why.test(err.message),
    );
  };
  // A chunk that expands past its cap (zeros compress ~1000:1): refused, not inflated to the end.
  const zeros = brotliCompressSync(Buffer.concat([Buffer.from('l'), Buffer.alloc(MAX_CHUNK_EXPANDED + 1, 0x30)]));
  await refused(frame([zeros]), /expands beyond/);
  await refused(frame([Buffer.from('not brotli')]), /not brotli/);
  await refused(frame([brotliCompressSync(Buffer.from('d1:ai1ee'))]), /not a list/);
  await refused(frame([brotliCompressSync(Buffer.from('l3:abc'))]), /truncated|unterminated/);
  await refused(frame([brotliCompressSync(Buffer.from('l3:abcexx'))]), /trailing/);
  await refused(frame([brotliCompressSync(Buffer.from(`l${'l'.repeat(50)}`))]), /nested deeper/);
  await refused(frame([ok], { version: 3 }), /format\/version/);
  await refused(frame([ok], { format: 'other' }), /format\/version/);
  await refused(new Uint8Array(Buffer.concat([Buffer.from(frame([ok])), Buffer.from('x')])), /trailing/);
  // A frame of chunks-in-lists (depth) or a chunk that is not a string.
  await refused(
    new Uint8Array(bencode.encode({ chunks: [[ok]], format: 'silmaril-catalog', version: 2 })),
    /nested deeper|not a string/,
  );
  await refused(
    new Uint8Array(bencode.encode({ chunks: [7], format: 'silmaril-catalog', version: 2 })),
    /not a string/,
  );
  // Too many chunks: refused while reading the frame, before any is inflated.
  const tiny = brotliCompressSync(Buffer.from('le'));
  await refused(frame(Array(MAX_CATALOG_CHUNKS + 10).fill(tiny)), /more than/);
  // Items that are not strings come through as empty records (merge counts them as malformed).
  assert.deepEqual(
    decodeCatalog(frame([brotliCompressSync(Buffer.from('li1eli2eee'))])).map((r) => r.length),
    [0, 0],
  );
});

test('Catalog.ingestFile: a grown catalog merges only its new chunks; the memory of chunks is saved with the store', async () => {
  const home = mkdtempSync(join(tmpdir(), 'silmaril-chunks-'));
  try {
    const c = await Catalog.open({ home });
    const first = await c.ingestFile(
      encodeCatalog(base),
      { id: 'dht:alice', kind: 'dht' },
      { publisher: alice.publisher },
    );
    assert.equal(first.stats.added, base.length);
    assert.equal(first.skipped.chunks, 0);
    await c.save();
    c.close();

    // Another process (or a restart) reads the grown catalog: only the new chunks are parsed and verified.
    const c2 = await Catalog.open({ home });
    const grown = encodeCatalog([...base, ...newer]);
    const second = await c2.ingestFile(grown, { id: 'dht:alice', kind: 'dht' }, { publisher: alice.publisher });
    assert.equal(second.stats.added, newer.length);
    assert.equal(second.stats.seen, base.length + newer.length);
    assert.ok(second.skipped.chunks >= 1);
    assert.ok(second.stats.unchanged >= second.skipped.records);
    assert.equal(c2.store.getSource('dht:alice')!.entries, base.length + newer.length);
    assert.equal(c2.search({ text: 'm3050' }).total, 1);
    // The same file again: nothing inflated at all.
    const third = await c2.ingestFile(grown, { id: 'dht:alice', kind: 'dht' }, { publisher: alice.publisher });
    assert.equal(third.skipped.records, base.length + newer.length);
    assert.equal(third.stats.added + third.stats.updated, 0);
    // Chunks merged for one publisher's feed are not taken as merged for another feed (its records may have been
    // foreign there): read again, screened, nothing new.
    const bob = Identity.generate();
    const other = await c2.ingestFile(grown, { id: 'dht:bob', kind: 'dht' }, { publisher: bob.publisher });
    assert.equal(other.skipped.chunks, 0);
    assert.equal(other.stats.added, 0);
    c2.close();
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
