// Done-when for Hugging Face, over a private loopback DHT with `silmaril daemon`s (the bundled CLI): a model in a
// huggingface_hub-style cache on node A is shared with `share --hf`, found on node C through the DHT (the signed entry
// carries repo id, commit and etags), downloaded into C's cache with `get --hf-cache` (peers found through the DHT, the
// origin read from C's catalog) and resolved there offline by @huggingface/hub at the right commit.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { scanCacheDir } from '@huggingface/hub';
import { addRevision, assertResolvesOffline, bytesOf, COMMIT_A, type FakeFile } from '../unit/models/hf-fake-cache.js';
import { cli, cliJson, Daemons } from './daemon-helpers.js';

const daemons = new Daemons();
let dir: string;

before(async () => {
  assert.ok(existsSync(cli), 'dist/cli.js is missing: run `npm run build` first (npm test does)');
  dir = await mkdtemp(join(tmpdir(), 'silmaril-net-'));
});

after(async () => {
  await daemons.stopAll();
  await rm(dir, { recursive: true, force: true });
});

/** Starts a daemon and resolves with its `ready` line. */
const daemon = async (home: string, bootstrap: string, env: NodeJS.ProcessEnv = {}) =>
  (await daemons.start(home, bootstrap, [], env)).ready;
const until = <T>(what: string, probe: () => Promise<T | undefined>) => daemons.until(what, probe, 60_000);
const silmaril = (env: NodeJS.ProcessEnv, ...args: string[]) => cliJson(args, env);

/** Runs `silmaril get --hf-cache` until its `done` line; with the DHT on too, it must then exit by itself, 0. */
const getUntilDone = (magnet: string, cache: string, home: string, boot: string) =>
  daemons.untilDone(
    [
      'get',
      magnet,
      '--hf-cache',
      cache,
      '--no-web-seed',
      '--home',
      home,
      '--dht-bootstrap',
      boot,
      '--no-lsd',
      '--json',
    ],
    'required',
  );

const MODEL: FakeFile[] = [
  { path: 'README.md', bytes: Buffer.from('---\nlicense: mit\ntags: [tiny]\n---\nA tiny test model.\n') },
  { path: 'config.json', bytes: Buffer.from('{"architectures":["LlamaForCausalLM"]}\n') },
  { path: 'model.safetensors', bytes: bytesOf(300_000, 21), lfs: true },
  { path: 'tokenizer/tokenizer.json', bytes: bytesOf(30_000, 22) },
];

test(
  "a cached model shared on A is found on C through the DHT and lands in C's cache",
  { timeout: 240_000 },
  async () => {
    const cacheA = join(dir, 'cache-a');
    addRevision(cacheA, 'org/tiny', COMMIT_A, MODEL, ['main']);
    const envA = { HF_HUB_CACHE: cacheA };
    const b = await daemon(join(dir, 'b'), '');
    const boot = `127.0.0.1:${b.dhtPort}`;
    const a = await daemon(join(dir, 'a'), boot, envA);
    await daemon(join(dir, 'c'), boot);

    const [shared] = await silmaril(
      envA,
      'share',
      '--hf',
      'org/tiny@main',
      '--license',
      'mit',
      '--home',
      join(dir, 'a'),
      '--json',
    );
    assert.equal(shared.publisher, a.publisher);
    assert.equal(shared.name, 'org/tiny');

    const cHome = join(dir, 'c');
    const found = await until('C to list org/tiny', async () => {
      const lines = await silmaril({}, 'discover', 'tiny', '--home', cHome, '--json');
      return lines.find((e) => e.name === 'org/tiny');
    });
    assert.equal(found.v1, shared.v1);

    // The getter reads the origin from the catalog C holds (copied: C's daemon keeps running on its own home).
    const getter = join(dir, 'getter');
    await mkdir(getter, { recursive: true });
    await copyFile(join(cHome, 'catalog.sqlite'), join(getter, 'catalog.sqlite'));
    const cacheC = join(dir, 'cache-c');
    const done = await getUntilDone(found.magnet, cacheC, getter, boot);
    assert.equal(done.verified, true);
    assert.equal(done.path, join(cacheC, 'models--org--tiny', 'snapshots', COMMIT_A));

    const info = await scanCacheDir(cacheC);
    assert.deepEqual(
      info.repos.map((r) => [r.id.name, r.revisions.map((v) => v.commitOid)]),
      [['org/tiny', [COMMIT_A]]],
    );
    // A's cache had refs/main at that commit; the signed entry says so, and C's cache gets the same ref, which is how
    // huggingface_hub resolves a model by name offline (from_pretrained("org/tiny") reads refs/main for the commit;
    // @huggingface/hub's downloadFileToCacheDir does so only for a commit, so the ref is read here).
    const main = (await readFile(join(cacheC, 'models--org--tiny', 'refs', 'main'), 'utf8')).trim();
    assert.equal(main, COMMIT_A);
    await assertResolvesOffline(cacheC, 'org/tiny', MODEL, [COMMIT_A, main]);
  },
);
