// The loopback tracker against a web page (issue 13, case 10): a page the user opens must not write to the
// registry (a text/plain form POST needs no preflight; a DELETE blocks a hash for good), directly or by DNS
// rebinding (the page's own domain resolving to 127.0.0.1). BitTorrent clients and the CLI keep working.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { Tracker } from '../../../src/tracker/tracker.js';
import { announceUrl, getBencoded, makeHybrid, post, registration, text, type Hybrid } from './helpers.js';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP request with exactly these headers (fetch would not let a test set Host). */
function raw(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('loopback tracker: Host and Origin', () => {
  let tracker: Tracker;
  let port: number;
  let base: string;
  let h: Hybrid;
  let other: Hybrid;

  before(async () => {
    h = await makeHybrid('guard');
    other = await makeHybrid('guard-other');
    tracker = new Tracker({ port: 0, rateLimit: false });
    const addr = await tracker.start();
    port = addr.port;
    base = addr.url;
    assert.equal((await post(base, registration(h))).status, 201, 'the CLI/extension still registers');
  });
  after(() => tracker.stop());

  const registered = async (hex: string) => (await fetch(`${base}/api/registry?info_hash=${hex}`)).status === 200;

  it('a browser form POST (text/plain, no preflight) is refused and nothing is stored', async () => {
    const body = JSON.stringify(registration(other, { description: '<img src=x onerror=alert(1)>' }));
    const r = await raw(
      port,
      'POST',
      '/api/registry',
      {
        Host: `127.0.0.1:${port}`,
        'Content-Type': 'text/plain',
        Origin: 'http://evil.example',
        'Sec-Fetch-Site': 'cross-site',
      },
      body,
    );
    assert.equal(r.status, 403);
    // Even without Origin (an old browser, a plugin), a write must be declared JSON.
    const plain = await raw(
      port,
      'POST',
      '/api/registry',
      { Host: `127.0.0.1:${port}`, 'Content-Type': 'text/plain' },
      body,
    );
    assert.equal(plain.status, 415);
    assert.equal(await registered(other.v2), false);
  });

  it('a cross-site DELETE (a takedown) is refused; the hash stays registered and unblocked', async () => {
    for (const headers of [
      { Origin: 'http://evil.example' } as Record<string, string>,
      { Origin: `http://127.0.0.1:${port + 1}` },
      { Origin: 'null' },
      { 'Sec-Fetch-Site': 'cross-site' },
      { 'Sec-Fetch-Site': 'same-site' },
    ]) {
      const r = await raw(port, 'DELETE', `/api/registry?info_hash=${h.v2}&reason=x`, {
        Host: `127.0.0.1:${port}`,
        ...headers,
      });
      assert.equal(r.status, 403, JSON.stringify(headers));
    }
    assert.equal(await registered(h.v2), true);
  });

  it('DNS rebinding: a request naming a foreign Host is refused, reads and writes alike', async () => {
    for (const [method, path] of [
      ['GET', '/api/registry/search'],
      ['GET', `/api/registry?info_hash=${h.v2}`],
      ['DELETE', `/api/registry?info_hash=${h.v2}`],
      ['POST', '/api/registry'],
    ] as const) {
      const r = await raw(
        port,
        method,
        path,
        { Host: `attacker.example:${port}`, 'Content-Type': 'application/json' },
        method === 'POST' ? '{}' : undefined,
      );
      assert.equal(r.status, 421, `${method} ${path}`);
    }
    assert.equal(await registered(h.v2), true);
  });

  it('loopback names, same-origin writes and BitTorrent clients are served', async () => {
    for (const host of [
      `127.0.0.1:${port}`,
      `localhost:${port}`,
      `[::1]:${port}`,
      `a.localhost:${port}`,
      '127.0.0.1',
    ]) {
      const r = await raw(port, 'GET', '/api/registry/search', { Host: host });
      assert.equal(r.status, 200, host);
    }
    const same = await raw(
      port,
      'POST',
      '/api/registry',
      {
        Host: `localhost:${port}`,
        Origin: `http://localhost:${port}`,
        'Content-Type': 'application/json; charset=utf-8',
      },
      JSON.stringify(registration(other)),
    );
    assert.equal(same.status, 201, same.body);
    const a = await getBencoded(announceUrl(base, { hash: h.v1, peer: 1, port: 6301, left: 0 }));
    assert.equal(text(a['failure reason']), undefined);
  });

  it('descriptions are stored as plain text and served inert', async () => {
    const third = await makeHybrid('guard-third');
    const desc = 'fine model \x1b[2J\x07<img src=x onerror=alert(1)>\nline two\x00';
    assert.equal((await post(base, registration(third, { description: desc }))).status, 201);
    const r = await raw(port, 'GET', `/api/registry?info_hash=${third.v2}`, { Host: `127.0.0.1:${port}` });
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
    assert.match(String(r.headers['content-security-policy']), /default-src 'none'; sandbox/);
    assert.equal(JSON.parse(r.body).description, 'fine model [2J<img src=x onerror=alert(1)>\nline two');
  });
});

describe('tracker beyond loopback with a public host name', () => {
  it('serves its configured name and refuses others', async () => {
    const tracker = new Tracker({ port: 0, rateLimit: false, publicHosts: ['tracker.example.org'] });
    const { port } = await tracker.start();
    try {
      assert.equal((await raw(port, 'GET', '/', { Host: `tracker.example.org:${port}` })).status, 200);
      assert.equal((await raw(port, 'GET', '/', { Host: 'tracker.example.org' })).status, 200);
      assert.equal((await raw(port, 'GET', '/', { Host: 'rebind.example.net' })).status, 421);
    } finally {
      await tracker.stop();
    }
  });
});

describe('tracker with a registry key', () => {
  it('takes a keyed write of any content type (Weightless clients), never a cross-site one', async () => {
    const h = await makeHybrid('guard-keyed');
    const tracker = new Tracker({ port: 0, rateLimit: false, registryKey: 'k3y' });
    const { port } = await tracker.start();
    try {
      const body = JSON.stringify(registration(h));
      const host = `127.0.0.1:${port}`;
      const cross = await raw(
        port,
        'POST',
        '/api/registry',
        { Host: host, 'X-Weightless-Key': 'k3y', Origin: 'http://evil.example', 'Content-Type': 'application/json' },
        body,
      );
      assert.equal(cross.status, 403);
      const keyed = await raw(
        port,
        'POST',
        '/api/registry',
        { Host: host, 'X-Weightless-Key': 'k3y', 'Content-Type': 'text/plain' },
        body,
      );
      assert.equal(keyed.status, 201, keyed.body);
    } finally {
      await tracker.stop();
    }
  });
});
