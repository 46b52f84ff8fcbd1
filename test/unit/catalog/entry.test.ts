import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import bencode from 'bencode';
import nacl from 'tweetnacl';
import { EntryError, MAX_ENTRY_BYTES, openEntry, signEntry } from '../../../src/catalog/entry.js';
import { verifySignature, verifySignatureNacl } from '../../../src/catalog/ed25519.js';
import { FileKeyStore, Identity, fingerprint, loadOrCreateIdentity } from '../../../src/catalog/identity.js';
import { makeEntry } from './helpers.js';

test('identity is created once, kept mode 0600, and reloaded the same', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'silmaril-id-'));
  try {
    const store = FileKeyStore.inHome(dir);
    const a = await loadOrCreateIdentity(store);
    const b = await loadOrCreateIdentity(store);
    assert.equal(a.publisher, b.publisher);
    assert.equal((await stat(store.path)).mode & 0o777, 0o600);
    assert.match(a.fingerprint, /^[0-9a-f]{4}(:[0-9a-f]{4}){3}$/);
    assert.equal(fingerprint(a.publisher), a.fingerprint);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('node:crypto signatures are the very signatures tweetnacl makes, and both verifiers agree', () => {
  const id = Identity.generate();
  const msg = new TextEncoder().encode('hello');
  const sig = id.sign(msg);
  assert.deepEqual(Buffer.from(sig), Buffer.from(nacl.sign.detached(msg, id.secretKey)));
  assert.ok(verifySignature(msg, sig, id.publicKey));
  assert.ok(verifySignatureNacl(msg, sig, id.publicKey));
  const bad = Uint8Array.from(sig);
  bad[0] ^= 1;
  assert.equal(verifySignature(msg, bad, id.publicKey), false);
  assert.equal(verifySignatureNacl(msg, bad, id.publicKey), false);
});

test('a signed entry round-trips through its record with every field', () => {
  const id = Identity.generate();
  const e = makeEntry(id, 'acme/tiny-llama', 3, {
    tags: ['Chat', 'llm', 'chat'],
    trackers: ['http://127.0.0.1:8000/announce'],
    quantization: 'Q4_K_M',
  });
  assert.deepEqual(e.tags, ['chat', 'llm']); // lower-cased, unique, sorted
  const back = openEntry(e.record);
  for (const k of [
    'publisher',
    'name',
    'seq',
    'v1',
    'v2',
    'size',
    'files',
    'license',
    'tags',
    'description',
  ] as const) {
    assert.deepEqual(back[k], e[k], k);
  }
  assert.deepEqual(back.trackers, ['http://127.0.0.1:8000/announce']);
  assert.equal(back.quantization, 'Q4_K_M');
});

test('a tampered entry, a forged publisher and a non-canonical body are refused with a reason', () => {
  const id = Identity.generate();
  const other = Identity.generate();
  const e = makeEntry(id, 'acme/model');
  const { e: body, s: sig } = bencode.decode(e.record);
  // Change the size inside the signed body: the signature no longer matches.
  const fields = bencode.decode(body);
  fields.size = 999_999;
  const tampered = bencode.encode({ e: bencode.encode(fields), s: sig });
  assert.throws(
    () => openEntry(tampered),
    (err: EntryError) => err.reason === 'signature',
  );
  // Someone else's key claimed as publisher, signed with their own key.
  fields.size = 1000;
  fields.pub = Buffer.from(id.publicKey);
  const forgedBody = bencode.encode(fields);
  const forged = bencode.encode({ e: forgedBody, s: other.sign(forgedBody) });
  assert.throws(
    () => openEntry(forged),
    (err: EntryError) => err.reason === 'signature',
  );
  // Unsorted tags: the same model would have two encodings.
  fields.tags = [Buffer.from('b'), Buffer.from('a')];
  const unsorted = bencode.encode(fields);
  assert.throws(() => openEntry(bencode.encode({ e: unsorted, s: id.sign(unsorted) })), /sorted/);
  // Unknown field.
  const extra = bencode.encode({ ...bencode.decode(body), evil: 1 });
  assert.throws(() => openEntry(bencode.encode({ e: extra, s: id.sign(extra) })), /unknown field/);
});

test('size limits: an oversized record is refused unread, and user input over the limits is refused', () => {
  const id = Identity.generate();
  const huge = new Uint8Array(MAX_ENTRY_BYTES + 1);
  assert.throws(
    () => openEntry(huge),
    (err: EntryError) => err.reason === 'oversized',
  );
  assert.throws(() => makeEntry(id, 'acme/m', 1, { description: 'x'.repeat(3000) }), /description/);
  assert.throws(() => makeEntry(id, 'acme/m', 1, { tags: Array.from({ length: 40 }, (_, i) => `t${i}`) }), /tags/);
  assert.throws(() => makeEntry(id, '../etc', 1), /org\/model/);
  assert.throws(() => makeEntry(id, 'acme/m', 1, { trackers: ['file:///etc/passwd'] }), /tracker/);
});

test('a tombstone keeps only who, what, when and seq', () => {
  const id = Identity.generate();
  const t = signEntry({ ...makeEntry(id, 'acme/m', 2), deleted: true, license: 'mit', tags: ['x'] }, (m) => id.sign(m));
  const back = openEntry(t.record);
  assert.equal(back.deleted, true);
  assert.equal(back.seq, 2);
  assert.equal(back.v1, undefined);
  assert.deepEqual(back.tags, []);
});

test('one model state has one encoding: padded integers, empty optional fields and odd records are refused', () => {
  const id = Identity.generate();
  const e = makeEntry(id, 'acme/model');
  const { e: body } = bencode.decode(e.record);
  const resign = (b: Uint8Array) => bencode.encode({ e: b, s: id.sign(b) });
  // `i01000e` instead of `i1000e` for size.
  const padded = Buffer.from(Buffer.from(body).toString('latin1').replace('4:sizei1000e', '4:sizei01000e'), 'latin1');
  assert.notDeepEqual(padded, Buffer.from(body));
  assert.throws(
    () => openEntry(resign(padded)),
    (err: EntryError) => err.reason === 'malformed',
  );
  const fields = bencode.decode(body);
  fields.quant = new Uint8Array(0);
  assert.throws(() => openEntry(resign(bencode.encode(fields))), /empty quant/);
  // The record itself: an extra key, or the signature first, is not the one form.
  const sig = id.sign(body);
  assert.throws(() => openEntry(bencode.encode({ e: body, s: sig, x: 1 })), /\{e, s\}/);
  assert.throws(() =>
    openEntry(Buffer.concat([Buffer.from('d1:s64:'), sig, Buffer.from(`1:e${body.length}:`), body, Buffer.from('e')])),
  );
  assert.equal(openEntry(resign(body)).name, 'acme/model');
});
