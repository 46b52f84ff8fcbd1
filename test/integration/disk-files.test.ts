// Files under hostile or tight conditions, through the real CLI (dist/cli.js) on loopback:
// - issue 13 case 12: a 3,000-file model seeded by one process and fetched by another, both under `ulimit -n 256`
//   (before: one descriptor per file for the store's lifetime, EMFILE);
// - issue 13 case 15: a symlink already inside `--out` that leads out of it is never written through, and the
//   download does not report "verified".
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  CLI,
  createTorrentFile,
  killAll,
  makeFolder,
  offline,
  silmaril,
  snapshot,
  startProc,
} from './engine-helpers.js';

let tmp: string;
before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'silmaril-disk-'));
});
after(async () => {
  killAll();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** The CLI under `ulimit -n <n>` (soft and hard), through bash. */
function limited(n: number, args: string[]) {
  const quoted = [process.execPath, CLI, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return startProc('bash', ['-c', `ulimit -n ${n} && exec ${quoted}`]);
}

test('get works on a 3,000-file model seeded by another process, both under ulimit -n 256', async () => {
  const model = path.join(tmp, 'many', 'many-files');
  const files: Record<string, string> = {};
  for (let i = 0; i < 3000; i++)
    files[`shard-${Math.floor(i / 100)}/f${i}.json`] = `{"i":${i},"pad":"${'x'.repeat(i % 97)}"}\n`;
  await makeFolder(model, files);
  const original = await snapshot(model);
  const torrent = path.join(tmp, 'many.torrent');
  createTorrentFile(model, torrent, 16384);

  const seeder = limited(256, ['seed', model, '--torrent', torrent, ...offline(path.join(tmp, 'many-seed'))]);
  try {
    const ready = await seeder.waitFor((l) => l.event === 'ready', 120_000);
    const out = path.join(tmp, 'many-out');
    const get = limited(256, [
      'get',
      torrent,
      '--out',
      out,
      '--peer',
      `127.0.0.1:${ready.port}`,
      ...offline(path.join(tmp, 'many-get')),
    ]);
    const done = await get.waitFor((l) => l.event === 'done', 240_000);
    assert.equal(await get.exited, 0, get.stderr.slice(-5).join('\n'));
    assert.equal(done.verified, true);
    assert.ok(!get.stderr.some((l) => /EMFILE/.test(l)), get.stderr.join('\n'));
    assert.deepEqual(await snapshot(path.join(out, 'many-files')), original);
  } finally {
    seeder.kill();
    await seeder.exited;
  }
  assert.ok(!seeder.stderr.some((l) => /EMFILE/.test(l)), seeder.stderr.join('\n'));
});

test('a symlink inside --out that leads outside is never written through, and nothing says "verified"', async () => {
  const model = path.join(tmp, 'linked', 'tiny');
  await makeFolder(model, { 'a.bin': 40_000, 'sub/b.bin': 30_000, 'c.json': '{}' });
  const torrent = path.join(tmp, 'linked.torrent');
  createTorrentFile(model, torrent, 16384);
  const seeder = silmaril(['seed', model, '--torrent', torrent, ...offline(path.join(tmp, 'linked-seed'))]);
  try {
    const ready = await seeder.waitFor((l) => l.event === 'ready');
    // Three plantings an attacker (or an earlier hostile torrent) could leave in a destination folder.
    const plantings: [string, (out: string, outside: string) => Promise<void>][] = [
      ['the content folder is a link', async (out, outside) => symlink(outside, path.join(out, 'tiny'))],
      [
        'a sub-folder is a link',
        async (out, outside) => {
          await mkdir(path.join(out, 'tiny'), { recursive: true });
          await symlink(outside, path.join(out, 'tiny', 'sub'));
        },
      ],
      [
        'a file is a link',
        async (out, outside) => {
          await mkdir(path.join(out, 'tiny'), { recursive: true });
          await writeFile(path.join(outside, 'victim'), 'precious');
          await symlink(path.join(outside, 'victim'), path.join(out, 'tiny', 'a.bin'));
        },
      ],
    ];
    for (const [label, plant] of plantings) {
      const base = path.join(tmp, `link-${plantings.findIndex((p) => p[0] === label)}`);
      const out = path.join(base, 'out');
      const outside = path.join(base, 'outside');
      await mkdir(out, { recursive: true });
      await mkdir(outside, { recursive: true });
      await plant(out, outside);
      const before = await snapshot(outside);
      const get = silmaril([
        'get',
        torrent,
        '--out',
        out,
        '--peer',
        `127.0.0.1:${ready.port}`,
        ...offline(path.join(base, 'home')),
      ]);
      const code = await get.exited;
      assert.notEqual(code, 0, `${label}: get must fail`);
      assert.ok(!get.lines.some((l) => l.event === 'done' && l.verified), `${label}: reported verified`);
      assert.match(get.stderr.join('\n'), /link/, `${label}: the error names the link`);
      assert.deepEqual(await snapshot(outside), before, `${label}: something was written outside --out`);
      if (label === 'a file is a link') assert.equal(await readFile(path.join(outside, 'victim'), 'utf8'), 'precious');
    }
  } finally {
    seeder.kill();
    await seeder.exited;
  }
});

test('removing a download with its files never deletes through a link out of --out', async () => {
  const { Engine } = await import('../../src/engine/engine.js');
  const { createTorrent } = await import('../../src/torrent/create.js');
  const model = path.join(tmp, 'rm-src', 'tiny');
  await makeFolder(model, { 'a.bin': 20_000, 'sub/b.bin': 20_000 });
  const bytes = (await createTorrent(model, { pieceLength: 16384 })).torrentBytes;
  for (const planted of ['content folder', 'sub-folder'] as const) {
    const base = path.join(tmp, `rm-${planted.replace(' ', '-')}`);
    const out = path.join(base, 'out');
    const outside = path.join(base, 'outside');
    // The user's own files elsewhere, named like the torrent's.
    await makeFolder(outside, { 'a.bin': 'mine', 'b.bin': 'mine too', 'sub/b.bin': 'also mine' });
    await mkdir(path.join(outside, 'keep-empty'), { recursive: true });
    await mkdir(out, { recursive: true });
    if (planted === 'content folder') await symlink(outside, path.join(out, 'tiny'));
    else {
      await mkdir(path.join(out, 'tiny'));
      await symlink(outside, path.join(out, 'tiny', 'sub'));
    }
    const before = await snapshot(outside);
    const e = new Engine({ home: path.join(base, 'home'), dht: false, lsd: false, statsIntervalMs: 200 });
    try {
      await e.start();
      const t = await e.download(bytes, { outDir: out, peers: [] });
      await e.remove(t.id, { removeFiles: true });
    } finally {
      await e.stop();
    }
    assert.deepEqual(await snapshot(outside), before, `${planted}: files outside --out were deleted`);
  }
});
