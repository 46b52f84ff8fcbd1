// Soak: a `silmaril seed` under a mixed hostile load while honest `silmaril get`s download from it, one after
// another, for the whole run. The load: 200 idle connections, request floods from peers that never read, huge
// length prefixes, broken extended handshakes, ut_metadata junk (to the seed and to the downloader), bad metadata
// served to the downloader, and request storms from peers that do read. Checked: every honest download completes
// byte-identical, the seed's RSS (from /proc) stays under the stated bound, and the seed is still up and stops on
// SIGTERM. `npm run soak` runs 5 minutes; test/integration/hostile-soak.test.ts runs a short one in the suite.
import bencode from 'bencode';
import crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseMagnet } from '../../src/torrent/magnet.js';
import { killAll, makeFolder, offline, silmaril, snapshot, type Proc } from '../integration/engine-helpers.js';
import { RawPeer } from '../integration/hostile-peer.js';

/** The seed's resident memory must stay under this for the whole run (stated in the README's Limits). */
export const SOAK_RSS_LIMIT_BYTES = 400 * 1024 * 1024;

export interface SoakResult {
  honestDownloads: number;
  /** The longest an honest download took (from its start to its `done`), in ms. */
  slowestDownloadMs: number;
  maxRssBytes: number;
  hostileConnections: number;
  seedPeerFaults: number;
  seedAlive: boolean;
  stoppedOnSigterm: boolean;
  problems: string[];
}

const PIECE = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * A node's last SILMARIL_SWARM_TRACE line (scheduler.ts trace), in short: what it has, and its connections counted
 * by state (I: the peer is interested, U: we unchoke it, i: we are interested, u: it unchokes us, S: it is a seed) and
 * client (@XX, from the peer id: the soak's raw peers are XX), with the requests queued at us (q), being read for it
 * (g), held back (h), and ours at it (r), summed per state.
 */
export function traceSummary(stderr: string[]): string {
  const line = [...stderr].reverse().find((l) => l.startsWith('[swarm] '));
  if (!line) return 'no trace line';
  const head = /^\[swarm\] ([\d.]+) .*?(have \S+ inflight \d+ deferred \d+ rejected \d+)/.exec(line);
  const cache = /cache (\{[^}]*\})/.exec(line)?.[1] ?? '';
  const states = new Map<string, { n: number; q: number; g: number; r: number; h: number }>();
  for (const m of line.matchAll(/ ([I-][U-][i-][u-][S-])q(\d+)s\d+g(\d+|\?)r(\d+)(?:@(\S\S)h(\d+)([UT])?)?/g)) {
    const key = `${m[1]}${m[5] ? `@${m[5]}` : ''}${m[7] ? `/${m[7] === 'U' ? 'utp' : 'tcp'}` : ''}`;
    const st = states.get(key) ?? { n: 0, q: 0, g: 0, r: 0, h: 0 };
    st.n++;
    st.q += Number(m[2]);
    st.g += Number(m[3]) || 0;
    st.r += Number(m[4]);
    st.h += Number(m[6] ?? 0);
    states.set(key, st);
  }
  const wires = [...states].map(([k, v]) => `${k} x${v.n} q${v.q} g${v.g} h${v.h} r${v.r}`).join(', ');
  return `at ${head?.[1] ?? '?'} s ${head?.[2] ?? ''} cache ${cache} wires: ${wires || 'none'}`;
}

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

