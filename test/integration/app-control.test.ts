// The application layer in one process: one node per home (a second engine on the same home is refused, a stale
// lock taken over), the control API's token and Host checks, its Go-compatible routes and shapes, its event
// stream, the move of the editor's old tracker.sqlite to the one layout, and an editor attached to a daemon
// starting the daemon's embedded tracker.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { AppNode } from '../../src/app/node.js';
import { HomeBusyError } from '../../src/app/lock.js';
import { prepareHome } from '../../src/app/layout.js';
import { ControlClient } from '../../src/app/control-client.js';
import type { NodeFile } from '../../src/app/control-protocol.js';
import type { KeyStore } from '../../src/app/keys.js';
import { silentLogger } from '../../src/log.js';
import { NodeCore } from '../../src/ui/node-core.js';

let dir: string;
const nodes: AppNode[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'silmaril-app-'));
});

after(async () => {
  for (const n of nodes) await n.stop().catch(() => {});
  await rm(dir, { recursive: true, force: true });
});

/** A node with no network but loopback peers (no DHT, no LSD). */
function offlineNode(home: string, kind: string, control = false): AppNode {
  const n = new AppNode({ home, kind, control, engine: { dht: false, lsd: false }, catalog: { network: false } });
  nodes.push(n);
  return n;
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
}

