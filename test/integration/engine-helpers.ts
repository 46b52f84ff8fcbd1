// Shared by the engine's integration and interop tests: spawn the bundled CLI or a libtorrent peer, read their
// JSON lines, make model-like folders, and compare folders byte for byte.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = path.join(ROOT, 'dist', 'cli.js');
export const PYTHON = '/usr/bin/python3';
export const LT_PEER = path.join(ROOT, 'test', 'interop', 'py', 'lt_engine_peer.py');

export function haveLibtorrent(): boolean {
  return spawnSync(PYTHON, ['-c', 'import libtorrent'], { stdio: 'ignore' }).status === 0;
}

/** Skip reason outside CI when libtorrent is missing; in CI the tests run and fail. */
export function libtorrentSkip(): string | false {
  return !haveLibtorrent() && process.env.CI !== 'true' ? 'python3-libtorrent is not installed' : false;
}

export interface Proc {
  child: ChildProcess;
  /** Every JSON line seen so far. */
  lines: any[];
  stderr: string[];
  /** Resolves with the first line (past or future) matching `pred`; rejects if the process exits first. */
  waitFor(pred: (line: any) => boolean, timeoutMs?: number): Promise<any>;
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): void;
}

const running = new Set<ChildProcess>();

/** Kills every process started by these helpers (call from `after`). */
export function killAll(): void {
  for (const c of running) {
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }
  running.clear();
}

export function startProc(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; stdin?: boolean } = {}): Proc {
  const child = spawn(cmd, args, {
    cwd: ROOT,
    env: { ...process.env, ...opts.env },
    stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  const lines: any[] = [];
  const stderr: string[] = [];
  const waiters: { pred: (l: any) => boolean; resolve: (l: any) => void }[] = [];
  createInterface({ input: child.stdout! }).on('line', (text) => {
    let line: any;
    try {
      line = JSON.parse(text);
    } catch {
      line = { text };
    }
    lines.push(line);
    for (const w of [...waiters]) {
      if (w.pred(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  createInterface({ input: child.stderr! }).on('line', (text) => {
    stderr.push(text);
    if (process.env.SILMARIL_TEST_VERBOSE) process.stderr.write(`[${path.basename(args[0] ?? cmd)}] ${text}\n`);
  });
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      running.delete(child);
      resolve(code);
    }),
  );
  return {
    child,
    lines,
    stderr,
    exited,
    kill: (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    waitFor(pred, timeoutMs = 60_000) {
      const seen = lines.find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(
                `timed out waiting for output of ${args.join(' ')}; last line: ${JSON.stringify(lines.at(-1) ?? null)}; ` +
                  `stderr: ${stderr.slice(-5).join(' | ')}`,
              ),
            ),
          timeoutMs,
        );
        const w = {
          pred,
          resolve: (l: any) => {
            clearTimeout(timer);
            resolve(l);
          },
        };
        waiters.push(w);
        exited.then((code) => {
          if (waiters.includes(w)) {
            clearTimeout(timer);
            reject(
              new Error(
                `${args.slice(0, 2).join(' ')} exited (${code}) first; stderr: ${stderr.slice(-5).join(' | ')}`,
              ),
            );
          }
        });
      });
    },
  };
}

/** The bundled CLI (`npm run build` first; `npm test` does). */
export function silmaril(args: string[], opts: { env?: NodeJS.ProcessEnv; nodeArgs?: string[] } = {}): Proc {
  return startProc(process.execPath, [...(opts.nodeArgs ?? []), CLI, ...args], opts);
}

/** Common flags that keep a test node on loopback and away from public networks. */
export function offline(home: string): string[] {
  return ['--home', home, '--json', '--no-dht', '--no-lsd'];
}

export function ltPeer(args: string[]): Proc {
  return startProc(PYTHON, [LT_PEER, ...args], { stdin: true });
}

export const LT_TOOL = path.join(ROOT, 'test', 'interop', 'py', 'lt_tool.py');

/** libtorrent makes the .torrent of `folder` at `out` (lt_tool.py create); its hashes. */
export function ltCreate(folder: string, out: string, pieceLength: number): { v1: string; v2: string } {
  const r = spawnSync(PYTHON, [LT_TOOL], {
    input: JSON.stringify({ cmd: 'create', jobs: [{ path: folder, pieceLength, out }] }),
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  const { v1, v2 } = JSON.parse(r.stdout).results[0];
  return { v1, v2 };
}

/** A libtorrent seed of `torrent`, its data in `save` (`extra`: --transport utp, --upload-limit N...); resolves once
 *  it listens, with its port. Also the libtorrent driver's seed (test/interop/clients/drivers.ts). */
export async function ltSeed(
  torrent: string,
  save: string,
  extra: string[] = [],
): Promise<{ proc: Proc; port: number }> {
  const proc = ltPeer(['seed', '--torrent', torrent, '--save', save, ...extra]);
  const ready = await proc.waitFor((l) => l.event === 'ready' || l.event === 'error', 30_000);
  if (ready.event === 'error') throw new Error(`libtorrent seed: ${ready.error}`);
  return { proc, port: ready.port };
}

/** A libtorrent download of a .torrent or a magnet into `save` (`extra`: --peer, --transport, --timeout...). */
export function ltGet(source: { torrent: string } | { magnet: string }, save: string, extra: string[] = []): Proc {
  const src = 'torrent' in source ? ['--torrent', source.torrent] : ['--magnet', source.magnet];
  return ltPeer(['get', ...src, '--save', save, ...extra]);
}

/** The `done` line of a libtorrent download; its `error` line fails the test with libtorrent's words. */
export async function ltDone(p: Proc, timeoutMs = 130_000): Promise<any> {
  const line = await p.waitFor((l) => l.event === 'done' || l.event === 'error', timeoutMs);
  assert.equal(line.event, 'done', `libtorrent: ${JSON.stringify(line)}`);
  return line;
}

/**
 * `silmaril get <source> --out <out>` from these peers (`home`: its own, offline; `extra`: --no-tcp...): resolves
 * with the done line once the process has exited 0 with the download verified.
 */
export async function silmarilGet(
  source: string,
  out: string,
  opts: { peers?: (number | string)[]; home: string; extra?: string[]; timeoutMs?: number },
): Promise<{ done: any; proc: Proc }> {
  const peers = (opts.peers ?? []).flatMap((p) => ['--peer', typeof p === 'number' ? `127.0.0.1:${p}` : p]);
  const proc = silmaril(['get', source, '--out', out, ...peers, ...(opts.extra ?? []), ...offline(opts.home)]);
  const done = await proc.waitFor((l) => l.event === 'done', opts.timeoutMs ?? 120_000);
  assert.equal(await proc.exited, 0, proc.stderr.slice(-5).join('\n'));
  assert.equal(done.verified, true);
  return { done, proc };
}

/** Writes a model-like folder: `files` maps relative paths to sizes (random bytes) or contents. */
export async function makeFolder(dir: string, files: Record<string, number | string | Uint8Array>): Promise<void> {
  for (const [rel, v] of Object.entries(files)) {
    const full = path.join(dir, rel);
    await mkdir(path.dirname(full), { recursive: true });
    await writeFile(full, typeof v === 'number' ? crypto.randomBytes(v) : v);
  }
}

/** Relative path -> SHA-256 of every file and folder under `dir` (folders as "dir/"), hidden ones included. */
export async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  async function walk(d: string): Promise<void> {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const full = path.join(d, e.name);
      const rel = path.relative(dir, full);
      if (e.isDirectory()) {
        out.set(rel + '/', '');
        await walk(full);
      } else
        out.set(
          rel,
          crypto
            .createHash('sha256')
            .update(await readFile(full))
            .digest('hex'),
        );
    }
  }
  await walk(dir);
  return out;
}

/** mtimes too: seeding must leave the user's folder untouched. */
export async function mtimes(dir: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const rel of (await snapshot(dir)).keys()) out.set(rel, (await stat(path.join(dir, rel))).mtimeMs);
  return out;
}

