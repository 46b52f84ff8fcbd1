// The fence around src/engine/announce-numbers.ts: the private members it patches must exist in the installed
// WebTorrent, torrent-discovery and bittorrent-tracker, at exactly the versions it was written against. If this
// fails after an upgrade, re-read those members and update the patch (or drop it if upstream fixed item 7).
import { describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import WebTorrent from 'webtorrent';
import {
  announceIntervalMs,
  announceNumbers,
  fixAnnounceNumbers,
  FENCED_VERSIONS,
  MAX_ANNOUNCE_INTERVAL_MS,
  MIN_ANNOUNCE_INTERVAL_MS,
} from '../../../src/engine/announce-numbers.js';
import { makeHybrid } from './helpers.js';

/** The version in node_modules/<pkg>/package.json (where the bundle and tests resolve it from). */
function installedVersion(pkg: string): string {
  const file = fileURLToPath(new URL(`../../../node_modules/${pkg}/package.json`, import.meta.url));
  return JSON.parse(readFileSync(file, 'utf8')).version;
}

describe('announce-numbers fence', () => {
  it('the installed versions are the ones the patch was written against', () => {
    for (const [pkg, version] of Object.entries(FENCED_VERSIONS)) assert.equal(installedVersion(pkg), version, pkg);
  });

  it('the patched members exist and are used as the patch expects', async () => {
    // (Loaded by name: these packages ship no type declarations, and only their prototypes matter here.)
    const load = (name: string): Promise<any> => import(name);
    const Discovery = (await load('torrent-discovery')).default;
    const TrackerClient = (await load('bittorrent-tracker')).default;
    const discovery = Discovery.prototype;
    assert.equal(typeof discovery._createTracker, 'function', 'Discovery#_createTracker');
    assert.equal(typeof discovery.complete, 'function', 'Discovery#complete');
    const client = TrackerClient.prototype;
    assert.match(
      String(client._defaultAnnounceOpts),
      /this\._getAnnounceOpts/,
      'Client#_defaultAnnounceOpts reads _getAnnounceOpts',
    );
    assert.match(String(client.complete), /_defaultAnnounceOpts/, 'Client#complete');
  });

  it('a real WebTorrent torrent takes the patch, and its discovery and tracker client are patched', async () => {
    const h = await makeHybrid('fence');
    const client = new (WebTorrent as any)({
      dht: false,
      lsd: false,
      utp: false, // a bare client: our uTP is put into WebTorrent's slot by the Engine, not here
      utPex: false,
      natUpnp: false,
      natPmp: false,
      torrentPort: 0,
    });
    try {
      const torrent = client.add(Buffer.from(h.torrent), {
        path: path.dirname(h.dir),
        announce: ['http://127.0.0.1:9/announce'],
      });
      assert.equal(typeof torrent._startDiscovery, 'function', 'Torrent#_startDiscovery');
      assert.equal(fixAnnounceNumbers(torrent), true);
      await new Promise<void>((resolve) => {
        const check = () => (torrent.discovery?.tracker ? resolve() : setTimeout(check, 20));
        check();
      });
      assert.equal(torrent.discovery.__silmarilNumbers, true, 'discovery patched');
      assert.equal(torrent.discovery.tracker.__silmarilNumbers, true, 'tracker client patched');
      const n = torrent.discovery.tracker._getAnnounceOpts();
      assert.equal(n.downloaded, 0, 'nothing received yet');
      assert.equal(typeof n.uploaded, 'number');
    } finally {
      await new Promise<void>((r) => client.destroy(() => r()));
    }
  });

  it('after destroy, the last numbers are reported (the stopped announce)', () => {
    const last = { uploaded: 5, downloaded: 7, left: 0 };
    assert.deepEqual(announceNumbers({ destroyed: true }, last), last);
    assert.deepEqual(
      announceNumbers({ length: 100, downloaded: 40, received: 50, uploaded: 1, pieces: [1], done: false }, last),
      {
        uploaded: 1,
        downloaded: 50,
        left: 60,
      },
    );
    assert.equal(announceNumbers({ pieces: [] }, last).left, undefined, 'size unknown (magnet): no left');
  });
});

test("a tracker's re-announce interval is kept within [10 s, 1 day]; 0 (re-announcing off) is left alone", () => {
  assert.equal(announceIntervalMs(1000), MIN_ANNOUNCE_INTERVAL_MS);
  assert.equal(announceIntervalMs(1800_000), 1800_000);
  // Too large for a 32-bit timer: Node would fire it after 1 ms, an announce flood.
  assert.equal(announceIntervalMs(99_999_999_999_000), MAX_ANNOUNCE_INTERVAL_MS);
  assert.equal(announceIntervalMs(Number.NaN), MAX_ANNOUNCE_INTERVAL_MS);
  assert.equal(announceIntervalMs(0), 0);
  assert.ok(MAX_ANNOUNCE_INTERVAL_MS < 2 ** 31, 'fits a Node timer');
});
