// The patched Wire reader hands every message over intact whatever the socket chunking: blocks that arrive split
// over many small chunks or packed several to a chunk are the bytes that were sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import Wire from 'bittorrent-protocol';
import { patchWire } from '../../../src/engine/wire-patch.js';

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
  const { PATCHED_WIRE_MEMBERS, PATCHED_UT_METADATA_MEMBERS } = await import('../../../src/engine/wire-patch.js');
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

test('the pinned versions are the ones installed', async () => {
  const { readFile } = await import('node:fs/promises');
  const pkg = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8'));
  for (const name of ['webtorrent', 'bittorrent-protocol', 'ut_metadata']) {
    const spec: string = pkg.dependencies[name];
    assert.match(spec, /^\d+\.\d+\.\d+$/, `${name} is pinned exactly`);
    const installed = JSON.parse(
      await readFile(new URL(`../../../node_modules/${name}/package.json`, import.meta.url), 'utf8'),
    ).version;
    assert.equal(installed, spec, name);
  }
  // webtorrent must use this very bittorrent-protocol and ut_metadata (one copy each, the one patched).
  const { existsSync } = await import('node:fs');
  for (const name of ['bittorrent-protocol', 'ut_metadata']) {
    const nested = new URL(`../../../node_modules/webtorrent/node_modules/${name}`, import.meta.url);
    assert.equal(existsSync(nested), false, `webtorrent has its own ${name}`);
  }
});

test("a handler that throws on a peer's bytes drops that peer and is counted, nothing escapes", async () => {
  const { wireFaults } = await import('../../../src/engine/wire-patch.js');
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
