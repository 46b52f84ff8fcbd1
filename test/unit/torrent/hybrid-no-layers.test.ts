// Issue 14 item 3: a hybrid without `piece layers` (what qBittorrent exports for a hybrid added by magnet before it
// completes) is accepted: its v1 hashes cover every byte. `info`, `verify` (and so `get`, which parses the same way)
// read it; the missing layers are noted. A v2-only torrent without layers is still refused with a clear message.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile, mkdir, open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTorrent } from '../../../src/torrent/create.js';
import { parseTorrent } from '../../../src/torrent/parse.js';
import { verifyTorrent } from '../../../src/torrent/verify.js';
import { HashPool } from '../../../src/torrent/hash-pool.js';
import { TorrentError } from '../../../src/torrent/types.js';

const CLI = fileURLToPath(new URL('../../../dist/cli.js', import.meta.url));
const pool = new HashPool({ size: 1 });
const dirs: string[] = [];
after(async () => {
  await pool.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** A real hybrid of two multi-piece files, and the same torrent with `piece layers` dropped (info untouched). */
async function fixture() {
  const base = await mkdtemp(join(tmpdir(), 'silmaril-nolayers-'));
  dirs.push(base);
  const content = join(base, 'model');
  await mkdir(content);
  await writeFile(join(content, 'a.bin'), Buffer.alloc(5 * 16384 + 100, 7));
  await writeFile(join(content, 'b.bin'), Buffer.alloc(3 * 16384, 9));
  const created = await createTorrent(content, { pieceLength: 16384, pool });
  const stripped = Buffer.concat([Buffer.from('d4:info'), created.infoBytes, Buffer.from('e')]);
  const file = join(base, 'stripped.torrent');
  await writeFile(file, stripped);
  return { base, content, created, stripped, file };
}

test('a hybrid without piece layers parses (same hashes, missing layers noted) and verifies by v1+roots', async () => {
  const { content, created, stripped } = await fixture();
  const full = parseTorrent(created.torrentBytes);
  assert.equal(full.missingPieceLayers, undefined);
  const t = parseTorrent(stripped);
  assert.equal(t.version, 'hybrid');
  assert.equal(t.infoHashV1, full.infoHashV1);
  assert.equal(t.infoHashV2, full.infoHashV2);
  assert.equal(t.missingPieceLayers, 2);
  assert.match(t.warnings.join('\n'), /piece layers are missing for 2 files/);

  const ok = await verifyTorrent(t, content, { pool });
  assert.equal(ok.ok, true, JSON.stringify(ok.damagedFiles));
  // A flipped byte is still found, and pinned to its piece by the v1 hashes.
  const fh = await open(join(content, 'a.bin'), 'r+');
  await fh.write(Buffer.from([0]), 0, 1, 2 * 16384 + 5);
  await fh.close();
  const bad = await verifyTorrent(t, content, { pool });
  assert.equal(bad.ok, false);
  assert.deepEqual(
    bad.damagedFiles.map((d) => [d.path, d.badPieces]),
    [['a.bin', [2]]],
  );
});

test('a v2-only torrent without piece layers is refused with a message that says why', () => {
  // v2 only: meta version 2 + file tree, no v1 keys, one file of 2 pieces, no piece layers.
  const tree = `9:file treed5:a.bind0:d6:lengthi32768e11:pieces root32:${'r'.repeat(32)}eee`;
  const info = `d${tree}12:meta versioni2e4:name5:model12:piece lengthi16384ee`;
  const bytes = Buffer.from(`d4:info${info}e`);
  assert.throws(
    () => parseTorrent(bytes),
    (e: unknown) =>
      e instanceof TorrentError &&
      /piece layers for "a.bin" are missing: a v2-only torrent cannot be checked without them/.test(e.message),
  );
});

test(
  'silmaril info and verify accept the hybrid without layers and say so',
  { skip: !existsSync(CLI) && process.env.CI !== 'true' ? 'dist/cli.js not built' : false },
  async () => {
    const { base, file } = await fixture();
    const info = spawnSync(process.execPath, [CLI, 'info', file], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(info.status, 0, info.stderr);
    assert.match(info.stdout, /hybrid/);
    assert.match(info.stdout, /piece layers {2}missing for 2 file\(s\)/);
    assert.match(info.stderr, /warning: piece layers are missing/);
    const json = spawnSync(process.execPath, [CLI, 'info', file, '--json'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(JSON.parse(json.stdout).missingPieceLayers, 2);
    const v = spawnSync(process.execPath, [CLI, 'verify', file, base], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(v.status, 0, v.stderr + v.stdout);
    assert.match(v.stdout, /^ok: /);
  },
);
