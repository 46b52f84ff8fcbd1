// BEP 44 pointers on a private loopback DHT (bittorrent-dht nodes on 127.0.0.1, no bootstrap): publisher feeds,
// the rendezvous under concurrent publishers, poisoned feeds, and the Go Silmaril network's pointer and catalog.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import DHT from 'bittorrent-dht';
import { Catalog } from '../../src/catalog/catalog.js';
import { encodeCatalog } from '../../src/catalog/catalog-file.js';
import { keyPairFromSeed, makeSigner } from '../../src/catalog/ed25519.js';
import { fingerprint, Identity } from '../../src/catalog/identity.js';
import { dhtTarget, dhtVerify, FEED_SALT, PointerClient } from '../../src/catalog/pointers.js';
import { DhtSource } from '../../src/catalog/sources/dht.js';
import { GO_PUBLIC_KEY, GO_SEED, GO_TARGET, SilmarilGoSource } from '../../src/catalog/sources/silmaril-go.js';
import { MemoryTransport } from '../../src/catalog/transport.js';
import { makeEntry } from '../unit/catalog/helpers.js';

const nodes: any[] = [];

async function dhtNode(): Promise<any> {
  const d = new (DHT as any)({ bootstrap: false, host: '127.0.0.1', verify: dhtVerify });
  await new Promise<void>((r) => d.listen(0, '127.0.0.1', () => r()));
  nodes.push(d);
  return d;
}

before(async () => {
  for (let i = 0; i < 4; i++) await dhtNode();
  for (const a of nodes) for (const b of nodes) if (a !== b) a.addNode({ host: '127.0.0.1', port: b.address().port });
  await new Promise((r) => setTimeout(r, 300));
});

after(async () => {
  await Promise.all(nodes.map((d) => new Promise<void>((r) => d.destroy(() => r()))));
});

async function member(dht: any, transport: MemoryTransport, identity?: Identity) {
  const catalog = await Catalog.open({ identity });
  const pointers = new PointerClient(dht);
  return {
    catalog,
    pointers,
    source: new DhtSource(catalog, pointers, transport),
    close: () => (pointers.close(), catalog.close()),
  };
}

test("two publishers sharing at the same time both end up in everyone's catalog (rendezvous, no lost update)", async () => {
  const transport = new MemoryTransport();
  const alice = await member(nodes[0], transport, Identity.generate());
  const bob = await member(nodes[1], transport, Identity.generate());
  const carol = await member(nodes[2], transport);
  alice.catalog.publish({ name: 'alice/model', v1: 'a'.repeat(40), files: 1, size: 1, license: 'mit' });
  bob.catalog.publish({ name: 'bob/model', v1: 'b'.repeat(40), files: 1, size: 1, license: 'mit' });
  await Promise.all([alice.source.publish(), bob.source.publish()]);
  // Carol knows nobody: the rendezvous names both nodes, their directories their keys, their feeds their catalogs.
  const report = await carol.source.refresh({ fresh: true });
  assert.ok(report.directories >= 2, `directories found: ${report.directories}`);
  const names = carol.catalog.search().entries.map((e) => e.name);
  assert.deepEqual(names, ['alice/model', 'bob/model']);
  // Each feed points at its publisher's own catalog.
  const feed = await carol.pointers.readFeed(alice.catalog.identity!.publisher, true);
  assert.ok(feed && feed.seq >= 1);
  for (const m of [alice, bob, carol]) m.close();
});

test('a feed pointing at an empty, missing or forged catalog loses nothing known', async () => {
  const transport = new MemoryTransport();
  const alice = await member(nodes[0], transport, Identity.generate());
  const carol = await member(nodes[3], transport);
  alice.catalog.publish({ name: 'alice/keep', v1: 'c'.repeat(40), files: 1, size: 1, license: 'mit' });
  await alice.source.publish();
  await carol.source.refresh({ fresh: true });
  assert.equal(carol.catalog.search({ text: 'keep' }).total, 1);
  // A vandal at the rendezvous whose feed points at an empty catalog.
  const vandalId = Identity.generate();
  const vandal = await member(nodes[1], transport, vandalId);
  const emptyIh = await transport.publish(encodeCatalog([]));
  await vandal.pointers.publishFeed(vandalId, { infohash: emptyIh, entries: 0, updated: 0 });
  await vandal.source.advertise();
  await carol.source.refresh({ fresh: true });
  assert.equal(carol.catalog.search({ text: 'keep' }).total, 1);
  // Then at a catalog nobody seeds.
  await vandal.pointers.publishFeed(vandalId, { infohash: 'f'.repeat(40), entries: 5, updated: 0 });
  await carol.source.refresh({ fresh: true });
  assert.equal(carol.catalog.search({ text: 'keep' }).total, 1);
  const state = carol.catalog.store.getSource(`dht:feed:${fingerprint(vandalId.publisher)}`)!;
  assert.ok(state.errors >= 1);
  assert.match(state.lastError!, /no seeder/);
  // A catalog of forged entries and other keys' entries: a feed carries its owner's records only.
  const forged = makeEntry(Identity.generate(), 'alice/keep', 99);
  const bytes = Buffer.from(forged.record);
  bytes[bytes.length - 5] ^= 1;
  const junkIh = await transport.publish(
    encodeCatalog([{ ...forged, record: bytes }, makeEntry(Identity.generate(), 'junk/one')]),
  );
  await vandal.pointers.publishFeed(vandalId, { infohash: junkIh, entries: 2, updated: 0 });
  await carol.source.refresh({ fresh: true });
  assert.equal(carol.catalog.search({ text: 'keep' }).entries[0].publisher, alice.catalog.identity!.publisher);
  assert.equal(carol.catalog.search({ text: 'junk' }).total, 0);
  // Withdrawal reaches followers through the publisher's feed.
  alice.catalog.withdraw('alice/keep');
  await alice.source.publish();
  await carol.source.refresh({ fresh: true });
  assert.equal(carol.catalog.search({ text: 'keep' }).total, 0);
  vandal.close();
  alice.close();
  carol.close();
});

