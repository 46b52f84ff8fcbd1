// The patched Wire reader hands every message over intact whatever the socket chunking: blocks that arrive split
// over many small chunks or packed several to a chunk are the bytes that were sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import Wire from 'bittorrent-protocol';
import { patchWire } from '../../../../src/engine/internals.js';
import { assertPinned } from './pinned.js';

test('messages split and packed across chunks arrive byte for byte', async () => {
  patchWire();
  const sender = new Wire();
  const receiver = new Wire();
  // Re-chunk the sender's bytes: odd small pieces, then a few large merged ones.
  const infoHash = crypto.randomBytes(20).toString('hex');
  const blocks = Array.from({ length: 6 }, () => crypto.randomBytes(16384 + 13));
  const got: Buffer[] = [];
  receiver.on('handshake', () => receiver.handshake(infoHash, crypto.randomBytes(20)));
  receiver.on('piece', () => {});
  receiver.on('request', () => {});
  const done = new Promise<void>((resolve) => {
    // Pieces only arrive for requests made: make the receiver request each block first.
    receiver.on('unchoke', () => {
      blocks.forEach((b, i) =>
        receiver.request(i, 0, b.length, (err: Error | null, buf: Uint8Array) => {
          assert.equal(err, null);
          got[i] = Buffer.from(buf);
          if (got.filter(Boolean).length === blocks.length) resolve();
        }),
      );
    });
  });
  sender.on('request', (i: number, _o: number, _l: number, respond: (e: null, b: Uint8Array) => void) =>
    respond(null, blocks[i]),
  );
  sender.handshake(infoHash, crypto.randomBytes(20));
  receiver.pipe(sender);
  const feed = (bytes: Uint8Array) => {
    let at = 0;
    let step = 7;
    while (at < bytes.length) {
      receiver.write(bytes.subarray(at, at + step));
      at += step;
      step = step === 7 ? 40_000 : 7;
    }
  };
  // Batch what the sender wrote in one turn, then feed it re-chunked (several messages per large chunk).
  let pending: Uint8Array[] = [];
  sender.on('data', (d: Uint8Array) => {
    if (pending.length === 0) {
      setImmediate(() => {
        const all = Buffer.concat(pending);
        pending = [];
        feed(all);
      });
    }
    pending.push(d);
  });
  sender.unchoke();
  await done;
  blocks.forEach((b, i) => assert.ok(got[i].equals(b), `block ${i}`));
  sender.destroy();
  receiver.destroy();
});

// The fence touches bittorrent-protocol's and ut_metadata's internals against the exact versions pinned in
// package.json: when an upgrade renames or removes one of them, this fails (and patchWire refuses to run).
test('every member the fence patches or reads still exists', async () => {
  const { PATCHED_WIRE_MEMBERS, PATCHED_UT_METADATA_MEMBERS } = await import('../../../../src/engine/internals.js');
  const proto = Wire.prototype as any;
  for (const m of PATCHED_WIRE_MEMBERS) assert.equal(typeof proto[m], 'function', `Wire#${m}`);
  const wire = new Wire() as any;
  for (const m of ['_buffer', '_bufferSize', '_parserSize', 'peerRequests', 'peerExtendedMapping', '_ext']) {
    assert.ok(m in wire, `Wire instance field ${m}`);
  }
  assert.ok(wire._readableState && 'buffered' in wire._readableState, 'streamx readable state counts buffered bytes');
  const utMetadata = (await import('ut_metadata')).default;
  const Ext = utMetadata(undefined);
  wire.use(Ext);
  for (const m of PATCHED_UT_METADATA_MEMBERS) assert.ok(m in wire.ut_metadata, `ut_metadata#${m}`);
  // The guard fills in the infohash upstream's hash check reads (set by onHandshake when it sees one).
  wire.ut_metadata.onHandshake('ab'.repeat(20), 'cd'.repeat(20), {});
  assert.equal(wire.ut_metadata._infoHash, 'ab'.repeat(20), 'ut_metadata#_infoHash');
  wire.destroy();
});

test('the Wire, encryptor and socket members the rest of the engine reaches through the fence still exist', async () => {
  const { PATCHED_MEMBERS, PATCHED_OTHER_MEMBERS, PINNED, encryptorPrototype, setWriteHighWaterMark } =
    await import('../../../../src/engine/internals.js');
  assertPinned(PINNED);
  for (const m of PATCHED_OTHER_MEMBERS)
    assert.ok((PATCHED_MEMBERS['bittorrent-protocol'] as readonly string[]).includes(m), m);
  assert.equal(typeof (Wire.prototype as any)._message, 'function', 'Wire#_message (sendRawMessage)');
  const proto = encryptorPrototype();
  assert.ok(proto, 'Wire#_encryptor (MessageStreamEncryptor)');
  assert.equal(typeof Object.getOwnPropertyDescriptor(proto, 'dh')?.get, 'function', 'MessageStreamEncryptor#dh');
  assert.equal(typeof proto.extractInfoHashFromXor, 'function', 'MessageStreamEncryptor#extractInfoHashFromXor');
  const { Socket } = await import('node:net');
  const sock = new Socket() as any;
  assert.ok(sock._writableState, 'net.Socket#_writableState');
  setWriteHighWaterMark(sock, 1 << 20);
  assert.equal(sock.writableHighWaterMark, 1 << 20, 'the write high-water mark took');
  sock.destroy();
});

