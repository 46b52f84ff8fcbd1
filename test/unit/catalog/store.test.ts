import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Catalog } from '../../../src/catalog/catalog.js';
import { Identity } from '../../../src/catalog/identity.js';
import { CatalogStore, ftsQuery } from '../../../src/catalog/store.js';
import { signEntry } from '../../../src/catalog/entry.js';
import { fingerprint } from '../../../src/catalog/identity.js';
import { loadSqlJs } from '../../../src/shared/sqljs.js';
import { makeEntry } from './helpers.js';

const alice = Identity.generate();
const bob = Identity.generate();

async function filled() {
  const c = await Catalog.open();
  c.ingest(
    [
      makeEntry(alice, 'meta-llama/Llama-3-8B', 1, {
        license: 'llama3',
        tags: ['llm', 'chat'],
        size: 16e9,
        created: 3,
      }),
      makeEntry(alice, 'acme/whisper-tiny', 1, {
        license: 'mit',
        tags: ['audio', 'asr'],
        size: 150e6,
        format: 'safetensors',
        description: 'Speech recognition for small devices',
        created: 1,
      }),
      makeEntry(bob, 'bob/llama-3-8b-gguf', 1, {
        license: 'llama3',
        tags: ['llm', 'gguf'],
        size: 4.9e9,
        format: 'gguf',
        quantization: 'Q4_K_M',
        created: 2,
      }),
    ].map((e) => e.record),
    { id: 'test', kind: 'test' },
  );
  return c;
}

test('text search matches name words, tags and description as prefixes', async () => {
  const c = await filled();
  const names = (q: string) => c.search({ text: q }).entries.map((e) => e.name);
  assert.deepEqual(names('llama'), ['bob/llama-3-8b-gguf', 'meta-llama/Llama-3-8B']);
  assert.deepEqual(names('speech'), ['acme/whisper-tiny']);
  assert.deepEqual(names('asr'), ['acme/whisper-tiny']);
  assert.deepEqual(names('whisp'), ['acme/whisper-tiny']);
  assert.deepEqual(names('llama gguf'), ['bob/llama-3-8b-gguf']);
  assert.deepEqual(names('"OR* NEAR'), []); // query syntax never reaches FTS
  assert.equal(ftsQuery('a"b OR c'), 'a b or c*');
  c.close();
});

test('filters: license, publisher (key, prefix, fingerprint), format, tags, size range; sorts', async () => {
  const c = await filled();
  const names = (q: Parameters<Catalog['search']>[0]) => c.search(q).entries.map((e) => e.name);
  assert.deepEqual(names({ license: 'LLAMA3' }), ['bob/llama-3-8b-gguf', 'meta-llama/Llama-3-8B']);
  assert.deepEqual(names({ publisher: bob.publisher }), ['bob/llama-3-8b-gguf']);
  assert.deepEqual(names({ publisher: bob.publisher.slice(0, 8) }), ['bob/llama-3-8b-gguf']);
  assert.deepEqual(names({ publisher: bob.fingerprint }), ['bob/llama-3-8b-gguf']);
  assert.deepEqual(names({ format: 'gguf' }), ['bob/llama-3-8b-gguf']);
  assert.deepEqual(names({ tags: ['llm', 'chat'] }), ['meta-llama/Llama-3-8B']);
  assert.deepEqual(names({ minSize: 1e9, maxSize: 10e9 }), ['bob/llama-3-8b-gguf']);
  assert.deepEqual(names({ sort: 'size', descending: true }), [
    'meta-llama/Llama-3-8B',
    'bob/llama-3-8b-gguf',
    'acme/whisper-tiny',
  ]);
  assert.deepEqual(names({ sort: 'date' }), ['acme/whisper-tiny', 'bob/llama-3-8b-gguf', 'meta-llama/Llama-3-8B']);
  const hit = c.search({ text: 'whisper' }).entries[0];
  // Signed, but trusted only once the user trusts the key (a name is not an identity).
  assert.equal(hit.signed, true);
  assert.equal(hit.trusted, false);
  assert.equal(c.search({ text: 'whisper', trust: [hit.publisher] }).entries[0].trusted, true);
  assert.match(hit.magnet, /^magnet:\?xt=urn:btih:[0-9a-f]{40}&xt=urn:btmh:1220[0-9a-f]{64}&dn=acme%2Fwhisper-tiny/);
  c.close();
});

