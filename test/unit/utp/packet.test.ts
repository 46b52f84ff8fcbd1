// uTP packet format (BEP 29): header fields, the selective-ack extension, 16-bit sequence arithmetic, and that
// hostile datagrams decode to nothing instead of throwing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  HEADER_SIZE,
  ST_DATA,
  ST_STATE,
  ST_SYN,
  buildSack,
  decodePacket,
  encodePacket,
  sackedSeqs,
  seqAdd,
  seqDiff,
  seqLess,
} from '../../../src/engine/utp/packet.js';

test('header round-trips, big-endian at the offsets BEP 29 gives', () => {
  const buf = encodePacket(
    {
      type: ST_DATA,
      connId: 0xbeef,
      timestamp: 0x01020304,
      timestampDiff: 0xfffffffe,
      wnd: 1 << 20,
      seq: 65535,
      ack: 7,
    },
    Buffer.from('hello'),
  );
  assert.equal(buf.length, HEADER_SIZE + 5);
  assert.equal(buf[0], 0x01); // ST_DATA << 4 | version 1
  assert.equal(buf[1], 0); // no extension
  assert.equal(buf.readUInt16BE(2), 0xbeef);
  assert.equal(buf.readUInt32BE(4), 0x01020304);
  assert.equal(buf.readUInt32BE(12), 1 << 20);
  assert.equal(buf.readUInt16BE(16), 65535);
  const p = decodePacket(buf)!;
  assert.deepEqual(
    { ...p.header, sack: undefined },
    {
      type: ST_DATA,
      connId: 0xbeef,
      timestamp: 0x01020304,
      timestampDiff: 0xfffffffe,
      wnd: 1 << 20,
      seq: 65535,
      ack: 7,
      sack: undefined,
    },
  );
  assert.equal(p.payload.toString(), 'hello');
});

test('selective ack: LSB of the first byte is ack+2, bytes in order; libtorrent-style short masks accepted', () => {
  const have = new Set([seqAdd(100, 2), seqAdd(100, 9), seqAdd(100, 40)]);
  const sack = buildSack(100, 256, (s) => have.has(s))!;
  assert.equal(sack.length, 8); // 41 bits round up to 64
  assert.equal(sack[0], 0b1000_0001); // ack+2 and ack+9
  assert.equal(sack[4], 0b0100_0000); // ack+40 = bit 38
  assert.deepEqual(sackedSeqs(100, sack), [102, 109, 140]);
  const buf = encodePacket({
    type: ST_STATE,
    connId: 1,
    timestamp: 0,
    timestampDiff: 0,
    wnd: 0,
    seq: 0,
    ack: 100,
    sack,
  });
  assert.equal(buf[1], 1);
  assert.deepEqual([...decodePacket(buf)!.header.sack!], [...sack]);
  // libtorrent 2.0 sends a 1-byte mask (seen on the wire: `... 00 01 00`).
  const short = Buffer.concat([buf.subarray(0, HEADER_SIZE), Buffer.from([0, 1, 0b101])]);
  assert.deepEqual(sackedSeqs(100, decodePacket(short)!.header.sack!), [102, 104]);
  assert.equal(
    buildSack(100, 256, () => false),
    undefined,
  );
});

test('sequence numbers wrap at 16 bits', () => {
  assert.ok(seqLess(65535, 0));
  assert.ok(seqLess(65000, 100));
  assert.ok(!seqLess(100, 65000));
  assert.ok(!seqLess(5, 5));
  assert.equal(seqAdd(65535, 2), 1);
  assert.equal(seqDiff(1, 65535), 2);
  assert.equal(seqDiff(65535, 1), -2);
});

test('hostile datagrams decode to undefined, never throw', () => {
  const good = encodePacket({ type: ST_SYN, connId: 1, timestamp: 0, timestampDiff: 0, wnd: 0, seq: 1, ack: 0 });
  assert.ok(decodePacket(good));
  const bad: Buffer[] = [
    Buffer.alloc(0),
    good.subarray(0, 19), // short
    Buffer.from([0x02, ...good.subarray(1)]), // version 2
    Buffer.from([0x51, ...good.subarray(1)]), // type 5
    Buffer.concat([Buffer.from([0x21, 1]), good.subarray(2)]), // SACK promised, nothing follows
    Buffer.concat([Buffer.from([0x21, 1]), good.subarray(2), Buffer.from([0, 200, 1, 2])]), // length past the end
    Buffer.concat([Buffer.from([0x21, 1]), good.subarray(2), Buffer.from([0, 0])]), // empty SACK
  ];
  for (const b of bad) assert.equal(decodePacket(b), undefined, b.toString('hex'));
  // An unknown extension is skipped, and a chain of them ends at the datagram's end.
  const ext = Buffer.concat([
    Buffer.from([0x01, 9]),
    good.subarray(2),
    Buffer.from([7, 2, 0xaa, 0xbb, 0, 1, 0xcc]),
    Buffer.from('data'),
  ]);
  const p = decodePacket(ext)!;
  assert.equal(p.payload.toString(), 'data');
  for (let i = 0; i < 2000; i++) {
    const junk = Buffer.from(Array.from({ length: (i % 60) + 1 }, () => (Math.random() * 256) | 0));
    decodePacket(junk);
  }
});