test('the pinned versions are the ones installed', async () => {
  const { readFile } = await import('node:fs/promises');
  const pkg = JSON.parse(await readFile(new URL('../../../../package.json', import.meta.url), 'utf8'));
  for (const name of ['webtorrent', 'bittorrent-protocol', 'ut_metadata']) {
    const spec: string = pkg.dependencies[name];
    assert.match(spec, /^\d+\.\d+\.\d+$/, `${name} is pinned exactly`);
    const installed = JSON.parse(
      await readFile(new URL(`../../../../node_modules/${name}/package.json`, import.meta.url), 'utf8'),
    ).version;
    assert.equal(installed, spec, name);
  }
  // webtorrent must use this very bittorrent-protocol and ut_metadata (one copy each, the one patched).
  const { existsSync } = await import('node:fs');
  for (const name of ['bittorrent-protocol', 'ut_metadata']) {
    const nested = new URL(`../../../../node_modules/webtorrent/node_modules/${name}`, import.meta.url);
    assert.equal(existsSync(nested), false, `webtorrent has its own ${name}`);
  }
});

test("a handler that throws on a peer's bytes drops that peer and is counted, nothing escapes", async () => {
  const { wireFaults } = await import('../../../../src/engine/internals.js');
  patchWire();
  const wire = new Wire() as any;
  const before = wireFaults.count;
  wire.on('interested', () => {
    throw new Error('boom');
  });
  const closed = new Promise<void>((resolve) => wire.on('close', () => resolve()));
  wire.write(Buffer.concat([Buffer.from('\x13BitTorrent protocol', 'latin1'), Buffer.alloc(48)]));
  wire.write(Buffer.from([0, 0, 0, 1, 2])); // interested
  await closed;
  assert.equal(wireFaults.count, before + 1);
  assert.match(wireFaults.last, /boom/);
});

// Direct socket I/O (readDirect / writeDirect) relies on members of Node's net.Socket (its onread slots, the
// handle's useUserBuffer and bytesRead); when a Node release drops one, this fails, and the engine keeps
// WebTorrent's stream pipeline.
test("this Node's sockets can be read directly", async () => {
  const { directReadBlocker } = await import('../../../../src/engine/internals.js');
  const net = await import('node:net');
  const server = net.createServer((s) => s.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const sock = net.connect((server.address() as import('node:net').AddressInfo).port, '127.0.0.1');
  await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
  assert.equal(directReadBlocker(sock), undefined);
  sock.destroy();
  server.close();
});

// Two wires over real loopback TCP, wired as WebTorrent does (socket piped into the wire and back); once both
// handshakes are through, both sockets switch to direct reads and writes. Blocks larger than a socket read, sent
// back to back, must arrive byte for byte, carried by the direct path, and bytes read before the switch must not
// be overtaken by bytes read after it.
test('blocks cross a direct-read, direct-write loopback socket byte for byte', async () => {
  const { readDirect, writeDirect, directBytes } = await import('../../../../src/engine/internals.js');
  const net = await import('node:net');
  patchWire();
  const infoHash = crypto.randomBytes(20).toString('hex');
  const blocks = Array.from({ length: 200 }, (_, i) => crypto.randomBytes(16384 + (i % 3) * 7));
  const counts = { down: 0, up: 0 };
  const direct = (wire: any, conn: any) => {
    readDirect(wire, conn, { onBytes: (n) => (counts.down += n), throttled: () => false });
    writeDirect(wire, conn, { onBytes: (n) => (counts.up += n), throttled: () => false });
  };
  const sender = new Wire() as any;
  const accepted = new Promise<import('node:net').Socket>((resolve) => {
    const server = net.createServer((s) => {
      server.close();
      resolve(s);
    });
    server.listen(0, '127.0.0.1', () => {
      const client = net.connect((server.address() as import('node:net').AddressInfo).port, '127.0.0.1');
      client.once('connect', () => clientReady(client));
    });
  });
  const receiver = new Wire() as any;
  let clientSock!: import('node:net').Socket;
  const clientReady = (c: import('node:net').Socket) => {
    clientSock = c;
    c.pipe(receiver).pipe(c);
    receiver.handshake(infoHash, crypto.randomBytes(20));
  };
  const serverSock = await accepted;
  serverSock.pipe(sender).pipe(serverSock);
  sender.on('handshake', () => {
    sender.handshake(infoHash, crypto.randomBytes(20));
    direct(sender, serverSock);
    sender.unchoke();
  });
  sender.on('request', (i: number, _o: number, _l: number, respond: (e: null, b: Uint8Array) => void) =>
    respond(null, blocks[i]),
  );
  const got: Buffer[] = [];
  await new Promise<void>((resolve) => {
    receiver.on('handshake', () => direct(receiver, clientSock));
    receiver.on('unchoke', () => {
      blocks.forEach((b, i) =>
        receiver.request(i, 0, b.length, (err: Error | null, buf: Uint8Array) => {
          assert.equal(err, null);
          got[i] = Buffer.from(buf); // a view of the shared read buffer: copied now, as request.ts does
          if (got.filter(Boolean).length === blocks.length) resolve();
        }),
      );
    });
  });
  blocks.forEach((b, i) => assert.ok(got[i].equals(b), `block ${i}`));
  const total = blocks.reduce((n, b) => n + b.length, 0);
  assert.ok(directBytes(receiver).in >= total, `received directly: ${directBytes(receiver).in} of ${total}`);
  assert.ok(directBytes(sender).out >= total, `sent directly: ${directBytes(sender).out} of ${total}`);
  assert.ok(counts.down >= total && counts.up >= total, 'direct bytes are counted for the peer');
  sender.destroy();
  receiver.destroy();
  serverSock.destroy();
  clientSock.destroy();
});
