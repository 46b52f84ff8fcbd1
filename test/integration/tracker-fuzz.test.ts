// Thousands of malformed, hostile and random requests at the bundled tracker, over raw TCP and UDP: no crash,
// no 5xx, every HTTP answer a 4xx or (announce/scrape) a bencoded reply, and the tracker still serves after.
// Seeded, so a failure can be replayed: SILMARIL_FUZZ_SEED=<n>.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { join } from 'node:path';
import bencode from 'bencode';
import {
  announceUrl,
  getBencoded,
  makeHybrid,
  pct,
  getJson,
  peerId,
  registration,
  type Hybrid,
  tempDir,
} from '../unit/tracker/helpers.js';
import { startTracker, stopTracker, type RunningTracker } from './tracker-cli.js';

const KEY = 'fuzz-key';
const seed = Number(process.env.SILMARIL_FUZZ_SEED ?? Date.now() % 1_000_000);

/** xorshift32: small, seeded, good enough for fuzzing. */
function rng(s: number) {
  let x = s || 1;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(a: readonly T[]): T => a[int(a.length)]!;
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));
  return { next, int, pick, bytes };
}

interface RawReply {
  status?: number;
  body: Buffer;
}

/** Sends raw bytes on a fresh connection and reads until the server closes it. */
function raw(port: number, request: Buffer | string): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(new Error('no answer within 10 s')), 10_000);
    socket.on('data', (d) => chunks.push(d));
    socket.on('error', (err) => {
      // The server may reset a connection it refused; what it sent before still counts.
      if ((err as NodeJS.ErrnoException).code !== 'ECONNRESET') {
        clearTimeout(timer);
        reject(err);
      }
    });
    socket.on('close', () => {
      clearTimeout(timer);
      const all = Buffer.concat(chunks);
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(all.subarray(0, 20).toString('latin1'));
      const split = all.indexOf('\r\n\r\n');
      resolve({ status: m ? Number(m[1]) : undefined, body: split >= 0 ? all.subarray(split + 4) : Buffer.alloc(0) });
    });
    socket.end(request);
  });
}

function httpRequest(method: string, path: string, headers: string[] = [], body?: Buffer | string): Buffer {
  const b = body === undefined ? undefined : Buffer.from(body);
  const head =
    `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n` +
    headers.map((h) => h + '\r\n').join('') +
    (b ? `Content-Length: ${b.length}\r\n` : '') +
    '\r\n';
  return b ? Buffer.concat([Buffer.from(head, 'latin1'), b]) : Buffer.from(head, 'latin1');
}

