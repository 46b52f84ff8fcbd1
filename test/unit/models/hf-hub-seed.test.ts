// HubSeed's HTTP behaviour against a loopback server: back-off on 429 and 5xx (Retry-After honoured), giving up after
// its attempts with the last answer, a 200 without range support cut to the range, a short answer refused, and the
// token sent to the Hub's origin only (a redirect to another port is another origin).
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { HubSeed } from '../../../src/engine/hub-seed.js';

const COMMIT = 'c'.repeat(40);
const BODY = Buffer.from('0123456789abcdefghij');
let hub: Server;
let other: Server;
let hubUrl = '';
let otherUrl = '';
const seen: { url: string; auth?: string }[] = [];
const script = new Map<string, number[]>(); // path -> statuses to answer first

function handler(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) {
  const url = req.url ?? '';
  seen.push({ url, auth: req.headers.authorization });
  const queue = script.get(url);
  const status = queue?.shift();
  if (status) {
    res.writeHead(status, status === 429 ? { 'retry-after': '0' } : {});
    return res.end();
  }
  if (url.endsWith('/redirected.bin')) {
    res.writeHead(307, { location: `${otherUrl}/blob` });
    return res.end();
  }
  if (url.endsWith('/norange.bin')) return res.end(BODY);
  if (url.endsWith('/short.bin')) {
    res.writeHead(206);
    return res.end(BODY.subarray(0, 2));
  }
  const m = /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? '')!;
  res.writeHead(206);
  res.end(BODY.subarray(Number(m[1]), Number(m[2]) + 1));
}

before(async () => {
  hub = createServer(handler);
  other = createServer(handler);
  await new Promise<void>((r) => hub.listen(0, '127.0.0.1', r));
  await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
  hubUrl = `http://127.0.0.1:${(hub.address() as AddressInfo).port}`;
  otherUrl = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
});
after(async () => {
  for (const s of [hub, other]) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
});

const seed = (attempts = 4) =>
  new HubSeed({ repo: 'org/x', commit: COMMIT, endpoint: hubUrl, token: 'tok', attempts, backoffMs: 1 });
const path = (name: string) => `/org/x/resolve/${COMMIT}/${name}`;

test('429 and 5xx are retried with back-off, then the range comes', async () => {
  script.set(path('a.bin'), [429, 503, 500]);
  const s = seed();
  assert.deepEqual(Buffer.from(await s.fetchRange(['a.bin'], 2, 5)), BODY.subarray(2, 6));
  assert.equal(s.retries, 3);
  assert.equal(s.bytes, 4);
});

test('after its attempts the last answer is the error; 4xx other than 429 are not retried', async () => {
  script.set(path('b.bin'), [502, 502]);
  const s = seed(2);
  await assert.rejects(s.fetchRange(['b.bin'], 0, 1), /answered 502/);
  script.set(path('c.bin'), [403]);
  await assert.rejects(seed().fetchRange(['c.bin'], 0, 1), /refused HF_TOKEN \(403\)/);
});

test('a 200 without ranges is cut to the range; a short answer is refused', async () => {
  assert.deepEqual(Buffer.from(await seed().fetchRange(['norange.bin'], 5, 9)), BODY.subarray(5, 10));
  await assert.rejects(seed(1).fetchRange(['short.bin'], 0, 9), /sent 2 bytes for a 10-byte range/);
});

test('the token goes to the Hub only, not to the host a redirect names; paths are URL-encoded', async () => {
  seen.length = 0;
  await seed().fetchRange(['redirected.bin'], 0, 3);
  assert.equal(seen[0].auth, 'Bearer tok');
  assert.equal(seen[1].url, '/blob');
  assert.equal(seen[1].auth, undefined);
  assert.equal(seed().fileUrl(['sub dir', 'a#b?.json']), `${hubUrl}/org/x/resolve/${COMMIT}/sub%20dir/a%23b%3F.json`);
});

test('a redirect target is reused for the next ranges, and resolved again once it fails', async () => {
  const s = seed();
  seen.length = 0;
  await s.fetchRange(['redirected.bin'], 0, 3);
  await s.fetchRange(['redirected.bin'], 4, 7);
  assert.deepEqual(
    seen.map((r) => r.url),
    [path('redirected.bin'), '/blob', '/blob'],
  );
  script.set('/blob', [404]); // the CDN URL expired
  seen.length = 0;
  assert.deepEqual(Buffer.from(await s.fetchRange(['redirected.bin'], 8, 9)), BODY.subarray(8, 10));
  assert.deepEqual(
    seen.map((r) => r.url),
    ['/blob', path('redirected.bin'), '/blob'],
  );
});
