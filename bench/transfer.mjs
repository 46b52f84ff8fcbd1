// `npm run bench:transfer`: download speed and CPU over loopback TCP, silmaril against libtorrent 2.0, one run.
//
// A model-like folder (generated once, cached under os.tmpdir()): two safetensors shards, a tokenizer and small json
// files, about BENCH_MIB MiB (default 2048), as one hybrid torrent per piece size (BENCH_PIECE_MIB: a comma list of
// MiB, e.g. 1,4,16; default our automatic piece length), one table per piece size. Four pairs, one
// after the other, each a fresh seeder and a fresh downloader writing into an empty folder:
//   libtorrent -> libtorrent (the reference), silmaril -> libtorrent, libtorrent -> silmaril, silmaril -> silmaril.
// Time runs from the downloader's start until every piece is in and hash-checked ("complete"); silmaril's final
// whole-download v1+v2 check afterwards is reported separately. CPU seconds per process come from /proc (seeders)
// and from the downloaders' own accounting (process.cpuUsage / os.times), all threads included. "get peak" is the
// downloader's peak resident memory (VmHWM) when it reports complete.
// Each pair runs BENCH_ROUNDS times (default 3), rounds interleaved; the medians are printed.
// Knobs: BENCH_MIB, BENCH_PIECE_MIB, BENCH_ROUNDS, BENCH_PAIRS (comma list of ll,sl,ls,ss), BENCH_KEEP=1 (keep the downloads),
// BENCH_PROF=1 (run silmaril with --cpu-prof into $TMPDIR/silmaril-bench-prof/), BENCH_TRANSPORT=tcp|utp (peers
// over that transport only, on both sides; default tcp), BENCH_JSON=1 (a last line with the results as JSON),
// BENCH_CLI=path (another build's dist/cli.js, to compare two builds on the same machine).
// The same as flags: --mib N, --pieces 1,4,16, --rounds N, --pairs ll,sl, --transport tcp|utp, --prof, --json, --keep,
// --cli path (`node bench/transfer.mjs --mib 128 --pieces 4,16 --pairs ll,sl`); a flag wins over its variable.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MiB, generateModelFolder } from './model-folder.mjs';
import {
  createTorrent,
  envChoice,
  envList,
  envNumber,
  libtorrentGet,
  libtorrentSeed,
  median,
  requireBuild,
  silmarilGet,
  silmarilSeed,
} from './peers.mjs';

applyFlags(process.argv.slice(2));
const SIZE_MIB = envNumber('BENCH_MIB', 2048);
const PAIRS = envList('BENCH_PAIRS', 'll,sl,ls,ss');
const PROF = process.env.BENCH_PROF === '1';
/** Piece sizes in MiB, or [undefined] for the automatic one. */
const PIECES = process.env.BENCH_PIECE_MIB ? envList('BENCH_PIECE_MIB', '').map(Number) : [undefined];
for (const p of PIECES) {
  if (p !== undefined && !(p > 0 && Number.isInteger(Math.log2(p * 1024))))
    throw new Error('BENCH_PIECE_MIB: powers of two, in MiB (e.g. 0.5,1,4,16)');
}
const ROUNDS = envNumber('BENCH_ROUNDS', 3);
const TRANSPORT = envChoice('BENCH_TRANSPORT', ['tcp', 'utp']);
const SIL_TRANSPORT = TRANSPORT === 'tcp' ? ['--no-utp'] : ['--no-tcp'];
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);

const cacheDir = path.join(os.tmpdir(), `silmaril-bench-transfer-${SIZE_MIB}`);
const model = path.join(cacheDir, 'bench-model');
const autoTorrent = path.join(cacheDir, 'bench-model.torrent');
/** The torrent the pairs run now (one per piece size, made once next to the shared folder). */
let torrentFile = autoTorrent;
const work = path.join(os.tmpdir(), `silmaril-bench-transfer-work-${process.pid}`);

function generate() {
  const shard = Math.floor(((SIZE_MIB - 8) * MiB) / 2);
  generateModelFolder(
    cacheDir,
    {
      'model-00001-of-00002.safetensors': shard + 12345,
      'model-00002-of-00002.safetensors': shard - 12345,
      'tokenizer.json': 7 * MiB + 333,
      'config.json': { architectures: ['LlamaForCausalLM'] },
      'model.safetensors.index.json': { weight_map: {} },
    },
    (folder) => createTorrent(folder, autoTorrent, ['--json']),
  );
}

