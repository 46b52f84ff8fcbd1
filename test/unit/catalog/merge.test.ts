// The merge rule and the poisoning cases: nothing a node knows is lost to a bad, old, empty, huge or junk source.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import bencode from 'bencode';
import { brotliCompressSync } from 'node:zlib';
import { Catalog } from '../../../src/catalog/catalog.js';
import {
  CatalogFileError,
  decodeCatalog,
  encodeCatalog,
  encodeCatalogV1,
  MAX_CATALOG_BYTES,
} from '../../../src/catalog/catalog-file.js';
import { Identity } from '../../../src/catalog/identity.js';
import { EntryIndex } from '../../../src/catalog/merge.js';
import { makeEntry } from './helpers.js';

const alice = Identity.generate();
const bob = Identity.generate();

test('union keyed by (publisher, name): the higher seq wins, the same name from two publishers is two entries', () => {
  const idx = new EntryIndex();
  const r1 = idx.merge([makeEntry(alice, 'acme/m', 1).record, makeEntry(bob, 'acme/m', 1).record]);
  assert.equal(r1.stats.added, 2);
  const r2 = idx.merge([makeEntry(alice, 'acme/m', 2, { size: 2 }).record]);
  assert.equal(r2.stats.updated, 1);
  assert.equal(idx.get(alice.publisher, 'acme/m')!.size, 2);
  assert.equal(idx.get(bob.publisher, 'acme/m')!.size, 1000);
});

test('a replayed older seq is ignored and counted stale; a re-sent entry is unchanged', () => {
  const idx = new EntryIndex();
  const old = makeEntry(alice, 'acme/m', 1);
  const cur = makeEntry(alice, 'acme/m', 5);
  idx.merge([cur.record]);
  const r = idx.merge([old.record, cur.record]);
  assert.equal(r.stats.stale, 1);
  assert.equal(r.stats.unchanged, 1);
  assert.equal(r.changed.length, 0);
  assert.equal(idx.get(alice.publisher, 'acme/m')!.seq, 5);
});

test('a higher seq with a bad signature is dropped and counted, and the good entry stays', () => {
  const idx = new EntryIndex();
  idx.merge([makeEntry(alice, 'acme/m', 1).record]);
  const forged = makeEntry(alice, 'acme/m', 9);
  const { e, s } = bencode.decode(forged.record);
  s[10] ^= 0xff;
  const r = idx.merge([bencode.encode({ e, s })]);
  assert.equal(r.stats.dropped.signature, 1);
  assert.equal(idx.get(alice.publisher, 'acme/m')!.seq, 1);
  // A held entry's signature on other words (a record we hold is recognised by its signature first): not taken
  // for the held one, checked, dropped.
  const held = idx.get(alice.publisher, 'acme/m')!;
  const heldSig = bencode.decode(held.record).s;
  const swapped = bencode.encode({ e: bencode.decode(makeEntry(alice, 'acme/m', 9).record).e, s: heldSig });
  const r3 = idx.merge([swapped]);
  assert.equal(r3.stats.unchanged, 0);
  assert.equal(r3.stats.dropped.signature, 1);
  assert.equal(idx.get(alice.publisher, 'acme/m')!.seq, 1);
});

test('equal seq, different content: every node keeps the same one, whatever the order', () => {
  const a = makeEntry(alice, 'acme/m', 3, { size: 10 });
  const b = makeEntry(alice, 'acme/m', 3, { size: 20 });
  const x = new EntryIndex();
  x.merge([a.record, b.record]);
  const y = new EntryIndex();
  y.merge([b.record, a.record]);
  assert.equal(x.get(alice.publisher, 'acme/m')!.size, y.get(alice.publisher, 'acme/m')!.size);
});

test('a tombstone withdraws a model everywhere it merges, and the withdrawn entry cannot come back', async () => {
  const cat = await Catalog.open({ identity: alice });
  cat.publish({ name: 'acme/gone', v1: 'a'.repeat(40), size: 5, files: 1, license: 'mit' });
  assert.equal(cat.search({ text: 'gone' }).total, 1);
  const stale = cat.ownEntries()[0].record;
  cat.withdraw('acme/gone');
  const other = await Catalog.open();
  other.ingest([stale], { id: 'x', kind: 'test' });
  assert.equal(other.search({ text: 'gone' }).total, 1);
  other.ingest(decodeCatalog(cat.catalogFile()), { id: 'y', kind: 'test' });
  assert.equal(other.search({ text: 'gone' }).total, 0);
  other.ingest([stale], { id: 'x', kind: 'test' });
  assert.equal(other.search({ text: 'gone' }).total, 0);
  cat.close();
  other.close();
});

