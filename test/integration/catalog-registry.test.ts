// A tracker's registry as a catalog source: `share --tracker` registers there (Weightless API), and the registry's
// search API feeds the catalog as unsigned entries (shown untrusted) without touching signed ones.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Catalog } from '../../src/catalog/catalog.js';
import { Identity } from '../../src/catalog/identity.js';
import { refreshRegistry, registryBase, searchRegistry } from '../../src/catalog/sources/tracker.js';
import { createTorrent } from '../../src/torrent/create.js';
import { registerTorrent } from '../../src/tracker/registry-client.js';
import { Tracker, type TrackerAddress } from '../../src/tracker/tracker.js';

let dir: string;
let tracker: Tracker;
let addr: TrackerAddress;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'silmaril-registry-'));
  tracker = new Tracker({ host: '127.0.0.1', port: 0, udp: false, rateLimit: false });
  addr = await tracker.start();
});

after(async () => {
  await tracker.stop();
  await rm(dir, { recursive: true, force: true });
});

test('registry base from announce URLs', () => {
  assert.equal(registryBase('http://h:8000/announce'), 'http://h:8000');
  assert.equal(registryBase('http://h:8000/announce/user.abcdef'), 'http://h:8000');
  assert.throws(() => registryBase('udp://h:8000/announce'), /HTTP/);
});

test('register with a tracker, then read its registry as untrusted entries beside signed ones', async () => {
  const folder = join(dir, 'model');
  await mkdir(folder, { recursive: true });
  await writeFile(join(folder, 'weights.bin'), Buffer.alloc(70_000, 7));
  const t = await createTorrent(folder, { trackers: [addr.announce] });
  const reg = await registerTorrent(addr.announce, t, {
    name: 'acme/registered',
    license: 'apache-2.0',
    tags: ['llm', 'test'],
    description: 'From the registry',
    publisher: 'acme',
  });
  assert.equal(reg.status, 'registered');
  const found = await searchRegistry(addr.announce, 'registered');
  assert.equal(found.length, 1);
  assert.equal(found[0].v1, t.infoHashV1);
  assert.equal(found[0].v2, t.infoHashV2);
  assert.equal(found[0].trusted, false);
  assert.deepEqual(found[0].tags, ['llm', 'test']);

  const alice = Identity.generate();
  const c = await Catalog.open({ identity: alice });
  c.publish({ name: 'acme/registered', v1: t.infoHashV1, v2: t.infoHashV2, size: t.length, files: 1, license: 'mit' });
  assert.equal(await refreshRegistry(c, addr.announce), 1);
  const listed = c.search({ text: 'registered' }).entries;
  assert.equal(listed.length, 2);
  const signed = listed.find((e) => e.signed)!;
  const unsigned = listed.find((e) => !e.signed)!;
  // Same name, same torrent: one download, not a clash (a registry listing of a signed share).
  assert.deepEqual(signed.conflicts, []);
  assert.deepEqual(unsigned.conflicts, []);
  assert.equal(signed.publisher, alice.publisher);
  assert.equal(signed.license, 'mit');
  assert.equal(unsigned.license, 'apache-2.0');
  assert.match(unsigned.publisher, /^tracker:127\.0\.0\.1:\d+$/);
  assert.equal(c.search({ text: 'registered', signedOnly: true }).total, 1);
  assert.equal(c.search({ text: 'registered', trustedOnly: true }).total, 0);
  assert.equal(c.search({ text: 'registered', trustedOnly: true, trust: [alice.publisher] }).total, 1);
  assert.equal(c.store.getSource(`tracker:${addr.announce}`)!.entries, 1);

  // A registry that is down is recorded on its source, and nothing is lost.
  assert.equal(await refreshRegistry(c, 'http://127.0.0.1:1/announce'), 0);
  assert.ok(c.store.getSource('tracker:http://127.0.0.1:1/announce')!.errors >= 1);
  assert.equal(c.search({ text: 'registered' }).total, 2);
  c.close();
});