test('an update replaces the searchable text; the store survives a save and reopen; sources are recorded', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'silmaril-store-'));
  try {
    const c = await Catalog.open({ home: dir, identity: alice });
    c.publish({
      name: 'acme/thing',
      v1: 'a'.repeat(40),
      files: 1,
      size: 1,
      license: 'mit',
      description: 'first words',
    });
    c.publish({
      name: 'acme/thing',
      v1: 'a'.repeat(40),
      files: 1,
      size: 1,
      license: 'mit',
      description: 'second text',
    });
    assert.equal(c.search({ text: 'first' }).total, 0);
    assert.equal(c.search({ text: 'second' }).total, 1);
    c.sourceFailed('tracker:http://x', 'tracker', 'connection refused');
    await c.save();
    // Saving reopens the sql.js database: text search still works on the same store.
    assert.equal(c.search({ text: 'second' }).total, 1);
    c.close();
    assert.deepEqual(
      (await readdir(dir)).filter((n) => n.includes('tmp')),
      [],
    );
    const again = await Catalog.open({ home: dir, identity: alice });
    assert.equal(again.search({ text: 'second' }).entries[0].seq, 2);
    assert.equal(again.index.get(alice.publisher, 'acme/thing')!.seq, 2);
    const src = again.store.getSource('tracker:http://x')!;
    assert.equal(src.errors, 1);
    assert.equal(src.lastError, 'connection refused');
    assert.equal(again.store.getSource('local')!.entries, 1);
    again.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('many hits and few hits give the same order and totals; tombstones never match', async () => {
  const c = await Catalog.open();
  const pubs = [Identity.generate(), Identity.generate()];
  const records = [];
  // 2,100 "common" models (more than the few-hits plan takes) and 30 "rare" ones.
  for (let i = 0; i < 2130; i++) {
    const rare = i >= 2100;
    records.push(
      makeEntry(pubs[i % 2], `org/${rare ? 'rare' : 'common'}-${String(i).padStart(4, '0')}`, 1, {
        license: i % 3 === 0 ? 'mit' : 'apache-2.0',
        size: 5000 - i,
        tags: rare ? ['rare'] : ['common'],
      }).record,
    );
  }
  const r = await c.ingestAsync(records, { id: 'test', kind: 'test' });
  assert.equal(r.stats.added, 2130);
  const common = c.search({ text: 'common', limit: 5 });
  assert.deepEqual(
    common.entries.map((e) => e.name),
    ['org/common-0000', 'org/common-0001', 'org/common-0002', 'org/common-0003', 'org/common-0004'],
  );
  assert.equal(common.total, 1000);
  assert.equal(common.totalExact, false);
  const filtered = c.search({ text: 'common', license: 'mit', sort: 'size', descending: true, limit: 3 });
  assert.deepEqual(
    filtered.entries.map((e) => e.name),
    ['org/common-0000', 'org/common-0003', 'org/common-0006'],
  );
  const rare = c.search({ text: 'rare', license: 'mit', sort: 'size', descending: true });
  assert.equal(rare.total, 10);
  assert.equal(rare.totalExact, true);
  assert.deepEqual(rare.entries[0].name, 'org/rare-2100');
  // Withdraw one rare model: it leaves the text index as well as the listing.
  const pub = pubs[2100 % 2];
  const tomb = signEntry({ ...makeEntry(pub, 'org/rare-2100', 2), deleted: true }, (m) => pub.sign(m));
  c.ingest([tomb.record], { id: 'test', kind: 'test' });
  assert.equal(c.search({ text: 'rare' }).total, 29);
  assert.equal(c.search({ text: 'rare', license: 'mit' }).total, 9);
  c.close();
});

// The store as version 1 wrote it (rows keyed by a unique text key): a newer version must read it, nothing lost.
const V1_SCHEMA = `
CREATE TABLE IF NOT EXISTS entries (
  id INTEGER PRIMARY KEY,
  key TEXT NOT NULL UNIQUE,
  publisher TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  name TEXT NOT NULL,
  -- What the full-text index sees of the name: empty for tombstones, so withdrawn models never match.
  search_name TEXT NOT NULL,
  seq INTEGER NOT NULL,
  deleted INTEGER NOT NULL,
  v1 TEXT, v2 TEXT,
  size INTEGER NOT NULL, files INTEGER NOT NULL,
  license TEXT NOT NULL, tags TEXT NOT NULL, description TEXT NOT NULL,
  format TEXT NOT NULL, architecture TEXT NOT NULL, parameters INTEGER NOT NULL, quantization TEXT NOT NULL,
  created INTEGER NOT NULL, trackers TEXT NOT NULL, webseeds TEXT NOT NULL,
  trusted INTEGER NOT NULL, source TEXT NOT NULL, seeders INTEGER NOT NULL DEFAULT 0,
  record BLOB
);
CREATE INDEX IF NOT EXISTS entries_name ON entries(deleted, name COLLATE NOCASE);
CREATE INDEX IF NOT EXISTS entries_size ON entries(deleted, size);
CREATE INDEX IF NOT EXISTS entries_created ON entries(deleted, created);
CREATE INDEX IF NOT EXISTS entries_seeders ON entries(deleted, seeders);
CREATE INDEX IF NOT EXISTS entries_license ON entries(license COLLATE NOCASE);
CREATE INDEX IF NOT EXISTS entries_publisher ON entries(publisher);
CREATE INDEX IF NOT EXISTS entries_fingerprint ON entries(fingerprint);
CREATE INDEX IF NOT EXISTS entries_format ON entries(format);
CREATE INDEX IF NOT EXISTS entries_v1 ON entries(v1);
CREATE INDEX IF NOT EXISTS entries_v2 ON entries(v2);
CREATE TABLE IF NOT EXISTS entry_tags (tag TEXT NOT NULL, id INTEGER NOT NULL, PRIMARY KEY (tag, id)) WITHOUT ROWID;
-- External content: the text lives once, in entries; unicode61 splits names on / . - _ by itself.
CREATE VIRTUAL TABLE IF NOT EXISTS entries_fts USING fts4(content="entries", search_name, tags, description, tokenize=unicode61);
CREATE TABLE IF NOT EXISTS sources (
  id TEXT PRIMARY KEY, kind TEXT NOT NULL, last_update INTEGER, last_attempt INTEGER,
  entries INTEGER NOT NULL DEFAULT 0, errors INTEGER NOT NULL DEFAULT 0, last_error TEXT,
  pointer_seq INTEGER, infohash TEXT, dropped INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT);
`;

test('a store written by the previous schema is read back: signed and unsigned entries, seeders, sources', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'silmaril-store-'));
  try {
    const SQL = await loadSqlJs();
    const db = new SQL.Database();
    db.run(V1_SCHEMA);
    const e = makeEntry(alice, 'acme/old-model', 3, { description: 'kept across versions', tags: ['llm', 'old'] });
    const insert = `INSERT INTO entries (id, key, publisher, fingerprint, name, search_name, seq, deleted, v1, v2, size,
      files, license, tags, description, format, architecture, parameters, quantization, created, trackers, webseeds,
      trusted, source, seeders, record) VALUES (?,?,?,?,?,?,?,0,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`;
    db.run(insert, [
      1,
      `${alice.publisher}/${e.name}`,
      alice.publisher,
      fingerprint(alice.publisher),
      e.name,
      e.name,
      e.seq,
      e.v1!,
      e.v2!,
      e.size,
      e.files,
      e.license,
      e.tags.join(' '),
      e.description,
      e.format,
      e.architecture,
      e.parameters,
      e.quantization,
      e.created,
      '[]',
      '[]',
      1,
      'dht',
      7,
      e.record,
    ]);
    db.run(insert, [
      2,
      'go-peer/other/unsigned',
      'go-peer',
      'go-peer',
      'other/unsigned',
      'other/unsigned',
      1,
      'b'.repeat(40),
      null,
      5,
      1,
      'mit',
      'gguf',
      'from the go network',
      'gguf',
      '',
      0,
      '',
      1,
      '[]',
      '[]',
      0,
      'silmaril-go',
      0,
      null,
    ]);
    db.run("INSERT INTO entries_fts(entries_fts) VALUES('rebuild')");
    db.run("INSERT INTO sources (id, kind, entries) VALUES ('dht:index', 'dht', 1)");
    await writeFile(join(dir, 'catalog.sqlite'), db.export());
    db.close();

    const c = await Catalog.open({ home: dir });
    const hit = c.search({ text: 'versions' }).entries;
    assert.deepEqual(
      hit.map((x) => [x.name, x.seq, x.seeders, x.signed, x.source]),
      [['acme/old-model', 3, 7, true, 'dht']],
    );
    assert.deepEqual(
      c.search({ tags: ['old'] }).entries.map((x) => x.name),
      ['acme/old-model'],
    );
    assert.deepEqual(
      c.search({ text: 'go network' }).entries.map((x) => [x.name, x.signed]),
      [['other/unsigned', false]],
    );
    assert.equal(c.index.get(alice.publisher, 'acme/old-model')!.seq, 3);
    assert.equal(c.store.getSource('dht:index')!.entries, 1);
    // A newer entry replaces the migrated row (found by its key) instead of adding a second one.
    c.ingest([makeEntry(alice, 'acme/old-model', 4, { description: 'newer words' }).record], {
      id: 'test',
      kind: 'test',
    });
    assert.equal(c.search({ publisher: alice.publisher }).total, 1);
    assert.equal(c.search({ text: 'newer' }).entries[0].seq, 4);
    await c.save();
    c.close();
    const again = await Catalog.open({ home: dir });
    assert.equal(again.search({}).total, 2);
    again.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a bulk load (one batch of thousands) indexes tags, licenses and formats as row-by-row writes do', async () => {
  const TAGS = ['llm', 'chat', 'audio', 'gguf', 'vision'];
  const entries = Array.from({ length: 5200 }, (_, i) =>
    makeEntry(alice, `bulk/m${i}`, 1, {
      tags: [TAGS[i % 5], TAGS[(i + 2) % 5]],
      license: i % 3 ? 'mit' : 'apache-2.0',
      format: i % 2 ? 'gguf' : 'safetensors',
      size: 1000 + i,
    }),
  );
  const bulk = await CatalogStore.open();
  const rows = await CatalogStore.open();
  bulk.upsert(entries, 'test', { fresh: new Set(entries.map((e) => `${e.publisher}/${e.name}`)) });
  for (let i = 0; i < entries.length; i += 100) rows.upsert(entries.slice(i, i + 100), 'test');
  // A second bulk batch that replaces rows (new versions with other tags) and adds some.
  const next = entries.slice(0, 5100).map((e, i) => makeEntry(alice, e.name, 2, { tags: [TAGS[(i + 1) % 5]] }));
  bulk.upsert(next, 'test');
  rows.upsert(next, 'test');
  for (const q of [
    { tags: ['llm'] },
    { tags: ['chat', 'vision'] },
    { tags: ['gguf'], license: 'mit' },
    { license: 'APACHE-2.0', sort: 'size' as const, descending: true },
    { format: 'gguf', minSize: 6000 },
    { text: 'm51', tags: ['audio'] },
  ]) {
    const a = bulk.search({ ...q, limit: 10_000 });
    const b = rows.search({ ...q, limit: 10_000 });
    assert.ok(b.total > 0, JSON.stringify(q));
    assert.equal(a.total, b.total, JSON.stringify(q));
    assert.deepEqual(
      a.entries.map((e) => `${e.name}@${e.seq}`).sort(),
      b.entries.map((e) => `${e.name}@${e.seq}`).sort(),
      JSON.stringify(q),
    );
  }
  bulk.close();
  rows.close();
});

