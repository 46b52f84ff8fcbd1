// Hugging Face end to end over loopback: a snapshot of a huggingface_hub-style cache seeded in place by engine A,
// downloaded by engine B into B's cache (a blob B already holds is not fetched), then read back by @huggingface/hub
// offline; the same model fetched from a fake Hub alone (302 to a CDN, ranges, a corrupted answer caught by the piece
// check), 401/404 answers, the token kept from the CDN, and a tampering Hub worked around by peers.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { scanCacheDir } from '@huggingface/hub';
import { Engine } from '../../src/engine/engine.js';
import { HubSeed } from '../../src/engine/hub-seed.js';
import { downloadIntoHfCache, prepareHfGet, torrentFromRegistry } from '../../src/models/hf/download.js';
import { Identity } from '../../src/catalog/identity.js';
import { registerTorrent } from '../../src/tracker/registry-client.js';
import { Tracker } from '../../src/tracker/tracker.js';
import { makeEntry } from '../unit/catalog/helpers.js';
import { createHfTorrent, findHfSnapshot } from '../../src/models/hf/share.js';
import {
  addRevision,
  assertResolvesOffline,
  bytesOf,
  COMMIT_A,
  etagFor,
  type FakeFile,
} from '../unit/models/hf-fake-cache.js';
import { startFakeHub, type FakeHub } from './hf-fake-hub.js';

let tmp: string;
const engines: Engine[] = [];
const hubs: FakeHub[] = [];
before(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'silmaril-hf-it-'));
});
after(async () => {
  await Promise.all(engines.map((e) => e.stop()));
  await Promise.all(hubs.map((h) => h.close()));
  await rm(tmp, { recursive: true, force: true });
});

async function engine(name: string): Promise<Engine> {
  const e = new Engine({
    home: path.join(tmp, name),
    dht: false,
    lsd: false,
    statsIntervalMs: 200,
    logger: process.env.DBG
      ? ({ debug() {}, info: console.log, warn: console.log, error: console.log } as any)
      : undefined,
  });
  engines.push(e);
  await e.start();
  return e;
}

const PIECE = 32 * 1024;
const MODEL: FakeFile[] = [
  { path: 'config.json', bytes: Buffer.from('{"model_type":"llama"}\n') },
  { path: 'model.safetensors', bytes: bytesOf(5 * PIECE + 77, 3), lfs: true },
  { path: 'tokenizer/tokenizer.json', bytes: bytesOf(2 * PIECE + 5, 4) },
];

async function readBack(cache: string, files: FakeFile[]) {
  const info = await scanCacheDir(cache);
  const rev = info.repos.find((r) => r.id.name === 'org/tiny')!.revisions.find((r) => r.commitOid === COMMIT_A);
  assert.ok(rev, 'the snapshot is listed by @huggingface/hub');
  await assertResolvesOffline(cache, 'org/tiny', files);
}

let shares = 0;
async function sharedFromA(model = MODEL, pieceLength = PIECE) {
  const cacheA = path.join(tmp, `cache-a${shares++}`);
  addRevision(cacheA, 'org/tiny', COMMIT_A, model, ['main']);
  const snap = (await findHfSnapshot({ spec: 'org/tiny@main', cacheDir: cacheA }))!;
  const share = await createHfTorrent(snap, { pieceLength });
  return { cacheA, snap, share };
}

test(
  'a cache snapshot seeded in place reaches another cache; a blob it holds is not fetched',
  { timeout: 120_000 },
  async () => {
    const { snap, share } = await sharedFromA();
    assert.deepEqual(
      share.hf.hfEtags,
      share.torrent.files.map((f) => etagFor(MODEL.find((m) => m.path === f.path.join('/'))!)),
    );
    const blobTimes = await Promise.all(snap.files.map(async (f) => (await stat(f.blob)).mtimeMs));
    const a = await engine('a');
    await a.seed(snap.snapshotDir, { torrent: share.torrent.torrentBytes });

    const cacheB = path.join(tmp, 'cache-b');
    // B already has the tokenizer blob (from another revision): it must not come over the wire.
    addRevision(cacheB, 'org/tiny', 'c'.repeat(40), [MODEL[2]], []);
    const b = await engine('b');
    const d = await downloadIntoHfCache({
      engine: b,
      source: share.torrent.torrentBytes,
      torrent: share.torrent.torrentBytes,
      origin: { repo: 'org/tiny', commit: COMMIT_A, etags: share.hf.hfEtags },
      cacheDir: cacheB,
      ref: 'main',
      peers: [`127.0.0.1:${a.port}`],
      webSeed: false,
    });
    assert.deepEqual(d.reused, [['tokenizer', 'tokenizer.json']]);
    const received = () => d.transfer.stats().downloaded;
    const res = await d.done;
    assert.equal(res.verified, true);
    const total = MODEL.reduce((n, f) => n + f.bytes.length, 0);
    // The tokenizer's 64 KiB were not fetched (what was: the other files, and the pad bytes in their last blocks;
    // fetching everything would be more than `total`).
    assert.ok(received() < total - PIECE / 2, `fetched ${received()} of ${total} bytes`);
    await readBack(cacheB, MODEL);
    assert.equal(await readFile(path.join(cacheB, 'models--org--tiny', 'refs', 'main'), 'utf8'), COMMIT_A);
    // Seeding in place wrote nothing into A's cache.
    assert.deepEqual(await Promise.all(snap.files.map(async (f) => (await stat(f.blob)).mtimeMs)), blobTimes);
  },
);

