// What a silmaril seed and download tell a tracker (issue 14, item 7), read where the tracker receives it: a
// recording proxy sits in front of a real `silmaril tracker` and keeps every announce query. A seed must announce
// `started` with downloaded=0 and left=0, never `completed`, and `stopped` with left=0; a download announces
// `completed` exactly once when it finishes. Otherwise every seed start counts as a download in scrapes.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createTorrentFile, killAll, makeFolder, offline, silmaril } from './engine-helpers.js';

interface Announce {
  event: string;
  left: string;
  downloaded: string;
  uploaded: string;
  peer: string;
}

/** An HTTP proxy to `target` that records every announce's parameters. */
async function recordingProxy(target: number): Promise<{ server: Server; port: number; seen: Announce[] }> {
  const seen: Announce[] = [];
  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    if (url.startsWith('/announce')) {
      const q = new URLSearchParams(url.slice(url.indexOf('?') + 1));
      seen.push({
        event: q.get('event') ?? '',
        left: q.get('left') ?? '',
        downloaded: q.get('downloaded') ?? '',
        uploaded: q.get('uploaded') ?? '',
        // peer_id is binary; the port tells the processes apart.
        peer: q.get('port') ?? '',
      });
    }
    const fwd = request(
      { host: '127.0.0.1', port: target, path: url, method: req.method, headers: req.headers },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    fwd.on('error', () => res.destroy());
    req.pipe(fwd);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port, seen };
}

async function until(pred: () => boolean, what: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('announces of a silmaril seed and download, as the tracker receives them', () => {
  const dirs: string[] = [];
  after(async () => {
    killAll();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('seed: started with nothing downloaded and nothing left, never completed; download: completed once', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'silmaril-announces-'));
    dirs.push(root);
    const tracker = silmaril([
      'tracker',
      '--port',
      '0',
      '--open',
      '--no-udp',
      '--json',
      '--home',
      path.join(root, 'th'),
    ]);
    const ready = await tracker.waitFor((l) => l.event === 'ready');
    const proxy = await recordingProxy(ready.port);
    const announce = `http://127.0.0.1:${proxy.port}/announce`;
    try {
      const folder = path.join(root, 'model');
      // Two files whose lengths are not multiples of the piece length: pad files and a short last piece.
      await makeFolder(folder, { 'config.json': '{"a":1}', 'weights.bin': 150_001 });
      const torrentFile = path.join(root, 'model.torrent');
      createTorrentFile(folder, torrentFile, 16384);

      const seed = silmaril([
        'seed',
        folder,
        '--torrent',
        torrentFile,
        '--tracker',
        announce,
        ...offline(path.join(root, 'sh')),
      ]);
      const seedReady = await seed.waitFor((l) => l.event === 'ready');
      const seedPort = String(seedReady.port);
      await until(() => proxy.seen.some((a) => a.peer === seedPort && a.event === 'started'), "the seed's started");

      const get = silmaril([
        'get',
        torrentFile,
        '--out',
        path.join(root, 'out'),
        '--tracker',
        announce,
        ...offline(path.join(root, 'gh')),
      ]);
      await get.waitFor((l) => l.event === 'done', 60_000);
      const getPort = String(proxy.seen.find((a) => a.peer !== seedPort)?.peer);
      await until(
        () => proxy.seen.some((a) => a.peer === getPort && a.event === 'completed'),
        "the download's completed",
      );
      get.kill('SIGTERM');
      await get.exited;
      seed.kill('SIGTERM');
      await seed.exited;
      await until(
        () => proxy.seen.some((a) => a.peer === seedPort && a.event === 'stopped'),
        "the seed's stopped",
        10_000,
      );

      const bySeed = proxy.seen.filter((a) => a.peer === seedPort);
      const byGet = proxy.seen.filter((a) => a.peer === getPort);
      const msg = JSON.stringify({ bySeed, byGet });
      const started = bySeed.find((a) => a.event === 'started')!;
      assert.equal(started.left, '0', `seed started with left=0: ${msg}`);
      assert.equal(started.downloaded, '0', `seed started with downloaded=0: ${msg}`);
      assert.equal(bySeed.filter((a) => a.event === 'completed').length, 0, `a seed never announces completed: ${msg}`);
      for (const a of bySeed) assert.equal(a.left, '0', `every seed announce has left=0: ${msg}`);
      for (const a of bySeed) assert.equal(a.downloaded, '0', `a seed downloads nothing: ${msg}`);

      assert.notEqual(byGet.find((a) => a.event === 'started')?.left, '0', `the download starts with left>0: ${msg}`);
      const completed = byGet.filter((a) => a.event === 'completed');
      assert.equal(completed.length, 1, `the download announces completed once: ${msg}`);
      assert.equal(completed[0]!.left, '0');
      assert.ok(Number(completed[0]!.downloaded) >= 150_008, `completed reports what was downloaded: ${msg}`);
      const stopped = byGet.find((a) => a.event === 'stopped');
      if (stopped) assert.equal(stopped.left, '0', `stopped after completing has left=0: ${msg}`);

      // And the tracker counted one download, not two.
      const scrape = await fetch(`${ready.url}/metrics`).then((r) => r.text());
      assert.match(scrape, /tracker_completions_total 1\n/);
    } finally {
      proxy.server.close();
      proxy.server.closeAllConnections();
      tracker.kill('SIGTERM');
      await tracker.exited;
    }
  });
});
