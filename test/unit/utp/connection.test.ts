// uTP connections end to end on loopback: bytes arrive intact and in order through a relay that drops and
// reorders packets, a reader that stops reading holds the sender back (bounded memory), connections close on both
// sides, a closed port answers with a reset, and hostile packets cost nothing. LEDBAT's direction is checked on its
// own: delay above target shrinks the window, below target grows it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { once } from 'node:events';
import type { UtpConnection } from '../../../src/engine/utp/connection.js';
import { UtpEndpoint } from '../../../src/engine/utp/endpoint.js';
import { Ledbat, TARGET_DELAY_US } from '../../../src/engine/utp/ledbat.js';
import { ST_DATA, ST_STATE, encodePacket } from '../../../src/engine/utp/packet.js';

async function listening(opts = {}): Promise<UtpEndpoint> {
  const e = new UtpEndpoint(opts);
  await new Promise<void>((r) => e.listen(0, '127.0.0.1', r));
  return e;
}

function sha1(b: Buffer): string {
  return createHash('sha1').update(b).digest('hex');
}

/** Reads a stream to its end (without destroying it there, as `for await` would: its writable side may still run). */
function readAll(s: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    s.on('data', (c: Buffer) => parts.push(c));
    s.once('end', () => resolve(Buffer.concat(parts)));
    s.once('error', reject);
  });
}

/**
 * A UDP relay between a client and `target`: drops `loss` of the packets each way and holds back `reorder` of them
 * for a few milliseconds, so they arrive after later ones. Counts what it did.
 */
async function relay(target: number, loss: number, reorder: number) {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  let client: { port: number } | undefined;
  const counts = { forwarded: 0, dropped: 0, reordered: 0 };
  let seed = 12345;
  const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  sock.on('message', (msg, rinfo) => {
    const toTarget = rinfo.port !== target;
    if (toTarget) client = { port: rinfo.port };
    const port = toTarget ? target : client?.port;
    if (!port) return;
    const r = rand();
    if (r < loss) {
      counts.dropped++;
      return;
    }
    counts.forwarded++;
    if (r < loss + reorder) {
      counts.reordered++;
      setTimeout(() => open && sock.send(msg, port, '127.0.0.1'), 2 + rand() * 8);
    } else sock.send(msg, port, '127.0.0.1');
  });
  let open = true;
  return {
    port: () => sock.address().port,
    counts,
    close: () => {
      open = false;
      sock.close();
    },
  };
}

test('4 MiB each way through a relay that drops 5% and reorders 10%: intact, with retransmissions', async () => {
  const server = await listening();
  const client = await listening();
  const r = await relay(server.address().port, 0.05, 0.1);
  const up = randomBytes(4 << 20);
  const down = randomBytes(4 << 20);
  try {
    const accepted = once(server, 'connection') as Promise<[UtpConnection]>;
    const c = client.connect(r.port(), '127.0.0.1');
    await once(c, 'connect');
    const [s] = await accepted;
    const gotUp = readAll(s);
    const gotDown = readAll(c);
    s.end(down);
    c.end(up);
    const stall = setTimeout(
      () => console.log('stalled', JSON.stringify({ c: c.describe(), s: s.describe() })),
      20_000,
    );
    const [a, b] = await Promise.all([gotUp, gotDown]).finally(() => clearTimeout(stall));
    assert.equal(sha1(a), sha1(up));
    assert.equal(sha1(b), sha1(down));
    assert.ok(r.counts.dropped > 0 && r.counts.reordered > 0);
    assert.ok(c.counters.resent + s.counters.resent > 0, 'losses were repaired by retransmission');
    await Promise.all([c.closed ? null : once(c, 'close'), s.closed ? null : once(s, 'close')]);
    assert.equal(client.connectionCount, 0);
    assert.equal(server.connectionCount, 0);
  } finally {
    r.close();
    client.close();
    server.close();
  }
});

test('a reader that stops reading holds the sender back; memory stays within the window', async () => {
  const server = await listening({ recvWindow: 256 * 1024 });
  const client = await listening({ sendBuffer: 64 * 1024 });
  try {
    const accepted = once(server, 'connection') as Promise<[UtpConnection]>;
    const c = client.connect(server.address().port, '127.0.0.1');
    await once(c, 'connect');
    const [s] = await accepted;
    s.pause();
    const data = randomBytes(8 << 20);
    let written = 0;
    let blocked = false;
    // Write until write() pushes back.
    while (written < data.length) {
      const ok = c.write(data.subarray(written, written + 65536));
      written += 65536;
      if (!ok) {
        blocked = true;
        break;
      }
    }
    assert.ok(blocked, 'write() never pushed back');
    await new Promise((r) => setTimeout(r, 300));
    // Held by the receiver: at most the window (plus a stream chunk) was accepted while it did not read.
    assert.ok(s.readableLength <= 256 * 1024 + 65536, `receiver buffered ${s.readableLength}`);
    const rest = data.subarray(written);
    const all = readAll(s);
    s.resume();
    c.end(rest);
    const got = await all;
    assert.equal(sha1(got), sha1(data));
  } finally {
    client.close();
    server.close();
  }
});

