// Registering a torrent with a tracker: Silmaril's own registry, keys, and plain trackers (announce only).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Tracker } from '../../../src/tracker/tracker.js';
import { parseTorrent } from '../../../src/torrent/parse.js';
import { registerTorrent, registryBase, RegistryClientError } from '../../../src/tracker/registry-client.js';
import { getJson, makeHybrid } from './helpers.js';

async function plainServer(status: number, body: string): Promise<{ server: Server; url: string }> {
  const server = createServer((_req, res) => {
    res.writeHead(status, { 'Content-Type': 'text/html' });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/announce` };
}

describe('registration client', () => {
  it('derives the registry base from an announce URL', () => {
    assert.equal(registryBase('http://h:8080/announce'), 'http://h:8080');
    assert.equal(registryBase('http://h:8080/announce/alice.abcd'), 'http://h:8080');
    assert.equal(registryBase('https://h/tracker/announce?x=1'), 'https://h/tracker');
    assert.equal(registryBase('http://h:8080'), 'http://h:8080');
    assert.equal(registryBase('http://h:8080/'), 'http://h:8080');
    assert.equal(registryBase('udp://h:6969/announce'), undefined);
    assert.equal(registryBase('not a url'), undefined);
  });

  it('registers a parsed torrent with its metadata; the key comes from the option or the environment', async () => {
    const t = new Tracker({ port: 0, rateLimit: false, registryKey: 'k1' });
    const { announce, url } = await t.start();
    try {
      const h = await makeHybrid('client');
      const parsed = parseTorrent(h.torrent);
      const meta = { description: 'd', publisher: 'p', license: 'Apache-2.0', category: 'models', tags: ['a', 'b'] };
      await assert.rejects(registerTorrent(announce, parsed, meta, { env: {} }), (err: unknown) => {
        assert.ok(err instanceof RegistryClientError);
        assert.equal(err.status, 401);
        assert.match(err.message, /--api-key/);
        return true;
      });
      assert.deepEqual(await registerTorrent(announce, parsed, meta, { apiKey: 'k1' }), {
        status: 'registered',
        registry: url,
      });
      const entry = await getJson(`${url}/api/registry?info_hash=${h.v2}`);
      assert.equal(entry.v1_info_hash, h.v1);
      assert.equal(entry.verified, true);
      assert.equal(entry.tags, 'a,b');
      assert.equal(entry.license, 'Apache-2.0');
      assert.equal(entry.size, h.length);
      const again = await registerTorrent(
        announce,
        parsed,
        { publisher: 'q' },
        { env: { SILMARIL_REGISTRY_KEY: 'k1' } },
      );
      assert.equal(again.status, 'registered');
      assert.equal((await getJson(`${url}/api/registry?info_hash=${h.v1}`)).publisher, 'q');
    } finally {
      await t.stop();
    }
  });

  it('a plain tracker (404, or 400 to everything like opentracker) is announce-only, not an error', async () => {
    const h = await makeHybrid('plain');
    const parsed = parseTorrent(h.torrent);
    for (const [status, body] of [
      [404, 'not found'],
      [400, '<title>Invalid Request</title>'],
      [200, 'd14:failure reason5:nopeee'],
    ] as const) {
      const { server, url } = await plainServer(status, body);
      try {
        const out = await registerTorrent(url, parsed, {}, { env: {} });
        assert.equal(out.status, 'announce-only', `HTTP ${status}`);
      } finally {
        server.close();
      }
    }
    assert.equal((await registerTorrent('udp://127.0.0.1:1/announce', parsed)).status, 'announce-only');
  });

  it('an unreachable tracker is an error that says so', async () => {
    const { server, url } = await plainServer(404, '');
    server.close();
    await new Promise((r) => server.once('close', r));
    const h = await makeHybrid('gone');
    await assert.rejects(registerTorrent(url, parseTorrent(h.torrent)), /cannot reach the registry/);
  });
});