/** Maps each of `items` through `fn`, `width` at a time. */
async function pool<T, R>(items: T[], width: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

describe(`tracker fuzzing (seed ${seed})`, () => {
  let t: RunningTracker;
  let h: Hybrid;
  const r = rng(seed);

  before(async () => {
    h = await makeHybrid('fuzz');
    t = await startTracker([
      '--db',
      join(tempDir('silmaril-fuzz-'), 'f.db'),
      '--registry-key',
      KEY,
      '--rate-limit',
      '0',
    ]);
    const res = await fetch(`${t.url}/api/registry`, {
      method: 'POST',
      headers: { 'X-Weightless-Key': KEY },
      body: JSON.stringify(registration(h)),
    });
    assert.equal(res.status, 201);
  });
  after(() => stopTracker(t, 'SIGKILL'));

  const junkText = () =>
    r.pick([
      '',
      '%',
      '%G1',
      '%%%',
      '-1',
      '1e309',
      '99999999999999999999999',
      'NaN',
      '0x10',
      ' ',
      '+',
      'A'.repeat(r.int(5000)),
      pct(r.bytes(r.int(40))),
      r
        .bytes(r.int(30))
        .toString('latin1')
        .replace(/[\s\r\n]/g, 'x'),
      '\u00e9\u00ff',
      '..%2f..%2fetc%2fpasswd',
      '<script>',
      "'; DROP TABLE registry; --",
    ]);

  const hashParam = () =>
    r.pick([
      pct(Buffer.from(h.v1, 'hex')),
      pct(Buffer.from(h.v2, 'hex')),
      pct(Buffer.from(h.v2.slice(0, 40), 'hex')),
      pct(r.bytes(r.pick([0, 1, 19, 20, 21, 31, 32, 33, 64]))),
      junkText(),
    ]);

  const announcePath = () => {
    const params = [
      `info_hash=${hashParam()}`,
      `peer_id=${r.next() < 0.7 ? pct(peerId(r.int(50))) : junkText()}`,
      `port=${r.next() < 0.7 ? 1 + r.int(65535) : junkText()}`,
      `left=${r.next() < 0.7 ? r.int(10) : junkText()}`,
      `uploaded=${r.next() < 0.8 ? 0 : junkText()}`,
      `downloaded=${r.next() < 0.8 ? 0 : junkText()}`,
      `event=${r.pick(['started', 'stopped', 'completed', '', 'empty', junkText()])}`,
      `numwant=${r.next() < 0.5 ? r.int(2000) : junkText()}`,
      `compact=${r.pick(['0', '1', junkText()])}`,
      `${junkText()}=${junkText()}`,
    ].filter(() => r.next() < 0.85);
    if (r.next() < 0.2) params.push(params[r.int(params.length)] ?? 'x');
    const prefix = r.pick(['/announce', '/announce/', `/announce/${junkText()}`, '/announce/a.b']);
    return `${prefix}?${params.join(r.next() < 0.9 ? '&' : ';')}`;
  };

  const jsonBody = (): string => {
    const v = () =>
      r.pick<unknown>([null, true, 1, -1, 1e308, 'x', '', [], {}, junkText(), h.v2, h.v1, 'A'.repeat(r.int(100_000))]);
    const obj: Record<string, unknown> = {};
    for (const f of [
      'info_hash',
      'v1_info_hash',
      'name',
      'description',
      'publisher',
      'license',
      'size',
      'category',
      'tags',
      'torrent_data',
    ]) {
      if (r.next() < 0.6) obj[f] = v();
    }
    if (r.next() < 0.3) obj.info_hash = r.pick([h.v2, h.v1, 'ab'.repeat(32)]);
    if (r.next() < 0.3) obj.name = 'fuzz';
    if (r.next() < 0.3) obj.torrent_data = r.bytes(r.int(600)).toString('base64');
    if (r.next() < 0.2) {
      // torrent-shaped garbage: a real torrent cut short or with bytes flipped
      const b = Buffer.from(h.torrent);
      const cut = b.subarray(0, r.int(b.length));
      if (cut.length) cut[r.int(cut.length)] ^= 0xff;
      obj.torrent_data = cut.toString('base64');
    }
    const text = JSON.stringify(obj);
    return r.pick([text, text.slice(0, r.int(text.length + 1)), '[]', 'null', '"x"', '{', junkText()]);
  };

  const request = (): { req: Buffer; kind: 'tracker' | 'api' | 'garbage' } => {
    switch (r.int(9)) {
      case 0:
      case 1:
      case 2:
        return { req: httpRequest('GET', announcePath()), kind: 'tracker' };
      case 3:
        return {
          req: httpRequest(
            'GET',
            `/scrape?${Array.from({ length: r.int(120) }, () => `info_hash=${hashParam()}`).join('&')}`,
          ),
          kind: 'tracker',
        };
      case 4: {
        const key = r.pick([[`X-Weightless-Key: ${KEY}`], ['X-Weightless-Key: wrong'], []]);
        return {
          req: httpRequest('POST', '/api/registry', ['Content-Type: application/json', ...key], jsonBody()),
          kind: 'api',
        };
      }
      case 5: {
        const path = r.pick([
          '/api/registry',
          '/api/registry/search',
          '/api/registry/torrent',
          '/api/registry/meta',
          '/health',
          '/metrics',
          '/',
          '/scrape',
        ]);
        const q = Array.from(
          { length: r.int(6) },
          () =>
            `${r.pick(['info_hash', 'q', 'limit', 'offset', 'sort', 'tags', 'category', 'publisher', 'reason', junkText()])}=${r.pick([junkText(), h.v1, h.v2])}`,
        ).join('&');
        const method = r.pick(['GET', 'DELETE', 'PUT', 'PATCH', 'OPTIONS', 'HEAD', 'TRACE']);
        const key = r.next() < 0.3 ? [`X-Weightless-Key: ${KEY}`] : [];
        // Never take the registered hybrid down: the end check announces it.
        const safeQ = method === 'DELETE' ? q.replaceAll(h.v1, 'x').replaceAll(h.v2, 'y') : q;
        return { req: httpRequest(method, `${path}?${safeQ}`, key), kind: 'api' };
      }
      case 6:
        return {
          req: httpRequest(r.pick(['GET', 'POST']), r.pick(['/', '/x', '/announce']), [
            `X-Forwarded-For: ${junkText()}`,
            `${r.pick(['X-Long', 'Cookie'])}: ${'z'.repeat(r.int(20_000))}`,
          ]),
          kind: 'api',
        };
      case 7:
        // Bytes a parser must refuse: controls and non-ASCII in the request line, bad versions, bad framing.
        return {
          req: r.pick([
            Buffer.concat([Buffer.from('GET /announce?'), r.bytes(r.int(200)), Buffer.from(' HTTP/1.1\r\n\r\n')]),
            Buffer.from(`GET / HTTP/9.9\r\n\r\n`),
            Buffer.from(`GET / HTTP/1.1\r\nContent-Length: -5\r\n\r\n`),
            Buffer.from(`POST /api/registry HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n`),
            Buffer.from(`POST /api/registry HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nabcde`),
            Buffer.from(`\r\n\r\n`),
          ]),
          kind: 'garbage',
        };
      default:
        return { req: r.bytes(1 + r.int(300)), kind: 'garbage' };
    }
  };

  it('HTTP: 2,500 hostile requests, no 5xx, each answered with a 4xx or a bencoded reply', async () => {
    const reqs = Array.from({ length: 2500 }, request);
    const replies = await pool(reqs, 16, async (x) => ({ x, reply: await raw(t.port, x.req) }));
    let answered = 0;
    for (const { x, reply } of replies) {
      const what = x.req.subarray(0, 120).toString('latin1');
      if (reply.status !== undefined) {
        answered++;
        assert.ok(reply.status < 500, `HTTP ${reply.status} for ${what}`);
      } else {
        assert.equal(x.kind, 'garbage', `no answer to a well-formed request: ${what}`);
      }
      if (x.kind === 'tracker' && reply.status === 200) {
        const d = bencode.decode(reply.body);
        assert.ok(d['failure reason'] || d.files || d.interval, `bencoded reply for ${what}`);
      }
    }
    assert.ok(answered > 2000, `${answered} answered`);
    assert.equal(t.child.exitCode, null, 'still running');
  });

  it('UDP: 4,000 hostile packets, then it still answers', async () => {
    const socket = createSocket('udp4');
    const replies: Buffer[] = [];
    socket.on('message', (m) => replies.push(m));
    await new Promise<void>((res) => socket.bind(0, '127.0.0.1', () => res()));
    const send = (b: Buffer) => new Promise<void>((res) => socket.send(b, t.port, '127.0.0.1', () => res()));
    const connectPacket = (tid: number) => {
      const p = Buffer.alloc(16);
      p.writeUInt32BE(0x417, 0);
      p.writeUInt32BE(0x27101980, 4);
      p.writeUInt32BE(tid, 12);
      return p;
    };
    // UDP may drop packets (the flood fills buffers): ask again until the answer comes.
    const ask = async (packet: Buffer, pred: (m: Buffer) => boolean) => {
      for (let attempt = 0; attempt < 20; attempt++) {
        await send(packet);
        for (let i = 0; i < 25; i++) {
          const m = replies.find(pred);
          if (m) return m;
          await new Promise((res) => setTimeout(res, 10));
        }
      }
      throw new Error('no UDP reply');
    };
    try {
      const conn = (await ask(connectPacket(1), (m) => m.readUInt32BE(4) === 1)).subarray(8, 16);
      for (let i = 0; i < 4000; i++) {
        const len = r.pick([0, 1, 8, 15, 16, 17, 36, 56, 97, 98, 99, 116, 1500, r.int(300)]);
        const p = r.bytes(len);
        if (len >= 16 && r.next() < 0.6) conn.copy(p, 0);
        if (len >= 12 && r.next() < 0.6) p.writeUInt32BE(r.int(5), 8);
        if (len >= 36 && r.next() < 0.4) Buffer.from(r.pick([h.v1, h.v2.slice(0, 40)]), 'hex').copy(p, 16);
        await send(p);
        if (i % 200 === 0) await new Promise((res) => setTimeout(res, 5));
      }
      for (const m of replies) {
        assert.ok(m.length >= 8, 'replies have a header');
        assert.ok(m.readUInt32BE(0) <= 3, 'a known action');
      }
      // Still serving: a fresh connect and announce of the registered hybrid.
      const c2 = (await ask(connectPacket(777), (m) => m.readUInt32BE(4) === 777 && m.readUInt32BE(0) === 0)).subarray(
        8,
        16,
      );
      const a = Buffer.alloc(98);
      c2.copy(a, 0);
      a.writeUInt32BE(1, 8);
      a.writeUInt32BE(778, 12);
      Buffer.from(h.v1, 'hex').copy(a, 16);
      peerId(999).copy(a, 36);
      a.writeUInt16BE(6999, 96);
      const ann = await ask(a, (m) => m.readUInt32BE(4) === 778);
      assert.equal(ann.readUInt32BE(0), 1, ann.subarray(8).toString());
      assert.equal(t.child.exitCode, null, 'still running');
    } finally {
      socket.close();
    }
  });

  it('still serves HTTP afterwards', async () => {
    const reply = await getBencoded(announceUrl(t.url, { hash: h.v2.slice(0, 40), peer: 4242, port: 4242 }));
    assert.equal(reply['failure reason'], undefined);
    assert.equal(typeof reply.interval, 'number');
    const entry = await getJson(`${t.url}/api/registry?info_hash=${h.v2}`);
    assert.equal(entry.info_hash, h.v2);
    assert.equal((await fetch(`${t.url}/health`)).status, 200);
  });
});
