// A served block from the pool goes out as one frame (header written in front of it, no copy) over a real loopback
// socket, arrives as exactly the block that was asked for, and its frame comes back to the pool once written; a
// block that is not from the pool, or a wire still on the stream pipeline, is sent as upstream sends it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import Wire from 'bittorrent-protocol';
import { frameAround, isPooledFrame, takeBlock } from '../../../src/engine/block-pool.js';
import { patchWire, writeDirect } from '../../../src/engine/internals.js';

const BLOCK = 16384;

/** Block `offset` of piece `index`: bytes anyone can recompute. */
function content(index: number, offset: number, length: number): Buffer {
  return crypto
    .createHash('sha256')
    .update(`${index}:${offset}`)
    .digest()
    .toString('hex')
    .repeat(Math.ceil(length / 64))
    .slice(0, length)
    .split('')
    .reduce((b, c, i) => ((b[i] = c.charCodeAt(0)), b), Buffer.alloc(length));
}

async function pair(direct: boolean) {
  patchWire();
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await new Promise<void>((r) => client.once('connect', r));
  const conn = await accepted;
  const sender = new Wire() as any;
  const receiver = new Wire() as any;
  sender.pipe(conn).pipe(sender);
  receiver.pipe(client).pipe(receiver);
  // Sizes of the chunks handed to the socket.
  const writes: number[] = [];
  const write = conn.write;
  conn.write = function (this: net.Socket, chunk: any, ...rest: any[]) {
    writes.push(chunk.length);
    return (write as any).call(this, chunk, ...rest);
  } as any;
  let directBytes = 0;
  if (direct) assert.ok(writeDirect(sender, conn, { onBytes: (n) => (directBytes += n), throttled: () => false }));
  const infoHash = crypto.randomBytes(20).toString('hex');
  receiver.on('handshake', () => receiver.handshake(infoHash, crypto.randomBytes(20)));
  const unchoked = new Promise<void>((r) => receiver.once('unchoke', r));
  sender.once('handshake', () => sender.unchoke());
  sender.handshake(infoHash, crypto.randomBytes(20));
  await unchoked;
  const close = () => {
    sender.destroy();
    receiver.destroy();
    client.destroy();
    conn.destroy();
    server.close();
  };
  return { sender, receiver, close, writes, directBytes: () => directBytes };
}

/** The receiver asks for `count` blocks; the sender answers each with `make(index, offset)`. */
async function fetchBlocks(
  p: Awaited<ReturnType<typeof pair>>,
  count: number,
  make: (index: number, offset: number) => Buffer,
): Promise<void> {
  p.sender.removeAllListeners('request');
  p.sender.on('request', (i: number, o: number, _l: number, respond: (e: null, b: Uint8Array) => void) =>
    // Answered on a later turn, as the store does.
    queueMicrotask(() => respond(null, make(i, o))),
  );
  await Promise.all(
    Array.from({ length: count }, (_, k) => {
      const index = k >> 2;
      const offset = (k & 3) * BLOCK;
      return new Promise<void>((resolve, reject) =>
        p.receiver.request(index, offset, BLOCK, (err: Error | null, buf: Uint8Array) => {
          if (err) return reject(err);
          try {
            assert.ok(Buffer.from(buf).equals(content(index, offset, BLOCK)), `block ${index}/${offset}`);
            resolve();
          } catch (e) {
            reject(e);
          }
        }),
      );
    }),
  );
}

test('pooled blocks go out as one frame each, arrive intact, and their frames are reused', async () => {
  const p = await pair(true);
  try {
    const given = new Set<Uint8Array>();
    let handed = 0;
    const pooled = (index: number, offset: number) => {
      const b = takeBlock(BLOCK);
      assert.ok(frameAround(b), 'a pooled block has a frame');
      b.set(content(index, offset, BLOCK));
      given.add(b);
      handed++;
      return b;
    };
    // Rounds one after the other: by the second, the first round's frames have been written and given back.
    for (let round = 0; round < 3; round++) await fetchBlocks(p, 64, pooled);
    assert.ok(p.directBytes() >= handed * (BLOCK + 13), 'blocks went straight to the socket');
    assert.equal(p.writes.filter((n) => n === BLOCK + 13).length, handed, 'one write per piece message');
    assert.equal(p.writes.filter((n) => n === 13).length, 0, 'no separate headers');
    assert.ok(given.size < handed, `frames were reused (${given.size} distinct for ${handed} blocks)`);
  } finally {
    p.close();
  }
});

test('on the stream pipeline, and for blocks not from the pool, pieces are sent as upstream sends them', async () => {
  const p = await pair(false);
  try {
    await fetchBlocks(p, 16, (i, o) => {
      const b = takeBlock(BLOCK);
      b.set(content(i, o, BLOCK));
      return b;
    });
    await fetchBlocks(p, 16, (i, o) => content(i, o, BLOCK));
    assert.equal(p.directBytes(), 0);
  } finally {
    p.close();
  }
  // Only frames are given back, never a bare block or a foreign buffer.
  assert.equal(isPooledFrame(takeBlock(BLOCK)), false);
  assert.equal(isPooledFrame(Buffer.alloc(BLOCK + 13)), false);
  assert.equal(frameAround(Buffer.alloc(BLOCK)), undefined);
});
