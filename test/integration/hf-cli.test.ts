// The bundled CLI with a huggingface_hub-style cache: `share --hf` reads the snapshot through its links and records
// the origin, `list` shows the cache, `seed` serves the snapshot in place, and `get --hf-cache` fills another cache from
// that peer, or from a fake Hub alone (HF_ENDPOINT, no peer); @huggingface/hub then resolves the files offline.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createHfTorrent, findHfSnapshot } from '../../src/models/hf/share.js';
import { addRevision, assertResolvesOffline, bytesOf, COMMIT_A, type FakeFile } from '../unit/models/hf-fake-cache.js';
import { CLI, killAll, offline, silmaril } from './engine-helpers.js';
import { startFakeHub, type FakeHub } from './hf-fake-hub.js';

let tmp: string;
let hub: FakeHub | undefined;
before(async () => {
  assert.ok(existsSync(CLI), 'dist/cli.js is missing: run `npm run build` first (npm test does)');
  tmp = await mkdtemp(path.join(tmpdir(), 'silmaril-hf-cli-'));
});
after(async () => {
  killAll();
  await hub?.close();
  await rm(tmp, { recursive: true, force: true });
});

const MODEL: FakeFile[] = [
  { path: 'config.json', bytes: Buffer.from('{"architectures":["LlamaForCausalLM"]}\n') },
  { path: 'model.safetensors', bytes: bytesOf(300_000, 7), lfs: true },
  { path: 'tokenizer/tokenizer.json', bytes: bytesOf(20_000, 8) },
];

async function resolvesOffline(cache: string) {
  await assertResolvesOffline(cache, 'org/tiny', MODEL);
}

test(
  'share --hf, list, seed a snapshot in place, get --hf-cache from the peer and from the Hub alone',
  { timeout: 180_000 },
  async () => {
    const cacheA = path.join(tmp, 'cache-a');
    addRevision(cacheA, 'org/tiny', COMMIT_A, MODEL, ['main']);
    const envA = { HF_HUB_CACHE: cacheA, HF_HOME: path.join(tmp, 'nowhere') };
    const homeA = path.join(tmp, 'home-a');

    const share = silmaril(['share', '--hf', 'org/tiny', '--license', 'mit', '--home', homeA, '--json'], { env: envA });
    const shared = await share.waitFor((l) => l.event === 'shared');
    assert.equal(await share.exited, 0);
    assert.equal(shared.name, 'org/tiny');
    assert.equal(shared.hfRepo, 'org/tiny');
    assert.equal(shared.hfCommit, COMMIT_A);
    const snap = (await findHfSnapshot({ spec: 'org/tiny', cacheDir: cacheA }))!;
    const made = await createHfTorrent(snap, { trackers: [] });
    assert.equal(shared.v1, made.torrent.infoHashV1, 'the same torrent as the snapshot read through its links');
    assert.equal(shared.files, MODEL.length);

    const list = silmaril(['list', '--home', homeA, '--json'], { env: envA });
    const hfLine = await list.waitFor((l) => l.kind === 'hf');
    assert.equal(await list.exited, 0);
    assert.equal(hfLine.repo, 'org/tiny');
    assert.deepEqual(
      hfLine.revisions.map((r: any) => [r.commit, r.refs, r.files]),
      [[COMMIT_A, ['main'], 3]],
    );

    const torrentFile = path.join(tmp, 'tiny.torrent');
    await writeFile(torrentFile, made.torrent.torrentBytes);
    const seed = silmaril([
      'seed',
      snap.snapshotDir,
      '--torrent',
      torrentFile,
      ...offline(path.join(tmp, 'home-seed')),
    ]);
    const ready = await seed.waitFor((l) => l.event === 'ready');

    // B: from the peer, web seed off.
    const cacheB = path.join(tmp, 'cache-b');
    const getB = silmaril([
      'get',
      torrentFile,
      '--hf-cache',
      cacheB,
      '--hf-repo',
      `org/tiny@${COMMIT_A}`,
      '--hf-ref',
      'main',
      '--peer',
      `127.0.0.1:${ready.port}`,
      '--no-web-seed',
      ...offline(path.join(tmp, 'home-b')),
    ]);
    const doneB = await getB
      .waitFor((l) => l.event === 'done')
      .catch((e) => {
        throw new Error(getB.stderr.join('\n'), { cause: e });
      });
    assert.equal(await getB.exited, 0);
    assert.equal(doneB.verified, true);
    assert.equal(doneB.path, path.join(cacheB, 'models--org--tiny', 'snapshots', COMMIT_A));
    await resolvesOffline(cacheB);
    seed.kill();

    // C: no peer at all, the fake Hub only; the origin comes from the catalog entry (A's catalog, copied).
    hub = await startFakeHub({
      repos: { 'org/tiny': { commit: COMMIT_A, files: MODEL } },
    });
    const homeC = path.join(tmp, 'home-c');
    await mkdir(homeC, { recursive: true });
    await writeFile(path.join(homeC, 'catalog.sqlite'), await readFile(path.join(homeA, 'catalog.sqlite')));
    const cacheC = path.join(tmp, 'cache-c');
    const getC = silmaril(['get', torrentFile, '--hf-cache', cacheC, ...offline(homeC)], {
      env: { HF_ENDPOINT: hub.endpoint },
    });
    const doneC = await getC.waitFor((l) => l.event === 'done', 120_000);
    assert.equal(await getC.exited, 0);
    assert.equal(doneC.verified, true);
    // Every payload byte came from the Hub (peerBytes: a few hundred bytes of wire overhead, no peer was there).
    assert.ok(doneC.webBytes >= 320_000 && doneC.peerBytes < 4096 && doneC.peers === 0, JSON.stringify(doneC));
    await resolvesOffline(cacheC);

    // A plain download (not into the cache) of the same entry gets the Hub's help too.
    const out = path.join(tmp, 'plain');
    const homeD = path.join(tmp, 'home-d');
    await mkdir(homeD, { recursive: true });
    await writeFile(path.join(homeD, 'catalog.sqlite'), await readFile(path.join(homeA, 'catalog.sqlite')));
    const getD = silmaril(['get', torrentFile, '--out', out, ...offline(homeD)], {
      env: { HF_ENDPOINT: hub.endpoint },
    });
    const doneD = await getD
      .waitFor((l) => l.event === 'done', 120_000)
      .catch(async (e) => {
        throw new Error(getD.stderr.join('\n'), { cause: e });
      });
    assert.equal(doneD.verified, true);
    assert.ok(doneD.webBytes >= 320_000, JSON.stringify(doneD));
    assert.deepEqual(await readFile(path.join(doneD.path, 'tokenizer', 'tokenizer.json')), MODEL[2].bytes);
  },
);

