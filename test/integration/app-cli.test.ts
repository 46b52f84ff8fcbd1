// The bundled CLI and a running daemon on a private loopback DHT: `share` while the daemon runs is seeded by the
// daemon at once, `status` shows its transfers, a second node on the same home is refused naming the daemon, a
// fresh home's `discover` (no daemon for it) finds the model through the DHT, `get` with the DHT on ends by itself
// after `done`, and `stop` ends the daemon.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cli, Daemons, tinyModel } from './daemon-helpers.js';
import { addRevision, bytesOf, COMMIT_A, type FakeFile } from '../unit/models/hf-fake-cache.js';

const daemons = new Daemons();
let dir: string;

before(async () => {
  assert.ok(existsSync(cli), 'dist/cli.js is missing: run `npm run build` first (npm test does)');
  dir = await mkdtemp(join(tmpdir(), 'silmaril-app-cli-'));
});

after(async () => {
  await daemons.stopAll();
  await rm(dir, { recursive: true, force: true });
});

interface Run {
  code: number;
  out: any[];
  stdout: string;
  err: string;
}

function silmaril(...args: string[]): Promise<Run> {
  return silmarilIn(undefined, ...args);
}

function silmarilEnv(env: Record<string, string>, ...args: string[]): Promise<Run> {
  return silmarilIn(undefined, ...args, { env });
}

function silmarilIn(cwd: string | undefined, ...rest: (string | { env: Record<string, string> })[]): Promise<Run> {
  const last = rest[rest.length - 1];
  const env = typeof last === 'object' ? { ...process.env, ...last.env } : undefined;
  const args = rest.filter((a): a is string => typeof a === 'string');
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { timeout: 120_000, cwd, env }, (error, stdout, stderr) => {
      const code = error ? ((error as any).code ?? 1) : 0;
      const out = stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l));
      resolve({ code: typeof code === 'number' ? code : 1, out, stdout, err: stderr });
    });
  });
}

const daemon = (home: string, bootstrap: string, extra: string[] = []) => daemons.start(home, bootstrap, extra);

const HF_MODEL: FakeFile[] = [
  { path: 'config.json', bytes: Buffer.from('{"architectures":["LlamaForCausalLM"]}\n') },
  { path: 'model.safetensors', bytes: bytesOf(200_000, 7), lfs: true },
];
const until = <T>(what: string, probe: () => Promise<T | undefined>) => daemons.until(what, probe);

