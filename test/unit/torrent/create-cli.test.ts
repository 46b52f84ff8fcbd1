// `silmaril create` through the bundled CLI (dist/cli.js, built by `npm test` / `npm run build`): the --json
// line, the output-file rules, usage errors, and the hashing workers loaded from dist/hash-worker.js.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTorrent } from '../../../src/torrent/create.js';
import { parseTorrent } from '../../../src/torrent/parse.js';

const CLI = fileURLToPath(new URL('../../../dist/cli.js', import.meta.url));
let dir: string;
let model: string;

function silmaril(args: string[], cwd: string) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

before(async () => {
  assert.ok(existsSync(CLI), `${CLI} is missing: run npm run build first`);
  dir = await mkdtemp(path.join(os.tmpdir(), 'silmaril-cli-create-'));
  model = path.join(dir, 'tiny-model');
  await mkdir(path.join(model, 'sub'), { recursive: true });
  await writeFile(path.join(model, 'config.json'), '{"model_type":"tiny"}');
  await writeFile(path.join(model, 'model.safetensors'), crypto.randomBytes(300_000));
  await writeFile(path.join(model, 'sub', 'tokenizer.json'), crypto.randomBytes(20_000));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('create --json prints one line with the contract keys; the torrent matches the library', async () => {
  const r = silmaril(
    ['create', model, '--piece-length', '32K', '--json', '--no-register', '--tracker', 'http://127.0.0.1:9/announce'],
    dir,
  );
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1);
  const out = JSON.parse(lines[0]);
  assert.deepEqual(Object.keys(out).sort(), ['files', 'magnet', 'name', 'pieceLength', 'size', 'torrent', 'v1', 'v2']);
  assert.equal(out.name, 'tiny-model');
  assert.equal(out.torrent, path.join(dir, 'tiny-model.torrent'));
  assert.equal(out.pieceLength, 32 * 1024);
  assert.equal(out.size, 320_000 + '{"model_type":"tiny"}'.length);
  assert.equal(out.files, 3);
  assert.match(out.magnet, /^magnet:\?xt=urn:btih:[0-9a-f]{40}&xt=urn:btmh:1220[0-9a-f]{64}&dn=tiny-model&tr=/);
  const expected = await createTorrent(model, { pieceLength: 32 * 1024 });
  assert.equal(out.v1, expected.infoHashV1);
  assert.equal(out.v2, expected.infoHashV2);
  const parsed = parseTorrent(await readFile(out.torrent));
  assert.equal(parsed.infoHashV2, out.v2);
  assert.deepEqual(parsed.announce, [['http://127.0.0.1:9/announce']]);
  assert.equal(r.stderr, '', 'no progress chatter with --json');
});

test('the default output is never overwritten; --out replaces; never inside the shared folder', async () => {
  const work = path.join(dir, 'cwd');
  await mkdir(work);
  await writeFile(path.join(work, 'tiny-model.torrent'), 'precious');
  const refused = silmaril(['create', model], work);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /already exists/);
  assert.equal(await readFile(path.join(work, 'tiny-model.torrent'), 'utf8'), 'precious');

  const replaced = silmaril(['create', model, '--out', 'tiny-model.torrent', '--name', 'renamed'], work);
  assert.equal(replaced.code, 0, replaced.stderr);
  assert.equal(parseTorrent(await readFile(path.join(work, 'tiny-model.torrent'))).name, 'renamed');
  assert.match(replaced.stdout, /v2 +[0-9a-f]{64}/);

  const inside = silmaril(['create', '.'], model);
  assert.equal(inside.code, 2);
  assert.match(inside.stderr, /inside the folder being shared/);
  assert.equal(existsSync(path.join(model, 'tiny-model.torrent')), false);
});

test('usage errors exit 2 with one line', () => {
  for (const args of [
    ['create'],
    ['create', dir + '/missing'],
    ['create', model, '--piece-length', '1000'],
    ['create', model, '--tracker', 'not a url'],
    ['create', model, '--bogus'],
  ]) {
    const r = silmaril(args, dir);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^silmaril create: [^\n]+\n$/, args.join(' '));
  }
});
