// Swarm counts in the catalog store (store.ts swarm_counts) and the background counter's pace (swarm-counts.ts).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Catalog } from '../../../src/catalog/catalog.js';
import { Identity } from '../../../src/catalog/identity.js';
import { scrapeTracker, SwarmCounter } from '../../../src/catalog/swarm-counts.js';
import { makeEntry } from './helpers.js';

const alice = Identity.generate();

test('counts are stored by infohash with when and how, listed with the entries, sorted by, and saved', async () => {
  const home = await mkdtemp(join(tmpdir(), 'silmaril-counts-'));
  try {
    const c = await Catalog.open({ home });
    c.ingest(
      [
        makeEntry(alice, 'acme/a', 1, { v1: 'a'.repeat(40) }),
        makeEntry(alice, 'acme/b', 1, { v1: 'b'.repeat(40) }),
      ].map((e) => e.record),
      { id: 'test', kind: 'test' },
    );
    const never = c.search({}).entries;
    assert.deepEqual(
      never.map((e) => [e.name, e.seeders, e.leechers, e.countedAt]),
      [
        ['acme/a', 0, 0, null],
        ['acme/b', 0, 0, null],
      ],
      'not counted yet',
    );
    c.store.setCounts('B'.repeat(40), {
      seeders: 3,
      leechers: 2,
      countedAt: 1_700_000_000_000,
      countedBy: 'tracker+dht',
    });
    const byCount = c.search({ sort: 'seeders', descending: true }).entries;
    assert.equal(byCount[0].name, 'acme/b');
    assert.deepEqual(
      [byCount[0].seeders, byCount[0].leechers, byCount[0].countedAt, byCount[0].countedBy],
      [3, 2, 1_700_000_000_000, 'tracker+dht'],
    );
    await c.save();
    c.close();
    const again = await Catalog.open({ home });
    const b = again.search({ text: 'b' }).entries.find((e) => e.name === 'acme/b')!;
    assert.equal(b.seeders, 3);
    assert.equal(b.countedAt, 1_700_000_000_000);
    again.close();
  } finally {
    await rm(home, { recursive: true, force: true });
  }
});

test('the counter asks each entry at most once per interval, one at a time, and takes the largest figure', async () => {
  const c = await Catalog.open();
  c.ingest([makeEntry(alice, 'acme/a', 1, { v1: 'a'.repeat(40) }).record], { id: 'test', kind: 'test' });
  let dhtCalls = 0;
  const counted: string[] = [];
  const counter = new SwarmCounter(c.store, {
    self: () => ({ seeders: 1, leechers: 0 }),
    dht: async () => (dhtCalls++, { seeders: 4, leechers: 1 }),
    spacingMs: 1,
    onCounted: (ih) => counted.push(ih),
  });
  const [entry] = c.search({}).entries;
  counter.want([entry]);
  counter.want([entry]);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(dhtCalls, 1, 'asked once');
  assert.deepEqual(counted, ['a'.repeat(40)]);
  const [listed] = c.search({}).entries;
  assert.deepEqual([listed.seeders, listed.leechers, listed.countedBy], [4, 1, 'self+dht']);
  counter.want([listed]);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(dhtCalls, 1, 'counted just now: not again within 10 min');
  counter.stop();
  c.close();
});

test('a tracker that does not answer gives no count (not a false 0)', async () => {
  const { createSocket } = await import('node:dgram');
  // A UDP port that swallows packets, and an HTTP port nobody listens on.
  const silent = createSocket('udp4');
  await new Promise<void>((r) => silent.bind(0, '127.0.0.1', () => r()));
  const port = silent.address().port;
  try {
    assert.equal(await scrapeTracker(`udp://127.0.0.1:${port}`, 'a'.repeat(40), 500), undefined);
    assert.equal(await scrapeTracker('http://127.0.0.1:1/announce', 'a'.repeat(40), 2000), undefined);
  } finally {
    silent.close();
  }
});
