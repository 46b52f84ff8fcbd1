// Slowloris (issue 13, case 11): one client opening many connections and dribbling header bytes must not hold
// the tracker's sockets. A real slowloris client runs in-process from 127.0.0.2 (bounded: 60 sockets, a few
// seconds), while an honest client on 127.0.0.1 keeps announcing and must get every answer.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { Tracker } from '../../../src/tracker/tracker.js';
import { announceUrl, getBencoded, makeHybrid, post, registration, text } from './helpers.js';

const ATTACK_SOCKETS = 60;

/** Opens `n` connections from `localAddress` that send a request line, then one header byte every 200 ms. */
function slowloris(port: number, localAddress: string, n: number) {
  const sockets: Socket[] = [];
  let closed = 0;
  const timers: NodeJS.Timeout[] = [];
  for (let i = 0; i < n; i++) {
    const s = connect({ host: '127.0.0.1', port, localAddress });
    s.on('error', () => {});
    s.on('close', () => closed++);
    s.on('connect', () => {
      s.write('GET /announce?info_hash=');
      const t = setInterval(() => {
        if (!s.destroyed) s.write('a');
      }, 200);
      timers.push(t);
    });
    sockets.push(s);
  }
  return {
    get closed() {
      return closed;
    },
    stop() {
      for (const t of timers) clearInterval(t);
      for (const s of sockets) s.destroy();
    },
  };
}

describe('slowloris against the tracker', () => {
  it('slow clients are capped and dropped while an honest client gets every answer', async () => {
    const h = await makeHybrid('slowloris');
    const tracker = new Tracker({ port: 0, rateLimit: false, maxConnectionsPerIp: 8, headersTimeout: 1000 });
    const addr = await tracker.start();
    const attack = slowloris(addr.port, '127.0.0.2', ATTACK_SOCKETS);
    try {
      assert.equal((await post(addr.url, registration(h))).status, 201);
      // The honest client keeps announcing while the attack runs.
      for (let i = 0; i < 15; i++) {
        const r = await getBencoded(announceUrl(addr.url, { hash: h.v1, peer: i, port: 6400 + i, left: 0 }));
        assert.equal(text(r['failure reason']), undefined);
        await new Promise((r) => setTimeout(r, 100));
      }
      // Every slow connection is closed by the server: those over the per-address cap at once, the rest when
      // their headers time out. (A bound, not a speed test: on today's main none of them is ever closed.)
      const deadline = Date.now() + 15_000;
      while (attack.closed < ATTACK_SOCKETS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      assert.equal(attack.closed, ATTACK_SOCKETS, 'every slowloris connection was dropped by the tracker');
      const metrics = await (await fetch(`${addr.url}/metrics`)).text();
      const refused = Number(/tracker_connections_refused_total (\d+)/.exec(metrics)?.[1]);
      assert.ok(refused >= ATTACK_SOCKETS - 8, `connections over the per-address cap refused on arrival (${refused})`);
    } finally {
      attack.stop();
      await tracker.stop();
    }
  });

  it('the total cap holds too, and the server takes new clients once slow ones are gone', async () => {
    const tracker = new Tracker({ port: 0, rateLimit: false, maxConnections: 10, headersTimeout: 1000 });
    const addr = await tracker.start();
    const attack = slowloris(addr.port, '127.0.0.3', 30);
    try {
      const deadline = Date.now() + 15_000;
      while (attack.closed < 30 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      assert.equal(attack.closed, 30);
      const r = await fetch(`${addr.url}/health`);
      assert.equal(r.status, 200);
    } finally {
      attack.stop();
      await tracker.stop();
    }
  });
});
