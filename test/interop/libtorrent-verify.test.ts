// Our parser and `silmaril verify` against torrents made by libtorrent 2.0 (Debian python3-libtorrent, run with
// /usr/bin/python3): hybrid, v1-only (`create_torrent.v1_only`: directory order, no pad files, pieces span files)
// and v2-only (`v2_only`) torrents of the same generated data, at two piece lengths, for a folder and a single file.
// Our parser must report libtorrent's own infohashes (`info_hashes()`); the bundled CLI (`node dist/cli.js verify`)
// must accept the data, and after one flipped byte must exit non-zero naming the damaged file.
// In CI a missing libtorrent is a failure.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseTorrent } from '../../src/torrent/parse.js';

const PYTHON = '/usr/bin/python3';
const TOOL = fileURLToPath(new URL('./py/lt_verify_make.py', import.meta.url));
const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const KiB = 1024;

const available = spawnSync(PYTHON, ['-c', 'import libtorrent'], { stdio: 'ignore' }).status === 0;
// Outside CI a machine without libtorrent skips; in CI the test runs and fails loudly.
const skip = !available && process.env.CI !== 'true' ? 'python3-libtorrent is not installed' : false;

type Mode = 'hybrid' | 'v1' | 'v2';
interface Made {
  v1: string | null;
  v2: string | null;
  out: string;
}

let root: string;

function ltMake(jobs: { path: string; pieceLength: number; mode: Mode; out: string }[]): Made[] {
  const r = spawnSync(PYTHON, [TOOL], { input: JSON.stringify({ jobs }), encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`lt_verify_make.py failed (${r.status}): ${r.stderr || r.error}`);
  return JSON.parse(r.stdout).results;
}

function silmaril(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function put(file: string, length: number): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, crypto.randomBytes(length));
}

async function flip(file: string, position: number): Promise<void> {
  const fh = await open(file, 'r+');
  const b = Buffer.alloc(1);
  await fh.read(b, 0, 1, position);
  b[0] ^= 0x5a;
  await fh.write(b, 0, 1, position);
  await fh.close();
}

before(async () => {
  if (skip) return;
  assert.ok(existsSync(CLI), `${CLI} is missing: run npm run build first`);
  root = await mkdtemp(path.join(os.tmpdir(), 'silmaril-ltverify-'));
  const m = path.join(root, 'data', 'model');
  // Byte order vs path order, nesting, non-ASCII and spaces, empty files, exactly one piece, 16 KiB ± 1, one byte,
  // many small files, a multi-piece file.
  await put(path.join(m, 'sub', 'x.bin'), 40_000);
  await put(path.join(m, 'sub', 'deeper', 'z.bin'), 16 * KiB + 1);
  await put(path.join(m, 'sub-dash'), 1);
  await put(path.join(m, 'sub.txt'), 16 * KiB - 1);
  await put(path.join(m, 'with space ü.json'), 3_000);
  await put(path.join(m, '日本語.txt'), 5_000);
  await put(path.join(m, 'empty'), 0);
  await put(path.join(m, 'exactly-16k'), 16 * KiB);
  await put(path.join(m, 'exactly-64k'), 64 * KiB);
  await put(path.join(m, 'model.safetensors'), 300_000);
  for (let i = 0; i < 40; i++) await put(path.join(m, 'small', `f${String(i).padStart(3, '0')}.json`), 100 + i * 37);
  await put(path.join(root, 'single', 'weights.gguf'), 200_000);
});

after(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

const cases: { label: string; target: () => string; parent: () => string; flipFile: string; flipAt: number }[] = [
  {
    label: 'folder',
    target: () => path.join(root, 'data', 'model'),
    parent: () => path.join(root, 'data'),
    flipFile: 'sub/x.bin',
    flipAt: 20_000,
  },
  {
    label: 'single file',
    target: () => path.join(root, 'single', 'weights.gguf'),
    parent: () => path.join(root, 'single'),
    flipFile: 'weights.gguf',
    flipAt: 150_000,
  },
];

for (const c of cases) {
  for (const pieceLength of [16 * KiB, 64 * KiB]) {
    test(
      `${c.label}, ${pieceLength / KiB} KiB pieces: libtorrent's hybrid, v1-only and v2-only torrents`,
      { skip },
      async () => {
        const modes: Mode[] = ['hybrid', 'v1', 'v2'];
        const made = ltMake(
          modes.map((mode) => ({
            path: c.target(),
            pieceLength,
            mode,
            out: path.join(root, `${c.label.replace(' ', '-')}-${pieceLength}-${mode}.torrent`),
          })),
        );
        for (let i = 0; i < modes.length; i++) {
          const mode = modes[i];
          const lt = made[i];
          const t = parseTorrent(await readFile(lt.out));
          assert.equal(t.version, mode, `${mode}: version`);
          assert.equal(t.infoHashV1 ?? null, lt.v1, `${mode}: v1 infohash equals libtorrent's`);
          assert.equal(t.infoHashV2 ?? null, lt.v2, `${mode}: v2 infohash equals libtorrent's`);

          // Accepts the intact data, given the content itself or the folder holding it.
          for (const where of [c.target(), c.parent()]) {
            const ok = silmaril(['verify', lt.out, where, '--json']);
            assert.equal(ok.code, 0, `${mode} ${where}: ${ok.stderr} ${ok.stdout}`);
            const res = JSON.parse(ok.stdout);
            assert.equal(res.ok, true);
            assert.equal(res.bytesChecked, t.length);
          }

          // One flipped byte: non-zero exit naming the file, in JSON and in the human report.
          const damaged = c.label === 'folder' ? path.join(c.target(), c.flipFile) : c.target();
          await flip(damaged, c.flipAt);
          try {
            const bad = silmaril(['verify', lt.out, c.parent(), '--json']);
            assert.equal(bad.code, 1, `${mode}: ${bad.stderr}`);
            const res = JSON.parse(bad.stdout);
            assert.equal(res.ok, false);
            const file = t.files.find((f) => f.path.join('/') === c.flipFile)!;
            const piece = Math.floor((file.offset + c.flipAt) / pieceLength);
            assert.deepEqual(res.badPieces, [piece], `${mode}: bad pieces`);
            const named = res.damagedFiles.find((d: any) => d.path === c.flipFile);
            assert.deepEqual([named?.reason, named?.badPieces], ['content', [piece]], `${mode}: the file is named`);
            if (mode !== 'v1') {
              assert.equal(res.damagedFiles.length, 1, `${mode}: only the damaged file`);
            } else {
              // v1 pieces span files: every file sharing the bad piece is flagged, and only those.
              for (const d of res.damagedFiles) {
                const f = t.files.find((x) => x.path.join('/') === d.path)!;
                assert.ok(f.offset < (piece + 1) * pieceLength && f.offset + f.length > piece * pieceLength, d.path);
              }
            }
            const human = silmaril(['verify', lt.out, c.target()]);
            assert.notEqual(human.code, 0);
            assert.match(human.stdout, new RegExp(`^${c.flipFile.replace('.', '\\.')}: damaged, piece \\d+`, 'm'));
            assert.match(human.stderr, /verification failed: \d+ damaged files? in /);
          } finally {
            await flip(damaged, c.flipAt);
          }
        }
      },
    );
  }
}
