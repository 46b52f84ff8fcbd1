// `npm run bench:swarm`: fan-out on loopback. One rate-limited seed and N downloaders started together, meeting
// through `silmaril tracker --open`, three swarms side by side in one run:
//   lt  libtorrent seed, N libtorrent downloaders (the reference)
//   ls  libtorrent seed, N `silmaril get`
//   ss  `silmaril seed --upload-limit`, N `silmaril get`
//   sx  the same with `silmaril seed --super-seed` (BEP 16), with --super-seed
// Printed per swarm: time until every downloader is done (from the start of the first), the ideal (size / seed
// rate), the seed's upload as a multiple of the torrent, bytes each downloader got from peers other than the seed
// (min / mean, as a multiple of the torrent), each downloader's peak memory (VmHWM, max / mean), the CPU seconds a
// downloader (mean) and the seed used (on a busy machine the swarm's total CPU decides its time), and the ratios to
// the libtorrent swarm of the same N (time, seed upload); for silmaril downloaders also the mean time from spawn to
// the first byte, and from the last piece to done (the final re-verification) with its CPU seconds.
// Goal (issue 9): seed upload <= 1.25x and all done within 1.5x of the ideal, at every N.
// Flags: --mib 128 --piece-kib 1024 --n 4,8,16 --rate-mib 8 --swarms lt,ls,ss --super-seed (adds sx) --timeout 300
// --utp (silmaril peers over uTP too; off by default: the libtorrent peers run TCP only, so all do)
// --nice-downloaders N (downloaders at niceness N: how much of the time is the seed starved of CPU; see below)
// (A super-seed looks like a downloader to its peers, so in sx "from non-seeds" includes what the seed sent.)
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values: flags } = parseArgs({
  options: {
    mib: { type: 'string', default: '128' },
    'piece-kib': { type: 'string', default: '1024' },
    n: { type: 'string', default: '4,8,16' },
    'rate-mib': { type: 'string', default: '8' },
    swarms: { type: 'string', default: 'lt,ls,ss' },
    'super-seed': { type: 'boolean', default: false },
    timeout: { type: 'string', default: '300' },
    utp: { type: 'boolean', default: false },
    'nice-downloaders': { type: 'string', default: '0' },
  },
});
const MiB = 1024 * 1024;
const SIZE_MIB = Number(flags.mib);
const PIECE = Number(flags['piece-kib']) * 1024;
const NS = flags.n.split(',').map(Number);
const RATE = Number(flags['rate-mib']) * MiB;
const SWARMS = flags.swarms.split(',');
if (flags['super-seed'] && !SWARMS.includes('sx')) SWARMS.push('sx');
const TIMEOUT_MS = Number(flags.timeout) * 1000;
const NO_UTP = flags.utp ? [] : ['--no-utp'];
// --nice-downloaders N: every swarm's downloaders run at niceness N (a diagnosis, off by default). On 2 cores, 16
// downloaders leave the seed a 17th of the CPU; on real machines each peer has its own, and the ideal assumes the
// seed's upload is limited by its rate alone. A run at nice 10 shows how much of a swarm's time is the seed starved.
const NICE = Number(flags['nice-downloaders']);
const PYTHON = '/usr/bin/python3';
const root = fileURLToPath(new URL('..', import.meta.url));
// BENCH_CLI=path/to/cli.js: another build (a copy of dist/ from before a change, for A/B runs at the same load).
const CLI = process.env.BENCH_CLI ? path.resolve(process.env.BENCH_CLI) : path.join(root, 'dist', 'cli.js');
const LT = path.join(root, 'test', 'interop', 'py', 'lt_swarm_peer.py');

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'silmaril-bench-swarm-'));
const procs = new Set();
process.on('exit', () => {
  for (const p of procs) p.child.kill('SIGKILL');
  fs.rmSync(work, { recursive: true, force: true });
});
process.on('SIGINT', () => process.exit(130));

