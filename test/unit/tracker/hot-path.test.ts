// The announce and scrape paths never touch the database: every store method is counted while thousands of
// announces (HTTP and UDP) and scrapes go through, and none may be called.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RemoteInfo, Socket } from 'node:dgram';
import { createHash, randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import bencode from 'bencode';
import { RegistryStore } from '../../../src/tracker/registry-store.js';
import { Registry } from '../../../src/tracker/registry.js';
import { TrackerCore } from '../../../src/tracker/core.js';
import { handleAnnounce, handleScrape } from '../../../src/tracker/http-announce.js';
import { UdpTracker } from '../../../src/tracker/udp.js';
import { pct, peerId } from './helpers.js';

describe('announce hot path', () => {
  it('no database call for thousands of HTTP and UDP announces and scrapes', async () => {
    const store = await RegistryStore.open();
    const registry = new Registry(store, { peers: 0 }, () => {
      throw new Error('not used');
    });
    const torrents = Array.from({ length: 20 }, () => {
      const v2 = randomBytes(32);
      return { v2, v1: createHash('sha1').update(v2).digest() };
    });
    for (const [i, t] of torrents.entries()) {
      await registry.register({ infoHash: t.v2.toString('hex'), v1InfoHash: t.v1.toString('hex'), name: `t${i}` });
    }
    const core = new TrackerCore(
      registry,
      {
        open: false,
        interval: 1800,
        minInterval: 60,
        maxPeers: 50,
        peerTtl: 3600,
        maxTotalPeers: 1e6,
        maxOpenSwarms: 10,
      },
      undefined,
    );

    // From here on, any store call is a failure.
    const calls: string[] = [];
    const proto = Object.getPrototypeOf(store) as Record<string, unknown>;
    for (const name of Object.getOwnPropertyNames(proto)) {
      const fn = proto[name];
      if (name === 'constructor' || typeof fn !== 'function') continue;
      (store as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
        calls.push(name);
        return (fn as (...a: unknown[]) => unknown).apply(store, args);
      };
    }

    let replies = 0;
    const res = {
      writeHead() {},
      end(body: Buffer) {
        const d = bencode.decode(body);
        assert.equal(d['failure reason'], undefined, Buffer.from(d['failure reason'] ?? '').toString());
        replies++;
      },
    } as unknown as ServerResponse;
    const client = { ip: '10.0.0.1', bytes: Buffer.from([10, 0, 0, 1]), v6: false };
    for (let i = 0; i < 3000; i++) {
      const t = torrents[i % torrents.length]!;
      const hash = [t.v1, t.v2.subarray(0, 20), t.v2][i % 3]!;
      const event = ['started', '', 'completed', 'stopped'][i % 4];
      handleAnnounce(
        core,
        res,
        `/announce?info_hash=${pct(hash)}&peer_id=${pct(peerId(i % 300))}&port=${1000 + (i % 300)}&left=${i % 2}&event=${event}`,
        client,
      );
      if (i % 10 === 0) handleScrape(core, res, `/scrape?info_hash=${pct(t.v1)}&info_hash=${pct(t.v2)}`);
    }

    const sent: Buffer[] = [];
    const socket = { on() {}, send: (b: Buffer) => sent.push(b) } as unknown as Socket;
    const udp = new UdpTracker(core, socket, { passkeyRequired: false });
    const rinfo = { address: '10.0.0.2', port: 5000, family: 'IPv4', size: 0 } as RemoteInfo;
    const connect = Buffer.alloc(16);
    connect.writeUInt32BE(0x417, 0);
    connect.writeUInt32BE(0x27101980, 4);
    udp.onMessage(connect, rinfo);
    const conn = sent[0]!.subarray(8, 16);
    for (let i = 0; i < 1000; i++) {
      const a = Buffer.alloc(98);
      conn.copy(a, 0);
      a.writeUInt32BE(1, 8);
      a.writeUInt32BE(i, 12);
      torrents[i % torrents.length]!.v1.copy(a, 16);
      peerId(i % 100).copy(a, 36);
      a.writeUInt32BE(i % 4, 80);
      a.writeUInt16BE(2000 + (i % 100), 96);
      udp.onMessage(a, rinfo);
    }
    assert.equal(replies, 3300);
    assert.equal(sent.length, 1001);
    assert.ok(
      sent.slice(1).every((b) => b.readUInt32BE(0) === 1),
      'every UDP announce answered',
    );
    assert.deepEqual(calls, [], 'no database call on the announce path');
    assert.ok(core.metrics.completions > 0);
  });
});