test('a bulk load fed in pieces equals one upsert, and a save waits until its indexes are built', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'silmaril-bulk-'));
  try {
    const entries = Array.from({ length: 9100 }, (_, i) =>
      makeEntry(bob, `piece/m${i}`, 1, { tags: [i % 2 ? 'odd' : 'even'], description: `piece number ${i}` }),
    );
    const one = await CatalogStore.open();
    one.upsert(entries, 'test');
    const store = await CatalogStore.open(join(dir, 'catalog.sqlite'));
    const load = store.bulkLoad('test');
    // A small piece first (row by row), then a bulk piece, then the rest.
    load.write(entries.slice(0, 100));
    load.write(entries.slice(100, 6100));
    let saved = false;
    const saving = store.save().then(() => (saved = true));
    load.write(entries.slice(6100));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(saved, false, 'save waits for the load to finish');
    load.finish();
    await saving;
    for (const q of [{ text: 'number 9099' }, { tags: ['odd'] }, { text: 'piece', tags: ['even'] }]) {
      assert.equal(store.search(q).total, one.search(q).total, JSON.stringify(q));
    }
    store.close();
    // What was saved has the full text of every piece.
    const again = await CatalogStore.open(join(dir, 'catalog.sqlite'));
    assert.equal(again.search({ text: 'number 1234' }).total, 1);
    assert.equal(again.search({ text: 'number 9099' }).total, 1);
    assert.equal(again.count(), 9100);
    again.close();
    one.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a bulk load indexed piece by piece: rows replaced by a later piece, or held before the load, match their new text only', async () => {
  const store = await CatalogStore.open();
  const before = Array.from({ length: 50 }, (_, i) =>
    makeEntry(alice, `keep/m${i}`, 1, { description: `oldword ${i}`, tags: ['before'] }),
  );
  store.upsert(before, 'test');
  const first = Array.from({ length: 5200 }, (_, i) =>
    makeEntry(alice, `bulk/m${i}`, 1, { description: `firstword ${i}`, tags: ['first'] }),
  );
  const load = store.bulkLoad('test');
  load.write(first, new Set(first.map((e) => `${e.publisher}/${e.name}`)));
  // A later piece: new versions of 100 rows of the first piece and of every row held before the load.
  const second = [
    ...first
      .slice(0, 100)
      .map((e, i) => makeEntry(alice, e.name, 2, { description: `secondword ${i}`, tags: ['second'] })),
    ...before.map((e, i) => makeEntry(alice, e.name, 2, { description: `newword ${i}`, tags: ['after'] })),
  ];
  load.write(second);
  load.finish();
  assert.equal(store.count(), 5250);
  assert.equal(store.search({ text: 'firstword' }).total, COUNT_CAP_OR(5100));
  assert.equal(store.search({ text: 'secondword', limit: 1000 }).total, 100);
  assert.equal(store.search({ text: 'oldword' }).total, 0);
  assert.equal(store.search({ text: 'newword', limit: 1000 }).total, 50);
  assert.equal(store.search({ tags: ['second'], limit: 1000 }).total, 100);
  assert.equal(store.search({ tags: ['before'] }).total, 0);
  assert.equal(store.search({ tags: ['after'], limit: 1000 }).total, 50);
  // `42` is a prefix: 420-429 and 4200-4299 still match; 42 itself was replaced in the same load.
  assert.equal(store.search({ text: 'firstword 42', limit: 1000 }).total, 110, 'replaced in the same load');
  assert.equal(store.search({ text: 'firstword 4200' }).total, 1);
  store.close();
});

