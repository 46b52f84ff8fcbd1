// `npm run bench:utp`: uTP (BEP 29) against TCP and against libtorrent, in one run.
//
// 1. Connect time. libtorrent with its defaults (it tries uTP first, then TCP) downloads a small model from
//    a) a silmaril seed with uTP on, b) a silmaril seed with uTP off (how it was: libtorrent waits out its uTP
//    attempt), c) a libtorrent seed (the reference); and `silmaril get` (uTP and TCP racing) from a libtorrent seed.
//    Time to done, median of BENCH_ROUNDS. The model is small, so this is mostly the time to connect.
// 2. Throughput on loopback: bench/transfer.mjs over TCP only and over uTP only, alternated round by round
//    (BENCH_UTP_MIB MiB, pairs silmaril/libtorrent both ways, or BENCH_PAIRS), printing uTP/TCP per pair and whether
//    silmaril -> silmaril meets the 0.8x goal. Over loopback silmaril peers exchange 64 KB datagrams (each side
//    announces what it reads); libtorrent gets 1,472-byte ones.
// 3. A bottleneck with delay: a relay in this process limits one direction to BENCH_RATE_MIB MiB/s with a
//    1 MiB queue (bufferbloat) and adds BENCH_DELAY_MS one-way delay both ways. A uTP flow runs alone, then a TCP
//    flow joins through the same queue: LEDBAT sees the queue's delay and backs off, so uTP's share falls.
// Knobs: BENCH_ROUNDS (3), BENCH_UTP_MIB (256), BENCH_RATE_MIB (4), BENCH_DELAY_MS (20), BENCH_PHASE_S (6),
// BENCH_PARTS (comma list of connect,throughput,ledbat).
import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { UtpEndpoint } from '../src/engine/utp/endpoint.ts';
import { MiB, generateModelFolder } from './model-folder.mjs';
import {
  ROOT as root,
  createTorrent,
  envList,
  envNumber,
  libtorrentGet,
  libtorrentSeed,
  median,
  requireBuild,
  silmarilGet,
  silmarilSeed,
} from './peers.mjs';

const ROUNDS = envNumber('BENCH_ROUNDS', 3);
const UTP_MIB = envNumber('BENCH_UTP_MIB', 256);
const RATE = envNumber('BENCH_RATE_MIB', 4) * MiB;
const DELAY_MS = envNumber('BENCH_DELAY_MS', 20);
const PHASE_S = envNumber('BENCH_PHASE_S', 6);
const PARTS = envList('BENCH_PARTS', 'connect,throughput,ledbat');

// ---- 1. connect time -------------------------------------------------------------------------------------------

