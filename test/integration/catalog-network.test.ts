// Three nodes on a private loopback DHT, each a `silmaril daemon` (the bundled CLI): A shares a model, C finds it
// through the DHT (B is the bootstrap node and follows the catalog too), filters work, a separate client downloads
// it with peers found through the DHT alone, then A withdraws it and C stops listing it.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tinyModel } from './daemon-helpers.js';
import { promisify } from 'node:util';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = join(root, 'dist', 'cli.js');
const run = promisify(execFile);
const children: ChildProcess[] = [];
/** Each daemon's output, shown when a wait times out. */
const logs: string[] = [];
let dir: string;

before(async () => {
  assert.ok(existsSync(cli), 'dist/cli.js is missing: run `npm run build` first (npm test does)');
  dir = await mkdtemp(join(tmpdir(), 'silmaril-net-'));
});

after(async () => {
  for (const c of children) c.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 1500));
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

/** Starts a daemon and resolves with its `ready` line. */
function daemon(home: string, bootstrap: string): Promise<any> {
  const child = spawn(
    process.execPath,
    [cli, 'daemon', '--home', home, '--dht-bootstrap', bootstrap, '--no-lsd', '--refresh', '2', '--json'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.push(child);
  let err = '';
  const log = logs.push('') - 1;
  child.stderr!.on('data', (d) => {
    err += d;
    logs[log] += `[${home}] ${d}`;
  });
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d) => {
      buf += d;
      logs[log] += `[${home}] ${d}`;
      for (const line of buf.split('\n').slice(0, -1)) {
        const ev = JSON.parse(line);
        if (ev.event === 'ready') resolve(ev);
      }
      buf = buf.slice(buf.lastIndexOf('\n') + 1);
    });
    child.on('exit', (code) => reject(new Error(`daemon exited ${code}: ${err}`)));
  });
}

async function silmaril(...args: string[]): Promise<any[]> {
  const { stdout } = await run(process.execPath, [cli, ...args], { timeout: 90_000 });
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

/** Runs `silmaril get` until its `done` line; with the DHT on too, it must then exit by itself, with code 0. */
function getUntilDone(magnet: string, out: string, home: string, boot: string): Promise<any> {
  const args = [cli, 'get', magnet, '--out', out, '--home', home, '--dht-bootstrap', boot, '--no-lsd', '--json'];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`get timed out\n${err.slice(-2000)}`)), 90_000);
    let done: any;
    let buf = '';
    child.stdout!.on('data', (d) => {
      buf += d;
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const line of lines) {
        const ev = JSON.parse(line);
        if (ev.event === 'done') done = ev;
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (done && code === 0) resolve(done);
      else reject(new Error(`get exited ${code} ${done ? 'after' : 'before'} done: ${err.slice(-2000)}`));
    });
  });
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${logs.join('\n').slice(-6000)}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

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
