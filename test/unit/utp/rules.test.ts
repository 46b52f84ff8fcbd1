// The sending and acking rules of one uTP connection, driven packet by packet by a scripted peer (no sockets, no
// clocks to race): acks deferred to the end of the event-loop turn, every hole a SACK reveals resent at once and
// only once, packet sizes kept to what a peer reads (libtorrent reads 1,500 bytes and truncates the rest), MTU
// discovery falling back when its probe is lost, and the window's growth (slow start, then LEDBAT).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { UtpConnection, type ConnectionOptions, type ConnectionPort } from '../../../src/engine/utp/connection.js';
import { LOOPBACK_PACKET_SIZE, SAFE_PACKET_SIZE, pathMtu } from '../../../src/engine/utp/endpoint.js';
import { Ledbat, TARGET_DELAY_US } from '../../../src/engine/utp/ledbat.js';
import {
  DEFAULT_PACKET_SIZE,
  MAX_DATAGRAM,
  ST_DATA,
  ST_STATE,
  ST_SYN,
  buildSack,
  decodePacket,
  encodePacket,
  nowMicros,
  seqAdd,
  seqLess,
  type Header,
  type Packet,
} from '../../../src/engine/utp/packet.js';

interface Sent {
  packet: Packet;
  size: number;
}

/** A connection whose datagrams land in `sent` and whose peer is this test. */
function scripted(mode: 'connect' | Packet, opts: Partial<ConnectionOptions> = {}) {
  const sent: Sent[] = [];
  const port: ConnectionPort = {
    send: (parts) => {
      const buf = Buffer.concat(Array.isArray(parts) ? parts : [parts]);
      sent.push({ packet: decodePacket(buf)!, size: buf.length });
    },
    forget: () => {},
    localAddress: () => undefined,
    windowCap: () => Infinity,
    defer: (c) => setImmediate(() => c.endOfTurn()),
    delayAck: (c) => setTimeout(() => c.sendDelayedAck(), 5),
  };
  const conn = new UtpConnection(
    port,
    {
      remoteAddress: '127.0.0.1',
      remotePort: 1,
      recvId: 100,
      sendId: 101,
      maxDatagram: MAX_DATAGRAM,
      pathMtu: { floor: DEFAULT_PACKET_SIZE, ceiling: DEFAULT_PACKET_SIZE },
      recvWindow: 1 << 20,
      sendBuffer: 1 << 20,
      ...opts,
    },
    mode,
  );
  conn.on('error', () => {});
  return { conn, sent };
}

const turn = () => new Promise<void>((r) => setImmediate(r));

function header(h: Partial<Header> & Pick<Header, 'type' | 'seq' | 'ack'>): Header {
  return { connId: 100, timestamp: nowMicros(), timestampDiff: 0, wnd: 1 << 20, ...h };
}

/** Connects an initiator: answers its SYN as a responder would (announcing `maxDatagram` when given). */
function connected(opts: Partial<ConnectionOptions> = {}, maxDatagram?: number) {
  const s = scripted('connect', opts);
  const syn = s.sent.shift()!.packet.header;
  assert.equal(syn.type, ST_SYN);
  assert.equal(syn.maxDatagram, MAX_DATAGRAM, 'our SYN says how large a datagram we read');
  s.conn.onPacket({
    header: header({ type: ST_STATE, seq: 5000, ack: syn.seq, ...(maxDatagram ? { maxDatagram } : {}) }),
    payload: Buffer.alloc(0),
  });
  return s;
}

test('acks wait for the end of the event-loop turn: one ST_STATE for a burst of data packets', async () => {
  const syn: Packet = { header: header({ type: ST_SYN, seq: 700, ack: 0, connId: 99 }), payload: Buffer.alloc(0) };
  const { conn, sent } = scripted(syn);
  assert.equal(sent.length, 1, 'the SYN is answered at once');
  sent.length = 0;
  const got: Buffer[] = [];
  conn.on('data', (d: Buffer) => got.push(d));
  for (let i = 1; i <= 10; i++) {
    conn.onPacket({ header: header({ type: ST_DATA, seq: 700 + i, ack: 0 }), payload: Buffer.alloc(1000, i) });
  }
  assert.equal(sent.length, 0, 'nothing is sent while the turn is still processing packets');
  await turn();
  const states = sent.filter((s) => s.packet.header.type === ST_STATE);
  assert.equal(states.length, 1, `${states.length} acks for 10 packets in one turn`);
  assert.equal(states[0].packet.header.ack, 710, 'the one ack covers them all');
  assert.equal(Buffer.concat(got).length, 10_000);
  conn.destroy();
});