test('connecting to an endpoint that does not listen is reset at once', async () => {
  const quiet = new UtpEndpoint();
  await new Promise<void>((r) => quiet.listen(0, '127.0.0.1', r));
  (quiet as any).listening = false; // bound, but refusing connections
  const client = await listening();
  try {
    const c = client.connect(quiet.address().port, '127.0.0.1');
    const [err] = (await once(c, 'error')) as [NodeJS.ErrnoException];
    assert.equal(err.code, 'ECONNRESET');
  } finally {
    client.close();
    quiet.close();
  }
});

test('hostile packets: garbage, forged acks and strays cost nothing and break no connection', async () => {
  const server = await listening({ maxConnections: 4 });
  const client = await listening();
  const attacker = dgram.createSocket('udp4');
  await new Promise<void>((r) => attacker.bind(0, '127.0.0.1', r));
  try {
    const accepted = once(server, 'connection') as Promise<[UtpConnection]>;
    const c = client.connect(server.address().port, '127.0.0.1');
    await once(c, 'connect');
    const [s] = await accepted;
    const port = server.address().port;
    // Paced, so the kernel's receive queue (a few hundred datagrams) does not drop what the test wants to see.
    let sent = 0;
    const send = async (b: Buffer) => {
      attacker.send(b, port, '127.0.0.1');
      if (++sent % 50 === 0) await new Promise((r) => setTimeout(r, 5));
    };
    for (let i = 0; i < 500; i++) await send(randomBytes((i % 80) + 1));
    // Packets for a connection id that is not the attacker's: they come from another address, so they are strays.
    const forged = (type: 0 | 2, seq: number, ack: number) =>
      encodePacket(
        { type, connId: s.recvId, timestamp: 0, timestampDiff: 0, wnd: 1 << 20, seq, ack },
        type === ST_DATA ? Buffer.from('evil') : undefined,
      );
    for (let i = 0; i < 100; i++) await send(forged(i % 2 ? ST_STATE : ST_DATA, i * 600, i * 600));
    // A SYN flood beyond the connection cap is refused.
    for (let i = 0; i < 20; i++)
      await send(encodePacket({ type: 4, connId: i * 7, timestamp: 0, timestampDiff: 0, wnd: 0, seq: i, ack: 0 }));
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(server.counters.malformed > 400, `malformed ${server.counters.malformed}`);
    assert.ok(server.connectionCount <= 4, `connections ${server.connectionCount}`);
    assert.ok(server.counters.refused > 0, JSON.stringify(server.counters));
    // The real connection still works, and no forged byte reached it.
    const data = randomBytes(256 * 1024);
    const got = readAll(s);
    c.end(data);
    assert.equal(sha1(await got), sha1(data));
  } finally {
    attacker.close();
    client.close();
    server.close();
  }
});

test('LEDBAT: queuing delay under target grows the window, over target shrinks it', () => {
  const mtu = 1472;
  const grow = new Ledbat(mtu, 1 << 24);
  grow.slowStart = false;
  grow.addDelaySample(1000, 0); // base
  const before = grow.cwnd;
  for (let i = 0; i < 50; i++) {
    grow.addDelaySample(1000 + 5000, i);
    grow.onAck(mtu, grow.cwnd, true);
  }
  assert.ok(grow.cwnd > before, `${grow.cwnd} <= ${before}`);

  const shrink = new Ledbat(mtu, 1 << 24);
  shrink.cwnd = 200 * mtu;
  shrink.addDelaySample(1000, 0);
  for (let i = 0; i < 3; i++) shrink.addDelaySample(1000 + 2 * TARGET_DELAY_US, i);
  shrink.onAck(mtu, shrink.cwnd, true);
  const high = shrink.cwnd;
  for (let i = 0; i < 50; i++) {
    shrink.addDelaySample(1000 + 2 * TARGET_DELAY_US, i);
    shrink.onAck(mtu, shrink.cwnd, true);
  }
  assert.ok(shrink.cwnd < high, `${shrink.cwnd} >= ${high}`);
  assert.equal(shrink.slowStart, false, 'delay over target ends slow start');
  // Clock differences wrap at 2^32: a base just below the wrap and samples just past it are small delays.
  const wrap = new Ledbat(mtu, 1 << 24);
  wrap.addDelaySample(0xffffff00, 0);
  assert.ok(wrap.addDelaySample(0x00000100, 1) < 1000);
});
