// `npm run bench:create`: hybrid torrent creation speed, silmaril against libtorrent 2.0, on the same folder.
//
// The folder (generated once, cached under os.tmpdir()) looks like a model: 4 safetensors shards of 480 MiB, a
// tokenizer of a few MiB and small json files, about 1.9 GiB. Both tools run as fresh processes with the same
// piece length (our automatic choice for this size), interleaved, for ROUNDS rounds, after one warm-up read
// so both read from the page cache. Each round also checks that both produce the same infohashes.
// Knobs: BENCH_SHARD_MIB (default 480), BENCH_ROUNDS (default 3), BENCH_COLD=1 (evict the folder from the page
// cache before every run with posix_fadvise(DONTNEED), so both tools read from disk).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MiB, generateModelFolder } from './model-folder.mjs';

const SHARD_MIB = Number(process.env.BENCH_SHARD_MIB ?? 480);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PYTHON = '/usr/bin/python3';
const COLD = process.env.BENCH_COLD === '1';
const root = fileURLToPath(new URL('..', import.meta.url));
const CLI = path.join(root, 'dist', 'cli.js');

const cacheDir = path.join(os.tmpdir(), `silmaril-bench-create-${SHARD_MIB}`);
const model = path.join(cacheDir, 'bench-model');

function generate() {
  const shards = {};
  for (let i = 1; i <= 4; i++) shards[`model-0000${i}-of-00004.safetensors`] = SHARD_MIB * MiB + 12_345 * i;
  generateModelFolder(cacheDir, {
    ...shards,
    'tokenizer.json': 7 * MiB + 4321,
    'config.json': { architectures: ['LlamaForCausalLM'], hidden_size: 2048, num_hidden_layers: 22 },
    'generation_config.json': { bos_token_id: 1, eos_token_id: 2 },
    'tokenizer_config.json': { model_max_length: 2048, padding_side: 'right' },
    'special_tokens_map.json': { bos_token: '<s>', eos_token: '</s>' },
    'model.safetensors.index.json': { metadata: { total_size: 4 * SHARD_MIB * MiB } },
    'README.md': '# bench model\n\nGenerated data for bench/create.mjs.\n',
  });
}

function folderSize(dir) {
  let n = 0;
  for (const name of fs.readdirSync(dir)) n += fs.statSync(path.join(dir, name)).size;
  return n;
}