test('delayed ack: a lone full-sized packet waits for a second (or the timer); a short one is acked at once', async () => {
  const syn: Packet = { header: header({ type: ST_SYN, seq: 300, ack: 0, connId: 99 }), payload: Buffer.alloc(0) };
  const { conn, sent } = scripted(syn);
  conn.on('data', () => {});
  sent.length = 0;
  const data = (seq: number, len: number) =>
    conn.onPacket({ header: header({ type: ST_DATA, seq, ack: 0 }), payload: Buffer.alloc(len) });
  const acks = () => sent.filter((s) => s.packet.header.type === ST_STATE).map((s) => s.packet.header.ack);
  data(301, 1400);
  await turn();
  assert.deepEqual(acks(), [], 'one full-sized packet: the ack waits for a second');
  data(302, 1400);
  await turn();
  assert.deepEqual(acks(), [302], 'the second full-sized packet is acked with the first');
  data(303, 1400);
  await turn();
  assert.deepEqual(acks(), [302]);
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(acks(), [302, 303], 'the delayed-ack timer acks a lone packet');
  data(304, 200);
  await turn();
  assert.deepEqual(acks(), [302, 303, 304], 'a short packet (the end of a burst) is acked at once');
  data(306, 1400);
  await turn();
  assert.equal(acks().length, 4, 'a packet past a hole is acked at once');
  assert.equal(sent.at(-1)!.packet.header.ack, 304);
  assert.ok(sent.at(-1)!.packet.header.sack, 'with a SACK');
  conn.destroy();
});

test('a reply written in the same turn carries the ack: no separate ST_STATE', async () => {
  const syn: Packet = { header: header({ type: ST_SYN, seq: 900, ack: 0, connId: 99 }), payload: Buffer.alloc(0) };
  const { conn, sent } = scripted(syn);
  sent.length = 0;
  conn.on('data', () => conn.write(Buffer.alloc(100, 1)));
  conn.onPacket({ header: header({ type: ST_DATA, seq: 901, ack: 0 }), payload: Buffer.alloc(50) });
  await turn();
  await turn();
  assert.deepEqual(
    sent.map((s) => [s.packet.header.type, s.packet.header.ack]),
    [[ST_DATA, 901]],
  );
  conn.destroy();
});

test('every hole a SACK reveals is resent at once, and not again on the next SACK', async () => {
  const { conn, sent } = connected();
  conn.write(randomBytes(200 * 1400));
  await turn();
  // Grow the window first: ack what is out until 12 packets are in flight.
  while (sent.length < 12) {
    const last = sent.at(-1)!.packet.header.seq;
    sent.length = 0;
    conn.onPacket({ header: header({ type: ST_STATE, seq: 5000, ack: last }), payload: Buffer.alloc(0) });
  }
  const seqs = sent.map((s) => s.packet.header.seq);
  const ack = seqAdd(seqs[0], -1);
  // Holes at seqs[0], [1] and [3]; the rest arrived. [0] and [1] and [3] each have 3+ packets SACKed after them.
  const arrived = new Set(seqs.filter((_, i) => ![0, 1, 3].includes(i)));
  const sack = buildSack(ack, 256, (s) => arrived.has(s));
  sent.length = 0;
  conn.onPacket({ header: header({ type: ST_STATE, seq: 5000, ack, sack }), payload: Buffer.alloc(0) });
  const resent = sent.filter((s) => !seqLess(s.packet.header.seq, seqs[0]) && seqLess(s.packet.header.seq, seqs[4]));
  assert.deepEqual(
    resent.map((s) => s.packet.header.seq),
    [seqs[0], seqs[1], seqs[3]],
  );
  assert.equal(conn.counters.fastResends, 3);
  sent.length = 0;
  conn.onPacket({ header: header({ type: ST_STATE, seq: 5000, ack, sack }), payload: Buffer.alloc(0) });
  assert.equal(conn.counters.fastResends, 3, 'the same SACK again resends nothing');
  conn.destroy();
});

