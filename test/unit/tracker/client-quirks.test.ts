// What real clients send that a strict tracker got wrong (issue 14): Transmission's uint64 `left` for magnets,
// and a UDP connect after the tracker sat idle for minutes.
import { after, before, describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { Tracker } from '../../../src/tracker/tracker.js';
import { decodeUint } from '../../../src/tracker/query.js';
import { parseTorrent } from '../../../src/torrent/parse.js';
import {
  announceUrl,
  compactPorts,
  getBencoded,
  makeHybrid,
  peerId,
  post,
  registration,
  text,
  type Hybrid,
} from './helpers.js';

describe('HTTP announce counters are uint64', () => {
  let tracker: Tracker;
  let base: string;
  let h: Hybrid;

  before(async () => {
    h = await makeHybrid('uint64');
    tracker = new Tracker({ port: 0, rateLimit: false });
    base = (await tracker.start()).url;
    assert.equal((await post(base, registration(h))).status, 201);
  });
  after(() => tracker.stop());

  it("accepts Transmission's magnet announce (left=2^63-1) and counts it as a leecher", async () => {
    const seed = await getBencoded(announceUrl(base, { hash: h.v1, peer: 1, port: 6101, left: 0, event: 'started' }));
    assert.equal(text(seed['failure reason']), undefined);
    // The exact query Transmission 3.00 sends for a magnet before it has the metadata.
    const url = announceUrl(base, { hash: h.v1, peer: 2, port: 6102, event: 'started' })
      .replace(/left=\d+/, 'left=9223372036854775807')
      .replace(/uploaded=\d+/, 'uploaded=18446744073709551615');
    const r = await getBencoded(url);
    assert.equal(text(r['failure reason']), undefined, 'no failure');
    assert.deepEqual(compactPorts(r.peers), [6101], 'it gets the seed');
    assert.equal(r.complete, 1);
    assert.equal(r.incomplete, 1, 'a huge left is still a leecher');
  });

  it('still refuses what is not a uint64', async () => {
    const ok = announceUrl(base, { hash: h.v1, peer: 3, port: 6103 });
    const reason = async (u: string) => text((await getBencoded(u))['failure reason']);
    assert.match((await reason(ok.replace(/left=\d+/, 'left=18446744073709551616'))) ?? '', /Invalid left/);
    assert.match((await reason(ok.replace(/left=\d+/, 'left=123456789012345678901'))) ?? '', /Invalid left/);
    assert.match((await reason(ok.replace(/left=\d+/, 'left=1e3'))) ?? '', /Invalid left/);
  });

  it('decodeUint: exact up to 2^53, clamped above, refused past 2^64-1', () => {
    const d = (s: string) => decodeUint(s, 0, s.length);
    assert.equal(d('0'), 0);
    assert.equal(d('9007199254740991'), Number.MAX_SAFE_INTEGER);
    assert.equal(d('9223372036854775807'), Number.MAX_SAFE_INTEGER);
    assert.equal(d('18446744073709551615'), Number.MAX_SAFE_INTEGER);
    assert.equal(d('00000000000000000001'), 1);
    assert.equal(d('18446744073709551616'), -1);
    assert.equal(d('99999999999999999999'), -1);
    assert.equal(d(''), -1);
    assert.equal(d('-1'), -1);
  });
});

describe('UDP connection ids after an idle tracker', () => {
  it('the first connect after two idle minutes gets an id the next announce accepts', async () => {
    const h = await makeHybrid('udp-idle');
    // Only Date is faked (the sockets and timers stay real): the tracker's minute windows follow it.
    mock.timers.enable({ apis: ['Date'], now: 1_000_000_000_000 });
    const tracker = new Tracker({ port: 0, rateLimit: false });
    const socket = createSocket('udp4');
    try {
      const addr = await tracker.start();
      assert.equal((await post(addr.url, registration(h))).status, 201);
      const request = (p: Buffer) =>
        new Promise<Buffer>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('no UDP reply')), 3000);
          socket.once('message', (m: Buffer) => {
            clearTimeout(timer);
            resolve(m);
          });
          socket.send(p, addr.port, '127.0.0.1');
        });
      const connect = async () => {
        const p = Buffer.alloc(16);
        p.writeUInt32BE(0x417, 0);
        p.writeUInt32BE(0x27101980, 4);
        randomBytes(4).copy(p, 12);
        return (await request(p)).subarray(8, 16);
      };
      const announce = (conn: Buffer) => {
        const p = Buffer.alloc(98);
        conn.copy(p, 0);
        p.writeUInt32BE(1, 8);
        randomBytes(4).copy(p, 12);
        Buffer.from(h.v1, 'hex').copy(p, 16);
        peerId(9).copy(p, 36);
        p.writeInt32BE(-1, 92);
        p.writeUInt16BE(6201, 96);
        return request(p);
      };
      const first = await connect();
      assert.equal((await announce(first)).readUInt32BE(0), 1, 'announce with a fresh id');
      for (const idle of [2, 5]) {
        mock.timers.tick(idle * 60_000);
        const conn = await connect();
        const r = await announce(conn);
        assert.equal(r.readUInt32BE(0), 1, `announce after ${idle} idle minutes: ${r.subarray(8).toString()}`);
      }
    } finally {
      mock.timers.reset();
      socket.close();
      await tracker.stop();
    }
  });
});

describe('registry: what other clients export', () => {
  it('takes a torrent with bad optional keys outside info, or a hybrid without piece layers (qBittorrent)', async () => {
    const tracker = new Tracker({ port: 0, rateLimit: false });
    const base = (await tracker.start()).url;
    try {
      for (const [label, seed, before, after] of [
        ['announce-list an int, comment an int', 'quirk-a', '13:announce-listi5e7:commenti3e', ''],
        ['no piece layers', 'quirk-b', '', ''],
        ['url-list nested', 'quirk-c', '', '8:url-listll1:xee'],
      ] as const) {
        const h = await makeHybrid(seed);
        const info = parseTorrent(h.torrent).infoBytes;
        // Keys in byte order; no `piece layers` in any of them.
        const torrent = Buffer.concat([Buffer.from('d' + before + '4:info'), info, Buffer.from(after + 'e')]);
        const res = await post(base, registration({ ...h, torrent }));
        assert.equal(res.status, 201, `${label}: ${await res.text()}`);
        const entry = (await (await fetch(`${base}/api/registry?info_hash=${h.v1}`)).json()) as Record<string, unknown>;
        assert.equal(entry.info_hash, h.v2);
        assert.equal(entry.verified, true, 'checked against the info dictionary');
      }
      // A broken info dictionary is still refused, with the strict reader's reason.
      const h = await makeHybrid('quirk-bad');
      const bad = Buffer.from(h.torrent);
      bad.write('4:nami', bad.indexOf('4:name'), 'latin1');
      assert.equal((await post(base, registration({ ...h, torrent: bad }))).status, 400);
    } finally {
      await tracker.stop();
    }
  });
});