async function connectTimes() {
  const cacheDir = path.join(os.tmpdir(), 'silmaril-bench-utp-connect');
  const torrentFile = path.join(cacheDir, 'bench-model.torrent');
  const { model } = generateModelFolder(
    cacheDir,
    { 'model.safetensors': 4 * MiB + 77, 'config.json': { architectures: ['LlamaForCausalLM'] } },
    (folder) => createTorrent(folder, torrentFile, ['--json']),
  );
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'silmaril-bench-utp-'));
  const silSeed = (extra) =>
    silmarilSeed({ model, torrent: torrentFile, home: fs.mkdtempSync(path.join(work, 'h')), extra });
  const ltSeed = () => libtorrentSeed({ torrent: torrentFile, save: cacheDir, transport: 'both' });
  const ltGet = async (port) => {
    const g = libtorrentGet({
      torrent: torrentFile,
      save: fs.mkdtempSync(path.join(work, 'o')),
      port,
      transport: 'both',
      timeoutS: 60,
      // Let libtorrent run its own uTP-then-TCP fallback instead of the helper's quick re-dials.
      extra: ['--redial', '30'],
    });
    const t0 = performance.now();
    const done = await g.waitFor((l) => l.event === 'done', 'libtorrent get');
    await g.exited;
    return (done.at - t0) / 1000;
  };
  const silGet = async (port) => {
    const t0 = performance.now();
    const g = silmarilGet({
      torrent: torrentFile,
      out: fs.mkdtempSync(path.join(work, 'o')),
      port,
      home: fs.mkdtempSync(path.join(work, 'h')),
    });
    const done = await g.waitFor((l) => l.event === 'complete', 'silmaril get');
    await g.exited;
    return (done.at - t0) / 1000;
  };
  const cases = [
    ['libtorrent (defaults) <- silmaril seed, uTP on', () => silSeed([]), ltGet],
    ['libtorrent (defaults) <- silmaril seed, uTP off', () => silSeed(['--no-utp']), ltGet],
    ['libtorrent (defaults) <- libtorrent seed', ltSeed, ltGet],
    ['silmaril get (uTP+TCP) <- libtorrent seed', ltSeed, silGet],
  ];
  console.log(
    `\n1. time to done, ${((4 * MiB + 77) / MiB) | 0} MiB model over loopback (median of ${ROUNDS}; mostly connecting)`,
  );
  for (const [name, seed, get] of cases) {
    const times = [];
    for (let i = 0; i < ROUNDS; i++) {
      const s = seed();
      try {
        const ready = await s.waitFor((l) => l.event === 'ready', name);
        times.push(await get(ready.port));
      } finally {
        await s.stop();
      }
    }
    console.log(
      `  ${name.padEnd(50)} ${median(times).toFixed(2).padStart(6)} s   (${times.map((t) => t.toFixed(2)).join(', ')})`,
    );
  }
  fs.rmSync(work, { recursive: true, force: true });
}

// ---- 2. throughput -----------------------------------------------------------------------------------------------

function transferBench(transport) {
  const r = spawnSync(process.execPath, [path.join(root, 'bench', 'transfer.mjs')], {
    encoding: 'utf8',
    cwd: root,
    env: {
      ...process.env,
      BENCH_TRANSPORT: transport,
      BENCH_MIB: String(UTP_MIB),
      BENCH_ROUNDS: '1',
      BENCH_JSON: '1',
    },
    maxBuffer: 64 * MiB,
  });
  if (r.status !== 0) throw new Error(`bench/transfer.mjs (${transport}) failed:\n${r.stdout}\n${r.stderr}`);
  const last = r.stdout.trim().split('\n').pop();
  return JSON.parse(last).results;
}

const loadavg = () =>
  os
    .loadavg()
    .map((x) => x.toFixed(1))
    .join(' ');

async function throughput() {
  const rounds = Math.max(1, Math.min(ROUNDS, 3));
  console.log(
    `\n2. throughput on loopback, ${UTP_MIB} MiB model (bench/transfer.mjs, TCP and uTP alternated, median of ${rounds})`,
  );
  // Alternated, one round at a time: on a shared machine the load drifts, and both transports should see the same.
  const runs = { tcp: [], utp: [] };
  for (let i = 0; i < rounds; i++) {
    runs.tcp.push(transferBench('tcp'));
    runs.utp.push(transferBench('utp'));
  }
  const speed = (transport, pair) => median(runs[transport].map((rs) => rs.find((x) => x.pair === pair).mibps));
  const NAMES = { l: 'libtorrent', s: 'silmaril' };
  console.log('  pair                        TCP MiB/s  uTP MiB/s  uTP/TCP');
  for (const { pair } of runs.tcp[0]) {
    const t = speed('tcp', pair);
    const u = speed('utp', pair);
    console.log(
      `  ${`${NAMES[pair[0]]} -> ${NAMES[pair[1]]}`.padEnd(26)} ${t.toFixed(1).padStart(9)}  ${u.toFixed(1).padStart(9)}  ${(u / t).toFixed(2).padStart(6)}x`,
    );
  }
  const pairs = runs.utp[0].map((x) => x.pair);
  if (pairs.includes('ss')) {
    const ratio = speed('utp', 'ss') / speed('tcp', 'ss');
    console.log(
      `  goal: silmaril -> silmaril over uTP at least 0.8x TCP: ${ratio >= 0.8 ? 'met' : 'NOT met'} (${ratio.toFixed(2)}x; load average now ${loadavg()})`,
    );
  }
  if (pairs.includes('ll') && pairs.includes('ss'))
    console.log(
      `  over uTP, silmaril -> silmaril is ${(speed('utp', 'ss') / speed('utp', 'll')).toFixed(2)}x libtorrent -> libtorrent`,
    );
}

