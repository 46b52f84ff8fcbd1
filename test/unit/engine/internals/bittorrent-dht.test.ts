// The fence around bittorrent-dht's `_tables` (src/engine/internals/bittorrent-dht.ts): the member is there with the shape the
// patch relies on, and a put made while the DHT knew no node does not doom the next ones once a node is known.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import DHT from 'bittorrent-dht';
import { forgetEmptyTables } from '../../../../src/engine/internals/bittorrent-dht.js';

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
