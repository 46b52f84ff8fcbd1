// Issue 13 case 14 through the real CLI: a damaged resume .torrent in the home (2 flipped bytes that still parse:
// before, it was taken as is and `get` hung at 99.5%; a truncated one gave a permanent error naming no file) is
// named in a warning, set aside, and `get <infohash>` recovers: metadata from the peer, pieces re-checked.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createTorrentFile, killAll, makeFolder, offline, silmaril, snapshot, type Proc } from './engine-helpers.js';

let tmp: string;
let model: string;
let torrent: string;
let seeder: Proc;
let port: number;
let id: string;

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'silmaril-disk-state-'));
  model = path.join(tmp, 'src', 'tiny');
  await makeFolder(model, { 'a.bin': 200_000, 'sub/b.bin': 90_000, 'config.json': '{"x":1}\n' });
  torrent = path.join(tmp, 'tiny.torrent');
  createTorrentFile(model, torrent, 16384);
  seeder = silmaril(['seed', model, '--torrent', torrent, ...offline(path.join(tmp, 'seed-home'))]);
  const ready = await seeder.waitFor((l) => l.event === 'ready');
  port = ready.port;
  id = /btih:([0-9a-f]{40})/.exec(ready.magnet)![1];
});

after(async () => {
  seeder?.kill();
  killAll();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

async function get(source: string, out: string, home: string) {
  const p = silmaril(['get', source, '--out', out, '--peer', `127.0.0.1:${port}`, ...offline(home)]);
  const done = await p.waitFor((l) => l.event === 'done', 90_000);
  return { p, done, code: await p.exited };
}

for (const damage of ['two flipped bytes', 'truncated', 'record not JSON'] as const) {
  test(`a resume file in the home that is ${damage}: named, set aside, and get recovers`, async () => {
    const base = path.join(tmp, damage.replace(/ /g, '-'));
    const out = path.join(base, 'out');
    const home = path.join(base, 'home');
    const first = await get(torrent, out, home);
    assert.equal(first.code, 0);
    // A file lost from the download, and the home's state damaged.
    await rm(path.join(out, 'tiny', 'sub', 'b.bin'));
    const tfile = path.join(home, 'transfers', `${id}.torrent`);
    const rfile = path.join(home, 'transfers', `${id}.json`);
    if (damage === 'two flipped bytes') {
      const bytes = await readFile(tfile);
      const at = bytes.indexOf(Buffer.from('6:pieces')) + 30;
      bytes[at] ^= 0x01;
      bytes[at + 3] ^= 0x80;
      await writeFile(tfile, bytes);
    } else if (damage === 'truncated') {
      await writeFile(tfile, (await readFile(tfile)).subarray(0, 300));
    } else {
      await writeFile(rfile, '{"version":1,"kind":"download","infoHashV1":"' + id.slice(0, 10));
    }
    const again = await get(id, out, home);
    assert.equal(again.code, 0, again.p.stderr.join('\n'));
    assert.equal(again.done.verified, true);
    assert.deepEqual(await snapshot(path.join(out, 'tiny')), await snapshot(model));
    const warned = again.p.stderr.join('\n');
    const named = damage === 'record not JSON' ? `${id}.json` : `${id}.torrent`;
    assert.match(warned, new RegExp(`state file \\S*${named} is damaged .*set aside as \\S*\\.damaged-`));
    const names = await readdir(path.join(home, 'transfers'));
    assert.ok(
      names.some((n) => n.startsWith(`${named}.damaged-`)),
      names.join(),
    );
  });
}
