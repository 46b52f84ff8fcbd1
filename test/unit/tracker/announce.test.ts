// HTTP announces and scrapes as BitTorrent clients see them, with the hybrid rule Silmaril adds: v1, truncated
// v2 and full v2 announcers of one registered torrent are one swarm.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import bencode from 'bencode';
import { Tracker } from '../../../src/tracker/tracker.js';
import { makePasskey } from '../../../src/tracker/passkey.js';
import { encodeAnnounceReply } from '../../../src/tracker/announce-reply.js';
import {
  announceUrl,
  compactPorts,
  getJson,
  getBencoded,
  makeHybrid,
  pct,
  peerId,
  post,
  registration,
  text,
  type Hybrid,
} from './helpers.js';

describe('HTTP announce of a registered hybrid', () => {
  let tracker: Tracker;
  let base: string;
  let h: Hybrid;

  before(async () => {
    h = await makeHybrid('swarm');
    tracker = new Tracker({ port: 0, rateLimit: false, interval: 900, minInterval: 30 });
    base = (await tracker.start()).url;
    assert.equal((await post(base, registration(h))).status, 201);
  });
  after(() => tracker.stop());

  const scrape = async (hex: string) => {
    const r = await getBencoded(`${base}/scrape?info_hash=${pct(Buffer.from(hex, 'hex'))}`);
    const files = r.files as Record<string, { complete: number; incomplete: number; downloaded: number }>;
    const [key] = Object.keys(files);
    assert.ok(key, `scrape of ${hex} has an entry`);
    return files[key!]!;
  };

  it('a v1 announcer and a truncated-v2 announcer see each other', async () => {
    const first = await getBencoded(announceUrl(base, { hash: h.v1, peer: 1, port: 6001, left: 0, event: 'started' }));
    assert.equal(first['failure reason'], undefined);
    assert.equal(first.interval, 900);
    assert.equal(first['min interval'], 30);
    assert.deepEqual(compactPorts(first.peers), [], 'the requester is not listed to itself');
    const second = await getBencoded(
      announceUrl(base, { hash: h.v2.slice(0, 40), peer: 2, port: 6002, event: 'started' }),
    );
    assert.deepEqual(compactPorts(second.peers), [6001]);
    assert.equal(second.complete, 1);
    assert.equal(second.incomplete, 1);
    const again = await getBencoded(announceUrl(base, { hash: h.v1, peer: 1, port: 6001, left: 0 }));
    assert.deepEqual(compactPorts(again.peers), [6002]);
  });

  it('a full 32-byte v2 announcer joins the same swarm', async () => {
    const r = await getBencoded(announceUrl(base, { hash: h.v2, peer: 3, port: 6003 }));
    assert.deepEqual(compactPorts(r.peers), [6001, 6002]);
    assert.equal(r.complete + r.incomplete, 3);
  });

  it('scrape by v1, truncated v2 or full v2 gives the same counts, keyed by the hash asked', async () => {
    const counts = [await scrape(h.v1), await scrape(h.v2.slice(0, 40)), await scrape(h.v2)];
    for (const c of counts) assert.deepEqual(c, { complete: 1, downloaded: 0, incomplete: 2 });
    const raw = await fetch(
      `${base}/scrape?info_hash=${pct(Buffer.from(h.v1, 'hex'))}&info_hash=${pct(Buffer.from(h.v2, 'hex'))}`,
    );
    const body = Buffer.from(await raw.arrayBuffer());
    assert.ok(
      body.includes(Buffer.concat([Buffer.from('20:'), Buffer.from(h.v1, 'hex')])),
      'v1 key is the raw 20 bytes',
    );
    assert.ok(
      body.includes(Buffer.concat([Buffer.from('32:'), Buffer.from(h.v2, 'hex')])),
      'v2 key is the raw 32 bytes',
    );
  });

  it('a completion announced on both hashes by one client counts once', async () => {
    await getBencoded(announceUrl(base, { hash: h.v1, peer: 2, port: 6002, left: 0, event: 'completed' }));
    await getBencoded(announceUrl(base, { hash: h.v2.slice(0, 40), peer: 2, port: 6002, left: 0, event: 'completed' }));
    assert.equal((await scrape(h.v2)).downloaded, 1);
    await getBencoded(announceUrl(base, { hash: h.v2, peer: 3, port: 6003, left: 0, event: 'completed' }));
    const c = await scrape(h.v1);
    assert.deepEqual(c, { complete: 3, downloaded: 2, incomplete: 0 });
    const entry = await getJson(`${base}/api/registry?info_hash=${h.v2}`);
    assert.equal(entry.completions, 2);
    assert.equal(entry.seeders, 3);
  });

  it('numwant bounds the peers returned; stopped removes the peer', async () => {
    const one = await getBencoded(announceUrl(base, { hash: h.v1, peer: 4, port: 6004, numwant: 1 }));
    assert.equal(Buffer.from(one.peers).length, 6);
    const none = await getBencoded(announceUrl(base, { hash: h.v1, peer: 4, port: 6004, numwant: 0 }));
    assert.equal(Buffer.from(none.peers).length, 0);
    await getBencoded(announceUrl(base, { hash: h.v1, peer: 4, port: 6004, event: 'stopped' }));
    const r = await getBencoded(announceUrl(base, { hash: h.v1, peer: 5, port: 6005 }));
    assert.deepEqual(compactPorts(r.peers), [6001, 6002, 6003]);
    await getBencoded(announceUrl(base, { hash: h.v1, peer: 5, port: 6005, event: 'stopped' }));
  });

  it('compact=0 gets a list of peer dictionaries', async () => {
    const r = await getBencoded(announceUrl(base, { hash: h.v1, peer: 6, port: 6006, compact: 0 }));
    const peers = r.peers as { ip: Uint8Array; 'peer id': Uint8Array; port: number }[];
    assert.equal(peers.length, 3);
    for (const p of peers) assert.equal(text(p.ip), '127.0.0.1');
    assert.deepEqual(peers.map((p) => p.port).sort(), [6001, 6002, 6003]);
    assert.ok(peers.some((p) => Buffer.from(p['peer id']).equals(peerId(1))));
  });

  it('refuses unregistered hashes and malformed announces with a bencoded reason', async () => {
    const reason = async (url: string) => {
      const r = await getBencoded(url);
      return text(r['failure reason']);
    };
    assert.equal(
      await reason(announceUrl(base, { hash: '33'.repeat(20), peer: 1, port: 1 })),
      'Unregistered torrent: info_hash not found in registry',
    );
    const ok = announceUrl(base, { hash: h.v1, peer: 9, port: 6009 });
    assert.match((await reason(ok.replace(/&port=\d+/, ''))) ?? '', /Missing required/);
    assert.match((await reason(ok.replace(/port=6009/, 'port=70000'))) ?? '', /Invalid port/);
    assert.match((await reason(ok.replace(/port=6009/, 'port=0'))) ?? '', /Invalid port/);
    assert.match((await reason(ok.replace(/info_hash=[^&]+/, 'info_hash=%41%42'))) ?? '', /Invalid info_hash/);
    assert.match((await reason(ok.replace(/info_hash=[^&]+/, 'info_hash=%4'))) ?? '', /Invalid info_hash/);
    assert.match((await reason(ok.replace(/peer_id=[^&]+/, 'peer_id=short'))) ?? '', /Invalid peer_id/);
    assert.match((await reason(ok + '&event=bogus')) ?? '', /Invalid event/);
    assert.match((await reason(ok.replace(/left=\d+/, 'left=-5'))) ?? '', /Invalid left/);
    assert.match((await reason(`${base}/scrape`)) ?? '', /Missing info_hash/);
    assert.equal((await fetch(ok, { method: 'POST' })).status, 405);
  });
});

