// src/shared/http-fetch.ts: the fetch WebTorrent's tracker client, .torrent URLs and web seeds use. Against a real
// HTTP server on loopback: what those callers read (status, ok, the body), redirects, abort, a body too large, and
// requests it leaves to the global fetch.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { httpFetch, ResponseHeaders } from '../../../src/shared/http-fetch.js';

const seen: { method?: string; url?: string; ua?: string }[] = [];
const server = http.createServer((req, res) => {
  seen.push({ method: req.method, url: req.url, ua: req.headers['user-agent'] });
  if (req.url?.startsWith('/announce')) return void res.end('d8:intervali1800e5:peers0:e');
  if (req.url === '/headers') {
    return void res.writeHead(200, { 'Content-Type': 'text/plain', 'set-cookie': ['a=1', 'b=2'] }).end('h');
  }
  if (req.url === '/moved') return void res.writeHead(302, { location: '/announce?via=redirect' }).end('moved');
  if (req.url === '/loop') return void res.writeHead(301, { location: '/loop' }).end();
  if (req.url === '/missing') return void res.writeHead(404).end('no such torrent');
  if (req.url === '/slow') return void setTimeout(() => res.end('late'), 5000).unref();
  if (req.url === '/cut') {
    res.writeHead(200, { 'content-length': '1000' });
    res.write('partial');
    return void setTimeout(() => res.socket?.destroy(), 50);
  }
  if (req.method === 'POST') return void res.end('posted');
  res.writeHead(500).end();
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
after(() => server.close());

test('a tracker announce: status, ok, the body bytes and the user-agent header sent', async () => {
  const res = await httpFetch(`${base}/announce?info_hash=x`, { headers: { 'user-agent': 'Silmaril/test' } });
  assert.equal(res.status, 200);
  assert.equal(res.ok, true);
  assert.equal(Buffer.from(await res.arrayBuffer()).toString(), 'd8:intervali1800e5:peers0:e');
  assert.equal(seen.at(-1)?.ua, 'Silmaril/test');
});

test("response headers: get, has and iteration, case-insensitive, without loading Node's bundled undici", async () => {
  const res = await httpFetch(`${base}/headers`);
  assert.equal(res.headers.get('content-type'), 'text/plain');
  assert.equal(res.headers.get('Content-Type'), 'text/plain');
  assert.equal(res.headers.has('x-none'), false);
  assert.equal(res.headers.get('x-none'), null);
  assert.equal(res.headers.get('set-cookie'), 'a=1, b=2');
  assert.ok([...(res.headers as ResponseHeaders)].some(([k, v]) => k === 'content-type' && v === 'text/plain'));
  // The global Headers would load undici (~20 ms of CPU in every process, before its first announce). This file's
  // later test (a POST) does load it, through the global fetch: this one runs first.
  const loaded = (process as unknown as { moduleLoadList: string[] }).moduleLoadList;
  assert.ok(!loaded.some((m) => m.includes('undici')), 'undici was loaded');
});

test('a redirect is followed to its target; a redirect loop is an error, not a hang', async () => {
  const res = await httpFetch(`${base}/moved`);
  assert.equal(res.status, 200);
  assert.equal(res.redirected, true);
  assert.equal(seen.at(-1)?.url, '/announce?via=redirect');
  await assert.rejects(httpFetch(`${base}/loop`), /redirects/);
});

test('a 404 is a response with ok false and its body, as fetch gives it', async () => {
  const res = await httpFetch(`${base}/missing`);
  assert.equal(res.status, 404);
  assert.equal(res.ok, false);
  assert.equal(await res.text(), 'no such torrent');
});

test('the signal aborts a request in flight with the signal reason', async () => {
  const started = Date.now();
  await assert.rejects(httpFetch(`${base}/slow`, { signal: AbortSignal.timeout(100) }), { name: 'TimeoutError' });
  assert.ok(Date.now() - started < 4000, 'did not wait for the server');
  const c = new AbortController();
  c.abort();
  await assert.rejects(httpFetch(`${base}/announce`, { signal: c.signal }), { name: 'AbortError' });
});

test('a body cut short rejects the fetch itself (callers catch that; a failing arrayBuffer() crashed them)', async () => {
  await assert.rejects(httpFetch(`${base}/cut`), /cut short|aborted/);
});

test('a refused connection rejects like fetch (TypeError)', async () => {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  await assert.rejects(httpFetch(`http://127.0.0.1:${port}/announce`), TypeError);
});

test('what it does not handle (a POST with a body) goes to the global fetch unchanged', async () => {
  const res = await httpFetch(`${base}/post`, { method: 'POST', body: 'x' });
  assert.equal(await res.text(), 'posted');
  assert.equal(seen.at(-1)?.method, 'POST');
});

test("WebTorrent's parts get this fetch: cross-fetch-ponyfill resolves to it (build/aliases.mjs)", async () => {
  const mod = (await import('cross-fetch-ponyfill' as string)) as { default: (...a: unknown[]) => unknown };
  assert.equal(mod.default.name, 'httpFetch');
});
