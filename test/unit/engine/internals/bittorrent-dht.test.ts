// The fence around bittorrent-dht 11.0.12 (src/engine/internals/bittorrent-dht.ts): the version is the pinned one,
// every member the fence reads or patches is there with the shape it relies on, and a put made while the DHT knew no
// node does not doom the next ones once a node is known. (test/integration/catalog-dht.test.ts and
// dht-scrape.test.ts drive the lookups over real loopback DHTs.)
import assert from 'node:assert/strict';
import { test } from 'node:test';
import DHT from 'bittorrent-dht';
import {
  PATCHED_MEMBERS,
  PINNED,
  canLookUp,
  forgetEmptyTables,
  keepClosestTable,
  nodeIdOf,
  setVerifyIfUnset,
  storeValue,
  storedPeers,
  storedValue,
} from '../../../../src/engine/internals.js';
import { assertPinned } from './pinned.js';

function node(): Promise<any> {
  const d = new (DHT as any)({ bootstrap: false, host: '127.0.0.1' });
  return new Promise((r) => d.listen(0, '127.0.0.1', () => r(d)));
}

test('bittorrent-dht still has _tables (get, remove) holding k-buckets with count()', async () => {
  const d = await node();
  try {
    assert.equal(typeof d._tables?.get, 'function');
    assert.equal(typeof d._tables?.remove, 'function');
    assert.equal(forgetEmptyTables(d), true);
    assert.equal(forgetEmptyTables(d), true, 'idempotent');
  } finally {
    await new Promise<void>((r) => d.destroy(() => r()));
  }
});

test('an immutable put with no nodes, then one with a node: the second reaches it', async () => {
  const a = await node();
  const b = await node();
  try {
    forgetEmptyTables(a);
    const put = () =>
      new Promise<number>((r) =>
        a.put({ v: Buffer.from('silmaril') }, (_e: Error | null, _h: any, n: number) => r(n ?? 0)),
      );
    assert.equal(await put(), 0, 'nobody to store it yet');
    a.addNode({ host: '127.0.0.1', port: b.address().port });
    await new Promise((r) => setTimeout(r, 300));
    assert.ok((await put()) >= 1, 'stored once a node is known (without the fence: "No nodes to query" for 5 min)');
  } finally {
    await new Promise<void>((r) => a.destroy(() => r()));
    await new Promise<void>((r) => b.destroy(() => r()));
  }
});

test('bittorrent-dht is the pinned version', () => {
  assertPinned(PINNED);
});

test('every member the fence relies on is there with its shape', async () => {
  const d = await node();
  try {
    for (const m of PATCHED_MEMBERS['bittorrent-dht']) assert.ok(m in d, `DHT#${m}`);
    assert.equal(typeof d._closest, 'function', 'DHT#_closest');
    // (and the public calls pointers.ts falls back on or makes beside them)
    for (const fn of ['announce', 'put', 'get', 'lookup']) assert.equal(typeof d[fn], 'function', `DHT#${fn}`);
    for (const fn of ['get', 'set', 'remove']) assert.equal(typeof d._values[fn], 'function', `DHT#_values.${fn}`);
    assert.equal(typeof d._rpc?.query, 'function', 'DHT#_rpc.query');
    assert.ok(Buffer.isBuffer(d._rpc.id) && d._rpc.id.length === 20, 'DHT#_rpc.id');
    assert.equal(canLookUp(d), true);
    assert.equal(nodeIdOf(d), d._rpc.id);
    // The BEP 44 store and the peer store answer as the fence reads them.
    storeValue(d, 'ab'.repeat(20), { v: Buffer.from('x') });
    assert.deepEqual(storedValue(d, 'ab'.repeat(20)), { v: Buffer.from('x') });
    assert.equal(typeof d._peers.get, 'function', 'DHT#_peers.get');
    assert.ok(Array.isArray(storedPeers(d, 'cd'.repeat(20), 10)), 'DHT#_peers.get returns an array');
    // _verify: kept when set, set when not.
    const verify = () => true;
    assert.equal(d._verify, null, 'DHT#_verify (null without opts.verify)');
    setVerifyIfUnset(d, verify);
    assert.equal(d._verify, verify);
    setVerifyIfUnset(d, () => false);
    assert.equal(d._verify, verify);
    // _tables: peek / set / remove, as keepClosestTable restores a table.
    for (const m of ['peek', 'set', 'remove']) assert.equal(typeof d._tables[m], 'function', `DHT#_tables.${m}`);
    const key = 'ef'.repeat(20);
    const restore = keepClosestTable(d, key);
    d._tables.set(key, { count: () => 0 });
    restore();
    assert.equal(d._tables.peek(key), undefined, 'a table the lookup left behind is removed');
  } finally {
    await new Promise<void>((r) => d.destroy(() => r()));
  }
});
