// The tracker's small parts: binary query decoding, swarm bookkeeping, rate limiting, passkeys, proxies.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBytes, decodeUint, forEachParam } from '../../../src/tracker/query.js';
import { EVENT_COMPLETED, EVENT_NONE, EVENT_STOPPED, Swarm } from '../../../src/tracker/swarm.js';
import { announceReply, encodeAnnounceReply } from '../../../src/tracker/announce-reply.js';
import { RateLimiter } from '../../../src/tracker/rate-limit.js';
import { makePasskey, verifyPasskey } from '../../../src/tracker/passkey.js';
import { ClientIpResolver, ipBytes } from '../../../src/tracker/client-ip.js';

describe('query decoding', () => {
  it('percent-decodes binary values byte for byte', () => {
    const s = 'x=%00%ff%41B+c';
    assert.deepEqual([...decodeBytes(s, 2, s.length, 32)!], [0, 255, 0x41, 0x42, 0x20, 0x63]);
    assert.equal(decodeBytes('%4', 0, 2, 32), undefined, 'truncated escape');
    assert.equal(decodeBytes('%zz', 0, 3, 32), undefined, 'bad hex');
    assert.equal(decodeBytes('aaaa', 0, 4, 3), undefined, 'too long');
    assert.equal(decodeBytes('\u0100', 0, 1, 3), undefined, 'not a byte');
  });

  it('parses non-negative integers only', () => {
    assert.equal(decodeUint('123', 0, 3), 123);
    for (const bad of ['', '-1', '1e3', '12a', '18446744073709551616', '999999999999999999999'])
      assert.equal(decodeUint(bad, 0, bad.length), -1, bad);
    // uint64 beyond 2^53 is accepted, clamped (client-quirks.test.ts: Transmission's magnet `left`).
    assert.equal(decodeUint('99999999999999999', 0, 17), Number.MAX_SAFE_INTEGER);
  });

  it('walks parameters, including empty and valueless ones', () => {
    const seen: [string, string][] = [];
    const url = '/announce?a=1&&b=&c&d=x=y';
    forEachParam(url, (k, s, e) => seen.push([k, url.slice(s, e)]));
    assert.deepEqual(seen, [
      ['a', '1'],
      ['b', ''],
      ['c', ''],
      ['d', 'x=y'],
    ]);
  });
});

describe('swarm', () => {
  const ip = Buffer.from([10, 0, 0, 1]);
  it('counts seeders and leechers through transitions, stops and expiry', () => {
    const counter = { peers: 0 };
    const s = new Swarm(counter);
    s.announce('a', 'a', ip, false, 1, 100, EVENT_NONE, 1000);
    s.announce('b', 'b', ip, false, 2, 0, EVENT_NONE, 2000);
    assert.deepEqual([s.seeders, s.leechers, counter.peers], [1, 1, 2]);
    s.announce('a', 'a', ip, false, 1, 0, EVENT_COMPLETED, 3000);
    assert.deepEqual([s.seeders, s.leechers, s.downloaded], [2, 0, 1]);
    s.announce('a', 'a', ip, false, 1, 0, EVENT_COMPLETED, 3000);
    assert.equal(s.downloaded, 1, 'one completion per peer');
    s.announce('b', 'b', ip, false, 2, 0, EVENT_STOPPED, 0);
    assert.deepEqual([s.size, counter.peers], [1, 1]);
    assert.equal(s.expire(2999), 0);
    assert.equal(s.expire(3001), 1);
    assert.deepEqual([s.size, s.seeders, counter.peers], [0, 0, 0]);
  });

  it('picks at most `want` distinct peers, never the requester', () => {
    const s = new Swarm({ peers: 0 });
    for (let i = 0; i < 30; i++) s.announce(`p${i}`, `p${i}`, ip, false, 1000 + i, 1, EVENT_NONE, 1e15);
    const me = s.peers.get('p7')!;
    for (let round = 0; round < 50; round++) {
      const got = s.pick(false, me, 10);
      assert.equal(got.length, 10);
      assert.equal(new Set(got).size, 10);
      assert.ok(!got.includes(me));
    }
    assert.equal(s.pick(false, me, 100).length, 29);
    assert.equal(s.pick(true, me, 100).length, 0);
    const compact = s.compact(false, undefined, 5);
    assert.equal(compact.length, 30);
    for (let round = 0; round < 50; round++) {
      const c = s.compact(false, me, 10);
      const ports = new Set<number>();
      for (let i = 0; i < c.length; i += 6) ports.add(c.readUInt16BE(i + 4));
      assert.equal(ports.size, 10, 'distinct peers');
      assert.ok(!ports.has(1007), 'never the requester');
      for (const p of ports) assert.ok(p >= 1000 && p < 1030);
    }
    const all = s.compact(false, me, 100);
    assert.equal(all.length, 29 * 6);
  });

  it('writes the announce reply straight from the swarm, byte for byte as the generic encoder', () => {
    const s = new Swarm({ peers: 0 });
    const ip6 = Buffer.alloc(16, 0xfe);
    for (let i = 0; i < 4; i++) s.announce(`a${i}`, `a${i}`, ip, false, 2000 + i, i, EVENT_NONE, 1e15);
    for (let i = 0; i < 3; i++) s.announce(`b${i}`, `b${i}`, ip6, true, 3000 + i, 1, EVENT_COMPLETED, 1e15);
    const figures = {
      complete: s.seeders,
      downloaded: s.downloaded,
      incomplete: s.leechers,
      interval: 60,
      minInterval: 30,
    };
    for (const me of [s.peers.get('a2'), s.peers.get('b1'), undefined]) {
      const p4 = s.compact(false, me, 50);
      const p6 = s.compact(true, me, 50 - p4.length / 6);
      assert.deepEqual(announceReply(s, me, 50, 60, 30), encodeAnnounceReply(figures, p4, p6));
    }
    // Fewer wanted than there are: IPv4 peers first, no peers6 key when none is left for it.
    const one = announceReply(s, undefined, 4, 60, 30);
    assert.ok(!one.includes('6:peers6'));
    assert.ok(one.includes(`5:peers${4 * 6}:`));
  });

  it('removal keeps the family list consistent', () => {
    const s = new Swarm({ peers: 0 });
    for (let i = 0; i < 5; i++) s.announce(`p${i}`, `p${i}`, ip, false, i + 1, 1, EVENT_NONE, i);
    s.expire(2.5); // drops p0, p1, p2
    assert.deepEqual(s.v4.map((p) => p.key).sort(), ['p3', 'p4']);
    s.v4.forEach((p, i) => assert.equal(p.index, i));
    // Each peer's compact address moved with it.
    for (const p of s.v4) assert.equal(s.address(p).readUInt16BE(4), Number(p.key.slice(1)) + 1);
  });
});

