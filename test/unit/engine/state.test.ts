// Issue 13 case 14: state files are checked, not trusted. A damaged .torrent (2 flipped bytes that still parse, a
// truncation) or record (bad JSON, a wrong field) is named in a warning, set aside as `*.damaged-<time>`, and reads
// as absent so the transfer recovers (metadata fetched again, pieces re-checked).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { StateDir, recordFault, type TransferRecord } from '../../../src/engine/state.js';
import { createTorrent } from '../../../src/torrent/create.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function setup() {
  const home = await mkdtemp(path.join(os.tmpdir(), 'silmaril-state-'));
  dirs.push(home);
  const src = path.join(home, 'model');
  await mkdir(src);
  await writeFile(path.join(src, 'a.bin'), Buffer.alloc(100_000, 3));
  const made = await createTorrent(src, { pieceLength: 16384 });
  const warnings: string[] = [];
  const state = new StateDir(home, (m) => warnings.push(m));
  return { home, made, state, warnings, id: made.infoHashV1 };
}

function record(id: string, over: Partial<TransferRecord> = {}): TransferRecord {
  return {
    version: 1,
    kind: 'download',
    infoHashV1: id,
    name: 'model',
    contentRoot: '/tmp/out/model',
    outDir: '/tmp/out',
    paused: false,
    complete: false,
    bitfield: Buffer.from([0xff, 0x80]).toString('base64'),
    files: [{ index: 0, size: 100_000, mtimeNs: '1700000000000000000' }],
    savedAt: Date.now(),
    ...over,
  };
}

test('a sound .torrent and record load as saved', async () => {
  const { state, made, id, warnings } = await setup();
  await state.saveTorrent(id, made.torrentBytes);
  await state.save(record(id));
  assert.deepEqual(Buffer.from((await state.loadTorrent(id))!), Buffer.from(made.torrentBytes));
  assert.equal((await state.load(id))?.name, 'model');
  assert.deepEqual(warnings, []);
});

test('a .torrent with 2 flipped bytes that still parses is not this id: named, set aside, reads as absent', async () => {
  const { state, made, id, warnings } = await setup();
  const bytes = Buffer.from(made.torrentBytes);
  // Two bytes inside the SHA-1 piece hashes: still a well-formed torrent, but another infohash.
  const at = bytes.indexOf(Buffer.from('6:pieces')) + 20;
  bytes[at] ^= 0x55;
  bytes[at + 7] ^= 0xaa;
  await state.saveTorrent(id, bytes);
  assert.equal(await state.loadTorrent(id), undefined);
  assert.equal(warnings.length, 1);
  assert.match(
    warnings[0],
    new RegExp(`${id}\\.torrent is damaged \\(its info dictionary hashes to [0-9a-f]{40}, not ${id}\\)`),
  );
  assert.match(warnings[0], /set aside as .*\.damaged-/);
  const names = await readdir(state.dir);
  assert.ok(
    names.some((n) => n.startsWith(`${id}.torrent.damaged-`)),
    names.join(),
  );
  assert.ok(!names.includes(`${id}.torrent`));
  // The set-aside file is kept as it was, for inspection.
  const aside = names.find((n) => n.startsWith(`${id}.torrent.damaged-`))!;
  assert.deepEqual(await readFile(path.join(state.dir, aside)), bytes);
  // Asked again: simply absent, no second warning.
  assert.equal(await state.loadTorrent(id), undefined);
  assert.equal(warnings.length, 1);
});

test('a truncated .torrent is named with its fault and set aside', async () => {
  const { state, made, id, warnings } = await setup();
  await state.saveTorrent(id, made.torrentBytes.subarray(0, 200));
  assert.equal(await state.loadTorrent(id), undefined);
  assert.match(warnings[0], /\.torrent is damaged \(truncated torrent/);
});

test('a record that is not JSON, or has a wrong field, is named and set aside', async () => {
  const { state, id, warnings } = await setup();
  await mkdir(state.dir, { recursive: true });
  const file = path.join(state.dir, `${id}.json`);
  await writeFile(file, '{"version":1,"kind":"downl');
  assert.equal(await state.load(id), undefined);
  assert.match(warnings[0], new RegExp(`${id}\\.json is damaged \\(not valid JSON\\).*checked again`));
  await state.save({ ...record(id), bitfield: 12 as unknown as string });
  assert.equal(await state.load(id), undefined);
  assert.match(warnings[1], /damaged \(bad "bitfield"\)/);
  assert.equal((await readdir(state.dir)).filter((n) => n.includes('.damaged-')).length, 2);
  // list() skips what it had to set aside.
  assert.deepEqual(await state.list(), []);
});

test('recordFault names the first wrong field', () => {
  const id = 'a'.repeat(40);
  assert.equal(recordFault(id, record(id)), undefined);
  assert.match(recordFault(id, record('b'.repeat(40)))!, /not a{40}/);
  assert.match(recordFault(id, { ...record(id), kind: 'x' })!, /kind/);
  assert.match(recordFault(id, { ...record(id), contentRoot: 'relative/path' })!, /contentRoot/);
  // A magnet download interrupted before its metadata came: no content root yet, which is sound (was set aside).
  assert.equal(recordFault(id, { ...record(id), kind: 'download', contentRoot: '', bitfield: undefined }), undefined);
  assert.match(recordFault(id, { ...record(id), kind: 'seed', contentRoot: '' })!, /contentRoot/);
  assert.match(recordFault(id, { ...record(id), files: [{ index: -1, size: 1, mtimeNs: '1' }] })!, /files/);
  assert.match(recordFault(id, { ...record(id), files: [{ index: 0, size: 1, mtimeNs: '1e9' }] })!, /mtime/);
  assert.match(recordFault(id, { ...record(id), peers: [5] })!, /peers/);
  assert.match(recordFault(id, { ...record(id), uploadLimit: 1.5 })!, /uploadLimit/);
  assert.match(recordFault(id, { ...record(id), superSeed: 'yes' as unknown as boolean })!, /superSeed/);
  assert.match(recordFault(id, null)!, /not an object/);
  // The system flag (a catalog file of the node, src/app/views.ts) is kept across restarts, and checked.
  assert.equal(recordFault(id, { ...record(id), system: true }), undefined);
  assert.match(recordFault(id, { ...record(id), system: 'yes' } as unknown as TransferRecord)!, /system/);
  // The order the user asked files in (file-order.ts) is kept across restarts, and checked.
  assert.equal(recordFault(id, { ...record(id), sequential: true, firstFiles: ['*.json'] }), undefined);
  assert.match(recordFault(id, { ...record(id), sequential: 1 } as unknown as TransferRecord)!, /sequential/);
  assert.match(recordFault(id, { ...record(id), firstFiles: '*.json' } as unknown as TransferRecord)!, /firstFiles/);
  assert.match(recordFault(id, { ...record(id), firstFiles: [''] })!, /firstFiles/);
});
