// `create --v1-only` (issue 14, item 10): the torrent libtorrent 2.0 makes with `create_torrent(fs, piece_size,
// v1_only)` for the same files, byte for byte: no file tree, no pad files, pieces spanning files. Transmission 3.00
// and aria2 1.36 read it (the client matrix in this folder downloads it with them). In CI a missing libtorrent fails.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import bencode from 'bencode';
import { createTorrent } from '../../../src/torrent/create.js';
import { parseTorrent } from '../../../src/torrent/parse.js';

const PYTHON = '/usr/bin/python3';
const available = spawnSync(PYTHON, ['-c', 'import libtorrent'], { stdio: 'ignore' }).status === 0;
const skip = !available && process.env.CI !== 'true' ? 'python3-libtorrent is not installed' : false;

/** libtorrent's v1-only .torrent of `target` (a folder or file) at `pieceLength`. */
function libtorrentV1(target: string, pieceLength: number): Buffer {
  const script = `
import os, sys, libtorrent as lt
target, pl = sys.argv[1], int(sys.argv[2])
fs = lt.file_storage(); lt.add_files(fs, target)
ct = lt.create_torrent(fs, pl, flags=lt.create_torrent.v1_only)
lt.set_piece_hashes(ct, os.path.dirname(target))
sys.stdout.buffer.write(lt.bencode(ct.generate()))
`;
  const r = spawnSync(PYTHON, ['-c', script, target, String(pieceLength)], { timeout: 60_000 });
  if (r.status !== 0) throw new Error(`libtorrent failed: ${r.stderr}`);
  return r.stdout;
}

/** How many pieces libtorrent finds good when it checks `torrent` against the data next to `target`. */
function libtorrentChecks(torrentFile: string, target: string): { good: number; total: number; v2: boolean } {
  const script = `
import os, sys, time, json, libtorrent as lt
ti = lt.torrent_info(sys.argv[1])
ses = lt.session({'listen_interfaces': '127.0.0.1:0', 'enable_dht': False, 'enable_lsd': False,
                  'enable_upnp': False, 'enable_natpmp': False})
h = ses.add_torrent({'ti': ti, 'save_path': os.path.dirname(sys.argv[2])})
deadline = time.time() + 30
while time.time() < deadline:
    s = h.status()
    if s.state in (lt.torrent_status.seeding, lt.torrent_status.downloading, lt.torrent_status.finished):
        break
    time.sleep(0.05)
s = h.status()
print(json.dumps({'good': s.num_pieces, 'total': ti.num_pieces(), 'v2': ti.info_hashes().has_v2()}))
`;
  const r = spawnSync(PYTHON, ['-c', script, torrentFile, target], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`libtorrent failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

describe('create --v1-only matches libtorrent v1_only', { skip }, () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'silmaril-v1only-'));
  const folder = path.join(root, 'model');
  mkdirSync(path.join(folder, 'sub'), { recursive: true });
  writeFileSync(path.join(folder, 'a.bin'), crypto.randomBytes(50_000));
  writeFileSync(path.join(folder, 'sub', 'b.bin'), crypto.randomBytes(70_001));
  writeFileSync(path.join(folder, 'c.txt'), 'hi\n');
  writeFileSync(path.join(folder, 'empty'), '');
  const single = path.join(root, 'one.bin');
  writeFileSync(single, crypto.randomBytes(100_000));

  for (const [label, target, pl] of [
    ['a folder, pieces spanning files', folder, 16384],
    ['a folder, one piece', folder, 4 * 1024 * 1024],
    ['a single file', single, 32768],
  ] as const) {
    it(label, async () => {
      const ours = await createTorrent(target, { pieceLength: pl, v1Only: true });
      assert.equal(ours.infoHashV2, undefined);
      assert.doesNotMatch(ours.magnet, /btmh/);
      const parsed = parseTorrent(ours.torrentBytes);
      assert.equal(parsed.infoHashV1, ours.infoHashV1);
      assert.equal(parsed.infoHashV2, undefined);
      const top = bencode.decode(ours.torrentBytes) as Record<string, any>;
      assert.equal(top['piece layers'], undefined);
      assert.deepEqual(
        Object.keys(top.info).sort(),
        target === single ? ['length', 'name', 'piece length', 'pieces'] : ['files', 'name', 'piece length', 'pieces'],
      );
      // libtorrent lists a folder's files in directory order, we sort them; same files, same lengths.
      const theirs = bencode.decode(libtorrentV1(target, pl)) as { info: Record<string, any> };
      if (target === single) {
        assert.equal(
          Buffer.from(ours.infoBytes).toString('hex'),
          Buffer.from(bencode.encode(theirs.info)).toString('hex'),
        );
      } else {
        const list = (files: any[]) => files.map((f) => `${f.path.map(String).join('/')}:${f.length}`).sort();
        assert.deepEqual(list(top.info.files), list(theirs.info.files), 'the same files, no pad files');
      }
      // And libtorrent checks every piece of ours against the data.
      const file = path.join(root, `${path.basename(target)}-${pl}.torrent`);
      writeFileSync(file, ours.torrentBytes);
      const check = libtorrentChecks(file, target);
      assert.deepEqual(check, { good: ours.pieceCount, total: ours.pieceCount, v2: false });
    });
  }

  it('cleans up', () => rmSync(root, { recursive: true, force: true }));
});
