// The fence around WebTorrent's scheduling internals (src/engine/scheduler.ts, request.ts): the exact version they
// were written against, every member they replace or call, and the upstream behaviour they work around. Any of
// these failing after an upgrade means the scheduler must be re-read against the new WebTorrent first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import Wire from 'bittorrent-protocol';
import Torrent from 'webtorrent/lib/torrent.js';
import { PATCHED_TORRENT_MEMBERS } from '../../../../src/engine/internals/webtorrent.js';

const root = new URL('../../../../', import.meta.url);

test('webtorrent is pinned to the exact version the scheduler was written against', () => {
  const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));
  assert.equal(pkg.dependencies.webtorrent, '3.0.21');
  const installed = JSON.parse(readFileSync(new URL('node_modules/webtorrent/package.json', root), 'utf8'));
  assert.equal(installed.version, '3.0.21');
});

test('every Torrent member the scheduler replaces or calls still exists', () => {
  for (const name of PATCHED_TORRENT_MEMBERS) {
    assert.equal(typeof (Torrent.prototype as any)[name], 'function', `Torrent#${name}`);
  }
  for (const name of ['_markVerified', '_updateInterest', '_hotswap', '_checkDone']) {
    assert.equal(typeof (Torrent.prototype as any)[name], 'function', `Torrent#${name}`);
  }
});

test('the upstream behaviour worked around is still there', () => {
  const src = (Torrent.prototype as any)._onWireWithMetadata.toString();
  // Unchokes every interested peer at once: the scheduler leaves this one listener out.
  assert.match(src, /wire\.once\('interested', \(\) => \{\s*wire\.unchoke\(\)/);
  // Marks a peer a seed before its bitfield and never back: the scheduler overrides wire.isSeeder.
  assert.match(src, /wire\.isSeeder = true/);
  // Sends have-all / bitfield through these wire methods: super-seeding swaps them for the call.
  assert.match(src, /wire\.haveAll\(\)/);
  assert.match(src, /wire\.bitfield\(this\.bitfield\)/);
  // Builds a RarityMap with the metadata (the scheduler destroys it and leaves a stub), used only by upstream's picking.
  assert.match((Torrent.prototype as any)._onMetadata.toString(), /this\._rarityMap = new RarityMap\(this\)/);
  // Announces each verified piece as 'verified' (the scheduler's hook for its own bookkeeping).
  assert.match((Torrent.prototype as any)._markVerified.toString(), /emit\('verified', index\)/);
});

test('the Wire members the scheduler uses still exist', () => {
  for (const name of ['request', 'cancel', 'have', 'haveNone', 'bitfield', 'choke', 'unchoke', 'interested']) {
    assert.equal(typeof (Wire.prototype as any)[name], 'function', `Wire#${name}`);
  }
  const w = new Wire();
  assert.ok(Array.isArray(w.requests), 'Wire#requests');
  assert.equal(typeof w.peerPieces.get, 'function', 'Wire#peerPieces');
  assert.equal(typeof w.downloadSpeed, 'function', 'Wire#downloadSpeed');
  assert.equal(w.uploaded, 0, 'Wire#uploaded');
  w.destroy();
});