/** A multi-file model with many pad files (sizes off piece boundaries) and nesting; ~3.5 MiB. */
export const MODEL_FILES: Record<string, number | string> = {
  'config.json': '{"architectures":["LlamaForCausalLM"],"hidden_size":64}\n',
  'tokenizer.json': 33_333,
  'model-00001-of-00002.safetensors': 1_500_001,
  'model-00002-of-00002.safetensors': 1_200_007,
  'model.safetensors.index.json': 517,
  'README.md': '# tiny model\n',
  'sub/extra/weights.bin': 700_003,
  'sub/empty.txt': '',
  'sub/z.txt': 5,
};

/** Bytes of MODEL_FILES' real files. */
export const MODEL_SIZE = Object.values(MODEL_FILES).reduce<number>(
  (n, v) => n + (typeof v === 'number' ? v : Buffer.byteLength(v)),
  0,
);

/** A scratch folder (`<tmpdir>/<prefix>...`) holding the MODEL_FILES model at `src/tiny-model`. */
export async function modelFixture(prefix: string): Promise<{ tmp: string; model: string }> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), prefix));
  const model = path.join(tmp, 'src', 'tiny-model');
  await makeFolder(model, MODEL_FILES);
  return { tmp, model };
}

/** `silmaril create <folder> --piece-length N --out <out> ...extra` through the bundled CLI; fails the test if it
 *  fails. */
export function createTorrentFile(folder: string, out: string, pieceLength: number, extra: string[] = []): void {
  const made = spawnSync(process.execPath, [
    CLI,
    'create',
    folder,
    '--piece-length',
    String(pieceLength),
    '--out',
    out,
    ...extra,
  ]);
  assert.equal(made.status, 0, made.stderr?.toString());
}
