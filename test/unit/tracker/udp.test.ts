// The UDP tracker (BEP 15) as a client speaks it: connect, announce, scrape, errors.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { Tracker } from '../../../src/tracker/tracker.js';
import { makeHybrid, peerId, post, registration, type Hybrid } from './helpers.js';

/** A tiny BEP 15 client: one socket, requests matched to replies by transaction id. */
class UdpClient {
  private readonly socket: Socket = createSocket('udp4');
  private readonly waiting = new Map<number, (msg: Buffer) => void>();

  constructor(private readonly port: number) {
    this.socket.on('message', (msg: Buffer) => {
      if (msg.length < 8) return;
      const tid = msg.readUInt32BE(4);
      this.waiting.get(tid)?.(msg);
      this.waiting.delete(tid);
    });
  }

  request(packet: Buffer, timeoutMs = 3000): Promise<Buffer> {
    const tid = packet.readUInt32BE(12);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(tid);
        reject(new Error('no UDP reply'));
      }, timeoutMs);
      this.waiting.set(tid, (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      this.socket.send(packet, this.port, '127.0.0.1');
    });
  }

  async connect(): Promise<Buffer> {
    const p = Buffer.alloc(16);
    p.writeUInt32BE(0x417, 0);
    p.writeUInt32BE(0x27101980, 4);
    p.writeUInt32BE(0, 8);
    randomBytes(4).copy(p, 12);
    const r = await this.request(p);
    assert.equal(r.readUInt32BE(0), 0, 'connect reply');
    assert.equal(r.length, 16);
    return r.subarray(8, 16);
  }

  announce(
    conn: Buffer,
    hashHex: string,
    peer: number,
    port: number,
    left: bigint,
    event = 0,
    numwant = -1,
  ): Promise<Buffer> {
    const p = Buffer.alloc(98);
    conn.copy(p, 0);
    p.writeUInt32BE(1, 8);
    randomBytes(4).copy(p, 12);
    Buffer.from(hashHex, 'hex').copy(p, 16);
    peerId(peer).copy(p, 36);
    p.writeBigUInt64BE(left, 64);
    p.writeUInt32BE(event, 80);
    p.writeInt32BE(numwant, 92);
    p.writeUInt16BE(port, 96);
    return this.request(p);
  }

  scrape(conn: Buffer, hashes: string[]): Promise<Buffer> {
    const p = Buffer.alloc(16 + 20 * hashes.length);
    conn.copy(p, 0);
    p.writeUInt32BE(2, 8);
    randomBytes(4).copy(p, 12);
    hashes.forEach((h, i) => Buffer.from(h, 'hex').copy(p, 16 + 20 * i));
    return this.request(p);
  }

  close(): void {
    this.socket.close();
  }
}

function ports(reply: Buffer): number[] {
  const out: number[] = [];
  for (let i = 20; i + 6 <= reply.length; i += 6) out.push(reply.readUInt16BE(i + 4));
  return out.sort((a, b) => a - b);
}

function errorText(reply: Buffer): string {
  assert.equal(reply.readUInt32BE(0), 3, 'an error reply');
  return reply.subarray(8).toString('utf8');
}

