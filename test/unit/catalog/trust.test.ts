// Names are not identities: the trust list (full keys or fingerprints, never prefixes), the one sanitiser for
// publisher text, and exact sequence numbers in pointer and directory values.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Catalog } from '../../../src/catalog/catalog.js';
import { Identity } from '../../../src/catalog/identity.js';
import { makeEntry } from './helpers.js';
import {
  decodeDirectory,
  decodePointer,
  encodeDirectory,
  encodePointer,
  MAX_DIRECTORY_KEYS,
} from '../../../src/catalog/pointers.js';
import { plainText } from '../../../src/catalog/text.js';
import {
  normaliseTrustedKey,
  readTrustedKeys,
  TRUST_FILE,
  TrustList,
  updateTrustedKeys,
} from '../../../src/catalog/trust.js';

test('trust: full keys and fingerprints match, prefixes and other keys do not', () => {
  const a = Identity.generate();
  const b = Identity.generate();
  assert.equal(new TrustList([a.publisher]).has(a.publisher), true);
  assert.equal(new TrustList([a.fingerprint.toUpperCase()]).has(a.publisher), true);
  assert.equal(new TrustList([a.fingerprint.replace(/:/g, '')]).has(a.publisher), true);
  assert.equal(new TrustList([a.publisher]).has(b.publisher), false);
  assert.equal(new TrustList([a.publisher.slice(0, 16)]).size, 1); // 16 hex digits read as a fingerprint...
  assert.equal(new TrustList([a.publisher.slice(0, 16)]).has(a.publisher), false); // ...not as a key prefix
  assert.equal(new TrustList([a.publisher.slice(0, 8), 'acme', '']).size, 0);
  assert.equal(normaliseTrustedKey(a.publisher.slice(0, 12)), undefined);
  assert.equal(new TrustList([]).has(a.publisher), false);
});

test('trust: the list in the home is added to, removed from, and a damaged file is named', async () => {
  const home = await mkdtemp(join(tmpdir(), 'silmaril-trust-'));
  try {
    const a = Identity.generate();
    assert.deepEqual(await readTrustedKeys(home), []);
    assert.deepEqual(await updateTrustedKeys(home, [a.publisher, a.fingerprint]), [a.publisher, a.fingerprint]);
    assert.deepEqual(await updateTrustedKeys(home, [], [a.fingerprint]), [a.publisher]);
    await assert.rejects(updateTrustedKeys(home, ['abcd']), /not a publisher key or fingerprint: abcd/);
    assert.deepEqual(await readTrustedKeys(home), [a.publisher]);
    await writeFile(join(home, TRUST_FILE), '{"keys": 12');
    await assert.rejects(readTrustedKeys(home), new RegExp(`${TRUST_FILE} is damaged`));
  } finally {
    await rm(home, { recursive: true, force: true });
  }
});

test('plainText: control, bidi and invisible characters go, text and HTML stay text', () => {
  assert.equal(plainText('a\u001b[2J\u001b[31mred\u0007\u0000b'), 'a[2J[31mredb');
  assert.equal(plainText('line one\nline two\r\n\tend'), 'line one line two end');
  assert.equal(plainText('\u202eevil\u2066x\u2069\u200b\ufeff\u0085'), 'evilx');
  assert.equal(plainText('<img src=x onerror=alert(1)> & "q"'), '<img src=x onerror=alert(1)> & "q"');
  assert.equal(plainText('ça va — 日本語 👍🏽'), 'ça va — 日本語 👍🏽');
});

test('pointers: a seq past 2^53 is refused, never rounded; directories are bounded', () => {
  const v = encodePointer({ infohash: 'ab'.repeat(20), entries: 1, updated: 2 });
  assert.equal(decodePointer(v, 7)?.seq, 7);
  assert.equal(decodePointer(v, 2 ** 53 + 4096), undefined);
  assert.equal(decodePointer(v, Number.MAX_SAFE_INTEGER)?.seq, Number.MAX_SAFE_INTEGER);
  assert.equal(decodePointer(v, -1), undefined);
  assert.equal(decodePointer(Buffer.from('d2:ihi1ee'), 1), undefined);
  const keys = Array.from({ length: 40 }, () => Identity.generate().publisher);
  const d = decodeDirectory(encodeDirectory(keys, 5))!;
  assert.deepEqual(d.publishers, keys.slice(0, MAX_DIRECTORY_KEYS));
  assert.equal(decodeDirectory(Buffer.from('d1:p3:abc1:ti1ee')), undefined);
  assert.equal(decodeDirectory(Buffer.from(`d1:p${'l'.repeat(100)}`)), undefined);
});

test('name conflicts: another key with another torrent is flagged, the same torrent is not, case is ignored', async () => {
  const c = await Catalog.open();
  const [a, b, d] = [Identity.generate(), Identity.generate(), Identity.generate()];
  const real = makeEntry(a, 'acme/tiny');
  c.ingest([real.record], { id: 'x', kind: 'test' });
  c.ingest([makeEntry(b, 'acme/tiny', 1, { v1: real.v1, v2: real.v2 }).record], { id: 'y', kind: 'test' });
  const conflicts = () => new Map(c.search({ text: 'tiny' }).entries.map((e) => [e.publisher, e.conflicts]));
  assert.deepEqual([...conflicts().values()], [[], []]);
  // A real v2 beside a fake v1 is another torrent (a client may fetch it by v1).
  const e = Identity.generate();
  c.ingest([makeEntry(e, 'acme/tiny', 1, { v1: 'd'.repeat(40), v2: real.v2 }).record], { id: 'w', kind: 'test' });
  assert.deepEqual(conflicts().get(e.publisher)!.sort(), [a.fingerprint, b.fingerprint].sort());
  c.ingest([makeEntry(d, 'ACME/Tiny', 1, { v1: 'f'.repeat(40), v2: 'e'.repeat(64) }).record], {
    id: 'z',
    kind: 'test',
  });
  const now = conflicts();
  assert.deepEqual(now.get(a.publisher)!.sort(), [d.fingerprint, e.fingerprint].sort());
  assert.deepEqual(now.get(b.publisher)!.sort(), [d.fingerprint, e.fingerprint].sort());
  assert.deepEqual(now.get(d.publisher)!.sort(), [a.fingerprint, b.fingerprint, e.fingerprint].sort());
  c.close();
});