/** A raw HTTP request, so the test can send any Host and Authorization header. */
function http(port: number, method: string, path: string, headers: Record<string, string> = {}, body?: string) {
  return new Promise<Reply>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => {
        let parsed: any = text;
        try {
          parsed = JSON.parse(text);
        } catch {}
        resolve({ status: res.statusCode!, headers: res.headers, body: parsed });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('a second engine on the same home is refused, naming the running one; a stale lock is taken over', async () => {
  const home = join(dir, 'one-home');
  const first = offlineNode(home, 'daemon');
  await first.start();
  const second = offlineNode(home, 'editor');
  await assert.rejects(second.start(), (err: Error) => {
    assert.ok(err instanceof HomeBusyError);
    assert.match(err.message, new RegExp(`daemon, pid ${process.pid}`));
    return true;
  });
  await first.stop();
  // The lock went with the first node: the home is free again.
  const third = offlineNode(home, 'get');
  await third.start();
  await third.stop();

  // A lock left by a killed process names a pid that no longer exists.
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
  const deadPid = child.pid!;
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  await writeFile(join(home, 'node.lock'), JSON.stringify({ pid: deadPid, kind: 'daemon', started: 1 }));
  const fourth = offlineNode(home, 'seed');
  await fourth.start();
  assert.equal(JSON.parse(await readFile(join(home, 'node.lock'), 'utf8')).pid, process.pid);
  await fourth.stop();
  assert.ok(!existsSync(join(home, 'node.lock')), 'the lock is removed on stop');
});

test("the editor's tracker.sqlite becomes the one tracker.db", async () => {
  const home = join(dir, 'old-layout');
  await mkdir(home, { recursive: true });
  await writeFile(join(home, 'tracker.sqlite'), 'old registry');
  const layout = await prepareHome(home);
  assert.equal(layout.trackerDb, join(home, 'tracker.db'));
  assert.equal(await readFile(layout.trackerDb, 'utf8'), 'old registry');
  assert.ok(!existsSync(join(home, 'tracker.sqlite')));
  // Never over an existing tracker.db.
  await writeFile(join(home, 'tracker.sqlite'), 'other');
  await prepareHome(home);
  assert.equal(await readFile(layout.trackerDb, 'utf8'), 'old registry');
});

test('control API: token, Host and JSON checks; Go-compatible routes with their shapes; events', async () => {
  const home = join(dir, 'api-home');
  const node = offlineNode(home, 'daemon', true);
  await node.start();
  const nodeJson = join(home, 'node.json');
  assert.equal((await stat(nodeJson)).mode & 0o777, 0o600, 'node.json is private');
  const file = JSON.parse(await readFile(nodeJson, 'utf8')) as NodeFile;
  assert.equal(file.pid, process.pid);
  assert.equal(file.url, `http://127.0.0.1:${file.port}/api/v1`);
  assert.match(file.token, /^[0-9a-f]{64}$/);
  const port = file.port;
  const auth = { Authorization: `Bearer ${file.token}` };

  // No token, a wrong token, a foreign Host (DNS rebinding), a foreign Origin.
  const none = await http(port, 'GET', '/api/v1/health');
  assert.equal(none.status, 401);
  assert.match(none.body.error, /bearer token/);
  assert.equal((await http(port, 'GET', '/api/v1/health', { Authorization: `Bearer ${'0'.repeat(64)}` })).status, 401);
  const rebound = await http(port, 'GET', '/api/v1/health', { ...auth, Host: `evil.example:${port}` });
  assert.equal(rebound.status, 403);
  assert.match(rebound.body.error, /Host "evil\.example/);
  assert.equal((await http(port, 'GET', '/api/v1/health', { ...auth, Host: `localhost:${port}` })).status, 200);
  assert.equal((await http(port, 'GET', '/api/v1/health', { ...auth, Origin: 'https://evil.example' })).status, 403);

  // Bad bodies and unknown routes: a clear JSON error.
  const badJson = await http(
    port,
    'POST',
    '/api/v1/models/share',
    { ...auth, 'Content-Type': 'application/json' },
    '{"path": ',
  );
  assert.equal(badJson.status, 400);
  assert.match(badJson.body.error, /invalid JSON body/);
  const notFound = await http(port, 'GET', '/api/v1/nope', auth);
  assert.equal(notFound.status, 404);
  assert.deepEqual(notFound.body, { error: 'endpoint not found', path: '/api/v1/nope' });

  const health = await http(port, 'GET', '/api/v1/health', auth);
  assert.equal(health.body.status, 'healthy');
  assert.match(health.body.version, /^\d+\.\d+\.\d+/);
  assert.equal(typeof health.body.time, 'number');
  const status = (await http(port, 'GET', '/api/v1/status', auth)).body;
  assert.equal(status.pid, process.pid);
  assert.match(status.uptime, /^(\d+h)?(\d+m)?\d+s$/);
  for (const k of ['active_transfers', 'total_peers', 'dht_nodes']) assert.equal(typeof status[k], 'number', k);

  // Share: Go's 400 without name and license; then a folder is seeded and published.
  const model = join(dir, 'tiny');
  await mkdir(model, { recursive: true });
  await writeFile(join(model, 'model.gguf.part'), Buffer.alloc(100_000, 3));
  const post = (path: string, body: unknown) =>
    http(port, 'POST', path, { ...auth, 'Content-Type': 'application/json' }, JSON.stringify(body));
  const noLicense = await post('/api/v1/models/share', { path: model, name: 'acme/tiny' });
  assert.equal(noLicense.status, 400);
  assert.equal(noLicense.body.error, 'name and license are required when publishing from directory');
  const shared = await post('/api/v1/models/share', { path: model, name: 'acme/tiny', license: 'mit', tags: 'a,b' });
  assert.equal(shared.status, 200, JSON.stringify(shared.body));
  assert.equal(shared.body.message, 'model published and seeding started');
  assert.equal(shared.body.model_name, 'acme/tiny');
  assert.match(shared.body.info_hash, /^[0-9a-f]{40}$/);
  assert.equal(shared.body.transfer_id, shared.body.info_hash);
  const id = shared.body.transfer_id;

  const models = (await http(port, 'GET', '/api/v1/models', auth)).body;
  assert.equal(models.count, 1);
  assert.equal(models.models[0].name, 'acme/tiny');
  assert.equal(models.models[0].license, 'mit');
  assert.match(models.models[0].magnet_uri, /^magnet:\?xt=urn:btih:/);
  // A name with a slash is addressable (Go's `:name` is one segment, so `org/model` 404s there).
  assert.equal((await http(port, 'GET', '/api/v1/models/acme%2Ftiny', auth)).body.name, 'acme/tiny');
  assert.equal((await http(port, 'GET', '/api/v1/models/acme/nothing', auth)).status, 404);

  const discovered = (await http(port, 'GET', '/api/v1/discover?pattern=tiny', auth)).body;
  assert.equal(discovered.pattern, 'tiny');
  assert.equal(discovered.count, 1);
  const d = discovered.models[0];
  assert.deepEqual(Object.keys(d).slice(0, 6), ['name', 'version', 'magnet', 'info_hash', 'size', 'time']);
  assert.equal(d.info_hash, id);

  const transfers = (await http(port, 'GET', '/api/v1/transfers', auth)).body;
  assert.ok(Array.isArray(transfers.transfers));
  const t = transfers.transfers.find((x: any) => x.id === id);
  assert.ok(t, 'the share is a transfer');
  for (const k of ['type', 'status', 'model_name', 'info_hash', 'total_bytes', 'bytes_transferred', 'progress']) {
    assert.ok(k in t, k);
  }
  assert.equal(t.type, 'seed');
  assert.equal(t.total_bytes, 100_000);
  assert.equal((await http(port, 'GET', `/api/v1/transfers/${'f'.repeat(40)}`, auth)).status, 404);

  // Events: the stream opens with the transfers, then carries changes.
  const events = await new Promise<string>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/api/v1/events', headers: auth }, (res) => {
      assert.equal(res.headers['content-type'], 'text/event-stream');
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => {
        text += c;
        if (/event: transfers\ndata: .*\n\n/.test(text)) {
          req.destroy();
          resolve(text);
        }
      });
    });
    req.on('error', reject);
    req.end();
  });
  assert.match(events, new RegExp(`"id":"${id}"`));

  const paused = await http(port, 'PUT', `/api/v1/transfers/${id}/pause`, auth);
  assert.deepEqual(paused.body, { message: 'transfer paused', transfer_id: id });
  assert.equal((await http(port, 'GET', `/api/v1/transfers/${id}`, auth)).body.status, 'paused');
  assert.equal((await http(port, 'PUT', `/api/v1/transfers/${id}/resume`, auth)).body.message, 'transfer resumed');

  // The same through the client the CLI and the editor use.
  const client = await ControlClient.connect(home);
  assert.ok(client);
  assert.deepEqual(
    (await client.shares()).map((s) => s.name),
    ['acme/tiny'],
  );
  assert.equal((await client.transfer(id)).kind, 'seed');
  const withdrawn = await client.withdraw('acme/tiny');
  assert.equal(withdrawn.name, 'acme/tiny');
  assert.equal((await client.discover({ text: 'tiny' })).entries.length, 0);

  const cancelled = await http(port, 'DELETE', `/api/v1/transfers/${id}`, auth);
  assert.deepEqual(cancelled.body, { message: 'transfer cancelled', transfer_id: id });
  const bye = await http(port, 'POST', '/api/v1/admin/shutdown', auth);
  assert.deepEqual(bye.body, { message: 'daemon shutting down' });
  await node.stopRequest;
  await node.stop();
  assert.ok(!existsSync(nodeJson), 'node.json goes with the node');
  assert.equal(await ControlClient.connect(home), undefined);
});