test('a lost tail is found by a probe, not a timeout: the newest packet goes again, its SACK brings the rest', async () => {
  const { conn, sent } = connected();
  conn.write(randomBytes(200 * 1400));
  await turn();
  while (sent.length < 8) {
    const last = sent.at(-1)!.packet.header.seq;
    sent.length = 0;
    conn.onPacket({ header: header({ type: ST_STATE, seq: 5000, ack: last }), payload: Buffer.alloc(0) });
  }
  // Every packet of this flight is lost: no ack comes. About two round trips later the newest goes again.
  const seqs = sent.map((s) => s.packet.header.seq);
  sent.length = 0;
  for (let i = 0; i < 300 && conn.counters.tailProbes === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(conn.counters.tailProbes, 1);
  assert.equal(conn.counters.timeouts, 0, 'the probe came before the retransmission timeout');
  assert.deepEqual(
    sent.map((s) => s.packet.header.seq),
    [seqs.at(-1)],
  );
  // It arrived past the holes: the peer SACKs it alone, and everything sent before it goes again at once.
  sent.length = 0;
  const ack = seqAdd(seqs[0], -1);
  const sack = buildSack(ack, 256, (s) => s === seqs.at(-1));
  conn.onPacket({ header: header({ type: ST_STATE, seq: 5000, ack, sack }), payload: Buffer.alloc(0) });
  assert.deepEqual(
    sent.slice(0, seqs.length - 1).map((s) => s.packet.header.seq),
    seqs.slice(0, -1),
  );
  conn.destroy();
});

test('a peer that does not say it reads more (libtorrent) never gets a datagram over 1,472 bytes', async () => {
  // Over loopback the path carries 64 KB; libtorrent would truncate such a datagram to 1,500 bytes.
  const { conn, sent } = connected({ pathMtu: { floor: 64_000, ceiling: 64_000 } });
  conn.write(randomBytes(512 * 1024));
  let max = 0;
  for (let i = 0; i < 200 && conn.describe().queued !== 0; i++) {
    await turn();
    for (const s of sent) max = Math.max(max, s.size);
    const last = sent.at(-1)?.packet.header.seq;
    sent.length = 0;
    if (last !== undefined)
      conn.onPacket({ header: header({ type: ST_STATE, seq: 5000, ack: last }), payload: Buffer.alloc(0) });
  }
  assert.equal(conn.describe().queued, 0, 'everything went out');
  assert.ok(max > 1000 && max <= DEFAULT_PACKET_SIZE, `largest datagram ${max}`);
  conn.destroy();
});

test('a peer that reads 64 KB datagrams gets them over loopback', async () => {
  const { conn, sent } = connected({ pathMtu: { floor: 64_000, ceiling: 64_000 } }, MAX_DATAGRAM);
  conn.write(randomBytes(256 * 1024));
  await turn();
  assert.equal(sent[0].size, 64_000);
  conn.destroy();
});

test('MTU discovery: probes that arrive raise the packet size, a lost probe lowers the ceiling', async () => {
  // The path carries up to 4,000 bytes; the interface would allow 9,000. Oversized datagrams vanish, except when
  // resent (the kernel fragments a resend), as after a real probe loss.
  const PATH = 4000;
  const { conn, sent } = connected({ pathMtu: { floor: 1400, ceiling: 9000 } }, MAX_DATAGRAM);
  const data = randomBytes(3 << 20);
  conn.write(data);
  const received = new Map<number, Buffer>();
  const seen = new Set<number>();
  let ack: number;
  let first: number | undefined;
  for (let i = 0; i < 5000; i++) {
    await turn();
    if (i > 0 && conn.describe().queued === 0 && conn.describe().outbuf === 0) break;
    for (const s of sent) {
      const h = s.packet.header;
      if (h.type !== ST_DATA) continue;
      first ??= h.seq;
      const resend = seen.has(h.seq);
      seen.add(h.seq);
      if (s.size > PATH && !resend) continue;
      received.set(h.seq, s.packet.payload);
    }
    sent.length = 0;
    if (first === undefined) continue;
    ack = seqAdd(first, -1);
    while (received.has(seqAdd(ack, 1))) ack = seqAdd(ack, 1);
    const sack = buildSack(ack, 256, (s) => received.has(s));
    conn.onPacket({ header: header({ type: ST_STATE, seq: 5000, ack, sack }), payload: Buffer.alloc(0) });
  }
  const parts: Buffer[] = [];
  for (let s = first!; received.has(s); s = seqAdd(s, 1)) parts.push(received.get(s)!);
  assert.ok(Buffer.concat(parts).equals(data), 'every byte arrived, in order');
  const [floor, ceiling] = conn.describe().mtu as number[];
  assert.ok(floor > 1400 && floor <= PATH, `floor ${floor}`);
  assert.ok(ceiling < 9000 && ceiling >= floor, `ceiling ${ceiling}`);
  assert.ok(PATH - floor < 200, `the search got close to the path's MTU: ${floor}`);
  conn.destroy();
});

test('window growth: slow start doubles per round trip under the target, then LEDBAT grows it slowly', () => {
  const mtu = 1472;
  const l = new Ledbat(mtu, 1 << 24);
  l.addDelaySample(1000, 0);
  // One round trip: a whole window acked, no queuing delay. Slow start adds what was acked.
  let w = l.cwnd;
  l.onAck(w, w, true);
  assert.ok(l.cwnd >= 2 * w, `${w} -> ${l.cwnd}`);
  w = l.cwnd;
  l.onAck(w, w, true);
  assert.equal(l.cwnd, 2 * w);
  // A sender that is not using its window does not grow it.
  w = l.cwnd;
  l.onAck(w, w, false);
  assert.equal(l.cwnd, w);
  // Delay at the target ends slow start; below it the window then grows by at most the gain per round trip.
  l.addDelaySample(1000 + TARGET_DELAY_US, 1);
  l.addDelaySample(1000 + TARGET_DELAY_US, 2);
  l.addDelaySample(1000 + TARGET_DELAY_US, 3);
  l.onAck(l.cwnd, l.cwnd, true);
  assert.equal(l.slowStart, false);
  for (let i = 0; i < 3; i++) l.addDelaySample(1000, 4 + i);
  w = l.cwnd;
  l.onAck(w, w, true);
  assert.ok(l.cwnd > w && l.cwnd <= w + 3000, `${w} -> ${l.cwnd}`);
  // A loss halves it; a timeout takes it to one packet and restarts slow start.
  w = l.cwnd;
  l.onLoss();
  assert.equal(l.cwnd, w / 2);
  l.onTimeout();
  assert.equal(l.cwnd, mtu);
  assert.equal(l.slowStart, true);
  // A larger packet size (MTU discovery) never leaves the window under one packet.
  l.setMtu(9000);
  assert.ok(l.cwnd >= 9000);
});

test('path MTU: loopback is known (64,000 bytes at once); other paths search up from 1,400; a cap holds', () => {
  assert.deepEqual(pathMtu('127.0.0.1', MAX_DATAGRAM), { floor: LOOPBACK_PACKET_SIZE, ceiling: LOOPBACK_PACKET_SIZE });
  assert.ok(LOOPBACK_PACKET_SIZE <= MAX_DATAGRAM - 40, 'room for the header and its extensions');
  const lan = pathMtu('192.168.1.20', MAX_DATAGRAM);
  assert.equal(lan.floor, SAFE_PACKET_SIZE);
  assert.ok(lan.ceiling >= DEFAULT_PACKET_SIZE && lan.ceiling <= 65535 - 28, `ceiling ${lan.ceiling}`);
  assert.deepEqual(pathMtu('127.0.0.1', 1472), { floor: 1472, ceiling: 1472 });
  assert.deepEqual(pathMtu('10.0.0.1', 1300), { floor: 1300, ceiling: 1300 });
});

test('our max-datagram extension is never first: libutp takes a first extension type of 3 or more for uTP v0', () => {
  // Transmission 3.00 answered such a SYN with a 23-byte version-0 packet; with libutp's extension bits first it
  // answers ST_STATE.
  const syn = encodePacket(header({ type: ST_SYN, seq: 1, ack: 0, maxDatagram: MAX_DATAGRAM }));
  assert.ok(syn[1] < 3, `first extension ${syn[1]}`);
  assert.equal(decodePacket(syn)!.header.maxDatagram, MAX_DATAGRAM);
  const withSack = encodePacket(
    header({ type: ST_STATE, seq: 1, ack: 0, maxDatagram: 1500, sack: Uint8Array.of(1, 0, 0, 0) }),
  );
  assert.equal(withSack[1], 1, 'a SACK goes first');
  const h = decodePacket(withSack)!.header;
  assert.equal(h.maxDatagram, 1500);
  assert.deepEqual([...h.sack!], [1, 0, 0, 0]);
  assert.equal(decodePacket(encodePacket(header({ type: ST_STATE, seq: 1, ack: 0 })))!.header.maxDatagram, undefined);
});