// ---- 3. bottleneck, delay, LEDBAT against TCP --------------------------------------------------------------------

/** One shared FIFO drained at `rate` bytes/s; what leaves it arrives `delayMs` later. */
class Bottleneck {
  constructor(rate, queueLimit, delayMs) {
    this.rate = rate;
    this.limit = queueLimit;
    this.delay = delayMs;
    this.queue = [];
    this.bytes = 0;
    this.credit = 0;
    this.last = performance.now();
    this.waits = [];
    this.drops = 0;
    this.timer = setInterval(() => this.drain(), 1);
  }
  /** `drop`: a datagram is dropped when the queue is full; a TCP chunk is always taken (its sender is paused). */
  push(len, deliver, drop) {
    if (drop && this.bytes + len > this.limit) {
      this.drops++;
      return false;
    }
    this.queue.push({ len, deliver, at: performance.now() });
    this.bytes += len;
    return this.bytes <= this.limit;
  }
  drain() {
    const now = performance.now();
    this.credit = Math.min(this.credit + ((now - this.last) / 1000) * this.rate, 64 * 1024);
    this.last = now;
    while (this.queue.length && this.queue[0].len <= this.credit) {
      const item = this.queue.shift();
      this.credit -= item.len;
      this.bytes -= item.len;
      this.waits.push(now - item.at);
      setTimeout(item.deliver, this.delay);
    }
    if (this.bytes <= this.limit / 2) for (const f of this.onRoom ?? []) f();
  }
  takeWaits() {
    const w = this.waits;
    this.waits = [];
    return w.length ? w.reduce((a, b) => a + b, 0) / w.length : 0;
  }
  close() {
    clearInterval(this.timer);
  }
}

