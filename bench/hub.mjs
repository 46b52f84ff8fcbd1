// `npm run bench:hub`: one model from a Hugging Face cache, fetched into another cache by `silmaril get --hf-cache`
// with a fake Hub (loopback, 302 to a CDN, HTTP ranges) limited to a fixed rate, and 0, 1 and 4 peers (each a
// `silmaril seed` of the snapshot, upload-limited). Prints, per case: time to done, the share of bytes from the Hub,
// the time against the Hub alone at its rate (size / rate), and against the reference run in the same bench:
// libtorrent 2.0 fetching the same torrent from the same Hub as a BEP 19 web seed, no peer.
// Goal: no peers -> about the Hub's rate; more peers -> a shrinking Hub share.
// Knobs: BENCH_MIB (model size, default 48), BENCH_HUB_KIBS (Hub rate, default 8192), BENCH_PEER_KIBS (each peer's
// upload limit, default 3072), BENCH_BELOW_KIBS (--web-seed-below, default 6144), BENCH_PEERS (default 0,1,4).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startFakeHub } from '../test/integration/hf-fake-hub.ts';
import { addRevision, bytesOf } from '../test/unit/models/hf-fake-cache.ts';
import { createHfTorrent, findHfSnapshot } from '../src/models/hf/share.ts';

const MIB = Number(process.env.BENCH_MIB ?? 48);
const HUB = Number(process.env.BENCH_HUB_KIBS ?? 8192) * 1024;
const PEER_KIBS = Number(process.env.BENCH_PEER_KIBS ?? 3072);
const BELOW_KIBS = Number(process.env.BENCH_BELOW_KIBS ?? 6144);
const CASES = (process.env.BENCH_PEERS ?? '0,1,4').split(',').map(Number);
const root = fileURLToPath(new URL('..', import.meta.url));
const CLI = path.join(root, 'dist', 'cli.js');
const COMMIT = 'b'.repeat(40);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'silmaril-bench-hub-'));
const running = new Set();

const startPy = (args) =>
  start(args, {}, '/usr/bin/python3', [path.join(root, 'test', 'interop', 'py', 'lt_engine_peer.py')]);

function start(args, env = {}, cmd = process.execPath, pre = [CLI]) {
  const child = spawn(cmd, [...pre, ...args], { cwd: root, env: { ...process.env, ...env } });
  running.add(child);
  const lines = [];
  const waiters = [];
  createInterface({ input: child.stdout }).on('line', (t) => {
    let l;
    try {
      l = JSON.parse(t);
    } catch {
      return;
    }
    lines.push(l);
    for (const w of [...waiters]) {
      if (!w.pred(l)) continue;
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(l);
    }
  });
  const err = [];
  createInterface({ input: child.stderr }).on('line', (t) => err.push(t));
  child.on('exit', (code) => {
    running.delete(child);
    for (const w of waiters) w.reject(new Error(`${args[0]} exited ${code}: ${err.slice(-3).join(' | ')}`));
  });
  return {
    child,
    waitFor: (pred) =>
      new Promise((resolve, reject) => {
        const seen = lines.find(pred);
        if (seen) return resolve(seen);
        waiters.push({ pred, resolve, reject });
      }),
  };
}

const offline = (home) => ['--home', home, '--json', '--no-dht', '--no-lsd'];

try {
  const cacheA = path.join(work, 'cache-a');
  const files = [
    { path: 'config.json', bytes: Buffer.from('{"architectures":["LlamaForCausalLM"]}\n') },
    { path: 'model.safetensors', bytes: bytesOf(MIB * 1048576 - 4096, 11), lfs: true },
    { path: 'tokenizer.json', bytes: bytesOf(4000, 12) },
  ];
  addRevision(cacheA, 'org/bench', COMMIT, files, ['main']);
  const snap = await findHfSnapshot({ spec: 'org/bench', cacheDir: cacheA });
  const share = await createHfTorrent(snap);
  const torrentFile = path.join(work, 'bench.torrent');
  fs.writeFileSync(torrentFile, share.torrent.torrentBytes);
  const size = files.reduce((n, f) => n + f.bytes.length, 0);
  const ideal = size / HUB;
  console.log(
    `model ${(size / 1048576).toFixed(1)} MiB; Hub ${HUB / 1024} KiB/s (alone: ${ideal.toFixed(1)} s); ` +
      `peers ${PEER_KIBS} KiB/s each; Hub brought in below ${BELOW_KIBS} KiB/s`,
  );
  // Reference: libtorrent 2.0 with the Hub as its BEP 19 web seed, no peer (the torrent is named by the commit, so
  // `<url-seed><name>/<path>` is the Hub's resolve URL); it follows the 302 to the CDN like the Hub's clients do.
  let ref;
  {
    const hub = await startFakeHub({
      repos: { 'org/bench': { commit: COMMIT, files: files } },
      rate: HUB,
    });
    const save = path.join(work, 'lt-save');
    fs.mkdirSync(save);
    const t0 = performance.now();
    const lt = startPy([
      'get',
      '--torrent',
      torrentFile,
      '--save',
      save,
      '--url-seed',
      `${hub.endpoint}/org/bench/resolve/`,
    ]);
    await lt.waitFor((l) => l.event === 'done');
    ref = (performance.now() - t0) / 1000;
    await hub.close();
    console.log(`libtorrent 2.0, Hub alone as a web seed: ${ref.toFixed(1)} s`);
  }
  console.log('peers  time_s  vs_hub_alone  vs_libtorrent  hub_share  hub_MiB  peer_MiB');
  for (const n of CASES) {
    const hub = await startFakeHub({
      repos: { 'org/bench': { commit: COMMIT, files: files } },
      rate: HUB,
    });
    const seeds = [];
    for (let i = 0; i < n; i++) {
      const s = start([
        'seed',
        snap.snapshotDir,
        '--torrent',
        torrentFile,
        '--upload-limit',
        String(PEER_KIBS),
        ...offline(path.join(work, `seed-${n}-${i}`)),
      ]);
      seeds.push({ s, ready: await s.waitFor((l) => l.event === 'ready') });
    }
    const t0 = performance.now();
    const get = start(
      [
        'get',
        torrentFile,
        '--hf-cache',
        path.join(work, `cache-${n}`),
        '--hf-repo',
        `org/bench@${COMMIT}`,
        '--web-seed-below',
        String(BELOW_KIBS),
        ...seeds.flatMap(({ ready }) => ['--peer', `127.0.0.1:${ready.port}`]),
        ...offline(path.join(work, `get-${n}`)),
      ],
      { HF_ENDPOINT: hub.endpoint },
    );
    const done = await get.waitFor((l) => l.event === 'done');
    const secs = (performance.now() - t0) / 1000;
    if (!done.verified) throw new Error('download did not verify');
    const web = done.webBytes ?? 0;
    const peer = done.peerBytes ?? 0;
    console.log(
      `${String(n).padStart(5)}  ${secs.toFixed(1).padStart(6)}  ${(secs / ideal).toFixed(2).padStart(12)}  ` +
        `${(secs / ref).toFixed(2).padStart(13)}  ` +
        `${((100 * web) / Math.max(1, web + peer)).toFixed(0).padStart(8)}%  ${(web / 1048576).toFixed(1).padStart(7)}  ${(peer / 1048576).toFixed(1).padStart(8)}`,
    );
    for (const { s } of seeds) s.child.kill();
    await hub.close();
  }
} finally {
  for (const c of running) c.kill('SIGKILL');
  fs.rmSync(work, { recursive: true, force: true });
}
