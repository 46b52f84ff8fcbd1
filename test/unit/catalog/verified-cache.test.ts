// The verified-record cache: a record this home verified before is not verified again (a store rebuilt from the same
// catalogs), and nothing but those exact bytes rides on it. Also the one-pass body reader's canonical checks.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bencode from 'bencode';
import { Catalog } from '../../../src/catalog/catalog.js';
import { encodeCatalog } from '../../../src/catalog/catalog-file.js';
import { decodeBody, EntryError, splitRecord } from '../../../src/catalog/entry.js';
import { Identity } from '../../../src/catalog/identity.js';
import { EntryIndex } from '../../../src/catalog/merge.js';
import { recordDigest, VerifiedCache, VERIFIED_FILE } from '../../../src/catalog/verified-cache.js';
import { sharedVerifyPool } from '../../../src/catalog/verify-pool.js';
import { makeEntry } from './helpers.js';

const alice = Identity.generate();

test('a store rebuilt from the same catalog verifies nothing again, and holds every entry', async () => {
  const home = mkdtempSync(join(tmpdir(), 'silmaril-verified-'));
  try {
    // Over the worker pool's threshold, so the path a big catalog takes (mergeAsync on worker threads) is the one.
    const entries = Array.from({ length: 700 }, (_, i) => makeEntry(alice, `acme/m${i}`));
    const file = encodeCatalog(entries);
    const first = await Catalog.open({ home });
    const r1 = await first.ingestFile(file, { id: 't', kind: 't' });
    assert.equal(r1.stats.added, 700);
    assert.equal(r1.stats.cached, 0, 'a fresh home verifies everything');
    await first.save();
    first.close();
    assert.ok(existsSync(join(home, VERIFIED_FILE)));
    // The store is lost (or rebuilt): the records come back from the same catalog file.
    rmSync(join(home, 'catalog.sqlite'));
    const second = await Catalog.open({ home });
    assert.equal(second.verified.size, 700);
    const r2 = await second.ingestFile(file, { id: 't', kind: 't' });
    assert.equal(r2.stats.added, 700);
    assert.equal(r2.stats.cached, 700, 'no signature verified twice');
    assert.equal(second.search({ text: 'm699' }).total, 1);
    second.close();
  } finally {
    rmSync(home, { recursive: true, force: true });
    await sharedVerifyPool().close();
  }
});

test('the cache vouches only for exact bytes: a body changed under a known signature is still refused', async () => {
  const good = makeEntry(alice, 'acme/model');
  const cache = await VerifiedCache.open();
  const idx = new EntryIndex();
  assert.equal(idx.merge([good.record], { verified: cache }).stats.added, 1);
  assert.equal(cache.size, 1);
  // The same signature on another body (size changed): another record, another digest, verified and refused.
  const { e: body, s: sig } = bencode.decode(good.record);
  const fields = bencode.decode(body);
  fields.size = 999_999;
  const forged = bencode.encode({ e: bencode.encode(fields), s: sig });
  const other = new EntryIndex();
  const r = other.merge([forged], { verified: cache });
  assert.equal(r.stats.dropped.signature, 1);
  assert.equal(r.stats.cached, 0);
  assert.equal(other.size, 0);
  // A record whose signature fails is never remembered.
  assert.equal(cache.has(recordDigest(forged)), false);
  // The good record, met again by a fresh index, needs no verify.
  const again = new EntryIndex().merge([good.record], { verified: cache });
  assert.equal(again.stats.cached, 1);
  assert.equal(again.stats.added, 1);
});

test('a missing or short verified.bin only costs verifies', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'silmaril-verified-'));
  try {
    const none = await VerifiedCache.open(join(dir, VERIFIED_FILE));
    assert.equal(none.size, 0);
    none.add(recordDigest(makeEntry(alice, 'acme/a').record));
    await none.save();
    const back = await VerifiedCache.open(join(dir, VERIFIED_FILE));
    assert.equal(back.size, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the body reader refuses every non-canonical form: padding, -0, repeated or unsorted keys, trailing bytes', () => {
  const good = makeEntry(alice, 'acme/model');
  const { body } = splitRecord(good.record);
  const text = Buffer.from(body).toString('latin1');
  const malformed = (s: string, why: RegExp) =>
    assert.throws(
      () => decodeBody(Buffer.from(s, 'latin1')),
      (err: EntryError) => err.reason === 'malformed' && why.test(err.message),
      s.slice(0, 60),
    );
  assert.equal(decodeBody(body).name, 'acme/model');
  malformed(text.replace('4:sizei1000e', '4:sizei01000e'), /canonical/);
  malformed(text.replace('4:sizei1000e', '4:sizei-0e'), /canonical/);
  // `i-e` (no digits) read as 0 by the generic decoder, and as long as `i0e`: it passed the old length check.
  malformed(text.replace('3:seqi1e', '3:seqi-e'), /canonical/);
  malformed(text.replace('4:name10:', '4:name010:'), /canonical/);
  malformed(text + 'x', /trailing/);
  malformed(text.slice(0, -1), /bencode/);
  // Keys: `created` repeated, and `size` moved before `pub`.
  malformed(text.replace('7:createdi', '7:createdi1700000000e7:createdi'), /sorted/);
  malformed(text.replace('4:sizei1000e', '').replace('3:pub', '4:sizei1000e3:pub'), /sorted/);
  // A dictionary or a nested list where a string is expected.
  malformed(text.replace('4:name10:acme/model', '4:named1:ai1ee'), /not a string, integer or list/);
  malformed(text.replace('4:tagsl3:llme', '4:tagsll3:llmee'), /not a string, integer or list/);
  malformed(text.replace('4:sizei1000e', '4:sizei12345678901234567e'), /canonical/);
});

test('the body reader takes every safe integer and refuses larger ones, as the generic decoder did', () => {
  const max = makeEntry(alice, 'acme/big', 1, { size: Number.MAX_SAFE_INTEGER });
  assert.equal(decodeBody(splitRecord(max.record).body).size, Number.MAX_SAFE_INTEGER);
  const text = Buffer.from(splitRecord(max.record).body).toString('latin1');
  for (const n of ['9007199254740992', '99999999999999999']) {
    assert.throws(
      () => decodeBody(Buffer.from(text.replace(`4:sizei${Number.MAX_SAFE_INTEGER}e`, `4:sizei${n}e`), 'latin1')),
      (err: EntryError) => err.reason === 'malformed',
      n,
    );
  }
});