describe('open mode, passkeys, IPv6', () => {
  it('open mode tracks any hash; blocked hashes stay refused', async () => {
    const t = new Tracker({ port: 0, open: true, rateLimit: false });
    const { url } = await t.start();
    try {
      const hash = '44'.repeat(20);
      await getBencoded(announceUrl(url, { hash, peer: 1, port: 5001 }));
      const r = await getBencoded(announceUrl(url, { hash, peer: 2, port: 5002 }));
      assert.deepEqual(compactPorts(r.peers), [5001]);
      assert.equal((await fetch(`${url}/api/registry?info_hash=${hash}`, { method: 'DELETE' })).status, 200);
      const blocked = await getBencoded(announceUrl(url, { hash, peer: 3, port: 5003 }));
      assert.equal(text(blocked['failure reason']), 'info_hash is blocked');
      assert.equal(t.stats().peers, 0, 'the blocked swarm was dropped');
    } finally {
      await t.stop();
    }
  });

  it('with a passkey secret, announces need a valid Weightless passkey', async () => {
    const secret = 'tracker-secret';
    const t = new Tracker({ port: 0, open: true, rateLimit: false, passkeySecret: secret });
    const { url } = await t.start();
    try {
      const p = { hash: '55'.repeat(20), peer: 1, port: 5001 };
      const none = await getBencoded(announceUrl(url, p));
      assert.match(text(none['failure reason']) ?? '', /Passkey required/);
      const wrong = await getBencoded(announceUrl(url, { ...p, path: `/announce/alice.${'0'.repeat(64)}` }));
      assert.equal(text(wrong['failure reason']), 'Unauthorized');
      const good = await getBencoded(announceUrl(url, { ...p, path: `/announce/${makePasskey(secret, 'alice')}` }));
      assert.equal(good['failure reason'], undefined);
      assert.equal(good.incomplete, 1);
    } finally {
      await t.stop();
    }
  });

  it('IPv6 peers come back in peers6 (BEP 7)', async (ctx) => {
    const t = new Tracker({ host: '::1', port: 0, open: true, rateLimit: false });
    let url: string;
    try {
      url = (await t.start()).url;
    } catch (err) {
      ctx.skip(`no IPv6 loopback here: ${(err as Error).message}`);
      return;
    }
    try {
      const hash = '66'.repeat(20);
      await getBencoded(announceUrl(url, { hash, peer: 1, port: 5001 }));
      const r = await getBencoded(announceUrl(url, { hash, peer: 2, port: 5002 }));
      assert.equal(Buffer.from(r.peers).length, 0);
      const p6 = Buffer.from(r.peers6);
      assert.equal(p6.length, 18);
      assert.equal(p6.subarray(0, 16).toString('hex'), '0'.repeat(31) + '1');
      assert.equal(p6.readUInt16BE(16), 5001);
    } finally {
      await t.stop();
    }
  });
});

describe('announce reply encoding', () => {
  it('the hand-written compact reply decodes with the bencode package to the same fields', () => {
    const p4 = Buffer.from([1, 2, 3, 4, 0x1a, 0xe1, 5, 6, 7, 8, 0, 80]);
    const p6 = Buffer.from([...Array(15).fill(0), 1, 0x1a, 0xe2]);
    const figures = { complete: 3, downloaded: 12, incomplete: 0, interval: 1800, minInterval: 60 };
    for (const [a, b] of [
      [p4, p6],
      [p4, Buffer.alloc(0)],
      [Buffer.alloc(0), Buffer.alloc(0)],
    ]) {
      const ours = encodeAnnounceReply(figures, a!, b!);
      const reference = bencode.encode({
        complete: 3,
        downloaded: 12,
        incomplete: 0,
        interval: 1800,
        'min interval': 60,
        peers: a,
        ...(b!.length ? { peers6: b } : {}),
      });
      assert.deepEqual(new Uint8Array(ours), new Uint8Array(reference));
    }
  });
});