/** The torrent of the folder with `pieceMib` MiB pieces (automatic when undefined), created on first use. */
function torrentFor(pieceMib) {
  if (pieceMib === undefined) {
    return {
      file: autoTorrent,
      pieceLength: JSON.parse(fs.readFileSync(path.join(cacheDir, '.complete'), 'utf8')).pieceLength,
    };
  }
  const pieceLength = pieceMib * MiB;
  const file = path.join(cacheDir, `bench-model-${pieceLength / 1024}K.torrent`);
  if (!fs.existsSync(file)) {
    const tmp = `${file}.tmp`;
    createTorrent(model, tmp, ['--piece-length', `${pieceLength / 1024}K`]);
    fs.renameSync(tmp, file);
  }
  return { file, pieceLength };
}

/** utime+stime of a live process, all threads, in seconds. */
function procCpu(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** Peak resident memory of a process so far, in MiB (VmHWM). */
function procPeakMib(pid) {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN; // already exited
  }
}

function profArgs(tag) {
  if (!PROF) return [];
  const dir = path.join(os.tmpdir(), 'silmaril-bench-prof');
  fs.mkdirSync(dir, { recursive: true });
  return ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-name', `${tag}-${Date.now()}.cpuprofile`];
}

function seeder(kind, home) {
  if (kind === 'l') return libtorrentSeed({ torrent: torrentFile, save: cacheDir, transport: TRANSPORT });
  return silmarilSeed({ model, torrent: torrentFile, home, extra: SIL_TRANSPORT, nodeArgs: profArgs('seed') });
}

function leecher(kind, out, home, port) {
  if (kind === 'l')
    return libtorrentGet({ torrent: torrentFile, save: out, port, transport: TRANSPORT, timeoutS: 900 });
  return silmarilGet({ torrent: torrentFile, out, port, home, extra: SIL_TRANSPORT, nodeArgs: profArgs('get') });
}

const NAMES = { l: 'libtorrent', s: 'silmaril' };

