// Issue 12 leftover: a withdrawn model must leave the tracker registries it was registered with. Before, the
// registry went on listing the torrent after Withdraw, and every Catalog that read the registry (this node's
// included) showed it as an unsigned listing of a model nobody publishes any more. A real `silmaril tracker`
// process (dist/cli.js) on loopback; the node runs in this process (src/app/node.ts).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { AppNode } from '../../src/app/node.js';
import { searchRegistry } from '../../src/catalog/sources/tracker.js';
import { makeFolder, MODEL_FILES } from './engine-helpers.js';
import { startTracker, stopTracker, type RunningTracker } from './tracker-cli.js';

let tmp: string;
let model: string;
let tracker: RunningTracker;
let node: AppNode;

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'silmaril-withdraw-registry-'));
  model = path.join(tmp, 'tiny');
  await makeFolder(model, { ...MODEL_FILES, 'README.md': '---\nlicense: mit\n---\n# tiny\n' });
  tracker = await startTracker(['--host', '127.0.0.1', '--db', path.join(tmp, 'tracker.db')]);
  node = new AppNode({
    home: path.join(tmp, 'home'),
    kind: 'test',
    engine: { dht: false, lsd: false, port: 0 },
  });
  await node.start();
});

after(async () => {
  await node?.stop();
  await stopTracker(tracker);
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const listed = async () => (await searchRegistry(tracker.announce)).map((e) => e.name);

test('withdraw removes the listing from the registry it was registered with, and from this Catalog', async () => {
  const shared = await node.share({ path: model, name: 'acme/tiny', license: 'mit', trackers: [tracker.announce] });
  assert.deepEqual(shared.registered, [tracker.announce], shared.warnings.join('; '));
  assert.deepEqual(await listed(), ['acme/tiny']);
  // This node reads the registry too: its store now holds the unsigned listing beside its own signed entry.
  await node.discover({ text: 'tiny', registries: [tracker.announce] });

  const w = await node.withdraw('acme/tiny');
  assert.deepEqual(w.unregistered, [tracker.announce]);
  assert.deepEqual(w.warnings, []);
  assert.deepEqual(await listed(), [], 'the registry no longer lists it');
  const seen = await node.discover({ text: 'tiny', registries: [tracker.announce] });
  assert.deepEqual(
    seen.entries.map((e) => `${e.name} (${e.trusted ? 'signed' : 'unsigned'} ${e.publisher})`),
    [],
    'neither the signed entry nor an unsigned registry listing is shown',
  );

  // Withdrawn, not taken down: the same bytes can be shared and registered again.
  const again = await node.share({
    path: model,
    name: 'acme/tiny',
    license: 'mit',
    trackers: [tracker.announce],
    allowDuplicate: true,
  });
  assert.deepEqual(again.registered, [tracker.announce], again.warnings.join('; '));
  assert.deepEqual(await listed(), ['acme/tiny']);
});