/** Search totals are exact up to the store's cap. */
function COUNT_CAP_OR(n: number): number {
  return Math.min(n, 1000);
}

test('a bulk load into room made ahead: the saved file is the database alone, whole and intact', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'silmaril-presize-'));
  try {
    const entries = Array.from({ length: 6000 }, (_, i) =>
      makeEntry(alice, `room/m${i}`, 1, { tags: ['room'], description: `roomy model ${i}` }),
    );
    const path = join(dir, 'catalog.sqlite');
    const store = await CatalogStore.open(path);
    // Room for many more rows than come: the in-memory file is far longer than the database.
    const load = store.bulkLoad('test', { expectedRows: 50_000 });
    load.write(entries, new Set(entries.map((e) => `${e.publisher}/${e.name}`)));
    load.finish();
    assert.equal(store.search({ text: 'roomy 5999' }).total, 1);
    store.upsert([makeEntry(alice, 'room/after', 1, { description: 'written after the load' })], 'test');
    await store.save();
    store.close();
    const bytes = await readFile(path);
    const SQL = await loadSqlJs();
    const db = new SQL.Database(bytes);
    try {
      const [pageSize, pages] = ['page_size', 'page_count'].map((p) => db.exec(`PRAGMA ${p}`)[0].values[0][0]);
      assert.equal(bytes.length, Number(pageSize) * Number(pages), 'the database alone, not the room made for it');
      assert.equal(db.exec('PRAGMA integrity_check')[0].values[0][0], 'ok');
    } finally {
      db.close();
    }
    const again = await CatalogStore.open(path);
    assert.equal(again.count(), 6001);
    assert.equal(again.search({ text: 'written after' }).total, 1);
    assert.equal(again.search({ tags: ['room'], limit: 10_000 }).total, 6000);
    again.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a bulk load whose indexes are built before its last pieces finds, sorts and counts as one upsert does', async () => {
  const first = Array.from({ length: 5200 }, (_, i) =>
    makeEntry(alice, `early/m${i}`, 1, { size: 1000 + ((i * 7919) % 5200), description: `earlyword ${i}` }),
  );
  // After the indexes: new rows, and new versions of rows of the first piece (their index keys change).
  const last = [
    ...Array.from({ length: 300 }, (_, i) =>
      makeEntry(bob, `late/m${i}`, 1, { size: 50 + i, description: `late ${i}` }),
    ),
    ...first
      .slice(0, 40)
      .map((e, i) => makeEntry(alice, e.name, 2, { size: 10_000_000 + i, description: `again ${i}` })),
  ];
  const one = await CatalogStore.open();
  one.upsert([...first, ...last.slice(0, 300)], 'test');
  one.upsert(last.slice(300), 'test');
  const store = await CatalogStore.open();
  const load = store.bulkLoad('test');
  load.write(first, new Set(first.map((e) => `${e.publisher}/${e.name}`)));
  load.indexNow();
  load.write(last);
  load.finish();
  assert.equal(store.lastBulkLoad?.early, true);
  assert.equal(store.count(), 5500);
  const ids = (r: { entries: { name: string; seq: number }[] }) => r.entries.map((e) => `${e.name}@${e.seq}`);
  for (const q of [
    { sort: 'size' as const, limit: 50 },
    { sort: 'size' as const, descending: true, limit: 50 },
    { sort: 'name' as const, limit: 50, offset: 5000 },
    { publisher: bob.publisher, sort: 'size' as const, limit: 20 },
    { text: 'again', sort: 'size' as const, descending: true },
    { text: 'earlyword 3', limit: 5 },
  ]) {
    const a = store.search(q);
    const b = one.search(q);
    assert.deepEqual(ids(a), ids(b), JSON.stringify(q));
    assert.equal(a.total, b.total, JSON.stringify(q));
  }
  // Found by infohash through the v2 index: a count reaches the replaced row's new bytes only.
  store.setCounts(last[300].v2!, { seeders: 7, leechers: 0, countedAt: 1, countedBy: 'tracker' });
  assert.equal(store.search({ sort: 'seeders', descending: true, limit: 1 }).entries[0].name, first[0].name);
  store.close();
  one.close();
});