describe('UDP tracker (BEP 15)', () => {
  let tracker: Tracker;
  let client: UdpClient;
  let h: Hybrid;

  before(async () => {
    h = await makeHybrid('udp');
    tracker = new Tracker({ port: 0, rateLimit: false });
    const addr = await tracker.start();
    assert.equal(addr.udp, `udp://127.0.0.1:${addr.port}`, 'UDP on the same port number as HTTP');
    assert.equal((await post(addr.url, registration(h))).status, 201);
    client = new UdpClient(addr.port);
  });
  after(async () => {
    client.close();
    await tracker.stop();
  });

  it('connect, then v1 and truncated-v2 announcers see each other', async () => {
    const conn = await client.connect();
    const a = await client.announce(conn, h.v1, 1, 7001, 0n, 2);
    assert.equal(a.readUInt32BE(0), 1, 'announce reply');
    assert.equal(a.readUInt32BE(8), 1800, 'interval');
    assert.deepEqual(ports(a), []);
    const b = await client.announce(conn, h.v2.slice(0, 40), 2, 7002, 5000n, 2);
    assert.deepEqual(ports(b), [7001]);
    assert.equal(b.readUInt32BE(12), 1, 'leechers');
    assert.equal(b.readUInt32BE(16), 1, 'seeders');
    const a2 = await client.announce(conn, h.v1, 1, 7001, 0n);
    assert.deepEqual(ports(a2), [7002]);
  });

  it('scrape by v1 or truncated v2 gives the same counts; unknown hashes are zeros', async () => {
    const conn = await client.connect();
    await client.announce(conn, h.v2.slice(0, 40), 2, 7002, 0n, 1);
    const r = await client.scrape(conn, [h.v1, h.v2.slice(0, 40), '77'.repeat(20)]);
    assert.equal(r.readUInt32BE(0), 2);
    const row = (i: number) => [r.readUInt32BE(8 + 12 * i), r.readUInt32BE(12 + 12 * i), r.readUInt32BE(16 + 12 * i)];
    assert.deepEqual(row(0), [2, 1, 0], 'seeders, completed, leechers');
    assert.deepEqual(row(1), [2, 1, 0]);
    assert.deepEqual(row(2), [0, 0, 0]);
  });

  it('stopped removes the peer; numwant 0 returns none', async () => {
    const conn = await client.connect();
    const none = await client.announce(conn, h.v1, 3, 7003, 1n, 0, 0);
    assert.deepEqual(ports(none), []);
    await client.announce(conn, h.v1, 3, 7003, 1n, 3);
    const r = await client.announce(conn, h.v1, 4, 7004, 1n);
    assert.deepEqual(ports(r), [7001, 7002]);
  });

  it('errors: bad connection id, unregistered hash, short announce, unknown action, bad protocol id', async () => {
    const conn = await client.connect();
    assert.match(errorText(await client.announce(Buffer.alloc(8, 9), h.v1, 1, 1, 0n)), /connection id/);
    assert.equal(
      errorText(await client.announce(conn, '88'.repeat(20), 1, 1, 0n)),
      'Unregistered torrent: info_hash not found in registry',
    );
    const short = Buffer.alloc(50);
    conn.copy(short, 0);
    short.writeUInt32BE(1, 8);
    short.writeUInt32BE(424242, 12);
    assert.match(errorText(await client.request(short)), /malformed announce/);
    const unknown = Buffer.alloc(16);
    conn.copy(unknown, 0);
    unknown.writeUInt32BE(9, 8);
    unknown.writeUInt32BE(434343, 12);
    assert.match(errorText(await client.request(unknown)), /unknown action/);
    const badProto = Buffer.alloc(16);
    badProto.writeUInt32BE(444444, 12);
    assert.match(errorText(await client.request(badProto)), /protocol id/);
    const port0 = await client.announce(conn, h.v1, 5, 0, 0n);
    assert.match(errorText(port0), /port/);
  });
});

describe('UDP rate limit', () => {
  it('past the burst, announces get the rate-limit error', async () => {
    const h = await makeHybrid('udp-limit');
    const tracker = new Tracker({ port: 0, rateLimit: { perSecond: 0.001, burst: 3 } });
    const addr = await tracker.start();
    const client = new UdpClient(addr.port);
    try {
      assert.equal((await post(addr.url, registration(h))).status, 201); // 1 token
      const conn = await client.connect(); // 2
      assert.equal((await client.announce(conn, h.v1, 1, 7001, 0n)).readUInt32BE(0), 1); // 3
      assert.equal(errorText(await client.announce(conn, h.v1, 1, 7001, 0n)), 'Rate limit exceeded. Please slow down.');
    } finally {
      client.close();
      await tracker.stop();
    }
  });
});