// BENCH_LOG_DIR=dir: every process's stderr is kept there as <swarm>-<n>-<role>.log (with SILMARIL_SWARM_TRACE=1,
// silmaril peers write one line a second of what each of their wires is doing).
// BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof": extra node flags for the silmaril processes.
function start(cmd, args, logName) {
  const extra = cmd === process.execPath && process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(' ') : [];
  const child = spawn(cmd, [...extra, ...args], { stdio: ['pipe', 'pipe', 'pipe'], cwd: root });
  const p = { child, lines: [], waiters: [], stderr: '', uploads: [] };
  procs.add(p);
  if (process.env.BENCH_LOG_DIR && logName) {
    fs.mkdirSync(process.env.BENCH_LOG_DIR, { recursive: true });
    child.stderr.pipe(fs.createWriteStream(path.join(process.env.BENCH_LOG_DIR, `${logName}.log`)));
  }
  child.stderr.on('data', (d) => (p.stderr = (p.stderr + d).slice(-4000)));
  createInterface({ input: child.stdout }).on('line', (text) => {
    let line;
    try {
      line = JSON.parse(text);
    } catch {
      return;
    }
    line.at = performance.now();
    // Silmaril downloaders: when the first byte came, and when the last piece was in (before the final check).
    if (p.firstByteAt === undefined && line.event === 'stats' && line.downloaded > 0) p.firstByteAt = line.at;
    if (line.event === 'complete') p.complete = line;
    // BENCH_VERBOSE: the seed's upload over time (its stats lines, all kept).
    if (line.event === 'stats' && typeof line.uploaded === 'number') p.uploads.push([line.at, line.uploaded]);
    p.lines.push(line);
    if (p.lines.length > 50) p.lines.splice(0, p.lines.length - 50);
    for (const w of [...p.waiters]) {
      if (!w.pred(line)) continue;
      p.waiters.splice(p.waiters.indexOf(w), 1);
      w.resolve(line);
    }
  });
  p.exited = new Promise((resolve) =>
    child.on('exit', (code) => {
      procs.delete(p);
      resolve(code);
    }),
  );
  p.waitFor = (pred, ms = TIMEOUT_MS) =>
    new Promise((resolve, reject) => {
      const seen = p.lines.find(pred);
      if (seen) return resolve(seen);
      const timer = setTimeout(() => reject(new Error(`timeout: ${args.slice(0, 3).join(' ')}: ${p.stderr}`)), ms);
      p.waiters.push({ pred, resolve: (l) => (clearTimeout(timer), resolve(l)) });
      p.exited.then((code) => reject(new Error(`${args.slice(0, 3).join(' ')} exited ${code}: ${p.stderr}`)));
    });
  return p;
}

/** Peak resident memory of a live process (VmHWM), bytes. */
function peakRss(pid) {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** CPU seconds (user + system) a live process has used so far. */
function cpuSeconds(pid) {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
  } catch {
    return NaN;
  }
}

async function stop(p, how) {
  if (how === 'stdin') p.child.stdin.end('\n');
  else p.child.kill('SIGTERM');
  const t = setTimeout(() => p.child.kill('SIGKILL'), 15_000);
  await p.exited;
  clearTimeout(t);
}

// ---- the model and the tracker ----
const model = path.join(work, 'seed', 'swarm-model');
fs.mkdirSync(model, { recursive: true });
const block = crypto.randomBytes(4 * MiB);
for (const [name, bytes] of [
  ['model-00001-of-00002.safetensors', Math.floor((SIZE_MIB * MiB) / 2) + 4321],
  ['model-00002-of-00002.safetensors', Math.ceil((SIZE_MIB * MiB) / 2) - 4321],
]) {
  const fd = fs.openSync(path.join(model, name), 'w');
  for (let done = 0, i = 0; done < bytes; i++) {
    block.writeUInt32LE(i, 0);
    block.write(name, 4);
    const n = Math.min(block.length, bytes - done);
    fs.writeSync(fd, block, 0, n);
    done += n;
  }
  fs.closeSync(fd);
}
const SIZE = SIZE_MIB * MiB;
const ideal = SIZE / RATE;

const tracker = start(process.execPath, [
  CLI,
  'tracker',
  '--json',
  '--port',
  '0',
  '--open',
  '--interval',
  '10',
  '--rate-limit',
  '0',
  '--home',
  path.join(work, 'tracker'),
]);
const trackerReady = await tracker.waitFor((l) => l.event === 'ready', 20_000);
const torrent = path.join(work, 'swarm.torrent');
const made = spawnSync(process.execPath, [
  CLI,
  'create',
  model,
  '--piece-length',
  String(PIECE),
  '--tracker',
  trackerReady.announce,
  '--no-register',
  '--out',
  torrent,
]);
if (made.status !== 0) throw new Error(`create failed: ${made.stderr}`);

console.log(
  `bench:swarm: ${SIZE_MIB} MiB in 2 files, ${PIECE / 1024} KiB pieces, seed limited to ${flags['rate-mib']} MiB/s ` +
    `(ideal ${ideal.toFixed(1)} s), N = ${NS.join(', ')}; load ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}, ` +
    `${os.cpus().length} cores; each swarm starts after a sync and a 3 s pause${NICE ? `; downloaders at nice ${NICE}` : ''}`,
);