test(
  'the CLI drives a running daemon; a fresh home discovers over the DHT; get ends by itself',
  { timeout: 300_000 },
  async () => {
    const model = join(dir, 'models', 'tiny');
    const weights = await tinyModel(model);

    const b = await daemon(join(dir, 'b'), '');
    const boot = `127.0.0.1:${b.ready.dhtPort}`;
    const homeA = join(dir, 'a');
    const a = await daemon(homeA, boot);
    assert.equal(typeof a.ready.controlPort, 'number');

    // share while the daemon runs: the daemon seeds it at once (no restart, no second engine).
    // A relative path is the command's, not the daemon's (which runs elsewhere).
    const shared = await silmarilIn(
      join(dir, 'models'),
      ...['share', 'tiny', '--name', 'acme/tiny', '--license', 'mit', '--home', homeA, '--json'],
    );
    assert.equal(shared.code, 0, shared.err);
    const s = shared.out[0];
    assert.equal(s.event, 'shared');
    assert.equal(s.seededBy, 'node');
    assert.equal(s.path, model);
    const status = await silmaril('status', '--home', homeA, '--json');
    assert.equal(status.code, 0, status.err);
    const st = status.out[0];
    assert.equal(st.running, true);
    assert.equal(st.kind, 'daemon');
    assert.equal(st.pid, a.child.pid);
    const seed = st.transfers.find((t: any) => t.id === s.v1);
    assert.ok(seed, `status lists the share: ${JSON.stringify(st.transfers)}`);
    assert.equal(seed.kind, 'seed');
    const human = await silmaril('status', '--home', homeA);
    assert.match(human.stdout, new RegExp(`daemon pid ${a.child.pid}`));
    assert.match(human.stdout, new RegExp(s.v1));

    // A second node on the daemon's home is refused, naming the daemon.
    const second = await silmaril('daemon', '--home', homeA, '--no-dht', '--no-lsd');
    assert.equal(second.code, 1);
    assert.match(second.err, new RegExp(`in use by another Silmaril node \\(daemon, pid ${a.child.pid}`));

    // list and discover through the daemon.
    const list = await silmaril('list', '--home', homeA, '--json');
    assert.deepEqual(
      list.out.filter((l) => l.kind === 'share').map((l) => l.name),
      ['acme/tiny'],
    );

    // The daemon publishes the entry on the DHT; a fresh home with no daemon finds it by reading the network first.
    await until('the daemon to publish', async () =>
      a.events.some((e) => e.event === 'published') ? true : undefined,
    );
    const fresh = join(dir, 'fresh');
    const found = await until('a fresh home to discover acme/tiny', async () => {
      const r = await silmaril(
        'discover',
        'tiny',
        '--home',
        fresh,
        '--dht-bootstrap',
        boot,
        '--no-lsd',
        '--timeout',
        '30',
        '--json',
      );
      assert.equal(r.code, 0, r.err);
      assert.match(r.err, /the network was read|until the time limit/);
      return r.out.find((e) => e.name === 'acme/tiny');
    });
    assert.equal(found.v1, s.v1);
    assert.equal(found.signed, true, 'signed by its publisher');
    assert.equal(found.trusted, false, 'trusted only for keys the user chose');
    assert.ok(!existsSync(join(fresh, 'node.lock')), 'discover let go of the fresh home');

    // get with the DHT on: exits by itself once done and verified (no kill).
    const out = join(dir, 'out');
    const getHome = join(dir, 'getter');
    const got = await silmaril(
      'get',
      found.magnet,
      '--out',
      out,
      '--home',
      getHome,
      '--dht-bootstrap',
      boot,
      '--no-lsd',
      '--peer',
      `127.0.0.1:${a.ready.port}`,
      '--json',
    );
    assert.equal(got.code, 0, got.err.slice(-2000));
    const done = got.out.find((e) => e.event === 'done');
    assert.ok(done, 'a done line');
    assert.equal(done.verified, true);
    assert.deepEqual(await readFile(join(done.path, 'model.gguf.part')), weights);

    // get on a home a daemon runs (B's): the daemon downloads, the command follows it until done and exits.
    const viaB = await silmaril(
      ...['get', s.magnet, '--out', join(dir, 'out-b'), '--home', join(dir, 'b'), '--json'],
      ...['--peer', `127.0.0.1:${a.ready.port}`],
    );
    assert.equal(viaB.code, 0, viaB.err.slice(-2000));
    const doneB = viaB.out.find((e) => e.event === 'done');
    assert.equal(doneB?.verified, true);
    assert.deepEqual(await readFile(join(doneB.path, 'model.gguf.part')), weights);
    const statusB = (await silmaril('status', '--home', join(dir, 'b'), '--json')).out[0];
    const keptB = statusB.transfers.find((t: any) => t.id === s.v1);
    assert.equal(keptB?.kind, 'download', 'the daemon holds the download (and seeds it on)');
    // One state name everywhere (issue 12): a finished download that seeds on is `seeding`, and complete.
    assert.equal(keptB?.state, 'seeding');
    assert.equal(keptB?.complete, true);

    // seed on a home a daemon runs: handed to the daemon, the command returns.
    const other = join(dir, 'models', 'other');
    await tinyModel(other);
    await writeFile(join(other, 'extra.bin'), 'another model');
    const seeded = await silmaril('seed', other, '--home', homeA, '--json');
    assert.equal(seeded.code, 0, seeded.err);
    assert.match(seeded.out[0].seededBy, new RegExp(`daemon pid ${a.child.pid}`));
    const afterSeed = (await silmaril('status', '--home', homeA, '--json')).out[0];
    assert.ok(afterSeed.transfers.some((t: any) => t.id === seeded.out[0].v1 && t.kind === 'seed'));

    // stop: the daemon ends and its node.json goes.
    const stopped = await silmaril('stop', '--home', homeA, '--json');
    assert.equal(stopped.code, 0, stopped.err);
    assert.equal(stopped.out[0].pid, a.child.pid);
    assert.notEqual(a.child.exitCode, null);
    assert.ok(!existsSync(join(homeA, 'node.json')));
    assert.equal((await silmaril('status', '--home', homeA)).code, 3);
  },
);

