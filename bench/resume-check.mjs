// `npm run bench:resume`: the piece check a transfer runs when it starts with data already on disk (a seed of an
// existing folder, a download resumed with no usable resume record): `silmaril seed <folder> --torrent <t>` with a
// fresh --home, until its "ready" line, against libtorrent 2.0 adding the same torrent with the data in place until
// it seeds. Both hash every piece.
//
// Printed per run: wall time to ready, CPU of the whole process and, for silmaril, CPU of its main thread (the
// thread that is the extension host's in the editor: it must not hash). Read from /proc (Linux only) at the moment
// the ready line arrives. The folder (a model-like one, BENCH_MIB MiB, default 512) is generated once under
// os.tmpdir(); the torrent is libtorrent's hybrid of it. Fresh processes, interleaved, BENCH_ROUNDS rounds (default
// 3), warm page cache. BENCH_CLI: another build's dist/cli.js (an A/B of two builds).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LT_CHECK, LT_MAKE } from './lt-check.mjs';
import { MiB, generateModelFolder } from './model-folder.mjs';

const SIZE_MIB = Number(process.env.BENCH_MIB ?? 512);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PYTHON = '/usr/bin/python3';
const root = fileURLToPath(new URL('..', import.meta.url));
const CLI = process.env.BENCH_CLI ?? path.join(root, 'dist', 'cli.js');
const cacheDir = path.join(os.tmpdir(), `silmaril-bench-resume-${SIZE_MIB}`);
const TICK = 100; // USER_HZ: /proc times are in 1/100 s on Linux

function prepare() {
  const half = Math.floor((SIZE_MIB * MiB - 8 * MiB) / 2);
  return generateModelFolder(
    cacheDir,
    {
      'model-00001-of-00002.safetensors': half,
      'model-00002-of-00002.safetensors': half + 12_345,
      'tokenizer.json': 7 * MiB + 4321,
      'config.json': { architectures: ['BenchModel'], hidden_size: 4096 },
    },
    (model) => {
      const torrent = path.join(cacheDir, 'bench-model.torrent');
      const made = spawnSync(PYTHON, ['-c', LT_MAKE, model, '0', torrent, 'hybrid'], { encoding: 'utf8' });
      if (made.status !== 0) throw new Error(`libtorrent create failed: ${made.stderr}`);
      return '';
    },
  ).model;
}

/** utime + stime in seconds of a /proc stat file (a process, or one of its threads). */
function cpuOf(file) {
  const text = fs.readFileSync(file, 'utf8');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICK;
}

function ours(model, torrent) {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'silmaril-bench-resume-home-'));
  const args = [CLI, 'seed', model, '--torrent', torrent, '--home', home, '--json', '--no-dht', '--no-lsd'];
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let ready;
    const timer = setTimeout(() => child.kill('SIGKILL'), 600_000);
    child.stderr.on('data', (d) => (err += d));
    child.stdout.on('data', (d) => {
      out += d;
      if (ready || !out.includes('"event":"ready"')) return;
      const secs = (performance.now() - t0) / 1000;
      ready = { secs, main: cpuOf(`/proc/${child.pid}/task/${child.pid}/stat`), cpu: cpuOf(`/proc/${child.pid}/stat`) };
      child.kill('SIGTERM');
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      fs.rmSync(home, { recursive: true, force: true });
      if (ready) resolve(ready);
      else reject(new Error(`silmaril seed exited (${code}) before it was ready: ${err}${out}`));
    });
  });
}

function theirs(model, torrent) {
  const t0 = performance.now();
  const r = spawnSync(PYTHON, ['-c', LT_CHECK, torrent, path.dirname(model), String(os.availableParallelism())], {
    encoding: 'utf8',
  });
  const secs = (performance.now() - t0) / 1000;
  const [state, cpu] = r.stdout.trim().split(' ');
  if (r.status !== 0 || state !== 'ok') throw new Error(`libtorrent check failed: ${r.stderr}${r.stdout}`);
  return { secs, cpu: Number(cpu) };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main() {
  if (process.platform !== 'linux') throw new Error('bench:resume reads CPU times from /proc (Linux only)');
  if (!fs.existsSync(CLI)) throw new Error('dist/cli.js is missing: run npm run build');
  if (spawnSync(PYTHON, ['-c', 'import libtorrent'], { stdio: 'ignore' }).status !== 0)
    throw new Error('python3-libtorrent is missing (apt-get install python3-libtorrent)');
  const model = prepare();
  const torrent = path.join(cacheDir, 'bench-model.torrent');
  const size = fs.readdirSync(model).reduce((n, f) => n + fs.statSync(path.join(model, f)).size, 0);
  console.log(
    `folder: ${model}, ${(size / MiB).toFixed(0)} MiB; ${os.availableParallelism()} cores, ` +
      `load average ${os.loadavg()[0].toFixed(2)}`,
  );
  theirs(model, torrent); // warm-up: page cache
  const a = [];
  const b = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const x = await ours(model, torrent);
    const y = theirs(model, torrent);
    a.push(x);
    b.push(y);
    console.log(
      `round ${round}: silmaril ready in ${x.secs.toFixed(2)} s, CPU ${x.cpu.toFixed(2)} s (main thread ` +
        `${x.main.toFixed(2)} s); libtorrent seeding in ${y.secs.toFixed(2)} s, CPU ${y.cpu.toFixed(2)} s`,
    );
  }
  const m = (xs, k) => median(xs.map((x) => x[k]));
  console.log(
    `median of ${ROUNDS}: silmaril ${m(a, 'secs').toFixed(2)} s, CPU ${m(a, 'cpu').toFixed(2)} s, main thread ` +
      `${m(a, 'main').toFixed(2)} s; libtorrent ${m(b, 'secs').toFixed(2)} s, CPU ${m(b, 'cpu').toFixed(2)} s; ` +
      `wall ratio ${(m(b, 'secs') / m(a, 'secs')).toFixed(2)}x (>1: silmaril is faster), load average now ` +
      `${os.loadavg()[0].toFixed(2)}`,
  );
}

await main();