// Each swarm starts from the same state: the previous swarm's downloads written back to disk (up to N x the torrent
// of dirty pages, whose writeback would otherwise take CPU from the next swarm on these 2 cores) and a short pause.
async function settle() {
  spawnSync('sync');
  await new Promise((r) => setTimeout(r, 3000));
}

// ---- one swarm ----
/** A `silmaril seed` of the model (`extra`: --upload-limit...), its home in `dir`. */
function silmarilSeed(dir, extra, logName) {
  const args = ['seed', model, '--torrent', torrent, ...extra, ...NO_UTP, '--home', path.join(dir, 'seed-home')];
  return start(process.execPath, [CLI, ...args, '--json', '--no-dht', '--no-lsd'], logName);
}

/** A `silmaril get` of the torrent into `dir`/d`name`, its home `dir`/h`name`. */
function silmarilGet(dir, name, logName) {
  const args = ['get', torrent, '--out', path.join(dir, `d${name}`), '--home', path.join(dir, `h${name}`)];
  return start(process.execPath, [CLI, ...args, '--json', '--no-dht', '--no-lsd', ...NO_UTP], logName);
}

async function runSwarm(kind, n) {
  await settle();
  const dir = path.join(work, `${kind}-${n}`);
  fs.mkdirSync(dir, { recursive: true });
  const ltSeed = kind === 'lt' || kind === 'ls';
  const seed = ltSeed
    ? start(PYTHON, [LT, torrent, path.join(work, 'seed'), '--seed', '--upload-limit', String(RATE)])
    : silmarilSeed(
        dir,
        ['--upload-limit', String(Math.round(RATE / 1024)), ...(kind === 'sx' ? ['--super-seed'] : [])],
        `${kind}-${n}-seed`,
      );
  await seed.waitFor((l) => l.event === 'ready', 60_000);
  const t0 = performance.now();
  const downloaders = Array.from({ length: n }, (_, i) =>
    kind === 'lt' ? start(PYTHON, [LT, torrent, path.join(dir, `d${i}`)]) : silmarilGet(dir, i, `${kind}-${n}-d${i}`),
  );
  if (NICE) for (const d of downloaders) os.setPriority(d.child.pid, NICE);
  const results = await Promise.all(
    downloaders.map(async (d) => {
      const done = await d.waitFor((l) => l.event === 'done');
      return {
        done,
        rss: peakRss(d.child.pid),
        cpu: cpuSeconds(d.child.pid),
        // Spawn to first byte; last piece to done (the final re-verification) and its CPU.
        firstByte: d.firstByteAt !== undefined ? (d.firstByteAt - t0) / 1000 : NaN,
        verify: d.complete ? (done.at - d.complete.at) / 1000 : NaN,
        verifyCpu: d.complete && done.cpu !== undefined ? done.cpu - d.complete.cpu : NaN,
      };
    }),
  );
  const allDone = (Math.max(...results.map((r) => r.done.at)) - t0) / 1000;
  if (process.env.BENCH_VERBOSE) {
    const times = results.map((r) => ((r.done.at - t0) / 1000).toFixed(1));
    console.log(`  ${kind} N=${n}: done at ${times.join(', ')} s`);
    // The seed's upload rate per second since the downloaders started: where the seed sat idle.
    const perSecond = [];
    let last = 0;
    for (const [at, up] of seed.uploads) {
      const s = Math.floor((at - t0) / 1000);
      if (s < 0) continue;
      perSecond[s] = (perSecond[s] ?? 0) + (up - last) / MiB;
      last = up;
    }
    console.log(`  seed MiB/s per second: ${Array.from(perSecond, (x) => (x ?? 0).toFixed(1)).join(' ')}`);
  }
  // Stop the seed first (its upload total), then the downloaders (libtorrent's per-peer totals).
  let seedUp;
  const seedCpu = cpuSeconds(seed.child.pid);
  if (ltSeed) {
    const stopping = seed.waitFor((l) => l.event === 'stopped', 30_000);
    await stop(seed, 'stdin');
    seedUp = (await stopping).uploaded;
  } else {
    const stopping = seed.waitFor((l) => l.event === 'stopped', 30_000);
    await stop(seed, 'signal');
    seedUp = (await stopping).uploaded;
  }
  const fromPeers = [];
  for (let i = 0; i < n; i++) {
    const d = downloaders[i];
    if (kind === 'lt') {
      const stopping = d.waitFor((l) => l.event === 'stopped', 30_000);
      await stop(d, 'stdin');
      const s = await stopping;
      fromPeers.push(s.peers.filter((p) => !p.first_seed).reduce((a, p) => a + p.down, 0));
    } else {
      fromPeers.push(results[i].done.fromPeers);
      if (process.env.BENCH_VERBOSE) {
        const d = results[i].done;
        console.log(
          `  d${i}: fromPeers ${(d.fromPeers / SIZE).toFixed(2)} fromSeeds ${(d.fromSeeds / SIZE).toFixed(2)} downloaded ${(d.downloaded / SIZE).toFixed(2)} uploaded ${(d.uploaded / SIZE).toFixed(2)} cpu ${JSON.stringify(d.cpu)}`,
        );
      }
      await stop(d, 'signal');
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
  return {
    kind,
    n,
    allDone,
    seedUp: seedUp / SIZE,
    fromPeersMin: Math.min(...fromPeers) / SIZE,
    fromPeersMean: fromPeers.reduce((a, b) => a + b, 0) / n / SIZE,
    rssMax: Math.max(...results.map((r) => r.rss)) / MiB,
    rssMean: results.reduce((a, r) => a + r.rss, 0) / n / MiB,
    cpuMean: results.reduce((a, r) => a + r.cpu, 0) / n,
    firstByteMean: results.reduce((a, r) => a + r.firstByte, 0) / n,
    verifyMean: results.reduce((a, r) => a + r.verify, 0) / n,
    verifyCpuMean: results.reduce((a, r) => a + r.verifyCpu, 0) / n,
    seedCpu,
  };
}

const NAMES = {
  lt: 'libtorrent seed + libtorrent',
  ls: 'libtorrent seed + silmaril get',
  ss: 'silmaril seed + silmaril get',
  sx: 'silmaril --super-seed + get',
};
// Warm-up, not measured: one unlimited silmaril seed and one get. silmaril keeps a V8 code cache of its bundle
// (src/cli-launch.ts), written when a process that ran without one exits; after a rebuild the first silmaril swarm
// would otherwise start cold (0.3-0.5 s later first bytes at N = 16) and the swarms after it warm.
async function warmUp() {
  const dir = path.join(work, 'warm-up');
  const seed = silmarilSeed(dir, []);
  await seed.waitFor((l) => l.event === 'ready', 60_000);
  const get = silmarilGet(dir, '');
  await get.waitFor((l) => l.event === 'done');
  await stop(get, 'signal');
  await stop(seed, 'signal');
  fs.rmSync(dir, { recursive: true, force: true });
}
if (SWARMS.some((k) => k !== 'lt')) await warmUp();

const rows = [];
for (const n of NS) {
  const byKind = {};
  for (const kind of SWARMS) {
    try {
      byKind[kind] = await runSwarm(kind, n);
    } catch (err) {
      console.log(`N=${n} ${kind}: FAILED ${err.message.slice(0, 300)}`);
      continue;
    }
    const r = byKind[kind];
    const ref = byKind.lt;
    const vs =
      ref && kind !== 'lt'
        ? `  vs lt: time ${(r.allDone / ref.allDone).toFixed(2)}x, seed upload ${(r.seedUp / ref.seedUp).toFixed(2)}x`
        : '';
    const goal = r.seedUp <= 1.25 && r.allDone <= 1.5 * ideal ? 'goal met' : 'goal missed';
    console.log(
      `N=${String(n).padStart(2)} ${NAMES[kind].padEnd(31)} all done ${r.allDone.toFixed(1).padStart(6)} s ` +
        `(${(r.allDone / ideal).toFixed(2)}x ideal ${ideal.toFixed(1)} s)  seed up ${r.seedUp.toFixed(2)}x  ` +
        `from non-seeds min ${r.fromPeersMin.toFixed(2)}x mean ${r.fromPeersMean.toFixed(2)}x  ` +
        `peak RSS max ${r.rssMax.toFixed(0)} MiB mean ${r.rssMean.toFixed(0)} MiB  ` +
        `CPU s per downloader ${r.cpuMean.toFixed(1)} seed ${r.seedCpu.toFixed(1)}  ` +
        (Number.isNaN(r.verifyMean)
          ? ''
          : `first byte ${r.firstByteMean.toFixed(1)} s, last piece to done ${r.verifyMean.toFixed(1)} s ` +
            `(${r.verifyCpuMean.toFixed(2)} CPU s)  `) +
        `${goal}${vs}`,
    );
    rows.push(r);
  }
}
await stop(tracker, 'signal');
process.exit(0);
