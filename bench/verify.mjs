// `npm run bench:verify`: verification speed, `silmaril verify` against libtorrent 2.0's own full check of the same
// torrent and data (add the torrent with the data in place, wait until checking ends and it seeds).
//
// The folder (generated once, cached under os.tmpdir()) looks like a model: 4 safetensors shards of BENCH_SHARD_MIB
// MiB (default 256), a tokenizer and small json files. libtorrent makes two torrents of it with the same piece
// length: a hybrid (files piece-aligned: each file is read once for SHA-1 and SHA-256) and a v1-only one (pieces
// span files). Both tools run as fresh processes, interleaved, for BENCH_ROUNDS rounds (default 3), after one
// warm-up read so both read from the page cache; libtorrent gets as many hashing threads as there are cores.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LT_CHECK, LT_MAKE } from './lt-check.mjs';
import { MiB, generateModelFolder } from './model-folder.mjs';

const SHARD_MIB = Number(process.env.BENCH_SHARD_MIB ?? 256);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PYTHON = '/usr/bin/python3';
const root = fileURLToPath(new URL('..', import.meta.url));
const CLI = path.join(root, 'dist', 'cli.js');
const cacheDir = path.join(os.tmpdir(), `silmaril-bench-verify-${SHARD_MIB}`);
const model = path.join(cacheDir, 'bench-model');

function generate() {
  const files = {};
  for (let i = 1; i <= 4; i++) files[`model-0000${i}-of-00004.safetensors`] = SHARD_MIB * MiB + 12_345 * i;
  files['tokenizer.json'] = 7 * MiB + 4321;
  for (const name of ['config.json', 'generation_config.json', 'tokenizer_config.json', 'special_tokens_map.json'])
    files[name] = { name, pad: 'x'.repeat(crypto.randomInt(100, 3000)) };
  generateModelFolder(cacheDir, files);
}

function warm(dir) {
  const buf = Buffer.allocUnsafe(16 * MiB);
  for (const name of fs.readdirSync(dir)) {
    const fd = fs.openSync(path.join(dir, name), 'r');
    while (fs.readSync(fd, buf, 0, buf.length, null) > 0);
    fs.closeSync(fd);
  }
}

function timed(cmd, args) {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  const secs = (performance.now() - t0) / 1000;
  return { secs, code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function main() {
  if (!fs.existsSync(CLI)) throw new Error('dist/cli.js is missing: run npm run build');
  if (spawnSync(PYTHON, ['-c', 'import libtorrent'], { stdio: 'ignore' }).status !== 0)
    throw new Error('python3-libtorrent is missing (apt-get install python3-libtorrent)');
  generate();
  const size = fs.readdirSync(model).reduce((n, f) => n + fs.statSync(path.join(model, f)).size, 0);
  let pieceLength = 16 * 1024;
  while (pieceLength < 16 * MiB && size > pieceLength * 2048) pieceLength *= 2;
  const cores = os.availableParallelism();
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'silmaril-bench-verify-out-'));
  console.log(
    `folder: ${model}\nsize: ${(size / MiB).toFixed(0)} MiB in ${fs.readdirSync(model).length} files, piece length ` +
      `${pieceLength / 1024} KiB, ${cores} cores, load average ${os.loadavg()[0].toFixed(2)}`,
  );
  try {
    for (const mode of ['hybrid', 'v1']) {
      const torrent = path.join(outDir, `${mode}.torrent`);
      const made = spawnSync(PYTHON, ['-c', LT_MAKE, model, String(pieceLength), torrent, mode], { encoding: 'utf8' });
      if (made.status !== 0) throw new Error(`libtorrent create failed: ${made.stderr}`);
      warm(model);
      const ours = [];
      const theirs = [];
      for (let round = 1; round <= ROUNDS; round++) {
        const a = timed(process.execPath, [CLI, 'verify', torrent, path.dirname(model), '--json']);
        if (a.code !== 0 || !JSON.parse(a.stdout).ok) throw new Error(`silmaril verify failed: ${a.stderr}${a.stdout}`);
        const b = timed(PYTHON, ['-c', LT_CHECK, torrent, path.dirname(model), String(cores)]);
        if (b.code !== 0 || !b.stdout.startsWith('ok '))
          throw new Error(`libtorrent check failed: ${b.stderr}${b.stdout}`);
        ours.push(a.secs);
        theirs.push(b.secs);
        const rate = (s) => (size / MiB / s).toFixed(0);
        console.log(
          `${mode} round ${round}: silmaril ${a.secs.toFixed(2)} s (${rate(a.secs)} MiB/s), ` +
            `libtorrent ${b.secs.toFixed(2)} s (${rate(b.secs)} MiB/s), both verified every piece`,
        );
      }
      const mo = median(ours);
      const mt = median(theirs);
      console.log(
        `${mode}: median of ${ROUNDS}: silmaril ${(size / MiB / mo).toFixed(0)} MiB/s, libtorrent ` +
          `${(size / MiB / mt).toFixed(0)} MiB/s, ratio ${(mt / mo).toFixed(2)}x (>1: silmaril is faster)\n`,
      );
    }
  } finally {
    fs.rmSync(outDir, { recursive: true, force: true });
  }
  console.log(`(wall clock of fresh processes, warm page cache, load average now ${os.loadavg()[0].toFixed(2)})`);
}

main();