test(
  'with no peer the model comes from the Hub alone; a corrupted answer is caught and fetched again',
  { timeout: 120_000 },
  async () => {
    const { share } = await sharedFromA();
    const hub = await startFakeHub({
      repos: {
        'org/tiny': { commit: COMMIT_A, files: MODEL, gatedToken: 'sekrit' },
      },
      corrupt: { 'org/tiny/model.safetensors': 1 },
    });
    hubs.push(hub);
    const cacheC = path.join(tmp, 'cache-c');
    const c = await engine('c');
    const d = await downloadIntoHfCache({
      engine: c,
      source: share.torrent.torrentBytes,
      torrent: share.torrent.torrentBytes,
      origin: { repo: 'org/tiny', commit: COMMIT_A, etags: share.hf.hfEtags },
      cacheDir: cacheC,
      webSeed: { endpoint: hub.endpoint, token: 'sekrit', graceMs: 0 },
    });
    const res = await d.done;
    assert.equal(res.verified, true);
    const s = d.transfer.stats();
    assert.equal(s.webRejected, 1, 'the corrupted piece was caught');
    assert.ok(s.webBytes! >= MODEL.reduce((n, f) => n + f.bytes.length, 0));
    await readBack(cacheC, MODEL);
    // The token went to the Hub's resolve URLs and never to the CDN.
    const resolves = hub.log.filter((l) => l.url.includes('/resolve/'));
    const cdn = hub.log.filter((l) => l.url.startsWith('/cdn/'));
    assert.ok(resolves.length && cdn.length);
    assert.ok(resolves.every((l) => l.authorization === 'Bearer sekrit'));
    assert.ok(cdn.every((l) => l.authorization === undefined));
    assert.ok(
      cdn.every((l) => /^bytes=\d+-\d+$/.test(l.range ?? '')),
      'ranges asked',
    );
  },
);

