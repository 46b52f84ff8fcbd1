// The order `silmaril get` fetches files in, seen on disk while a rate-limited seed sends them (bundled CLI, loopback):
// - by default a model's descriptive files (*.json, *.md, *.txt, tokenizer.*) come first, so config.json and the
//   tokenizer can be read while the weights still arrive, even when the torrent lists them after the weights;
// - with --sequential, pieces come in index order: a file can be read while it arrives;
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

/** Bytes of the weights file already right on disk, counted piece-sized block by block, and how many of them form an
 *  unbroken run from the file's start (what fetching in order gives). */
async function weightsOnDisk(out: string): Promise<{ right: number; prefix: number }> {
  const got = await readFile(path.join(out, 'ordered-model', 'model.safetensors')).catch(() => Buffer.alloc(0));
  const want = source.get('model.safetensors')!;
  let right = 0;
  let prefix = 0;
  let gap = false;
  for (let at = 0; at < want.length; at += PIECE) {
    const end = Math.min(at + PIECE, want.length);
    if (got.length >= end && got.subarray(at, end).equals(want.subarray(at, end))) {
      right += end - at;
      if (!gap) prefix += end - at;
    } else gap = true;
  }
  return { right, prefix };
}

/**
 * Runs `get` (with `extra` options) against a seed sending 1 MiB/s, and returns what of the weights was on disk at the
 * first moment `seen` says yes.
 */
async function weightsWhen(
  name: string,
  extra: string[],
  seen: (weights: { right: number; prefix: number }, out: string) => Promise<boolean>,
): Promise<{ right: number; prefix: number }> {
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
    let at: { right: number; prefix: number } | undefined;
    while (at === undefined) {
      if (get.child.exitCode !== null) break;
      const now = await weightsOnDisk(out);
      if (await seen(now, out)) at = now;
      else await new Promise((r) => setTimeout(r, 40));
    }
    const done = await get.waitFor((l) => l.event === 'done', 120_000);
    assert.equal(done.verified, true);
    assert.equal(await get.exited, 0, get.stderr.join('\n'));
    assert.ok(at !== undefined, 'the moment was seen before get ended');
    return at;
  } finally {
    seeder.kill();
    await seeder.exited;
  }
}

/** True once every file `names` names is complete on disk. */
const filesComplete =
  (...names: string[]) =>
  async (_: unknown, out: string): Promise<boolean> =>
    (await Promise.all(names.map((f) => complete(out, f)))).every(Boolean);

test('by default config.json and tokenizer.json arrive before most of the weights, wherever the torrent lists them', async () => {
  const { right } = await weightsWhen('default', [], filesComplete('config.json', 'tokenizer.json'));
  // Rarest first alone would reach the tokenizer's last pieces at a random moment; first files come first.
  assert.ok(right < WEIGHTS / 4, `${right} of ${WEIGHTS} weight bytes were already on disk`);
});

test('--first with an empty pattern is a usage error, before any node starts', async () => {
  const get = silmaril(['get', torrent, '--first', ',', ...offline(path.join(tmp, 'bad-get'))]);
  assert.equal(await get.exited, 2);
  assert.match(get.stderr.join(''), /silmaril get: --first: a first-file pattern is empty/);
});

test('--sequential fetches the weights from their first byte on: what is on disk is one run from the start', async () => {
  const { right, prefix } = await weightsWhen('sequential', ['--sequential', '--first', 'none'], async (w) => {
    return w.right >= WEIGHTS / 2;
  });
  // Pieces still in flight may land a little out of order; rarest first would leave holes all over the file.
  assert.ok(prefix >= right - 24 * PIECE, `${prefix} of the ${right} weight bytes on disk run from the start`);
});
