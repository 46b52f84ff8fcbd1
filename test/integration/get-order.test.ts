// The order `silmaril get` fetches files in, seen on disk while a rate-limited seed sends them (bundled CLI, loopback):
// - by default a model's descriptive files (*.json, *.md, *.txt, tokenizer.*) come first, so config.json and the
//   tokenizer can be read while the weights still arrive, even when the torrent lists them after the weights;
// - `--sequential --first none` fetches in index order instead: the last file arrives last.
// What is asserted is a byte count: how much of the weights file is already right on disk at the moment the small
// files are complete.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createTorrentFile, killAll, offline, silmaril } from './engine-helpers.js';

const PIECE = 64 * 1024;
const WEIGHTS = 6 * 1024 * 1024;
let tmp: string;
let model: string;
let torrent: string;
const source = new Map<string, Buffer>();

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'silmaril-get-order-'));
  model = path.join(tmp, 'ordered-model');
  await mkdir(model);
  // File order in the torrent: config.json, model.safetensors, tokenizer.json (the tokenizer is in the last pieces).
  source.set('config.json', Buffer.from(JSON.stringify({ hidden: 64, pad: randomBytes(8000).toString('hex') })));
  source.set('model.safetensors', randomBytes(WEIGHTS));
  source.set('tokenizer.json', Buffer.from(JSON.stringify({ vocab: randomBytes(150_000).toString('hex') })));
  for (const [name, bytes] of source) await writeFile(path.join(model, name), bytes);
  torrent = path.join(tmp, 'ordered.torrent');
  createTorrentFile(model, torrent, PIECE);
});

after(async () => {
  killAll();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

async function complete(out: string, name: string): Promise<boolean> {
  const got = await readFile(path.join(out, 'ordered-model', name)).catch(() => undefined);
  return !!got && got.equals(source.get(name)!);
}

/** Bytes of the weights file already right on disk, counted piece-sized block by block. */
async function weightsOnDisk(out: string): Promise<number> {
  const got = await readFile(path.join(out, 'ordered-model', 'model.safetensors')).catch(() => Buffer.alloc(0));
  const want = source.get('model.safetensors')!;
  let right = 0;
  for (let at = 0; at < want.length; at += PIECE) {
    const end = Math.min(at + PIECE, want.length);
    if (got.length >= end && got.subarray(at, end).equals(want.subarray(at, end))) right += end - at;
  }
  return right;
}

/**
 * Runs `get` (with `extra` options) against a seed sending 1 MiB/s, and returns how much of the weights was on disk
 * when the files `watch` names were all complete.
 */
async function weightsWhenComplete(name: string, extra: string[], watch: string[]): Promise<number> {
  const seeder = silmaril([
    'seed',
    model,
    '--torrent',
    torrent,
    '--upload-limit',
    '1024',
    ...offline(path.join(tmp, `${name}-seed`)),
  ]);
  const out = path.join(tmp, `${name}-out`);
  try {
    const ready = await seeder.waitFor((l) => l.event === 'ready');
    const get = silmaril([
      'get',
      torrent,
      '--out',
      out,
      '--peer',
      `127.0.0.1:${ready.port}`,
      ...extra,
      ...offline(path.join(tmp, `${name}-get`)),
    ]);
    let seen: number | undefined;
    while (seen === undefined) {
      if (get.child.exitCode !== null) break;
      const before = await weightsOnDisk(out);
      if ((await Promise.all(watch.map((f) => complete(out, f)))).every(Boolean)) seen = before;
      else await new Promise((r) => setTimeout(r, 40));
    }
    const done = await get.waitFor((l) => l.event === 'done', 120_000);
    assert.equal(done.verified, true);
    assert.equal(await get.exited, 0, get.stderr.join('\n'));
    assert.ok(seen !== undefined, 'the watched files were seen complete before get ended');
    return seen;
  } finally {
    seeder.kill();
    await seeder.exited;
  }
}

test('by default config.json and tokenizer.json arrive before most of the weights, wherever the torrent lists them', async () => {
  const weights = await weightsWhenComplete('default', [], ['config.json', 'tokenizer.json']);
  // Rarest first alone would reach the tokenizer's last pieces at a random moment; first files come first.
  assert.ok(weights < WEIGHTS / 4, `${weights} of ${WEIGHTS} weight bytes were already on disk`);
});

test('--sequential --first none fetches in index order: the tokenizer, listed last, arrives after the weights', async () => {
  const weights = await weightsWhenComplete('sequential', ['--sequential', '--first', 'none'], ['tokenizer.json']);
  assert.ok(weights > (WEIGHTS * 9) / 10, `only ${weights} of ${WEIGHTS} weight bytes were on disk`);
});

test('--first with an empty pattern is a usage error, before any node starts', async () => {
  const get = silmaril(['get', torrent, '--first', ',', ...offline(path.join(tmp, 'bad-get'))]);
  assert.equal(await get.exited, 2);
  assert.match(get.stderr.join(''), /silmaril get: --first: a first-file pattern is empty/);
});
