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

function silmarilIn(cwd: string | undefined, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { timeout: 120_000, cwd }, (error, stdout, stderr) => {
      const code = error ? ((error as any).code ?? 1) : 0;
      const out = stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l));
      resolve({ code: typeof code === 'number' ? code : 1, out, stdout, err: stderr });
    });
  });
}

const daemon = (home: string, bootstrap: string) => daemons.start(home, bootstrap);
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
