// Three nodes on a private loopback DHT, each a `silmaril daemon` (the bundled CLI): A shares a model, C finds it
// through the DHT (B is the bootstrap node and follows the catalog too), filters work, a separate client downloads
// it with peers found through the DHT alone, then A withdraws it and C stops listing it.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cli, cliJson, Daemons, tinyModel } from './daemon-helpers.js';

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
const daemon = async (home: string, bootstrap: string) => (await daemons.start(home, bootstrap, [])).ready;
const until = <T>(what: string, probe: () => Promise<T | undefined>) => daemons.until(what, probe, 60_000);
const silmaril = (...args: string[]) => cliJson(args);

/** Runs `silmaril get` until its `done` line; with the DHT on too, it must then exit by itself, with code 0. */
const getUntilDone = (magnet: string, out: string, home: string, boot: string) =>
  daemons.untilDone(
    ['get', magnet, '--out', out, '--home', home, '--dht-bootstrap', boot, '--no-lsd', '--json'],
    'required',
  );

test(
  'A shares, C discovers through the DHT with filters, downloads with DHT peers only, A withdraws',
  { timeout: 240_000 },
  async () => {
    const model = join(dir, 'models', 'tiny');
    const weights = await tinyModel(model);

    const b = await daemon(join(dir, 'b'), '');
    const boot = `127.0.0.1:${b.dhtPort}`;
    const a = await daemon(join(dir, 'a'), boot);
    await daemon(join(dir, 'c'), boot);

    const [shared] = await silmaril(
      'share',
      model,
      '--name',
      'acme/tiny',
      '--license',
      'mit',
      '--tags',
      'llm,tiny',
      '--home',
      join(dir, 'a'),
      '--json',
    );
    assert.equal(shared.publisher, a.publisher);

    const cHome = join(dir, 'c');
    const found = await until('C to list acme/tiny', async () => {
      const lines = await silmaril('discover', 'tiny', '--license', 'mit', '--tag', 'llm', '--home', cHome, '--json');
      return lines.find((e) => e.name === 'acme/tiny');
    });
    assert.equal(found.publisher, a.publisher);
    assert.equal(found.signed, true);
    assert.equal(found.trusted, false);
    assert.equal(found.v1, shared.v1);
    assert.equal(found.v2, shared.v2);
    assert.equal(found.license, 'mit');
    assert.deepEqual(found.tags, ['llm', 'tiny']);
    assert.equal(found.size, shared.size);
    // Filters that exclude it.
    assert.deepEqual(await silmaril('discover', '--license', 'apache-2.0', '--home', cHome, '--json'), []);
    assert.deepEqual(await silmaril('discover', '--tag', 'vision', '--home', cHome, '--json'), []);
    assert.equal((await silmaril('discover', '--publisher', a.fingerprint, '--home', cHome, '--json')).length, 1);
    assert.deepEqual(await silmaril('discover', '--publisher', b.publisher, '--home', cHome, '--json'), []);

    // A separate client: no tracker, no --peer: the DHT alone finds A.
    const out = join(dir, 'download');
    const done = await getUntilDone(found.magnet, out, join(dir, 'getter'), boot);
    assert.equal(done.event, 'done');
    assert.equal(done.verified, true);
    assert.deepEqual(await readFile(join(done.path, 'model.gguf.part')), weights);

    // Withdrawal: A's tombstone reaches C, which stops listing the model.
    await silmaril('share', '--name', 'acme/tiny', '--withdraw', '--home', join(dir, 'a'), '--json');
    await until('C to drop acme/tiny', async () => {
      const now = await silmaril('discover', 'tiny', '--home', cHome, '--json');
      return now.length === 0 ? true : undefined;
    });
  },
);
