// Issue 12, the application layer in daily use, with two real nodes on loopback (a private DHT: A has no bootstrap,
// B bootstraps from A; A runs the embedded tracker and its control API):
// - a catalog publish with no DHT node is "pending", never "published"; it is published once a node is found;
// - the catalog's own torrents are system transfers: hidden by default (API `?all=1` shows them), not counted as
//   active, refused by cancel / stop sharing unless forced;
// - sharing the same bytes again under another name says `duplicateOf` and publishes nothing;
// - a download of bytes this node already holds says `present` with their path; copyPresent copies and verifies;
// - an idle seed with a connected peer reports rates of exactly 0;
// - seeders per entry: counted from our own seed and from a tracker scrape, with when;
// - stop sharing with `withdraw` removes the entry from the other node's discover.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ControlClient } from '../../src/app/control-client.js';
import { SystemTransferError } from '../../src/app/errors.js';
import { AppNode } from '../../src/app/node.js';
import type { ShareResult } from '../../src/app/types.js';
import { scrapeTracker } from '../../src/catalog/swarm-counts.js';
import { CLI, MODEL_FILES, makeFolder, snapshot } from './engine-helpers.js';

let tmp: string;
let model: string;
let a: AppNode;
let b: AppNode | undefined;
let shared: ShareResult;
const events: { published: any[]; pending: any[] } = { published: [], pending: [] };
const logs: string[] = [];

const logger = (who: string) => ({
  debug: () => {},
  info: (m: string) => logs.push(`${who} info ${m}`),
  warn: (m: string) => logs.push(`${who} warn ${m}`),
  error: (m: string) => logs.push(`${who} error ${m}`),
});

/** dist/cli.js, asynchronously: the node it talks to (through the control API) runs in this process. */
function cli(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as any).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function until<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${logs.slice(-20).join('\n')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'silmaril-app-daily-'));
  model = path.join(tmp, 'models', 'tiny');
  await makeFolder(model, MODEL_FILES);
  a = new AppNode({
    home: path.join(tmp, 'home-a'),
    kind: 'test-a',
    log: logger('A') as any,
    control: true,
    engine: { dht: true, dhtBootstrap: [], lsd: false },
    tracker: { host: '127.0.0.1', port: 0 },
  });
  a.on('published', (e) => events.published.push(e));
  a.on('publish-pending', (e) => events.pending.push(e));
  await a.start();
});