test('Ctrl-C stops discover while it reads the network, and lets go of the home', { timeout: 60_000 }, async () => {
  const home = join(dir, 'interrupted');
  // A bootstrap node nobody answers on: the network read would wait for its whole time limit.
  const args = [cli, 'discover', 'x', '--home', home, '--dht-bootstrap', '127.0.0.1:9', '--no-lsd', '--timeout', '50'];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (d) => {
      err += d;
      if (/searching the network/.test(err)) resolve();
    });
    child.on('exit', (code) => reject(new Error(`discover exited ${code} early: ${err}`)));
  });
  assert.ok(existsSync(join(home, 'node.lock')), 'discover runs a node on the home meanwhile');
  child.kill('SIGINT');
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  assert.equal(code, 130);
  assert.ok(!existsSync(join(home, 'node.lock')), 'the lock went with it');
});

test(
  'through a running daemon: discover --tracker reads that registry, get --hf-cache fills the command’s cache',
  { timeout: 240_000 },
  async () => {
    // T runs the embedded tracker; an HF snapshot shared there is registered in its registry.
    const cacheA = join(dir, 'hf-cache-a');
    addRevision(cacheA, 'org/tiny', COMMIT_A, HF_MODEL, ['main']);
    const t = await daemon(join(dir, 't'), '', ['--tracker-port', '0']);
    const registry = t.ready.tracker as string;
    assert.match(registry, /^http:\/\/127\.0\.0\.1:\d+\/announce$/);
    const shared = await silmarilEnv(
      { HF_HUB_CACHE: cacheA, HF_HOME: join(dir, 'nowhere') },
      ...['share', '--hf', 'org/tiny', '--license', 'mit', '--home', join(dir, 't'), '--json'],
    );
    assert.equal(shared.code, 0, shared.err);
    const s = shared.out.find((l) => l.event === 'shared');
    assert.equal(s.seededBy, 'node');

    // D: another home, its daemon running, no DHT peers: only the registry named on the command line knows the model.
    const homeD = join(dir, 'd');
    await daemon(homeD, '', []);
    const found = await silmaril('discover', 'tiny', '--home', homeD, '--tracker', registry, '--json');
    assert.equal(found.code, 0, found.err);
    assert.doesNotMatch(found.err, /ignored/);
    const hit = found.out.find((e) => e.v1 === s.v1);
    assert.ok(hit, `the daemon read ${registry} for this search: ${found.stdout}${found.err}`);
    assert.equal(hit.signed, false, 'a registry listing is unsigned');
    assert.match(found.err, new RegExp(`tracker:${registry.replace(/[.?]/g, '\\$&')}`));
    // --offline reads nothing.
    const offlineD = await silmaril('discover', 'tiny', '--home', join(dir, 'd2'), '--offline', '--json');
    assert.equal(offlineD.out.length, 0);

    // get --hf-cache through D's daemon: it downloads from T into this command's cache folder, then installs.
    const cacheB = join(dir, 'hf-cache-b');
    const got = await silmaril(
      ...['get', s.magnet, '--hf-cache', cacheB, '--hf-repo', `org/tiny@${COMMIT_A}`, '--hf-ref', 'main'],
      ...['--peer', `127.0.0.1:${t.ready.port}`, '--no-web-seed', '--home', homeD, '--json'],
    );
    assert.equal(got.code, 0, got.err.slice(-2000));
    const done = got.out.find((e) => e.event === 'done');
    assert.equal(done?.verified, true, got.stdout);
    const snapshot = join(cacheB, 'models--org--tiny', 'snapshots', COMMIT_A);
    assert.equal(done.path, snapshot);
    for (const f of HF_MODEL) assert.deepEqual(await readFile(join(snapshot, f.path)), f.bytes, f.path);
    assert.equal((await readFile(join(cacheB, 'models--org--tiny', 'refs', 'main'), 'utf8')).trim(), COMMIT_A);
  },
);
