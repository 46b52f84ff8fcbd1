// The client matrix's shared parts: free loopback ports, a `silmaril tracker` per client, the test model and its
// torrents, `silmaril seed` / `silmaril get`, waiting until a folder holds exactly the model, and the printed matrix.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { createTorrent, type CreatedTorrent } from '../../../src/torrent/create.js';
import { offline, silmaril, type Proc } from '../../integration/engine-helpers.js';

/** A free TCP port on 127.0.0.1 that is free for UDP too is not checked: clients here use TCP (and the tracker,
 *  which picks its own). Ports are handed out once per run. */
const given = new Set<number>();
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    if (!given.has(port)) {
      given.add(port);
      return port;
    }
  }
}

export function which(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves when `check` is true; rejects with `what` after `ms`. */
export async function until(check: () => Promise<boolean> | boolean, what: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out (${Math.round(ms / 1000)} s) waiting for ${what}`);
    await sleep(250);
  }
}

/** relative path -> sha256 of every regular file under `dir`. */
async function digests(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  async function walk(d: string): Promise<void> {
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const full = path.join(d, e.name);
      if (e.isDirectory()) await walk(full);
      else if (e.isFile())
        out.set(
          path.relative(dir, full),
          createHash('sha256')
            .update(await readFile(full))
            .digest('hex'),
        );
    }
  }
  await walk(dir);
  return out;
}

/** The model as it must arrive: relative path -> sha256. */
export type Expected = Map<string, string>;

/** True when `dir` holds every file of `expected` with the right bytes (clients' own side files aside). */
export async function holds(dir: string, expected: Expected): Promise<boolean> {
  // Cheap first: every file there (no hashing while a download has not even made them all).
  for (const rel of expected.keys()) {
    const s = await stat(path.join(dir, rel)).catch(() => undefined);
    if (!s?.isFile()) return false;
  }
  const got = await digests(dir);
  for (const [rel, sum] of expected) if (got.get(rel) !== sum) return false;
  return true;
}

export interface Model {
  /** The folder holding the model folder (what clients get as their save path when they seed). */
  parent: string;
  name: string;
  /** relative path (under parent, starting with name) -> sha256 */
  expected: Expected;
}

/** A small model: three files, lengths that are not multiples of the piece length, a subfolder. */
export async function makeModel(parent: string, name: string): Promise<Model> {
  const dir = path.join(parent, name);
  const files: Record<string, Buffer> = {
    'config.json': Buffer.from(JSON.stringify({ model: name, layers: 2 })),
    'weights/model-00001.bin': randomish(300_001, name + '1'),
    'weights/model-00002.bin': randomish(131_072 + 77, name + '2'),
  };
  const expected: Expected = new Map();
  for (const [rel, data] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await writeFile(path.join(dir, rel), data);
    expected.set(path.join(name, rel), createHash('sha256').update(data).digest('hex'));
  }
  return { parent, name, expected };
}

/** Deterministic incompressible bytes (sha256 in counter mode). */
function randomish(n: number, seed: string): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0, c = 0; i < n; c++) {
    const block = createHash('sha256').update(`${seed}:${c}`).digest();
    i += block.copy(out, i);
  }
  return out;
}

export interface TorrentFiles {
  created: CreatedTorrent;
  /** .torrent announcing to the HTTP tracker */
  file: string;
  /** magnet with the UDP tracker (and btmh for a hybrid) */
  magnet: string;
}

export async function makeTorrent(
  model: Model,
  out: string,
  v1Only: boolean,
  tracker: { http: string; udp: string },
): Promise<TorrentFiles> {
  const created = await createTorrent(path.join(model.parent, model.name), {
    pieceLength: 16384,
    v1Only,
    trackers: [tracker.http],
  });
  await writeFile(out, created.torrentBytes);
  let magnet = `magnet:?xt=urn:btih:${created.infoHashV1}`;
  if (created.infoHashV2) magnet += `&xt=urn:btmh:1220${created.infoHashV2}`;
  magnet += `&dn=${encodeURIComponent(created.name)}&tr=${encodeURIComponent(tracker.udp)}`;
  return { created, file: out, magnet };
}

export interface RunningTracker {
  proc: Proc;
  url: string;
  http: string;
  udp: string;
}

/** `silmaril tracker --open` on a free port (HTTP and UDP), with the torrents registered so that v1 and v2
 *  announcers of a hybrid share one swarm. */
export async function startTracker(home: string): Promise<RunningTracker> {
  const proc = silmaril([
    'tracker',
    '--port',
    '0',
    '--open',
    '--rate-limit',
    '0',
    '--interval',
    '10',
    '--json',
    '--home',
    home,
  ]);
  const ready = await proc.waitFor((l) => l.event === 'ready', 20_000);
  return { proc, url: ready.url, http: ready.announce, udp: ready.udp };
}

export async function register(tracker: RunningTracker, t: CreatedTorrent): Promise<void> {
  const res = await fetch(`${tracker.url}/api/registry`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      info_hash: t.infoHashV2 ?? t.infoHashV1,
      v1_info_hash: t.infoHashV2 ? t.infoHashV1 : undefined,
      name: t.name,
      torrent_data: Buffer.from(t.torrentBytes).toString('base64'),
    }),
  });
  if (res.status !== 201) throw new Error(`registry: ${res.status} ${await res.text()}`);
}

/** Seeders the tracker counts for the torrent (by any of its hashes; the registry entry carries the swarm's). */
export async function seeders(tracker: RunningTracker, v1: string): Promise<number> {
  const res = await fetch(`${tracker.url}/api/registry?info_hash=${v1}`).catch(() => undefined);
  if (!res || res.status !== 200) return 0;
  return ((await res.json()) as { seeders?: number }).seeders ?? 0;
}

/** `silmaril seed` of the model with `torrent`, announcing over HTTP and UDP. */
export async function silmarilSeed(
  model: Model,
  t: TorrentFiles,
  tracker: RunningTracker,
  home: string,
): Promise<Proc> {
  const p = silmaril([
    'seed',
    path.join(model.parent, model.name),
    '--torrent',
    t.file,
    '--tracker',
    tracker.udp,
    ...offline(home),
  ]);
  await p.waitFor((l) => l.event === 'ready', 30_000);
  return p;
}

/** `silmaril get` of `source` (a .torrent or a magnet) into `out`; resolves on its `done` line. */
export async function silmarilGet(source: string, out: string, home: string, timeoutMs: number): Promise<Proc> {
  const p = silmaril(['get', source, '--out', out, ...offline(home)]);
  const done = await p.waitFor((l) => l.event === 'done', timeoutMs);
  if (!done.verified) throw new Error(`silmaril get finished unverified: ${JSON.stringify(done)}`);
  return p;
}

// ---- the matrix ----

export type Direction = 'client ← silmaril seed' | 'silmaril get ← client';
export type Method = '.torrent (HTTP tracker)' | 'magnet (UDP tracker)' | 'btmh-only magnet (v2 peer)';

export interface Cell {
  client: string;
  direction: Direction;
  method: Method;
  result: 'ok' | 'fail' | 'n.a.';
  /** Why (a failure's error, an n.a.'s reason), or the seconds an ok took. */
  note: string;
}

export function printMatrix(cells: Cell[]): string {
  const rows = cells.map((c) => [c.client, c.direction, c.method, c.result, c.note]);
  const head = ['client', 'direction', 'method', 'result', 'note'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => Math.min(r[i]!.length, 70))));
  const line = (r: string[]) => r.map((v, i) => v.slice(0, 70).padEnd(widths[i]!)).join(' | ');
  return ['', line(head), widths.map((w) => '-'.repeat(w)).join('-|-'), ...rows.map(line), ''].join('\n');
}
