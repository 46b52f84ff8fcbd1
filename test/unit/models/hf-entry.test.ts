// The Hugging Face fields of a signed catalog entry: optional (an entry without them encodes exactly as before),
// signed with the rest, read back from the record alone, and checked (commit, repo id, one etag per file).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  decodeBody,
  encodeBody,
  EntryError,
  hfOrigin,
  normaliseFields,
  openEntry,
  splitRecord,
} from '../../../src/catalog/entry.js';
import { Identity } from '../../../src/catalog/identity.js';
import { publishWithHf } from '../../../src/models/hf/share.js';
import { makeEntry } from '../catalog/helpers.js';

const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const ETAGS = ['a'.repeat(64), 'b'.repeat(40)];

test('an entry without Hugging Face fields encodes byte for byte as before', () => {
  const id = Identity.generate();
  const plain = makeEntry(id, 'org/plain');
  const body = Buffer.from(splitRecord(plain.record).body).toString('latin1');
  assert.ok(!body.includes('hf'), 'no hf key in an old-style body');
  assert.equal(hfOrigin(plain), undefined);
});

test('repo id, commit and etags are signed, survive the record, and are read back from it', () => {
  const id = Identity.generate();
  const e = makeEntry(id, 'org/tiny', 1, { hfRepo: 'org/tiny', hfCommit: COMMIT.toUpperCase(), hfEtags: ETAGS });
  const back = openEntry(e.record);
  assert.equal(back.hfRepo, 'org/tiny');
  assert.equal(back.hfCommit, COMMIT);
  assert.deepEqual(back.hfEtags, ETAGS);
  // What the catalog store gives (fields without the hf ones, plus the record) still yields the origin.
  assert.deepEqual(hfOrigin({ record: e.record }), { repo: 'org/tiny', commit: COMMIT, etags: ETAGS });
  // 20/32 raw bytes per etag on the wire, not hex.
  const noEtags = makeEntry(id, 'org/tiny', 1, { hfRepo: 'org/tiny', hfCommit: COMMIT });
  const cost = e.record.length - noEtags.record.length;
  assert.ok(cost < 64 + 40, `the etags cost ${cost} bytes (hex would be 104)`);
  // Tampering with the commit breaks the signature.
  const rec = Buffer.from(e.record);
  const at = rec.indexOf(Buffer.from(COMMIT, 'hex'));
  rec[at] ^= 1;
  assert.throws(
    () => openEntry(rec),
    (err: EntryError) => err.reason === 'signature',
  );
});

test('bad Hugging Face fields are refused with a reason', () => {
  const base = { publisher: 'ab'.repeat(32), name: 'org/tiny', seq: 1, v1: 'c'.repeat(40), files: 2, size: 9 };
  assert.throws(() => normaliseFields({ ...base, hfRepo: 'org/tiny' }), /needs both hfRepo and hfCommit/);
  assert.throws(() => normaliseFields({ ...base, hfRepo: 'org--x/tiny', hfCommit: COMMIT }), /not a Hub repository/);
  assert.throws(() => normaliseFields({ ...base, hfRepo: 'org/tiny', hfCommit: 'main' }), /40 hex/);
  assert.throws(
    () => normaliseFields({ ...base, hfRepo: 'org/tiny', hfCommit: COMMIT, hfEtags: ['a'.repeat(64)] }),
    /1 etags for 2 files/,
  );
  const ok = normaliseFields({ ...base, hfRepo: 'gpt2', hfCommit: COMMIT, hfEtags: ETAGS });
  assert.ok(Buffer.from(encodeBody(ok)).toString('latin1').includes('6:hfrepo4:gpt2'));
});

test('a model with too many files for the entry keeps its repo and commit, without etags', () => {
  const id = Identity.generate();
  const etags = Array.from({ length: 150 }, (_, i) => i.toString(16).padStart(64, '0'));
  const publish = (hf: object) => makeEntry(id, 'org/many', 1, { files: 150, ...hf });
  assert.throws(() => publish({ hfRepo: 'org/many', hfCommit: COMMIT, hfEtags: etags }), /entry is \d+ bytes/);
  const e = publishWithHf(publish, { hfRepo: 'org/many', hfCommit: COMMIT, hfEtags: etags });
  assert.deepEqual(hfOrigin(openEntry(e.record)), { repo: 'org/many', commit: COMMIT, etags: undefined });
  // Any other refusal is not swallowed.
  assert.throws(
    () => publishWithHf(publish, { hfRepo: 'org/many', hfCommit: COMMIT, hfEtags: etags.slice(0, 2) }),
    /2 etags for 150 files/,
  );
});

test('an entry carries the refs that pointed at its commit; a ref that is not a plain name is refused', () => {
  const base = { publisher: 'ab'.repeat(32), name: 'org/tiny', seq: 1, v1: 'c'.repeat(40), files: 2, size: 9 };
  const e = normaliseFields({ ...base, hfRepo: 'org/tiny', hfCommit: COMMIT, hfRefs: ['main', 'v1.0', 'main'] });
  assert.deepEqual(e.hfRefs, ['main', 'v1.0']);
  const back = decodeBody(encodeBody(e));
  assert.deepEqual(back.hfRefs, ['main', 'v1.0']);
  assert.deepEqual(hfOrigin(back)?.refs, ['main', 'v1.0']);
  // An entry without refs encodes as before (no key added).
  const without = normaliseFields({ ...base, hfRepo: 'org/tiny', hfCommit: COMMIT });
  assert.ok(!Buffer.from(encodeBody(without)).toString('latin1').includes('hfrefs'));
  for (const bad of ['../x', 'a//b', '/abs', 'a/./b', 'x y', '', 'a'.repeat(101)]) {
    assert.throws(() => normaliseFields({ ...base, hfRepo: 'org/tiny', hfCommit: COMMIT, hfRefs: [bad] }), /hfRef/);
  }
});
