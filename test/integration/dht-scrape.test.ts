// BEP 33 DHT scrape (src/catalog/dht-scrape.ts) against real libtorrent 2.0.8 DHT nodes on loopback: a libtorrent
// seed announces a torrent on a private DHT that our bittorrent-dht node bootstraps; our scrape reads one seeder
// from the nodes' bloom filters. bittorrent-dht nodes alone do not answer scrapes: the count is then undefined.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import DHT from 'bittorrent-dht';
import { dhtScrape } from '../../src/catalog/dht-scrape.js';
import { createTorrent } from '../../src/torrent/create.js';
import { killAll, libtorrentSkip, makeFolder, PYTHON, ROOT, startProc } from './engine-helpers.js';

const SEEDER = path.join(ROOT, 'test', 'interop', 'py', 'lt_dht_seed.py');
let tmp: string | undefined;
const nodes: any[] = [];

async function dhtNode(): Promise<any> {
  const d = new (DHT as any)({ bootstrap: false, host: '127.0.0.1' });
  await new Promise<void>((r) => d.listen(0, '127.0.0.1', () => r()));
  nodes.push(d);
  return d;
}

after(async () => {
  killAll();
  await Promise.all(nodes.map((d) => new Promise<void>((r) => d.destroy(() => r()))));
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test('a BEP 33 scrape counts a libtorrent seed on a private loopback DHT', { skip: libtorrentSkip() }, async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'silmaril-dht-scrape-'));
  const folder = path.join(tmp, 'tiny');
  await makeFolder(folder, { 'a.bin': 100_000, 'config.json': '{}' });
  const created = await createTorrent(folder, { pieceLength: 16 * 1024 });
  const torrentPath = path.join(tmp, 'tiny.torrent');
  await writeFile(torrentPath, created.torrentBytes);

  const ours = await dhtNode();
  // Nobody answers scrapes on a bittorrent-dht-only network: no figure, not a false 0.
  const lonely = await dhtNode();
  ours.addNode({ host: '127.0.0.1', port: lonely.address().port });
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(await dhtScrape(ours, created.infoHashV1, 3000), undefined);

  const lt = startProc(
    PYTHON,
    [SEEDER, '--torrent', torrentPath, '--save', tmp, '--bootstrap', `127.0.0.1:${ours.address().port}`],
    {
      stdin: true,
    },
  );
  const ready = await lt.waitFor((l) => l.event === 'ready', 60_000);
  for (const p of ready.dhtPorts) ours.addNode({ host: '127.0.0.1', port: p });
  let count;
  const end = Date.now() + 30_000;
  while (Date.now() < end) {
    count = await dhtScrape(ours, created.infoHashV1, 5000);
    if (count && count.seeders >= 1) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.ok(count, `no node answered the scrape (ready: ${JSON.stringify(ready)})`);
  assert.equal(count.seeders, 1, 'one seed IP (127.0.0.1)');
  assert.equal(count.leechers, 0);
  lt.child.stdin?.end();
});

test('a scrape leaves no cached node table behind: a download started after it still looks its peers up', async () => {
  const infohash = 'ab'.repeat(20);
  const ours = await dhtNode();
  const other = await dhtNode();
  ours.addNode({ host: '127.0.0.1', port: other.address().port });
  other.addNode({ host: '127.0.0.1', port: ours.address().port });
  await new Promise((r) => setTimeout(r, 300));
  // The seed announces to us, so we hold it in our own peer store, reachable through a lookup only.
  await new Promise<void>((res, rej) => other.announce(infohash, 6881, (e: Error | null) => (e ? rej(e) : res())));
  assert.equal(await dhtScrape(ours, infohash, 3000), undefined);
  assert.equal(ours._tables.peek(infohash), undefined, 'the scrape cached its closest nodes as the table');
  // WebTorrent announces through announce(): with a cached table it skips the lookup, and so never hears of the peer.
  const heard = new Promise<boolean>((res) => {
    const t = setTimeout(() => res(false), 5000);
    ours.on('peer', (p: { port: number }, h: Buffer) => {
      if (h.toString('hex') !== infohash || p.port !== 6881) return;
      clearTimeout(t);
      res(true);
    });
  });
  ours.announce(infohash, 7000, () => {});
  assert.ok(await heard, 'announce after a scrape found the peer');
});
