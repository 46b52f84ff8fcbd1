// What the peer benchmarks (bench/transfer.mjs, bench/utp.mjs) share: their BENCH_* knobs read one way, and the
// command lines of the peers they race, a silmaril seed or `get` (dist/cli.js) and a libtorrent seed or download
// (test/interop/py/lt_engine_peer.py), every peer on loopback with no DHT and no local discovery.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startJsonProcess } from './json-proc.mjs';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The dist/cli.js the peers run: BENCH_CLI=path (another build's, to compare two builds on the same machine), read
 *  when used (bench/transfer.mjs sets it from --cli after this module is loaded). */
export function cliPath() {
  return process.env.BENCH_CLI ? path.resolve(process.env.BENCH_CLI) : path.join(ROOT, 'dist', 'cli.js');
}
export const PYTHON = '/usr/bin/python3';
export const LT = path.join(ROOT, 'test', 'interop', 'py', 'lt_engine_peer.py');

/** A number knob: `$name`, or `fallback` when unset; anything else than a number stops the bench, named. */
export function envNumber(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n)) throw new Error(`${name} must be a number, got "${raw}"`);
  return n;
}

/** A comma list knob (`BENCH_PAIRS=ll,ss`), `fallback` (a comma list too) when unset. */
export function envList(name, fallback) {
  return (process.env[name] || fallback).split(',').filter(Boolean);
}

/** A one-of knob: `$name` must be one of `allowed` (the first is the default). */
export function envChoice(name, allowed) {
  const v = process.env[name] || allowed[0];
  if (!allowed.includes(v)) throw new Error(`${name} must be ${allowed.join(' or ')}, got "${v}"`);
  return v;
}

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export function requireBuild() {
  if (!fs.existsSync(cliPath())) throw new Error(`${cliPath()} is missing: run \`npm run build\` first`);
}

/** A child printing JSON lines (json-proc.mjs), run from the repository root. */
export function start(cmd, args) {
  return startJsonProcess(cmd, args, ROOT);
}

/** `silmaril create <folder> --out <out> ...extra` (throws with its stderr); its stdout. */
export function createTorrent(folder, out, extra = []) {
  const r = spawnSync(process.execPath, [cliPath(), 'create', folder, '--out', out, ...extra], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`create failed: ${r.stderr}`);
  return r.stdout;
}

/** The bundled CLI as a peer on loopback, JSON lines out, with its own home and no DHT or local discovery. */
function silmarilPeer(args, { home, extra = [], nodeArgs = [] }) {
  return start(process.execPath, [
    ...nodeArgs,
    cliPath(),
    ...args,
    '--json',
    '--no-dht',
    '--no-lsd',
    ...extra,
    '--home',
    home,
  ]);
}

/** `silmaril seed <model> --torrent <torrent>` in its own home; `extra`: transport flags; `nodeArgs`: --cpu-prof.... */
export function silmarilSeed({ model, torrent, ...peer }) {
  return silmarilPeer(['seed', model, '--torrent', torrent], peer);
}

/** `silmaril get <torrent> --out <out>` from the peer on `port`, in its own home. */
export function silmarilGet({ torrent, out, port, ...peer }) {
  return silmarilPeer(['get', torrent, '--out', out, '--peer', `127.0.0.1:${port}`], peer);
}

/** A libtorrent seed of `torrent`, its data in `save`, over `transport` (tcp, utp or both). */
export function libtorrentSeed({ torrent, save, transport }) {
  return start(PYTHON, [LT, 'seed', '--torrent', torrent, '--save', save, '--transport', transport]);
}

/** A libtorrent download of `torrent` into `save` from the peer on `port`; `extra`: --redial... */
export function libtorrentGet({ torrent, save, port, transport, timeoutS, extra = [] }) {
  return start(PYTHON, [
    LT,
    'get',
    '--torrent',
    torrent,
    '--save',
    save,
    '--peer',
    `127.0.0.1:${port}`,
    '--transport',
    transport,
    '--timeout',
    String(timeoutS),
    ...extra,
  ]);
}
