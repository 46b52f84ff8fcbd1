// Issue 13 case 16: `silmaril info` on a torrent of 1,000,000 files stays within a small multiple of the file's
// size. Measured in a child process (the real CLI, dist/cli.js): its peak RSS in bytes, from
// process.resourceUsage().maxRSS at exit. Before: 1.39 GB for a 43 MB torrent (32×). Bound: 10× the file (the
// node runtime's own ~40 MB included); measured 7.5× (323 MB) alone, 8.1× with the maxRSS probe loaded.
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

test(`info --json on a 1,000,000-file torrent peaks under ${BOUND}× the file's size`, async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'silmaril-info-mem-'));
  const file = path.join(tmp, 'huge.torrent');
  const { bytes, infoHash } = hugeTorrent(FILES);
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
  assert.ok(head.includes(`"v1":"${infoHash}"`), head);
  assert.ok(head.includes(`"fileCount":${FILES}`), head);
  assert.ok(tail.includes('{"path":"d0999/f0999999.bin","length":1}],"trackers":[]'), tail);
  assert.ok(out > 40 * FILES, `the whole file list was printed (${out} bytes)`);
  const maxrss = Number(/maxrss=(\d+)/.exec(err)?.[1]);
  assert.ok(maxrss > 0, err);
  const ratio = maxrss / size;
  process.stderr.write(`info --json: ${size} byte torrent, peak RSS ${maxrss} bytes (${ratio.toFixed(1)}×)\n`);
  assert.ok(ratio < BOUND, `peak RSS ${maxrss} bytes is ${ratio.toFixed(1)}× the ${size} byte torrent`);
});