test("a follower keeps an offline publisher's feed alive past the BEP 44 expiry (same seq and signature)", async () => {
  const transport = new MemoryTransport();
  const alice = await member(nodes[0], transport, Identity.generate());
  const carol = await member(nodes[2], transport);
  const dave = await member(nodes[3], transport);
  alice.catalog.publish({ name: 'alice/offline', v1: 'd'.repeat(40), files: 1, size: 1, license: 'mit' });
  const { feedSeq } = await alice.source.publish();
  await carol.source.refresh({ fresh: true });
  assert.equal(carol.catalog.search({ text: 'offline' }).total, 1);
  // Alice goes away and every node forgets her item (what the two-hour expiry does).
  alice.close();
  const target = dhtTarget(Buffer.from(alice.catalog.identity!.publisher, 'hex'), FEED_SALT).toString('hex');
  for (const n of nodes) n._values.remove(target);
  assert.equal(await dave.pointers.readFeed(alice.catalog.identity!.publisher, true), undefined);
  // Carol's republish round (every 40 min +-10) re-puts the item she verified, unchanged.
  await carol.pointers.republishAll();
  const feed = await dave.pointers.readFeed(alice.catalog.identity!.publisher, true);
  assert.equal(feed?.seq, feedSeq);
  carol.close();
  dave.close();
});

test('reads a Go-Silmaril pointer and catalog.json, marks its entries untrusted', async () => {
  const pair = keyPairFromSeed(GO_SEED);
  assert.equal(Buffer.from(pair.publicKey).toString('hex'), GO_PUBLIC_KEY);
  const transport = new MemoryTransport();
  const catalogJson = JSON.stringify({
    v: 1,
    seq: 3,
    t: 1_700_000_000,
    m: {
      'tiny/llama': { h: '1'.repeat(40), s: 1234, t: ['llm', 'tiny'], a: 1_700_000_000 },
      '../evil': { h: '2'.repeat(40) },
      'no/hash': { s: 5 },
    },
  });
  const ih = await transport.publish(Buffer.from(catalogJson));
  const v = Buffer.from(JSON.stringify({ infohash: ih, seq: 3, updated: 1_700_000_000 }));
  const sign = makeSigner(pair.secretKey);
  const put = await new Promise<Buffer>((resolve, reject) =>
    nodes[0].put({ k: Buffer.from(pair.publicKey), v, seq: 3, sign }, (err: Error | null, hash: Buffer) =>
      err ? reject(err) : resolve(hash),
    ),
  );
  assert.equal(put.toString('hex'), GO_TARGET);
  const c = await Catalog.open();
  const go = new SilmarilGoSource(c, new PointerClient(nodes[2]), transport);
  assert.equal(await go.refresh(true), 1);
  const [e] = c.search({ text: 'llama' }).entries;
  assert.equal(e.name, 'tiny/llama');
  assert.equal(e.trusted, false);
  assert.equal(e.signed, false);
  assert.equal(e.publisher, 'silmaril-go');
  assert.equal(e.size, 1234);
  assert.deepEqual(e.tags, ['llm', 'tiny']);
  assert.equal(c.search({ trustedOnly: true }).total, 0);
  assert.equal(c.store.getSource('silmaril-go')!.entries, 1);
  c.close();
});

test('bittorrent-dht still has the private members pointers.ts relies on (fenced in src/engine/internals.ts)', () => {
  const d = nodes[0];
  for (const fn of ['_closest', 'announce', 'put', 'get', 'lookup']) assert.equal(typeof d[fn], 'function', fn);
  assert.equal(typeof d._rpc?.query, 'function', '_rpc.query');
  assert.ok(Buffer.isBuffer(d._rpc?.id), '_rpc.id');
  for (const fn of ['get', 'set', 'remove']) assert.equal(typeof d._values?.[fn], 'function', `_values.${fn}`);
  assert.equal(typeof d._peers?.get, 'function', '_peers.get');
});