async function ledbat() {
  console.log(
    `\n3. a ${RATE / MiB} MiB/s bottleneck with a 1 MiB queue and ${DELAY_MS} ms one-way delay: uTP alone, then with a TCP flow`,
  );
  const neck = new Bottleneck(RATE, 1 * MiB, DELAY_MS);
  neck.onRoom = [];
  // uTP: sender endpoint -> relay socket -> receiver endpoint; the data direction goes through the bottleneck.
  // Packets as on a real link (MTU discovery from 1,400 up to an Ethernet MTU), not loopback's 64 KB.
  const link = { pathMtu: { floor: 1400, ceiling: 1472 } };
  const rx = new UtpEndpoint(link);
  const tx = new UtpEndpoint(link);
  await new Promise((r) => rx.listen(0, '127.0.0.1', r));
  await new Promise((r) => tx.listen(0, '127.0.0.1', r));
  const relay = dgram.createSocket('udp4');
  await new Promise((r) => relay.bind(0, '127.0.0.1', r));
  // The relay's own socket must not be the bottleneck: a window's burst would overflow the default 208 KB queue.
  relay.setRecvBufferSize(8 * MiB);
  relay.setSendBufferSize(8 * MiB);
  const rxPort = rx.address().port;
  const txPort = tx.address().port;
  let open = true;
  const forward = (msg, port) => open && relay.send(msg, port, '127.0.0.1');
  relay.on('message', (msg, rinfo) => {
    if (rinfo.port === txPort) neck.push(msg.length, () => forward(msg, rxPort), true);
    else setTimeout(() => forward(msg, txPort), DELAY_MS);
  });
  let utpBytes = 0;
  rx.on('connection', (c) => c.on('data', (d) => (utpBytes += d.length)));
  const conn = tx.connect(relay.address().port, '127.0.0.1');
  await new Promise((r) => conn.once('connect', r));
  const chunk = Buffer.alloc(64 * 1024, 7);
  let sending = true;
  const pump = () => {
    while (sending && conn.write(chunk));
  };
  conn.on('drain', pump);
  pump();

  // TCP: client -> proxy -> server, the data direction through the same bottleneck, paused while the queue is full.
  let tcpBytes = 0;
  const server = net.createServer((s) => s.on('data', (d) => (tcpBytes += d.length)));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const proxy = net.createServer((inbound) => {
    const out = net.connect(server.address().port, '127.0.0.1');
    inbound.on('data', (d) => {
      for (let at = 0; at < d.length; at += 1460) {
        const part = d.subarray(at, at + 1460);
        if (!neck.push(part.length, () => !out.destroyed && out.write(part), false)) inbound.pause();
      }
    });
    neck.onRoom.push(() => inbound.resume());
    out.on('data', (d) => setTimeout(() => !inbound.destroyed && inbound.write(d), DELAY_MS));
    inbound.on('error', () => {});
    out.on('error', () => {});
  });
  await new Promise((r) => proxy.listen(0, '127.0.0.1', r));

  const phase = async (label) => {
    neck.takeWaits();
    const u0 = utpBytes;
    const t0 = tcpBytes;
    const start = performance.now();
    await new Promise((r) => setTimeout(r, PHASE_S * 1000));
    const s = (performance.now() - start) / 1000;
    const u = (utpBytes - u0) / s / MiB;
    const t = (tcpBytes - t0) / s / MiB;
    console.log(
      `  ${label.padEnd(16)} uTP ${u.toFixed(2).padStart(5)} MiB/s  TCP ${t.toFixed(2).padStart(5)} MiB/s  uTP share ${((100 * u) / Math.max(u + t, 1e-9)).toFixed(0).padStart(3)}%  queue wait ${neck.takeWaits().toFixed(0).padStart(4)} ms  uTP window ${(conn.ledbat.cwnd / 1024).toFixed(0)} KiB, queuing delay seen ${(conn.ledbat.queuingDelayUs / 1000).toFixed(0)} ms`,
    );
    return { u, t };
  };
  await new Promise((r) => setTimeout(r, 2000)); // slow start and the first base-delay samples
  const alone = await phase('uTP alone');
  console.log(`  uTP alone used ${((100 * alone.u * MiB) / RATE).toFixed(0)}% of the ${RATE / MiB} MiB/s link`);
  const client = net.connect(proxy.address().port, '127.0.0.1');
  client.setNoDelay(true);
  const tcpChunk = Buffer.alloc(64 * 1024, 9);
  const tcpPump = () => {
    while (client.write(tcpChunk));
  };
  client.on('drain', tcpPump);
  client.on('connect', tcpPump);
  const shared = await phase('uTP + TCP');
  console.log(
    `  LEDBAT ${shared.u < alone.u * 0.5 && shared.t > shared.u ? 'yielded' : 'did NOT yield'}: uTP went from ${alone.u.toFixed(2)} to ${shared.u.toFixed(2)} MiB/s while TCP took ${shared.t.toFixed(2)} MiB/s`,
  );
  sending = false;
  open = false;
  client.destroy();
  conn.destroy();
  neck.close();
  relay.close();
  proxy.close();
  server.close();
  tx.close();
  rx.close();
}

async function main() {
  requireBuild();
  console.log(`bench:utp on ${os.cpus().length} cores, load average ${loadavg()}`);
  if (PARTS.includes('connect')) await connectTimes();
  if (PARTS.includes('throughput')) await throughput();
  if (PARTS.includes('ledbat')) await ledbat();
  // Connections and timers above are closed; anything a library left behind must not keep the process up.
  setTimeout(() => process.exit(0), 500).unref();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