test('poisoning and loss: empty, oversized, junk and hostile catalogs lose nothing C knew', async () => {
  const c = await Catalog.open();
  const known = [makeEntry(alice, 'acme/one'), makeEntry(bob, 'bob/two')];
  c.ingest(decodeCatalog(encodeCatalog(known)), { id: 'dht:alice', kind: 'dht' });
  assert.equal(c.search().total, 2);

  // A pointer to an empty catalog (the Go network's reset-to-empty fault).
  c.ingest(decodeCatalog(encodeCatalog([])), { id: 'dht:alice', kind: 'dht' });
  assert.equal(c.search().total, 2);

  // A catalog that shrank to one entry.
  c.ingest(decodeCatalog(encodeCatalog([known[0]])), { id: 'dht:index', kind: 'dht' });
  assert.equal(c.search().total, 2);

  // An oversized catalog is refused whole, before decompression.
  assert.throws(() => decodeCatalog(new Uint8Array(MAX_CATALOG_BYTES + 1)), CatalogFileError);
  // A compression bomb stops at the expansion limit.
  const bomb = brotliCompressSync(Buffer.alloc(300 * 1024 * 1024));
  assert.throws(() => decodeCatalog(bomb), /expands beyond/);
  // Not a catalog at all.
  assert.throws(() => decodeCatalog(brotliCompressSync(bencode.encode({ format: 'other', version: 1, entries: [] }))));

  // A catalog full of junk: garbage records, a forged version of a known entry, a replay, a non-string.
  const forged = makeEntry(alice, 'acme/one', 7);
  const { e, s } = bencode.decode(forged.record);
  s[0] ^= 1;
  const junkFile = brotliCompressSync(
    bencode.encode({
      format: 'silmaril-catalog',
      version: 1,
      entries: [
        new Uint8Array([1, 2, 3]),
        bencode.encode({ e, s }),
        bencode.encode({ e: bencode.encode({ name: 'x' }), s: new Uint8Array(64) }),
        new Uint8Array(5000),
        42,
      ],
    }),
  );
  const r = c.ingest(decodeCatalog(junkFile), { id: 'dht:junk', kind: 'dht' });
  assert.equal(r.stats.added + r.stats.updated, 0);
  assert.equal(r.stats.dropped.signature, 1);
  assert.equal(r.stats.dropped.oversized, 1);
  assert.equal(r.stats.dropped.malformed, 3);
  assert.equal(c.store.getSource('dht:junk')!.dropped, 5);
  const names = c.search().entries.map((x) => x.name);
  assert.deepEqual(names, ['acme/one', 'bob/two']);
  assert.equal(c.index.get(alice.publisher, 'acme/one')!.seq, 1);
  c.close();
});

test('catalog files are canonical: the same entries in any order give the same bytes', () => {
  const es = [makeEntry(alice, 'a/x'), makeEntry(bob, 'b/y'), makeEntry(alice, 'a/z')];
  assert.deepEqual(Buffer.from(encodeCatalog(es)), Buffer.from(encodeCatalog([...es].reverse())));
  // Read back record for record, by the fast path (canonical layout) and by the generic one (keys in another order).
  const sorted = [...es].sort((a, b) => (a.publisher + a.name < b.publisher + b.name ? -1 : 1)).map((e) => e.record);
  const read = (f: Uint8Array) => decodeCatalog(f).map((r) => Buffer.from(r).toString('hex'));
  const hexes = sorted.map((r) => Buffer.from(r).toString('hex'));
  // Version 2 (same created time here: then key order); version 1 is sorted by key.
  assert.deepEqual(read(encodeCatalog(es)), hexes);
  assert.deepEqual(Buffer.from(encodeCatalogV1(es)), Buffer.from(encodeCatalogV1([...es].reverse())));
  assert.deepEqual(read(encodeCatalogV1(es)), hexes);
  const generic = Buffer.concat([
    Buffer.from('d6:format16:silmaril-catalog7:versioni1e7:entriesl'),
    ...sorted.map((r) => Buffer.concat([Buffer.from(`${r.length}:`), r])),
    Buffer.from('ee'),
  ]);
  assert.deepEqual(read(brotliCompressSync(generic)), hexes);
  assert.deepEqual(decodeCatalog(encodeCatalog([])), []);
});

test('mergeAsync tells each applied batch what is still to come and whether it is still being verified', async () => {
  // 8192 candidates a batch: three batches, the last of 100.
  const records = Array.from({ length: 2 * 8192 + 100 }, (_, i) => makeEntry(alice, `outlook/m${i}`).record);
  const calls: ((ok: boolean[]) => void)[] = [];
  const outlooks: { candidates: number; verifying: boolean }[] = [];
  const index = new EntryIndex();
  const merging = index.mergeAsync(
    records,
    (jobs) => new Promise<boolean[]>((resolve) => calls.push(() => resolve(jobs.map(() => true)))),
    {},
    (_entries, _fresh, next) => outlooks.push(next),
  );
  await new Promise((r) => setImmediate(r));
  assert.equal(calls.length, 3);
  calls[0]([]);
  await new Promise((r) => setImmediate(r));
  // The first batch is applied while the second is still out.
  const total = records.length;
  assert.deepEqual(outlooks, [{ candidates: 8192 + 100, total, verifying: true }]);
  calls[1]([]);
  calls[2]([]);
  const result = await merging;
  assert.deepEqual(outlooks.slice(1), [
    { candidates: 100, total, verifying: false },
    { candidates: 0, total, verifying: false },
  ]);
  assert.equal(result.stats.added, records.length);
  assert.equal(typeof result.verifiedAt, 'number');
});

test('mergeAsync keeps its last batch small: what waits for the last verdict is little', async () => {
  const records = Array.from({ length: 8192 + 5000 }, (_, i) => makeEntry(bob, `tail/m${i}`).record);
  const sizes: number[] = [];
  const result = await new EntryIndex().mergeAsync(records, async (jobs) => {
    sizes.push(jobs.length);
    return jobs.map(() => true);
  });
  assert.deepEqual(sizes, [8192, 5000 - 2048, 2048]);
  assert.equal(result.stats.added, records.length);
});
