// Issue 13 case 16: `silmaril info` on a torrent of 1,000,000 files stays within a small multiple of the file's
// size. Measured in a child process (the real CLI, dist/cli.js): its peak RSS in bytes, from
// process.resourceUsage().maxRSS at exit. Before: 1.39 GB for a 43 MB torrent (32×). Bound: 10× the file (the
// node runtime's own ~40 MB included); measured 7.5× (323 MB) alone, 8.1× with the maxRSS probe loaded.
// A v2 torrent of 700,000 files (57 MB, each file with its 32-byte pieces root): before 937 MB (16.5×), bound 12×,
// measured 9.1× (518 MB).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CLI } from './engine-helpers.js';

const FILES = 1_000_000;
const BOUND = 10;

let tmp: string;
after(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** A v1 torrent of `n` one-byte files in folders of 1,000 (what a huge dataset export looks like). */
function hugeTorrent(n: number): { bytes: Buffer; infoHash: string } {
  const parts: Buffer[] = [Buffer.from('d5:filesl')];
  for (let i = 0; i < n; i++) {
    const dir = `d${String(Math.floor(i / 1000)).padStart(4, '0')}`;
    const file = `f${String(i).padStart(7, '0')}.bin`;
    parts.push(Buffer.from(`d6:lengthi1e4:pathl${dir.length}:${dir}${file.length}:${file}ee`));
  }
  const pieceLength = 16384;
  const pieces = Math.ceil(n / pieceLength);
  parts.push(Buffer.from(`e4:name5:model12:piece lengthi${pieceLength}e6:pieces${pieces * 20}:`));
  parts.push(Buffer.alloc(pieces * 20, 1), Buffer.from('e'));
  const info = Buffer.concat(parts);
  return {
    bytes: Buffer.concat([Buffer.from('d4:info'), info, Buffer.from('e')]),
    infoHash: createHash('sha1').update(info).digest('hex'),
  };
}

/** A v2-only torrent of `n` one-byte files in folders of 1,000. */
function hugeV2Torrent(n: number): { bytes: Buffer; infoHash: string } {
  const parts: Buffer[] = [Buffer.from('d9:file treed')];
  for (let d = 0; d * 1000 < n; d++) {
    const dir = `d${String(d).padStart(4, '0')}`;
    parts.push(Buffer.from(`${dir.length}:${dir}d`));
    for (let i = d * 1000; i < Math.min(n, (d + 1) * 1000); i++) {
      const file = `f${String(i).padStart(7, '0')}.bin`;
      parts.push(Buffer.from(`${file.length}:${file}d0:d6:lengthi1e11:pieces root32:${'r'.repeat(32)}ee`));
    }
    parts.push(Buffer.from('e'));
  }
  parts.push(Buffer.from('e12:meta versioni2e4:name5:model12:piece lengthi16384ee'));
  const info = Buffer.concat(parts);
  return {
    bytes: Buffer.concat([Buffer.from('d4:info'), info, Buffer.from('e')]),
    infoHash: createHash('sha256').update(info).digest('hex'),
  };
}

async function measure(name: string, made: { bytes: Buffer; infoHash: string }, files: number, bound: number) {
  tmp ??= await mkdtemp(path.join(os.tmpdir(), 'silmaril-info-mem-'));
  const file = path.join(tmp, name);
  const { bytes, infoHash } = made;
  await writeFile(file, bytes);
  const size = (await stat(file)).size;
  const probe = path.join(tmp, 'maxrss.mjs');
  await writeFile(
    probe,
    "process.on('exit', () => process.stderr.write(`maxrss=${process.resourceUsage().maxRSS * 1024}\\n`));\n",
  );
  const child = spawn(process.execPath, ['--import', probe, CLI, 'info', file, '--json'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = 0;
  let head = '';
  let tail = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.length;
    if (head.length < 400) head += d.toString('latin1', 0, 400);
    tail = (tail + d.toString('latin1')).slice(-300);
  });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d));
  const code = await new Promise<number | null>((res) => child.on('exit', res));
  assert.equal(code, 0, err);
  assert.ok(head.includes(`"${infoHash.length === 40 ? 'v1' : 'v2'}":"${infoHash}"`), head);
  assert.ok(head.includes(`"fileCount":${files}`), head);
  const last = `d${String(Math.floor((files - 1) / 1000)).padStart(4, '0')}/f${String(files - 1).padStart(7, '0')}.bin`;
  assert.ok(tail.includes(`{"path":"${last}","length":1}],"trackers":[]`), tail);
  assert.ok(out > 40 * files, `the whole file list was printed (${out} bytes)`);
  const maxrss = Number(/maxrss=(\d+)/.exec(err)?.[1]);
  assert.ok(maxrss > 0, err);
  const ratio = maxrss / size;
  process.stderr.write(`info --json: ${size} byte ${name}, peak RSS ${maxrss} bytes (${ratio.toFixed(1)}×)\n`);
  assert.ok(ratio < bound, `peak RSS ${maxrss} bytes is ${ratio.toFixed(1)}× the ${size} byte torrent`);
}

test(`info --json on a 1,000,000-file v1 torrent peaks under ${BOUND}× the file's size`, () =>
  measure('huge-v1.torrent', hugeTorrent(FILES), FILES, BOUND));

test("info --json on a 700,000-file v2 torrent peaks under 12× the file's size", () =>
  measure('huge-v2.torrent', hugeV2Torrent(700_000), 700_000, 12));
