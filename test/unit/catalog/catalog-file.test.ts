// Catalog files are hostile input: decoded by the one strict bencode reader with limits (records, size, depth).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { brotliCompressSync, brotliDecompressSync, constants, createBrotliCompress } from 'node:zlib';
import {
  CatalogFileError,
  CatalogReader,
  decodeCatalog,
  decodeCatalogStream,
  encodeCatalog,
  encodeCatalogV1,
  MAX_CATALOG_ENTRIES,
} from '../../../src/catalog/catalog-file.js';
import { Identity } from '../../../src/catalog/identity.js';
import { makeEntry } from './helpers.js';

const TAIL = 'e6:format16:silmaril-catalog7:versioni1ee';

/** `d7:entriesl` + `count` empty records + the tail, brotli-compressed as a stream (never whole in memory). */
async function emptyRecordBomb(count: number): Promise<Buffer> {
  const c = createBrotliCompress({ params: { [constants.BROTLI_PARAM_QUALITY]: 5 } });
  const out: Buffer[] = [];
  c.on('data', (d: Buffer) => out.push(d));
  const done = new Promise((r) => c.on('end', r));
  c.write('d7:entriesl');
  const per = 512 * 1024;
  const chunk = Buffer.from('0:'.repeat(per));
  for (let n = 0; n < count; n += per) c.write(n + per <= count ? chunk : chunk.subarray(0, (count - n) * 2));
  c.end(TAIL);
  await done;
  return Buffer.concat(out);
}

test('issue 13 case 7: a 1.7 KB file expanding to 240 MB of empty records is refused with a bounded heap', async () => {
  const bomb = await emptyRecordBomb(120 * 1024 * 1024);
  assert.ok(bomb.length < 4096, `the bomb is ${bomb.length} bytes`);
  const dir = mkdtempSync(join(tmpdir(), 'silmaril-bomb-'));
  try {
    writeFileSync(join(dir, 'catalog.bin'), bomb);
    // A 160 MB heap: the generic decoder (one object per record, 120 million of them) dies of out-of-memory there.
    for (const mode of ['--whole', '--stream']) {
      const r = spawnSync(
        process.execPath,
        [
          '--max-old-space-size=160',
          '--import',
          'tsx',
          '--import',
          './build/register.mjs',
          join(import.meta.dirname, 'fixtures', 'decode-catalog.ts'),
          join(dir, 'catalog.bin'),
          mode,
        ],
        { encoding: 'utf8', timeout: 120_000 },
      );
      assert.equal(r.status, 0, `decoder process died (${mode}): ${r.signal ?? ''} ${r.stderr.slice(-500)}`);
      const out = JSON.parse(r.stdout.trim());
      assert.equal(out.ok, false);
      assert.equal(out.name, 'CatalogFileError');
      assert.match(out.message, new RegExp(`more than ${MAX_CATALOG_ENTRIES} entries`));
      // The stream stops decompressing at the record limit: it never holds the 240 MB (the whole-file path may).
      if (mode === '--stream') assert.ok(out.maxRssMiB < 400, `peak RSS ${out.maxRssMiB} MiB`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('version 1 catalog files read as a stream give the same records, however the bytes are cut', async () => {
  const a = Identity.generate();
  const entries = Array.from({ length: 40 }, (_, i) => makeEntry(a, `acme/m${i}`));
  const file = encodeCatalogV1(entries);
  const whole = decodeCatalog(file).map((r) => Buffer.from(r).toString('hex'));
  assert.equal(whole.length, 40);
  assert.deepEqual(
    (await decodeCatalogStream(file)).map((r) => Buffer.from(r).toString('hex')),
    whole,
  );
  const raw = brotliDecompressSync(file);
  for (const size of [1, 2, 3, 7, 11, 64, 300, 4096]) {
    const reader = new CatalogReader();
    for (let i = 0; i < raw.length; i += size) reader.push(raw.subarray(i, i + size));
    assert.deepEqual(
      reader.finish().map((r) => Buffer.from(r).toString('hex')),
      whole,
      `cut every ${size} bytes`,
    );
  }
  // A big catalog (many 64 KiB windows) through the stream.
  const many = Array.from({ length: 3000 }, (_, i) => makeEntry(a, `acme/n${i}`));
  assert.equal((await decodeCatalogStream(encodeCatalogV1(many))).length, 3000);
  // Refusals come out of the stream as CatalogFileError, never as a crash.
  await assert.rejects(decodeCatalogStream(Buffer.from('not brotli at all')), CatalogFileError);
  await assert.rejects(decodeCatalogStream(brotliCompressSync(Buffer.from(`d7:entriesl${TAIL}xx`))), /trailing/);
  await assert.rejects(decodeCatalogStream(brotliCompressSync(Buffer.from('d7:entriesl5:ab'))), /truncated/);
});

test('catalog files: the limits refuse whole, a real catalog reads back record for record', () => {
  const a = Identity.generate();
  const entries = [makeEntry(a, 'acme/one'), makeEntry(a, 'acme/two')];
  assert.equal(decodeCatalog(encodeCatalog(entries)).length, 2);
  const records = decodeCatalog(encodeCatalogV1(entries));
  assert.equal(records.length, 2);
  const pack = (s: string) => brotliCompressSync(Buffer.from(s));
  // Nesting is bounded (no stack overflow, no tree of junk).
  assert.throws(() => decodeCatalog(pack(`d7:entriesl${'l'.repeat(10_000)}`)), /nested deeper than 3/);
  // Duplicate keys, trailing bytes, truncation and huge integers are refused, not guessed at.
  assert.throws(() => decodeCatalog(pack(`d7:entriesle7:entriesle${TAIL.slice(1)}`)), /duplicate/);
  assert.throws(() => decodeCatalog(pack(`d7:entriesl${TAIL}xx`)), /trailing/);
  assert.throws(() => decodeCatalog(pack(`d7:entriesl5:ab`)), CatalogFileError);
  assert.throws(
    () => decodeCatalog(pack(`d7:entriesle6:format16:silmaril-catalog7:versioni9223372036854775807ee`)),
    /too large/,
  );
  // Items that are not strings come through as empty records (merge counts them as malformed).
  assert.deepEqual(
    decodeCatalog(pack(`d7:entriesli1eli2ee${TAIL}`)).map((r) => r.length),
    [0, 0],
  );
});