describe('rate limiter', () => {
  it('allows the burst, then refills at the configured rate', () => {
    const r = new RateLimiter({ perSecond: 2, burst: 3 });
    const t = 1_000_000;
    assert.deepEqual([r.take('a', t), r.take('a', t), r.take('a', t), r.take('a', t)], [true, true, true, false]);
    assert.equal(r.take('b', t), true, 'clients are independent');
    assert.equal(r.take('a', t + 499), false);
    assert.equal(r.take('a', t + 500), true);
  });

  it('stays bounded, forgetting the least recently seen client', () => {
    const r = new RateLimiter({ perSecond: 1, burst: 1, maxClients: 3 });
    r.take('a', 0);
    r.take('b', 0);
    r.take('c', 0);
    r.take('a', 0); // a is now the most recent
    r.take('d', 0); // evicts b
    assert.equal(r.size, 3);
    assert.equal(r.take('a', 0), false, 'a is remembered (empty bucket)');
    assert.equal(r.take('b', 0), true, 'b was forgotten (fresh bucket)');
  });
});

describe('passkeys and client addresses', () => {
  it('Weightless passkeys: user.hmac', () => {
    const pk = makePasskey('s3cret', 'alice');
    assert.match(pk, /^alice\.[0-9a-f]{64}$/);
    assert.equal(verifyPasskey('s3cret', pk), 'alice');
    assert.equal(verifyPasskey('other', pk), undefined);
    assert.equal(verifyPasskey('s3cret', 'alice'), undefined);
    assert.equal(verifyPasskey('s3cret', pk + '0'), undefined);
    assert.equal(verifyPasskey('s3cret', `bob.${pk.split('.')[1]}`), undefined);
  });

  it('takes the right-most untrusted X-Forwarded-For hop from trusted proxies only', () => {
    const r = new ClientIpResolver(['10.0.0.1', '10.0.0.2']);
    assert.equal(r.resolve('10.0.0.1', '1.2.3.4'), '1.2.3.4');
    assert.equal(r.resolve('10.0.0.1', '6.6.6.6, 1.2.3.4, 10.0.0.2'), '1.2.3.4');
    assert.equal(r.resolve('::ffff:10.0.0.1', '1.2.3.4'), '1.2.3.4');
    assert.equal(r.resolve('9.9.9.9', '1.2.3.4'), '9.9.9.9', 'untrusted peer: header ignored');
    assert.equal(r.resolve('10.0.0.1', 'garbage'), '10.0.0.1');
    assert.equal(r.resolve('10.0.0.1', undefined), '10.0.0.1');
  });

  it('compact address bytes for IPv4 and IPv6', () => {
    assert.equal(ipBytes('1.2.3.4')?.toString('hex'), '01020304');
    assert.equal(ipBytes('::1')?.toString('hex'), '0'.repeat(31) + '1');
    assert.equal(ipBytes('2001:db8::8:800:200c:417a')?.toString('hex'), '20010db80000000000080800200c417a');
    assert.equal(ipBytes('64:ff9b::1.2.3.4')?.toString('hex'), '0064ff9b000000000000000001020304');
    assert.equal(ipBytes('nope'), undefined);
  });
});