test("an editor attached to a daemon starts and stops the daemon's embedded tracker through the control API", async () => {
  const home = join(dir, 'tracker-daemon');
  const daemon = offlineNode(home, 'daemon', true);
  await daemon.start();
  const noKeys: KeyStore = { load: async () => undefined, save: async () => {} };
  const core = new NodeCore(
    {
      home,
      modelsDirectory: join(dir, 'editor-models'),
      listenPort: 0,
      dht: false,
      trackers: [],
      downloadLimit: 0,
      uploadLimit: 0,
      trustedPublishers: [],
      catalogSources: ['local'],
      node: 'attach',
    },
    noKeys,
    silentLogger,
  );
  await core.start();
  try {
    assert.equal(core.mode, 'attached');
    assert.equal(core.trackerStatus().running, false);
    // The editor's Start Embedded Tracker: the daemon starts it (no second node, no refusal).
    const started = await core.startTracker('127.0.0.1', 0);
    assert.equal(started.running, true);
    assert.match(started.announceUrl!, /^http:\/\/127\.0\.0\.1:\d+\/announce$/);
    assert.deepEqual(daemon.trackerStatus(), started, 'the daemon runs it');
    assert.equal(core.trackerStatus().running, true, 'the editor shows it');
    // It answers announces (a bencoded reply, here the refusal of an announce without parameters).
    const res = await fetch(started.announceUrl!);
    assert.ok(res.status < 500, `tracker answered HTTP ${res.status}`);
    assert.match(Buffer.from(await res.arrayBuffer()).toString('latin1'), /^d.*failure reason/s);
    // Asked again: the running one, as is.
    assert.equal((await core.startTracker('127.0.0.1', 0)).announceUrl, started.announceUrl);
    // A bad port is a clear 400 from the API.
    const client = (await ControlClient.connect(home))!;
    await assert.rejects(client.startTracker('127.0.0.1', 70_000), /port must be 0 to 65535/);
    // The other new routes' refusals: a registry that is not http(s), an HF download nobody started.
    await assert.rejects(
      client.call('GET', '/discover?registry=ftp%3A%2F%2Fx'),
      /registry must be an http\(s\) tracker URL/,
    );
    await assert.rejects(
      client.call('GET', `/transfers/${'a'.repeat(40)}/hf`),
      /no download into the Hugging Face cache/,
    );
    await assert.rejects(
      client.call('POST', '/models/download', { magnet: 'magnet:?xt=urn:btih:' + 'a'.repeat(40), hf_cache: 3 }),
      /hf_cache must be true or a folder/,
    );
    await core.stopTracker();
    assert.equal(daemon.trackerStatus().running, false);
    assert.equal(core.trackerStatus().running, false);
    assert.equal((await client.trackerStatus()).running, false);
  } finally {
    await core.stop();
  }
  assert.equal((await daemon.status()).kind, 'daemon', 'the editor leaving does not stop the daemon');
});