test(
  'get --hf-cache killed mid-way shows no snapshot, and a rerun resumes and installs it',
  { timeout: 180_000 },
  async () => {
    const big: FakeFile[] = [
      { path: 'config.json', bytes: Buffer.from('{}\n') },
      { path: 'model.safetensors', bytes: bytesOf(1_500_000, 41), lfs: true },
    ];
    const cacheA = path.join(tmp, 'cache-k');
    addRevision(cacheA, 'org/big', COMMIT_A, big, ['main']);
    const made = await createHfTorrent((await findHfSnapshot({ spec: 'org/big', cacheDir: cacheA }))!, {
      pieceLength: 16384,
    });
    const torrentFile = path.join(tmp, 'big.torrent');
    await writeFile(torrentFile, made.torrent.torrentBytes);
    const slowHub = await startFakeHub({
      repos: { 'org/big': { commit: COMMIT_A, files: big } },
      rate: 300_000,
    });
    try {
      const cacheK = path.join(tmp, 'cache-k2');
      const home = path.join(tmp, 'home-k');
      const args = ['get', torrentFile, '--hf-cache', cacheK, '--hf-repo', `org/big@${COMMIT_A}`, ...offline(home)];
      const env = { HF_ENDPOINT: slowHub.endpoint };
      const first = silmaril(args, { env });
      await first.waitFor((l) => l.event === 'stats' && l.progress > 0.2 && l.progress < 0.8);
      first.kill('SIGKILL');
      await first.exited;
      // Nothing half-made is visible to the cache's readers.
      assert.equal(existsSync(path.join(cacheK, 'models--org--big', 'snapshots', COMMIT_A)), false);
      const again = silmaril(args, { env });
      const done = await again.waitFor((l) => l.event === 'done', 120_000);
      assert.equal(done.verified, true);
      assert.ok(
        done.webBytes < 1_500_000,
        `resumed, not restarted: ${done.webBytes} bytes from the Hub the second time`,
      );
      await assertResolvesOffline(cacheK, 'org/big', [big[1]]);
      // Killed again, then left to the daemon: it resumes the download (with its Hub web seed) and installs it.
      const cacheK3 = path.join(tmp, 'cache-k3');
      const home3 = path.join(tmp, 'home-k3');
      const args3 = ['get', torrentFile, '--hf-cache', cacheK3, '--hf-repo', `org/big@${COMMIT_A}`, ...offline(home3)];
      const third = silmaril(args3, { env });
      await third.waitFor((l) => l.event === 'stats' && l.progress > 0.2 && l.progress < 0.8);
      third.kill('SIGKILL');
      await third.exited;
      const daemon = silmaril(['daemon', ...offline(home3)], { env });
      try {
        const snapDir = path.join(cacheK3, 'models--org--big', 'snapshots', COMMIT_A);
        for (let i = 0; i < 120 && !existsSync(path.join(snapDir, 'model.safetensors')); i++) {
          await new Promise((r) => setTimeout(r, 500));
        }
        assert.deepEqual(
          await readFile(path.join(snapDir, 'model.safetensors')),
          big[1].bytes,
          'installed by the daemon',
        );
      } finally {
        daemon.kill();
      }
    } finally {
      await slowHub.close();
    }
  },
);