export async function runSoak(opts: {
  durationMs: number;
  log?: (m: string) => void;
  /** Extra flags for the seed and the honest gets (e.g. --verbose, to reproduce a failure). */
  extraArgs?: string[];
}): Promise<SoakResult> {
  const log = opts.log ?? (() => {});
  const extra = opts.extraArgs ?? [];
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'silmaril-soak-'));
  const model = path.join(tmp, 'src', 'model');
  await makeFolder(model, { 'weights.bin': 24 * PIECE + 4321, 'more.bin': 3 * PIECE, 'config.json': '{}' });
  const original = await snapshot(model);
  const result: SoakResult = {
    honestDownloads: 0,
    slowestDownloadMs: 0,
    maxRssBytes: 0,
    hostileConnections: 0,
    seedPeerFaults: 0,
    seedAlive: false,
    stoppedOnSigterm: false,
    problems: [],
  };
  // SILMARIL_SWARM_TRACE: each node writes a line a second on stderr of what every connection is doing (choked,
  // interested, requests queued each way): what a failure's problem text summarises (traceSummary).
  const env = { SILMARIL_SWARM_TRACE: '1' };
  const seeder = silmaril(['seed', model, ...offline(path.join(tmp, 'seed-home')), ...extra], { env });
  const open = new Set<RawPeer>();
  let stop = false;
  let sampler: NodeJS.Timeout | undefined;
  let seedUploadAt = Date.now();
  try {
    const ready = await seeder.waitFor((l) => l.event === 'ready', 120_000);
    const port: number = ready.port;
    const infoHash = parseMagnet(ready.magnet).infoHashV1!;
    const pid = seeder.child.pid!;
    // When the seed last uploaded (its stats line comes only when `uploaded` changed), for a failure's text.
    let seedLines = 0;
    sampler = setInterval(() => {
      result.maxRssBytes = Math.max(result.maxRssBytes, rssOf(pid));
      if (seeder.lines.length !== seedLines) {
        seedLines = seeder.lines.length;
        seedUploadAt = Date.now();
      }
    }, 200);
    const deadline = Date.now() + opts.durationMs;
    const running = () => !stop && Date.now() < deadline && seeder.child.exitCode === null;

    const hostile = async (target: number, opts2: { fast?: boolean } = {}): Promise<RawPeer | null> => {
      try {
        const p = await RawPeer.connect(target, infoHash, opts2);
        result.hostileConnections++;
        open.add(p);
        void p.closed.then(() => open.delete(p));
        return p;
      } catch {
        return null;
      }
    };
    const greeted = (p: RawPeer) =>
      p.next((m) => m.id === 5 || m.id === 14 || m.id === 15 || m.id === 20, 10_000).catch(() => null);

    // Each attack runs in its own loop until the deadline.
    const loops: Promise<void>[] = [];
    const every = (ms: number, attack: () => Promise<void>) =>
      loops.push(
        (async () => {
          while (running()) {
            await attack().catch((err: Error) => log(`attack failed to run: ${err.message}`));
            await sleep(ms);
          }
        })(),
      );

    // 200 idle connections, topped up as the seed closes them.
    const idle = new Set<RawPeer>();
    every(1000, async () => {
      while (idle.size < 200 && running()) {
        const p = await hostile(port);
        if (!p) return;
        idle.add(p);
        void p.closed.then(() => idle.delete(p));
      }
    });
    // Floods from peers that never read.
    every(2000, async () => {
      const p = await hostile(port);
      if (!p || !(await greeted(p))) return;
      p.message(2);
      for (let i = 0; i < 40 && !p.unchoked && running(); i++) await sleep(50);
      p.stopReading();
      const reqs: Buffer[] = [];
      for (let i = 0; i < 20_000; i++) {
        const b = Buffer.alloc(17);
        b.writeUInt32BE(13, 0);
        b[4] = 6;
        b.writeUInt32BE(i % 27, 5);
        b.writeUInt32BE((Math.floor(i / 27) % 64) * 16384, 9);
        b.writeUInt32BE(16384, 13);
        reqs.push(b);
      }
      p.raw(Buffer.concat(reqs));
    });
    // Huge length prefixes.
    every(1000, async () => {
      const p = await hostile(port);
      if (!p || !(await greeted(p))) return;
      const prefix = Buffer.alloc(4);
      prefix.writeUInt32BE(0x7fffffff, 0);
      p.raw(Buffer.concat([prefix, crypto.randomBytes(256 * 1024)]));
    });
    // Broken extended handshakes and ut_metadata junk.
    every(1000, async () => {
      const p = await hostile(port);
      if (!p || !(await greeted(p))) return;
      p.extended(0, bencode.encode({ m: { ut_metadata: { toString: 1 } } }));
      const q = await hostile(port);
      if (!q || !(await greeted(q))) return;
      q.extended(0, bencode.encode({ m: { ut_metadata: 3 }, metadata_size: 10_000_000 }));
      const id = q.theirId('ut_metadata') ?? 1;
      q.extended(id, Buffer.concat([bencode.encode({ msg_type: 1, piece: 100000, total_size: 1 }), Buffer.alloc(9)]));
    });
    // Request storms from peers that read (they take upload capacity, honestly enough).
    every(5000, async () => {
      const p = await hostile(port, { fast: true });
      if (!p || !(await greeted(p))) return;
      p.message(2);
      for (let n = 0; n < 50 && running() && !p.sock.destroyed; n++) {
        for (let i = 0; i < 500; i++) p.request(crypto.randomInt(27), crypto.randomInt(64) * 16384, 16384);
        await sleep(100);
      }
      p.destroy();
    });

    // Honest downloads, one after another, each attacked with bad metadata while it fetches it.
    let run = 0;
    while (running() || result.honestDownloads === 0) {
      run++;
      const getPort = await freePort();
      const out = path.join(tmp, `out-${run}`);
      const get: Proc = silmaril(
        [
          'get',
          ready.magnet,
          '--out',
          out,
          '--peer',
          `127.0.0.1:${port}`,
          '--port',
          String(getPort),
          ...offline(path.join(tmp, `get-${run}`)),
          ...extra,
        ],
        { env },
      );
      void (async () => {
        for (let i = 0; i < 3; i++) {
          await sleep(100);
          const liar = await hostile(getPort);
          if (!liar) continue;
          const ext = await liar.next((m) => m.id === 20 && m.payload[0] === 0, 5000).catch(() => null);
          if (!ext) continue;
          liar.extended(0, bencode.encode({ m: { ut_metadata: 3 }, metadata_size: 2000 }));
          const id = liar.theirId('ut_metadata') ?? 1;
          for (let piece = 0; piece < 2; piece++) {
            liar.extended(
              id,
              Buffer.concat([bencode.encode({ msg_type: 1, piece, total_size: 2000 }), crypto.randomBytes(1000)]),
            );
          }
        }
      })();
      try {
        const began = Date.now();
        // A download still going after 15 s (most take a few): what both ends are doing then, in the log.
        const slow = setTimeout(
          () =>
            log(`honest download ${run} slow: get ${traceSummary(get.stderr)} || seed ${traceSummary(seeder.stderr)}`),
          15_000,
        );
        const done = await get.waitFor((l) => l.event === 'done', 180_000).finally(() => clearTimeout(slow));
        const tookMs = Date.now() - began;
        result.slowestDownloadMs = Math.max(result.slowestDownloadMs, tookMs);
        const same = JSON.stringify([...(await snapshot(path.join(out, 'model')))]) === JSON.stringify([...original]);
        if (!done.verified || !same) result.problems.push(`honest download ${run}: not byte-identical`);
        else result.honestDownloads++;
        log(
          `honest download ${run} done in ${(tookMs / 1000).toFixed(1)} s; seed RSS max ${(result.maxRssBytes / 1048576).toFixed(0)} MiB`,
        );
      } catch (err) {
        const seedStats = [...seeder.lines].reverse().find((l) => l.event === 'stats');
        const idleFor = ((Date.now() - seedUploadAt) / 1000).toFixed(0);
        result.problems.push(
          `honest download ${run}: ${(err as Error).message.split('; stderr:')[0]}` +
            `; stderr: ${get.stderr
              .filter((l) => !l.startsWith('[swarm'))
              .slice(-5)
              .join(' | ')}` +
            ` || get now: ${traceSummary(get.stderr)}` +
            ` || seed now: ${traceSummary(seeder.stderr)}; its last stats line (uploaded nothing since, ${idleFor} s):` +
            ` uploaded ${seedStats?.uploaded} peers ${seedStats?.peers} peerFaults ${seedStats?.peerFaults}`,
        );
        log(`seed stderr, last lines:\n${seeder.stderr.slice(-60).join('\n')}`);
        log(`get stderr, last lines:\n${get.stderr.slice(-60).join('\n')}`);
        log(
          `get output, last lines:\n${get.lines
            .slice(-10)
            .map((l) => JSON.stringify(l))
            .join('\n')}`,
        );
        break;
      } finally {
        get.kill();
        await get.exited;
        await rm(out, { recursive: true, force: true });
      }
    }
    stop = true;
    await Promise.all(loops);
    const last = [...seeder.lines].reverse().find((l) => l.event === 'stats');
    result.seedPeerFaults = last?.peerFaults ?? 0;
    // Still up: it answers a fresh handshake.
    const probe = await RawPeer.connect(port, infoHash).catch(() => null);
    result.seedAlive = !!probe && !!(await greeted(probe)) && seeder.child.exitCode === null;
    probe?.destroy();
    for (const p of open) p.destroy();
    seeder.kill('SIGTERM');
    result.stoppedOnSigterm = await Promise.race([seeder.exited.then(() => true), sleep(20_000).then(() => false)]);
    return result;
  } finally {
    stop = true;
    clearInterval(sampler);
    for (const p of open) p.destroy();
    killAll();
    await rm(tmp, { recursive: true, force: true });
  }
}

// `npm run soak` (5 minutes; SOAK_SECONDS=N for another length).
if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  const seconds = Number(process.env.SOAK_SECONDS ?? 300);
  const r = await runSoak({ durationMs: seconds * 1000, log: (m) => console.log(m) });
  console.log(JSON.stringify({ ...r, rssLimitBytes: SOAK_RSS_LIMIT_BYTES }, null, 1));
  const ok =
    r.problems.length === 0 &&
    r.honestDownloads > 0 &&
    r.maxRssBytes < SOAK_RSS_LIMIT_BYTES &&
    r.seedAlive &&
    r.stoppedOnSigterm;
  console.log(ok ? 'SOAK OK' : 'SOAK FAILED');
  process.exit(ok ? 0 : 1);
}