async function runPair(pair) {
  const [s, l] = pair.split('');
  const dir = path.join(work, pair);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const seed = seeder(s, path.join(dir, 'home-seed'));
  try {
    const ready = await seed.waitFor((x) => x.event === 'ready', 'seeder');
    const seedCpu0 = procCpu(seed.child.pid);
    const t0 = performance.now();
    const get = leecher(l, path.join(dir, 'out'), path.join(dir, 'home-get'), ready.port);
    const complete = await get.waitFor((x) => x.event === (l === 'l' ? 'done' : 'complete'), 'downloader');
    const seedCpu = procCpu(seed.child.pid) - seedCpu0;
    // At "complete", before silmaril's final whole-download check (its own reading and hashing).
    const getPeakMib = procPeakMib(get.child.pid);
    const seconds = (complete.at - t0) / 1000;
    let verifySeconds = 0;
    if (l === 's') {
      const done = await get.waitFor((x) => x.event === 'done', 'downloader');
      if (!done.verified) throw new Error(`${pair}: download not verified`);
      verifySeconds = (done.at - complete.at) / 1000;
    }
    await get.exited;
    return { pair, seconds, mibps: SIZE_MIB / seconds, seedCpu, getCpu: complete.cpu, getPeakMib, verifySeconds };
  } finally {
    seed.child.stdin.end();
    seed.child.kill('SIGTERM');
    await seed.exited;
    if (process.env.BENCH_KEEP !== '1') fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  requireBuild();
  generate();
  const all = [];
  for (const pieceMib of PIECES) {
    const t = torrentFor(pieceMib);
    torrentFile = t.file;
    all.push({ pieceLength: t.pieceLength, results: await benchPieceSize(t.pieceLength) });
  }
  fs.rmSync(work, { recursive: true, force: true });
  if (PIECES.length > 1) {
    console.log('\nspeed ratio to libtorrent -> libtorrent, per piece size');
    console.log(`${'pair'.padEnd(24)} ${all.map((a) => `${a.pieceLength / 1024} KiB`.padStart(10)).join(' ')}`);
    for (const pair of PAIRS) {
      const cells = all.map((a) => {
        const ref = a.results.find((r) => r.pair === 'll');
        const r = a.results.find((x) => x.pair === pair);
        return (ref ? `${(r.mibps / ref.mibps).toFixed(2)}x` : `${r.mibps.toFixed(0)}MiB/s`).padStart(10);
      });
      console.log(`${`${NAMES[pair[0]]} -> ${NAMES[pair[1]]}`.padEnd(24)} ${cells.join(' ')}`);
    }
  }
  if (process.env.BENCH_JSON === '1') {
    const runs = all.map((a) => ({ transport: TRANSPORT, pieceLength: a.pieceLength, results: a.results }));
    console.log(JSON.stringify(runs.length === 1 ? runs[0] : { transport: TRANSPORT, runs }));
  }
}

async function benchPieceSize(pieceLength) {
  console.log(
    `\ntorrent: ${SIZE_MIB} MiB, ${pieceLength / 1024} KiB pieces, loopback ${TRANSPORT === 'tcp' ? 'TCP' : 'uTP'}, median of ${ROUNDS} rounds`,
  );
  // Rounds interleave the pairs so that load from elsewhere on the machine hits them alike; medians are reported.
  const runs = Object.fromEntries(PAIRS.map((p) => [p, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const pair of PAIRS) {
      const r = await runPair(pair);
      runs[pair].push(r);
      if (ROUNDS > 1) console.log(`  round ${round + 1} ${pair}: ${r.mibps.toFixed(1)} MiB/s`);
    }
  }
  const results = [];
  for (const pair of PAIRS) {
    const rs = runs[pair];
    const seconds = median(rs.map((x) => x.seconds));
    const r = {
      pair,
      seconds,
      mibps: SIZE_MIB / seconds,
      seedCpu: median(rs.map((x) => x.seedCpu)),
      getCpu: median(rs.map((x) => x.getCpu)),
      getPeakMib: median(rs.map((x) => x.getPeakMib)),
      verifySeconds: median(rs.map((x) => x.verifySeconds)),
    };
    results.push(r);
    console.log(
      `${NAMES[pair[0]].padEnd(10)} -> ${NAMES[pair[1]].padEnd(10)} ${r.seconds.toFixed(1).padStart(6)} s ${r.mibps.toFixed(1).padStart(7)} MiB/s  cpu seed ${r.seedCpu.toFixed(1)} s, get ${r.getCpu.toFixed(1)} s, get peak ${r.getPeakMib.toFixed(0)} MiB${r.verifySeconds ? `  (+${r.verifySeconds.toFixed(1)} s final v1+v2 check)` : ''}`,
    );
  }
  const ref = results.find((r) => r.pair === 'll');
  if (ref) {
    console.log('ratios to libtorrent -> libtorrent (speed: higher is better; CPU per byte: lower is better)');
    for (const r of results) {
      console.log(
        `${NAMES[r.pair[0]].padEnd(10)} -> ${NAMES[r.pair[1]].padEnd(10)} speed ${(r.mibps / ref.mibps).toFixed(2)}x  seeder cpu ${(r.seedCpu / ref.seedCpu).toFixed(2)}x  downloader cpu ${(r.getCpu / ref.getCpu).toFixed(2)}x`,
      );
    }
  }
  return results;
}

/** Command-line flags as the BENCH_* variables they stand for (read before any knob is). */
function applyFlags(args) {
  const valued = {
    '--mib': 'BENCH_MIB',
    '--pieces': 'BENCH_PIECE_MIB',
    '--rounds': 'BENCH_ROUNDS',
    '--pairs': 'BENCH_PAIRS',
    '--transport': 'BENCH_TRANSPORT',
    '--cli': 'BENCH_CLI',
  };
  const switches = { '--prof': 'BENCH_PROF', '--json': 'BENCH_JSON', '--keep': 'BENCH_KEEP' };
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].split('=', 2);
    if (switches[flag]) process.env[switches[flag]] = '1';
    else if (valued[flag]) {
      const v = inline ?? args[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      process.env[valued[flag]] = v;
    } else
      throw new Error(
        `unknown flag ${args[i]} (flags: ${[...Object.keys(valued), ...Object.keys(switches)].join(' ')})`,
      );
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