// Drops the folder's pages from the page cache (only these files: nothing else on the machine is affected).
function evict(dir) {
  const script = `import os, sys
for name in os.listdir(sys.argv[1]):
    fd = os.open(os.path.join(sys.argv[1], name), os.O_RDONLY)
    os.fsync(fd)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)`;
  const r = spawnSync(PYTHON, ['-c', script, dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`evicting the page cache failed: ${r.stderr}`);
}

function warm(dir) {
  const buf = Buffer.allocUnsafe(16 * MiB);
  for (const name of fs.readdirSync(dir)) {
    const fd = fs.openSync(path.join(dir, name), 'r');
    while (fs.readSync(fd, buf, 0, buf.length, null) > 0);
    fs.closeSync(fd);
  }
}

const LT_SCRIPT = `
import sys, libtorrent as lt, os
src, piece, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
fs = lt.file_storage()
lt.add_files(fs, src)
t = lt.create_torrent(fs, piece)
lt.set_piece_hashes(t, os.path.dirname(src))
data = lt.bencode(t.generate())
open(out, 'wb').write(data)
ih = lt.torrent_info(data).info_hashes()
print(str(ih.v1), str(ih.v2))
`;

// Wall clock and CPU time (user + system, all threads) of a fresh process, through /usr/bin/time when present.
function timed(cmd, args) {
  const useTime = fs.existsSync('/usr/bin/time');
  const cpuFile = path.join(os.tmpdir(), `silmaril-bench-cpu-${process.pid}`);
  const t0 = performance.now();
  const r = useTime
    ? spawnSync('/usr/bin/time', ['-f', '%U %S', '-o', cpuFile, cmd, ...args], { encoding: 'utf8' })
    : spawnSync(cmd, args, { encoding: 'utf8' });
  const secs = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  let cpu = NaN;
  if (useTime) {
    const [u, sy] = fs.readFileSync(cpuFile, 'utf8').trim().split('\n').pop().split(' ').map(Number);
    cpu = u + sy;
    fs.rmSync(cpuFile, { force: true });
  }
  return { secs, cpu, stdout: r.stdout };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function main() {
  if (!fs.existsSync(CLI)) throw new Error('dist/cli.js is missing: run npm run build');
  if (spawnSync(PYTHON, ['-c', 'import libtorrent'], { stdio: 'ignore' }).status !== 0) {
    throw new Error('python3-libtorrent is missing (apt-get install python3-libtorrent)');
  }
  generate();
  const size = folderSize(model);
  // Our automatic piece length for this size, given explicitly to both tools.
  let pieceLength = 16 * 1024;
  while (pieceLength < 16 * MiB && size > pieceLength * 2048) pieceLength *= 2;
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'silmaril-bench-out-'));
  console.log(
    `folder: ${model}\nsize: ${(size / MiB).toFixed(0)} MiB in ${fs.readdirSync(model).length} files, piece length ${pieceLength / 1024} KiB, ` +
      `${os.availableParallelism()} cores, load average ${os.loadavg()[0].toFixed(2)}`,
  );
  if (COLD) {
    console.log('cold runs: the folder is evicted from the page cache before every run');
  } else {
    console.log('warming the page cache...');
    warm(model);
  }

  const ours = [];
  const theirs = [];
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      const outOurs = path.join(outDir, `ours-${round}.torrent`);
      if (COLD) evict(model);
      const a = timed(process.execPath, [
        CLI,
        'create',
        model,
        '--piece-length',
        String(pieceLength),
        '--out',
        outOurs,
        '--json',
      ]);
      const outLt = path.join(outDir, `lt-${round}.torrent`);
      if (COLD) evict(model);
      const b = timed(PYTHON, ['-c', LT_SCRIPT, model, String(pieceLength), outLt]);
      const o = JSON.parse(a.stdout);
      const [v1, v2] = b.stdout.trim().split(' ');
      if (o.v1 !== v1 || o.v2 !== v2)
        throw new Error(`infohashes differ: ours ${o.v1} ${o.v2}, libtorrent ${v1} ${v2}`);
      ours.push(a);
      theirs.push(b);
      const rate = (t) => (size / MiB / t).toFixed(0);
      console.log(
        `round ${round}: silmaril ${a.secs.toFixed(2)} s (${rate(a.secs)} MiB/s, ${a.cpu.toFixed(2)} s CPU), ` +
          `libtorrent ${b.secs.toFixed(2)} s (${rate(b.secs)} MiB/s, ${b.cpu.toFixed(2)} s CPU), ` +
          `ratio ${(b.secs / a.secs).toFixed(2)}x, same infohashes`,
      );
    }
  } finally {
    fs.rmSync(outDir, { recursive: true, force: true });
  }
  const rate = (t) => (size / MiB / t).toFixed(0);
  const best = (xs) => Math.min(...xs.map((x) => x.secs));
  const mo = median(ours.map((x) => x.secs));
  const mt = median(theirs.map((x) => x.secs));
  const ratios = ours.map((o, i) => theirs[i].secs / o.secs);
  console.log(
    `\nsilmaril: median ${rate(mo)} MiB/s, best ${rate(best(ours))} MiB/s, CPU ${median(ours.map((x) => x.cpu)).toFixed(2)} s` +
      `\nlibtorrent: median ${rate(mt)} MiB/s, best ${rate(best(theirs))} MiB/s, CPU ${median(theirs.map((x) => x.cpu)).toFixed(2)} s` +
      `\nratio (libtorrent time / silmaril time, >1 means silmaril is faster): median of rounds ${median(ratios).toFixed(2)}x, ` +
      `best vs best ${(best(theirs) / best(ours)).toFixed(2)}x`,
  );
  console.log(
    `(wall clock of fresh processes, ${COLD ? 'cold' : 'warm'} page cache, load average now ${os.loadavg()[0].toFixed(2)})`,
  );
}

main();
