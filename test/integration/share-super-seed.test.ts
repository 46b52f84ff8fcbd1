// `silmaril share --super-seed` with no daemon running: the share is recorded in the home for the next node to
// seed, and the record keeps the BEP 16 choice, so the node that restores it super-seeds (issue 9).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Engine } from '../../src/engine/engine.js';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
let tmp = '';
let engine: Engine | undefined;
after(async () => {
  await engine?.stop().catch(() => {});
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test('share --super-seed is kept in the resume record and restored as a super-seed', async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'silmaril-share-ss-'));
  const model = path.join(tmp, 'tiny');
  await mkdir(model);
  await writeFile(path.join(model, 'model.safetensors'), Buffer.alloc(200_000, 7));
  const home = path.join(tmp, 'home');
  const run = (...args: string[]) =>
    spawnSync(
      process.execPath,
      [CLI, 'share', model, '--name', 'acme/tiny', '--license', 'mit', '--home', home, '--json', ...args],
      {
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
  const r = run('--super-seed');
  assert.equal(r.status, 0, r.stderr);
  const shared = JSON.parse(r.stdout.trim().split('\n').pop()!);
  const recs = (await readdir(path.join(home, 'transfers'))).filter((f) => f.endsWith('.json'));
  const rec = JSON.parse(await readFile(path.join(home, 'transfers', recs[0]), 'utf8'));
  assert.equal(rec.kind, 'seed');
  assert.equal(rec.superSeed, true);

  engine = new Engine({ home, dht: false, lsd: false });
  await engine.start();
  const restored = await engine.restore();
  const t = restored.find((x) => x.id === shared.v1);
  assert.ok(t, `restored: ${restored.map((x) => x.id).join(', ')}`);
  assert.equal(t.superSeed, true);
});
