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