after(async () => {
  await b?.stop().catch(() => {});
  await a?.stop().catch(() => {});
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test('a publish that reached no DHT node is pending, not "published"; it is published once a node is found', async () => {
  shared = await a.share({ path: model, name: 'acme/tiny', license: 'mit', tags: ['test'] });
  assert.equal(shared.published, true, 'the entry is in our catalog');
  await until('the publish pass', () => events.pending.length > 0 || events.published.length > 0);
  assert.equal(events.published.length, 0, 'nothing may say "published" while the DHT has no node');
  const st = await a.status();
  assert.equal(st.catalogPublish?.state, 'pending');
  assert.match(st.catalogPublish?.message ?? '', /not published yet: no DHT nodes \(will retry\)/);
  assert.ok(
    logs.some((l) => /catalog not published yet: no DHT nodes \(will retry\)/.test(l)),
    logs.join('\n'),
  );
  assert.ok(!logs.some((l) => /catalog published/.test(l)), 'no "catalog published" line');

  // B bootstraps from A: A's DHT finds a node, and the publish is redone and stored.
  b = new AppNode({
    home: path.join(tmp, 'home-b'),
    kind: 'test-b',
    log: logger('B') as any,
    engine: { dht: true, dhtBootstrap: [`127.0.0.1:${a.dhtPort}`], lsd: false },
  });
  await b.start();
  const published = await until('a publish stored by a node', () => events.published[0], 60_000);
  assert.ok(published.acks >= 1, `acks ${published.acks}`);
  assert.equal((await a.status()).catalogPublish?.state, 'published');
  assert.ok(logs.some((l) => /^A info catalog published on the DHT/.test(l)));
});

test('the catalog torrents are system transfers: hidden, not counted, not stoppable unless forced', async () => {
  const all = await a.transfers({ all: true });
  const system = all.filter((t) => t.system);
  assert.ok(system.length >= 1, 'the published catalog is seeded');
  for (const t of system) assert.match(t.path, /[/\\]catalogs[/\\]/);
  const models = await a.transfers();
  assert.deepEqual(
    models.map((t) => t.id),
    [shared.v1],
    'by default only the model',
  );
  assert.equal(models[0].system, false);
  const status = await a.status();
  assert.equal(status.activeTransfers, 1, 'the catalog files are not "active transfers"');
  assert.deepEqual(
    status.transfers.map((t) => t.id),
    [shared.v1],
  );
  assert.ok((await a.status({ all: true })).transfers.some((t) => t.system));

  const sys = system[0];
  await assert.rejects(a.cancel(sys.id), SystemTransferError);
  await assert.rejects(a.pause(sys.id), SystemTransferError);
  await assert.rejects(a.stopSharing(sys.id), /catalog files.*force/);

  // The same over the control API.
  const api = await ControlClient.connect(a.home);
  assert.ok(api, 'the control API answers');
  assert.deepEqual(
    (await api.transfers()).map((t) => t.id),
    [shared.v1],
  );
  assert.ok((await api.transfers({ all: true })).some((t) => t.id === sys.id && t.system));
  const raw = await api.call('GET', '/status');
  assert.equal(raw.active_transfers, 1);
  await assert.rejects(api.cancel(sys.id), SystemTransferError);
  await assert.rejects(api.stopSharing(sys.id, { withdraw: true }), SystemTransferError);
  assert.ok(
    (await a.transfers({ all: true })).some((t) => t.id === sys.id),
    'still there',
  );

  // `silmaril status` (dist/cli.js, through A's control API) hides them; `--all` shows them tagged "system".
  const plain = await cli('status', '--home', a.home);
  assert.equal(plain.code, 0, plain.stderr);
  assert.match(plain.stdout, /1 transfer, 1 active/);
  assert.doesNotMatch(plain.stdout, /\bsystem\b/);
  assert.ok(plain.stdout.includes(shared.v1));
  assert.ok(!plain.stdout.includes(sys.id));
  const withAll = await cli('status', '--home', a.home, '--all');
  assert.equal(withAll.code, 0, withAll.stderr);
  assert.match(withAll.stdout, new RegExp(`\\bsystem\\b.*${sys.id}`));
  assert.match(withAll.stdout, /1 transfer, 1 active/, 'still one model transfer, one active');
});

test('sharing the same bytes again under another name says duplicateOf and publishes nothing', async () => {
  const before = (await a.shares()).length;
  const again = await a.share({ path: model, name: 'acme/tiny-copy', license: 'mit' });
  assert.equal(again.published, false);
  assert.deepEqual(again.duplicateOf, { name: 'acme/tiny', path: model });
  assert.equal((await a.shares()).length, before, 'no second entry');
  // The same bytes in another folder (same torrent): found once hashed.
  const twin = path.join(tmp, 'twin', 'tiny');
  await cp(model, twin, { recursive: true });
  const fromTwin = await a.share({ path: twin, name: 'acme/tiny-twin', license: 'mit' });
  assert.equal(fromTwin.v1, shared.v1);
  assert.deepEqual(fromTwin.duplicateOf, { name: 'acme/tiny', path: model });
  assert.equal(fromTwin.published, false);
  assert.equal((await a.shares()).length, before);
  // Through the API too.
  const api = (await ControlClient.connect(a.home))!;
  const viaApi = await api.share({ path: model, name: 'acme/tiny-copy', license: 'mit' });
  assert.equal(viaApi.duplicateOf?.name, 'acme/tiny');
  assert.equal((await a.shares()).length, before);
  // The same name again is an update of that entry, not a duplicate.
  const update = await a.share({ path: model, name: 'acme/tiny', license: 'mit', description: 'updated' });
  assert.equal(update.duplicateOf, undefined);
  assert.equal(update.published, true);
});

test('a download of bytes this node already holds says present, and copyPresent copies them verified', async () => {
  const r = await a.download({ source: shared.magnet, outDir: path.join(tmp, 'elsewhere') });
  assert.equal(r.status, 'present');
  assert.equal(r.path, model);
  const api = (await ControlClient.connect(a.home))!;
  const viaApi = await api.download({ source: shared.magnet, outDir: path.join(tmp, 'elsewhere') });
  assert.equal(viaApi.status, 'present');
  assert.equal(viaApi.path, model);
  const get = await cli('get', shared.magnet, '--home', a.home, '--out', path.join(tmp, 'elsewhere'));
  assert.equal(get.code, 0, get.stderr);
  assert.equal(get.stdout, `already here (this node seeds it): ${model}\n`);

  const copied = await a.copyPresent(shared.v1, path.join(tmp, 'copy'));
  assert.equal(copied.path, path.join(tmp, 'copy', 'tiny'));
  assert.equal(copied.verified, true);
  assert.deepEqual(await snapshot(copied.path), await snapshot(model));
  await assert.rejects(a.copyPresent(shared.v1, path.join(tmp, 'copy')), /already exists/);
});

test('an idle seed with a connected peer reports rates of exactly 0', async () => {
  // B holds a full copy of the same bytes and connects to A: two seeds, handshakes and bitfields, no payload.
  const t = await b!.download({
    source: shared.magnet,
    outDir: path.join(tmp, 'copy'),
    peers: [`127.0.0.1:${a.port}`],
  });
  assert.equal(t.status, 'started');
  const rates: number[] = [];
  const end = Date.now() + 4000;
  while (Date.now() < end) {
    const [sa] = (await a.transfers()).filter((x) => x.id === shared.v1);
    const sb = await b!.transfer(shared.v1);
    rates.push(sa.downloadRate, sa.uploadRate, sb.downloadRate, sb.uploadRate);
    await new Promise((r) => setTimeout(r, 100));
  }
  const sb = await b!.transfer(shared.v1);
  assert.equal(sb.complete, true, 'B found every piece in place');
  assert.equal(sb.state, 'seeding', 'a finished download is "seeding", as a share is');
  assert.deepEqual(
    rates.filter((r) => r !== 0),
    [],
    'no protocol chatter shows as a rate',
  );
});

test('seeders per entry come from our own seed and a tracker scrape, with when they were counted', async () => {
  // A seeds it: at once, from first hand.
  const seen = await a.discover({ text: 'tiny' });
  const mine = seen.entries.find((e) => e.name === 'acme/tiny')!;
  assert.ok(mine.seeders >= 1, `seeders ${mine.seeders}`);
  assert.ok(mine.countedAt && mine.countedAt <= Date.now());
  assert.match(mine.countedBy ?? '', /self/);
  // `silmaril discover` (through A's control API) says so.
  const listed = await cli('discover', 'tiny', '--home', a.home);
  assert.equal(listed.code, 0, listed.stderr);
  // (B, holding a copy and connected, counts as a second seeder: A sees it as a seed among its peers.)
  assert.match(listed.stdout, /acme\/tiny .*\b[12] seeders? · counted (just now|\d+ s ago)/);

  // B: from A's embedded tracker (the entry names it, A announced there), counted in the background for the
  // entries B's searches show. B's own copy would count as "self": it goes first, so the figure is the tracker's.
  await b!.cancel(shared.v1);
  await until('A to announce to its tracker', () => a.trackerStatus().seeders >= 1);
  const announce = a.trackerStatus().announceUrl!;
  const counted = await until(
    'B to count the entry from the tracker',
    async () => {
      const r = await b!.discover({ text: 'tiny', refresh: true, timeoutMs: 20_000 });
      const e = r.entries.find((x) => x.name === 'acme/tiny');
      if (e) assert.ok(e.trackers.includes(announce), `entry trackers ${e.trackers}`);
      return e?.countedAt ? e : undefined;
    },
    60_000,
  );
  assert.equal(counted.countedBy, 'tracker');
  assert.ok(counted.seeders >= 1, `seeders ${counted.seeders}`);
  assert.ok(counted.countedAt! <= Date.now() && counted.countedAt! > Date.now() - 120_000);
  // Counted once: the next search shows the stored figure without counting again (at most once per 10 min).
  const again = (await b!.discover({ text: 'tiny' })).entries.find((e) => e.name === 'acme/tiny')!;
  assert.equal(again.countedAt, counted.countedAt);
  // The UDP side of the same tracker (BEP 15 scrape) answers the same.
  const udp = announce.replace(/^http:\/\/([^/]+)\/announce$/, 'udp://$1');
  assert.match(udp, /^udp:\/\/127\.0\.0\.1:\d+$/);
  const viaUdp = await scrapeTracker(udp, shared.v1);
  assert.ok(viaUdp && viaUdp.seeders >= 1, `UDP scrape: ${JSON.stringify(viaUdp)}`);
  // And one asked for now, directly.
  const now = await b!.countEntry(counted);
  assert.equal(now?.countedBy, 'tracker');
  assert.ok(now!.seeders >= 1);
});

test("stop sharing with withdraw removes the entry from the other node's discover", async () => {
  const r = await a.stopSharing(shared.v1, { withdraw: true });
  assert.deepEqual(
    r.withdrawn.map((w) => w.name),
    ['acme/tiny'],
  );
  assert.equal((await a.shares()).length, 0);
  assert.ok(!(await a.transfers()).some((t) => t.id === shared.v1), 'no longer seeded');
  await until(
    "the withdrawal to reach B's discover",
    async () => {
      const found = await b!.discover({ text: 'tiny', refresh: true, timeoutMs: 20_000 });
      return !found.entries.some((e) => e.name === 'acme/tiny');
    },
    90_000,
  );
});
