// The registry API a Weightless client relies on: paths, status codes, JSON shapes, keys, and the checks
// Silmaril adds (torrent_data must match its hashes; takedown blocks every hash of a torrent).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Tracker } from '../../../src/tracker/tracker.js';
import { isLoopbackHost } from '../../../src/tracker/client-ip.js';
import {
  announceUrl,
  getBencoded,
  getJson,
  makeHybrid,
  pct,
  post,
  registration,
  text,
  type Hybrid,
  tempDir,
} from './helpers.js';

const KEY = 'test-registry-key';

describe('registry API', () => {
  let tracker: Tracker;
  let base: string;
  let a: Hybrid;
  let b: Hybrid;
  let c: Hybrid;
  const dir = tempDir('silmaril-reg-');

  before(async () => {
    [a, b, c] = await Promise.all([makeHybrid('a'), makeHybrid('b'), makeHybrid('c')]);
    tracker = new Tracker({ port: 0, dbPath: join(dir, 'tracker.db'), registryKey: KEY, rateLimit: false });
    base = (await tracker.start()).url;
  });
  after(() => tracker.stop());

  it('POST needs the key: none or a wrong one is 401 and stores nothing', async () => {
    assert.equal((await post(base, registration(a))).status, 401);
    assert.equal((await post(base, registration(a), 'wrong')).status, 401);
    assert.equal((await fetch(`${base}/api/registry?info_hash=${a.v2}`)).status, 404);
  });

  it('POST registers a hybrid: 201 {"status":"created"}', async () => {
    const res = await post(base, registration(a), KEY);
    assert.equal(res.status, 201);
    assert.match(res.headers.get('content-type') ?? '', /application\/json/);
    assert.deepEqual(await res.json(), { status: 'created' });
  });

  it('GET returns the Weightless entry, by v2 or v1 hash, any case', async () => {
    const expected = {
      info_hash: a.v2,
      v1_info_hash: a.v1,
      name: a.name,
      verified: true,
      completions: 0,
      description: 'a test model',
      publisher: 'silmaril-tests',
      license: 'MIT',
      size: a.length,
      category: 'models',
      tags: 'llm,test,fp16',
      seeders: 0,
      leechers: 0,
    };
    for (const h of [a.v2, a.v1, a.v2.toUpperCase()]) {
      const res = await fetch(`${base}/api/registry?info_hash=${h}`);
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), expected);
    }
  });

  it('GET: 400 without or with a malformed info_hash, 404 when unknown', async () => {
    assert.equal((await fetch(`${base}/api/registry`)).status, 400);
    assert.equal((await fetch(`${base}/api/registry?info_hash=xyz`)).status, 400);
    assert.equal((await fetch(`${base}/api/registry?info_hash=${'0'.repeat(64)}`)).status, 404);
  });

  it('POST refuses bad bodies with 400', async () => {
    const bad: unknown[] = [
      '{not json',
      [],
      { name: 'x' },
      { info_hash: a.v2 },
      { info_hash: 'abc', name: 'x' },
      { info_hash: b.v2, name: 'x', size: -1 },
      { info_hash: b.v2, name: 'x', tags: 5 },
      { info_hash: b.v2, name: 'x', v1_info_hash: b.v2 },
      { info_hash: b.v2, name: 'x', torrent_data: '!!not base64!!' },
      { info_hash: b.v2, name: 'x', torrent_data: Buffer.from('d4:infoi1ee').toString('base64') },
    ];
    for (const body of bad) {
      const res = await post(base, body, KEY);
      assert.equal(res.status, 400, `body ${JSON.stringify(body)}`);
    }
    assert.equal((await fetch(`${base}/api/registry?info_hash=${b.v2}`)).status, 404);
  });

  it('POST refuses torrent_data whose hashes differ from the posted ones', async () => {
    // b's hashes with a's torrent
    const res = await post(base, registration(b, { torrent_data: Buffer.from(a.torrent).toString('base64') }), KEY);
    assert.equal(res.status, 400);
    assert.match(await res.text(), /does not match torrent_data/);
    // the right v2 with a wrong v1
    const res2 = await post(base, registration(b, { v1_info_hash: a.v1 }), KEY);
    assert.equal(res2.status, 400);
    assert.match(await res2.text(), /v1_info_hash does not match/);
    assert.equal((await fetch(`${base}/api/registry?info_hash=${b.v2}`)).status, 404);
    assert.equal((await fetch(`${base}/api/registry?info_hash=${b.v1}`)).status, 404);
  });

  it('POST lower-cases hex hashes and fills v1 from torrent_data', async () => {
    const res = await post(base, registration(b, { info_hash: b.v2.toUpperCase(), v1_info_hash: undefined }), KEY);
    assert.equal(res.status, 201);
    const entry = await getJson(`${base}/api/registry?info_hash=${b.v1}`);
    assert.equal(entry.info_hash, b.v2);
    assert.equal(entry.v1_info_hash, b.v1);
  });

  it('POST without torrent_data is accepted (Weightless clients) but not verified; torrent and meta are 404', async () => {
    const v2 = 'ab'.repeat(32);
    const res = await post(base, { info_hash: v2, name: 'bare' }, KEY);
    assert.equal(res.status, 201);
    const entry = await getJson(`${base}/api/registry?info_hash=${v2}`);
    assert.deepEqual(entry, { info_hash: v2, name: 'bare', verified: false, completions: 0, seeders: 0, leechers: 0 });
    assert.equal((await fetch(`${base}/api/registry/torrent?info_hash=${v2}`)).status, 404);
    assert.equal((await fetch(`${base}/api/registry/meta?info_hash=${v2}`)).status, 404);
  });

  it('GET /api/registry/torrent returns the .torrent as an attachment', async () => {
    const res = await fetch(`${base}/api/registry/torrent?info_hash=${a.v2}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/x-bittorrent');
    assert.match(
      res.headers.get('content-disposition') ?? '',
      new RegExp(`^attachment; filename="${a.name}\\.torrent"`),
    );
    assert.deepEqual(new Uint8Array(await res.arrayBuffer()), new Uint8Array(a.torrent));
    assert.equal((await fetch(`${base}/api/registry/torrent`)).status, 400);
    assert.equal((await fetch(`${base}/api/registry/torrent?info_hash=${'1'.repeat(40)}`)).status, 404);
  });

  it('GET /api/registry/meta returns name, piece length and count, size and files (no pad files)', async () => {
    const res = await fetch(`${base}/api/registry/meta?info_hash=${a.v1}`);
    assert.equal(res.status, 200);
    const meta = (await res.json()) as any;
    assert.deepEqual(meta, {
      name: a.name,
      piece_length: 16384,
      piece_count: meta.piece_count,
      total_size: a.length,
      files: [
        { path: 'config.json', length: JSON.stringify({ seed: 'a' }).length },
        { path: 'weights.bin', length: 40_000 },
      ],
    });
    assert.ok(meta.piece_count >= 3);
    assert.equal((await fetch(`${base}/api/registry/meta`)).status, 400);
    assert.equal((await fetch(`${base}/api/registry/meta?info_hash=${'2'.repeat(64)}`)).status, 404);
  });

  it('search filters, pages and counts (X-Total-Count)', async () => {
    assert.equal(
      (await post(base, registration(c, { category: 'datasets', publisher: 'other', tags: 'climate' }), KEY)).status,
      201,
    );
    const search = async (q: string) => {
      const res = await fetch(`${base}/api/registry/search${q}`);
      assert.equal(res.status, 200);
      const list = (await res.json()) as { info_hash: string }[];
      return { total: Number(res.headers.get('x-total-count')), hashes: list.map((e) => e.info_hash) };
    };
    const all = await search('');
    assert.equal(all.total, 4);
    assert.equal(all.hashes.length, 4);
    assert.deepEqual((await search('?category=datasets')).hashes, [c.v2]);
    assert.deepEqual((await search('?publisher=other')).hashes, [c.v2]);
    assert.deepEqual((await search('?tags=climate')).hashes, [c.v2]);
    assert.deepEqual((await search('?tags=fp16,llm')).hashes.sort(), [a.v2, b.v2].sort());
    assert.deepEqual((await search('?q=BARE')).hashes, ['ab'.repeat(32)]);
    assert.deepEqual((await search('?q=%25')).hashes, [], 'LIKE wildcards in q are literal');
    const page = await search('?limit=2&offset=3');
    assert.equal(page.total, 4);
    assert.equal(page.hashes.length, 1);
    const sorted = await search('?sort=seeders&limit=1000');
    assert.equal(sorted.hashes.length, 4);
  });

  it('search sorts by seeders and completions from the live swarms', async () => {
    const got = await getBencoded(announceUrl(base, { hash: c.v1, peer: 1, port: 7001, left: 0, event: 'completed' }));
    assert.equal(got['failure reason'], undefined);
    const bySeeders = await getJson(`${base}/api/registry/search?sort=seeders`);
    assert.equal(bySeeders[0].info_hash, c.v2);
    assert.equal(bySeeders[0].seeders, 1);
    const byCompletions = await getJson(`${base}/api/registry/search?sort=completions`);
    assert.equal(byCompletions[0].info_hash, c.v2);
    assert.equal(byCompletions[0].completions, 1);
  });

  it('DELETE needs the key and an info_hash', async () => {
    assert.equal((await fetch(`${base}/api/registry?info_hash=${a.v1}`, { method: 'DELETE' })).status, 401);
    const noHash = await fetch(`${base}/api/registry`, { method: 'DELETE', headers: { 'X-Weightless-Key': KEY } });
    assert.equal(noHash.status, 400);
    assert.equal((await fetch(`${base}/api/registry?info_hash=${a.v2}`)).status, 200);
  });

  it('takedown by the v1 hash removes the entry and blocks v1, v2 and truncated v2; re-posting is refused', async () => {
    const live = await getBencoded(announceUrl(base, { hash: a.v2.slice(0, 40), peer: 2, port: 7002 }));
    assert.equal(live.complete + live.incomplete, 1);
    const res = await fetch(`${base}/api/registry?info_hash=${a.v1}&reason=dmca`, {
      method: 'DELETE',
      headers: { 'X-Weightless-Key': KEY },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: 'deleted' });
    assert.equal((await fetch(`${base}/api/registry?info_hash=${a.v2}`)).status, 404);
    for (const hash of [a.v1, a.v2, a.v2.slice(0, 40)]) {
      const r = await getBencoded(announceUrl(base, { hash, peer: 3, port: 7003 }));
      assert.equal(text(r['failure reason']), 'info_hash is blocked', hash);
    }
    const again = await post(base, registration(a), KEY);
    assert.equal(again.status, 403);
    const v2only = await post(base, { info_hash: a.v2, name: 'sneaky' }, KEY);
    assert.equal(v2only.status, 403);
    const scrape = await getBencoded(`${base}/scrape?info_hash=${pct(Buffer.from(a.v1, 'hex'))}`);
    assert.deepEqual(Object.keys(scrape.files), [], 'a blocked hash is left out of scrapes');
  });

  it('DELETE with block=0 (a publisher withdrawing its listing) removes it without blocking: it can come back', async () => {
    const d = await makeHybrid('withdrawn');
    assert.equal((await post(base, registration(d), KEY)).status, 201);
    const del = (hash: string) =>
      fetch(`${base}/api/registry?info_hash=${hash}&reason=withdrawn&block=0`, {
        method: 'DELETE',
        headers: { 'X-Weightless-Key': KEY },
      });
    const res = await del(d.v2);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: 'deleted' });
    assert.equal((await fetch(`${base}/api/registry?info_hash=${d.v2}`)).status, 404);
    assert.equal((await del(d.v1)).status, 404, 'nothing left to remove, and nothing blocked by asking');
    const announced = await getBencoded(announceUrl(base, { hash: d.v1, peer: 9, port: 7009 }));
    assert.equal(text(announced['failure reason']), 'Unregistered torrent: info_hash not found in registry');
    assert.equal((await post(base, registration(d), KEY)).status, 201, 'registered again');
    assert.equal((await del(d.v1)).status, 200); // gone again: the counts the tests below check are as they were
  });

  it('a v1 hash already registered under another entry is a 409', async () => {
    const res = await post(base, { info_hash: 'cd'.repeat(32), v1_info_hash: b.v1, name: 'dup' }, KEY);
    assert.equal(res.status, 409);
  });

  it('/health, /metrics, / and unknown paths', async () => {
    const health = await fetch(`${base}/health`);
    assert.equal(health.status, 200);
    assert.equal((await health.text()).trim(), 'OK');
    const metrics = await (await fetch(`${base}/metrics`)).text();
    for (const name of [
      'tracker_announces_total',
      'tracker_scrapes_total',
      'tracker_registered_torrents',
      'tracker_active_peers',
      'tracker_swarms_total',
    ]) {
      assert.match(metrics, new RegExp(`^${name} \\d+$`, 'm'), name);
    }
    assert.match(metrics, /^tracker_registered_torrents 3$/m);
    assert.match(metrics, /^tracker_blocked_hashes 3$/m);
    const root = await fetch(`${base}/`);
    assert.equal(root.status, 200);
    assert.match(await root.text(), /tracker/i);
    assert.equal((await fetch(`${base}/nope`)).status, 404);
    assert.equal((await fetch(`${base}/api/registry`, { method: 'PUT' })).status, 405);
    assert.equal((await fetch(`${base}/api/registry/search`, { method: 'POST' })).status, 405);
  });

  it('the registry survives a restart: entries, blocklist and completions', async () => {
    await tracker.stop();
    tracker = new Tracker({ port: 0, dbPath: join(dir, 'tracker.db'), registryKey: KEY, rateLimit: false });
    base = (await tracker.start()).url;
    const entry = await getJson(`${base}/api/registry?info_hash=${c.v2}`);
    assert.equal(entry.completions, 1);
    assert.equal(entry.seeders, 0, 'swarms are memory only');
    assert.equal((await fetch(`${base}/api/registry?info_hash=${b.v2}`)).status, 200);
    const r = await getBencoded(announceUrl(base, { hash: a.v1, peer: 3, port: 7003 }));
    assert.equal(text(r['failure reason']), 'info_hash is blocked');
  });
});

describe('registry write policy', () => {
  it('writes are open without a key only on loopback', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', 'localhost', '[::1]']) assert.ok(isLoopbackHost(h), h);
    for (const h of ['0.0.0.0', '::', '192.168.1.2', '10.0.0.1', 'example.com']) assert.ok(!isLoopbackHost(h), h);
  });

  it('a loopback tracker without a key accepts writes', async () => {
    const t = new Tracker({ port: 0, rateLimit: false });
    const { url } = await t.start();
    try {
      const h = await makeHybrid('open');
      assert.equal((await post(url, registration(h))).status, 201);
    } finally {
      await t.stop();
    }
  });
});

describe('rate limits and proxies', () => {
  it('past the burst, API calls get 429 and announces a bencoded failure', async () => {
    const t = new Tracker({ port: 0, rateLimit: { perSecond: 0.001, burst: 3 } });
    const { url } = await t.start();
    try {
      for (let i = 0; i < 3; i++) assert.equal((await fetch(`${url}/api/registry/search`)).status, 200);
      assert.equal((await fetch(`${url}/api/registry/search`)).status, 429);
      const r = await getBencoded(announceUrl(url, { hash: '11'.repeat(20), peer: 1, port: 1 }));
      assert.equal(text(r['failure reason']), 'Rate limit exceeded. Please slow down.');
      assert.equal((await fetch(`${url}/health`)).status, 200, 'health checks are never limited');
    } finally {
      await t.stop();
    }
  });

  it('X-Forwarded-For is believed only from a trusted proxy', async () => {
    const h = '22'.repeat(20);
    const trusting = new Tracker({ port: 0, open: true, rateLimit: false, trustedProxies: ['127.0.0.1'] });
    const plain = new Tracker({ port: 0, open: true, rateLimit: false });
    const [tu, pu] = [(await trusting.start()).url, (await plain.start()).url];
    try {
      const ips = async (base: string) => {
        await fetch(announceUrl(base, { hash: h, peer: 1, port: 6881 }), {
          headers: { 'X-Forwarded-For': '10.1.2.3' },
        });
        const r = await getBencoded(announceUrl(base, { hash: h, peer: 2, port: 6882 }));
        const p = Buffer.from(r.peers);
        return `${p[0]}.${p[1]}.${p[2]}.${p[3]}`;
      };
      assert.equal(await ips(tu), '10.1.2.3');
      assert.equal(await ips(pu), '127.0.0.1');
    } finally {
      await trusting.stop();
      await plain.stop();
    }
  });

  it('each forwarded client has its own bucket', async () => {
    const t = new Tracker({ port: 0, rateLimit: { perSecond: 0.001, burst: 2 }, trustedProxies: ['127.0.0.1'] });
    const { url } = await t.start();
    try {
      const get = (ip: string) => fetch(`${url}/api/registry/search`, { headers: { 'X-Forwarded-For': ip } });
      assert.equal((await get('10.0.0.1')).status, 200);
      assert.equal((await get('10.0.0.1')).status, 200);
      assert.equal((await get('10.0.0.1')).status, 429);
      assert.equal((await get('10.0.0.2')).status, 200);
    } finally {
      await t.stop();
    }
  });
});