test('Hub answers: 401 without a token, 404 for a missing file, a redirect followed to the CDN', async () => {
  const files = MODEL.map((f) => ({ ...f, etag: etagFor(f) }));
  const hub = await startFakeHub({
    repos: { 'org/gated': { commit: COMMIT_A, files, gatedToken: 't0k' }, 'org/open': { commit: COMMIT_A, files } },
  });
  hubs.push(hub);
  const noToken = new HubSeed({ repo: 'org/gated', commit: COMMIT_A, endpoint: hub.endpoint, token: '' });
  await assert.rejects(noToken.fetchRange(['config.json'], 0, 3), /wants a token \(401.*HF_TOKEN/);
  const open = new HubSeed({ repo: 'org/open', commit: COMMIT_A, endpoint: hub.endpoint, token: '' });
  await assert.rejects(open.fetchRange(['nope.bin'], 0, 3), /not on the Hub \(404\)/);
  const got = await open.fetchRange(['tokenizer', 'tokenizer.json'], 10, 19);
  assert.deepEqual(Buffer.from(got), MODEL[2].bytes.subarray(10, 20));
  assert.equal(open.bytes, 10);
});

test('with a slow peer the Hub helps; its bad bytes are caught and fetched again', { timeout: 120_000 }, async () => {
  // Small pieces, a small model and a peer slower than WebTorrent's "fast peer" mark (48 KiB/s), so that the
  // Hub is asked for pieces rather than left waiting for the faster peer.
  const small: FakeFile[] = [
    { path: 'config.json', bytes: Buffer.from('{}\n') },
    { path: 'model.safetensors', bytes: bytesOf(24 * 16384 + 9, 5), lfs: true },
  ];
  const { snap, share } = await sharedFromA(small, 16384);
  const a = await engine('a2');
  await a.seed(snap.snapshotDir, { torrent: share.torrent.torrentBytes, uploadLimit: 32 * 1024 });
  const hub = await startFakeHub({
    repos: { 'org/tiny': { commit: COMMIT_A, files: small } },
    corrupt: { 'org/tiny/model.safetensors': 1 },
  });
  hubs.push(hub);
  const e = await engine('e');
  const d = await downloadIntoHfCache({
    engine: e,
    source: share.torrent.torrentBytes,
    torrent: share.torrent.torrentBytes,
    origin: { repo: 'org/tiny', commit: COMMIT_A, etags: share.hf.hfEtags },
    cacheDir: path.join(tmp, 'cache-e'),
    peers: [`127.0.0.1:${a.port}`],
    // "Too few peers" below 2: the Hub is brought in although one peer is there.
    webSeed: { endpoint: hub.endpoint, graceMs: 0, minPeers: 2 },
  });
  const res = await d.done;
  assert.equal(res.verified, true);
  const s = d.transfer.stats();
  assert.ok(s.webRejected! >= 1, `bad Hub pieces were counted: ${JSON.stringify(s)}`);
  assert.ok(s.webBytes! > 0 && s.peerBytes! > 0);
  await readBack(path.join(tmp, 'cache-e'), small);
});

test(
  'a node with no peer gets the info dictionary from a registry, then the model from the Hub',
  { timeout: 120_000 },
  async () => {
    const { share } = await sharedFromA();
    const tracker = new Tracker({ host: '127.0.0.1', port: 0, udp: false, rateLimit: false });
    const addr = await tracker.start();
    try {
      const t = share.torrent;
      assert.equal((await registerTorrent(addr.announce, t, { name: 'org/tiny' })).status, 'registered');
      // The signed entry as node C's catalog holds it: a magnet alone would give C nothing to check the Hub's bytes with.
      const entry = makeEntry(Identity.generate(), 'org/tiny', 1, {
        v1: t.infoHashV1,
        v2: t.infoHashV2,
        files: t.files.length,
        trackers: [addr.announce],
        ...share.hf,
      });
      const magnet = `magnet:?xt=urn:btih:${t.infoHashV1}`;
      const got = await prepareHfGet({
        source: magnet,
        entries: async () => [{ ...entry, hfRepo: undefined, hfCommit: undefined, hfEtags: undefined }],
      });
      assert.deepEqual(Buffer.from(got.torrent!), Buffer.from(t.torrentBytes));
      // Read back from the signed record (the fields above are blanked): with the refs the sharer's cache had.
      assert.deepEqual(got.origin, { repo: 'org/tiny', commit: COMMIT_A, etags: share.hf.hfEtags, refs: ['main'] });
      // No registry has it, no origin: clear errors, nothing guessed.
      assert.equal(await torrentFromRegistry([addr.announce], 'f'.repeat(40)), undefined);
      await assert.rejects(
        prepareHfGet({ source: magnet, entries: async () => [] }),
        /give --hf-repo ORG\/NAME@COMMIT/,
      );

      const hub = await startFakeHub({
        repos: { 'org/tiny': { commit: COMMIT_A, files: MODEL } },
      });
      hubs.push(hub);
      const g = await engine('g');
      const d = await downloadIntoHfCache({
        engine: g,
        source: magnet,
        ...got,
        cacheDir: path.join(tmp, 'cache-g'),
        webSeed: { endpoint: hub.endpoint, graceMs: 0 },
      });
      assert.equal((await d.done).verified, true);
      await readBack(path.join(tmp, 'cache-g'), MODEL);
    } finally {
      await tracker.stop();
    }
  },
);

test(
  'a restored download keeps its Hub web seed (endpoint and token from the environment again)',
  { timeout: 120_000 },
  async () => {
    const { share } = await sharedFromA();
    const hub = await startFakeHub({
      repos: { 'org/tiny': { commit: COMMIT_A, files: MODEL } },
    });
    hubs.push(hub);
    const home = path.join(tmp, 'restore');
    const first = new Engine({ home, dht: false, lsd: false });
    await first.start();
    const out = path.join(tmp, 'restore-out');
    await first.download(share.torrent.torrentBytes, {
      outDir: out,
      paused: true,
      hub: { repo: 'org/tiny', commit: COMMIT_A },
    });
    await first.stop();
    const saved = process.env.HF_ENDPOINT;
    process.env.HF_ENDPOINT = hub.endpoint;
    try {
      const again = new Engine({ home, dht: false, lsd: false });
      engines.push(again);
      await again.start();
      const [t] = await again.restore();
      assert.deepEqual([t.hub?.repo, t.hub?.commit, t.hub?.endpoint], ['org/tiny', COMMIT_A, hub.endpoint]);
      await t.resume();
      assert.equal((await t.whenDone()).verified, true);
      assert.ok(t.stats().webBytes! > 0);
      assert.deepEqual(await readFile(path.join(out, COMMIT_A, 'model.safetensors')), MODEL[1].bytes);
    } finally {
      if (saved === undefined) delete process.env.HF_ENDPOINT;
      else process.env.HF_ENDPOINT = saved;
    }
  },
);
