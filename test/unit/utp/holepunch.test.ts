// BEP 55 messages byte for byte (the BEP's layout, and libtorrent 2.0's, which leaves err_code out of non-error
// messages), strict address parsing, hostile input, and the uTP simultaneous open hole punching relies on: two
// endpoints dialling each other at the same moment end up with exactly one connection that carries bytes both ways.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import {
  HP_CONNECT,
  HP_ERROR,
  HP_ERR_NOT_CONNECTED,
  HP_RENDEZVOUS,
  decodeHolepunch,
  encodeHolepunch,
  formatAddress,
  isLocalAddress,
  normaliseAddress,
  parseAddress,
} from '../../../src/engine/holepunch-msg.js';
import { DialSocket } from '../../../src/engine/utp/dial.js';
import { UtpEndpoint } from '../../../src/engine/utp/endpoint.js';
import type { UtpConnection } from '../../../src/engine/utp/connection.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

test('rendezvous, connect and error encode to the BEP 55 layout', () => {
  // msg_type | addr_type | addr | port | err_code
  assert.equal(
    hex(encodeHolepunch({ type: HP_RENDEZVOUS, address: '1.2.3.4', port: 6881, error: 0 })),
    '00' + '00' + '01020304' + '1ae1' + '00000000',
  );
  assert.equal(
    hex(encodeHolepunch({ type: HP_CONNECT, address: '2001:db8::1', port: 80, error: 0 })),
    '01' + '01' + '20010db8000000000000000000000001' + '0050' + '00000000',
  );
  assert.equal(
    hex(encodeHolepunch({ type: HP_ERROR, address: '10.0.0.7', port: 65535, error: HP_ERR_NOT_CONNECTED })),
    '02' + '00' + '0a000007' + 'ffff' + '00000002',
  );
  // err_code is 0 outside errors even if the caller passed one.
  assert.equal(hex(encodeHolepunch({ type: HP_CONNECT, address: '1.2.3.4', port: 1, error: 9 })).slice(-8), '00000000');
  // IPv4-mapped IPv6 goes out as IPv4 (what libtorrent compares endpoints as).
  assert.equal(
    hex(encodeHolepunch({ type: HP_CONNECT, address: '::ffff:1.2.3.4', port: 1, error: 0 })).slice(0, 4),
    '0100',
  );
  assert.throws(() => encodeHolepunch({ type: HP_CONNECT, address: 'example.com', port: 1, error: 0 }));
  assert.throws(() => encodeHolepunch({ type: HP_CONNECT, address: '1.2.3.4', port: 0, error: 0 }));
});

test('decodes both forms: with err_code (BEP 55) and without it outside errors (libtorrent 2.0)', () => {
  for (const m of [
    { type: HP_RENDEZVOUS, address: '1.2.3.4', port: 6881, error: 0 },
    { type: HP_CONNECT, address: '2001:db8::1', port: 80, error: 0 },
    { type: HP_ERROR, address: '10.0.0.7', port: 65535, error: 4 },
  ] as const) {
    assert.deepEqual(decodeHolepunch(encodeHolepunch(m)), m);
  }
  // libtorrent's write_holepunch_msg for connect: type, addr_type, endpoint, no err_code.
  const lt = Buffer.from('01' + '00' + 'c0a80102' + '1ae1', 'hex');
  assert.deepEqual(decodeHolepunch(lt), { type: HP_CONNECT, address: '192.168.1.2', port: 6881, error: 0 });
  const lt6 = Buffer.from('00' + '01' + 'fe800000000000000000000000000001' + '0050', 'hex');
  assert.deepEqual(decodeHolepunch(lt6), { type: HP_RENDEZVOUS, address: 'fe80::1', port: 80, error: 0 });
});

test('hostile or malformed messages decode to undefined, never throw', () => {
  const bad = [
    '', // empty
    '00', // no address type
    '0000', // no address
    '03000102030400500000000', // odd hex is cut by Buffer: still wrong
    '030001020304005000000000', // unknown msg_type 3
    'ff0001020304005000000000', // unknown msg_type 255
    '000201020304005000000000', // addr_type 2
    '0000010203040050000000', // 11 bytes: neither form
    '00000102030400500000000000', // 13 bytes: trailing junk
    '000001020304000000000000', // port 0
    '000000000000005000000000', // 0.0.0.0
    '0000e000000100500000000', // multicast (and short)
    '0000e0000001005000000000', // 224.0.0.1 multicast
    '0000ffffffff005000000000', // broadcast
    '020001020304005000000000', // error with code 0
    '0200010203040050', // error without err_code
    '0001' + '00'.repeat(16) + '005000000000', // ::
    '0001' + 'ff02' + '00'.repeat(13) + '01' + '005000000000', // ff02::1 multicast
    '0001' + '20010db8' + '00'.repeat(12) + '0050' + '0000', // v6 with a 2-byte err_code
    '0000' + '01020304', // v4 without port
  ];
  for (const h of bad) assert.equal(decodeHolepunch(Buffer.from(h, 'hex')), undefined, h);
  for (let i = 0; i < 20_000; i++) {
    const b = randomBytes(i % 40);
    if (i % 3 === 0 && b.length > 1) [b[0], b[1]] = [i % 4, (i >> 2) % 3];
    const m = decodeHolepunch(b);
    if (m) assert.deepEqual(decodeHolepunch(encodeHolepunch(m)), m);
  }
  // A message sliced out of a bigger buffer reads its own bytes only.
  const big = Buffer.concat([
    Buffer.from('ffff', 'hex'),
    encodeHolepunch({ type: 1, address: '5.6.7.8', port: 9, error: 0 }),
  ]);
  assert.deepEqual(decodeHolepunch(big.subarray(2)), { type: 1, address: '5.6.7.8', port: 9, error: 0 });
});

test('addresses are parsed strictly: one spelling per address', () => {
  for (const bad of [
    '1.2.3',
    '1.2.3.4.5',
    '01.2.3.4', // leading zero: octal to some parsers
    '1.2.3.256',
    '1.2.3.-1',
    ' 1.2.3.4',
    '1.2.3.4 ',
    '0x1.2.3.4',
    '1::2::3',
    ':::',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7',
    '12345::1',
    'fe80::1%eth0',
    '::1.2.3.4.5',
    '1.2.3.4::',
    'g::1',
    '',
  ]) {
    assert.equal(parseAddress(bad), undefined, bad);
  }
  assert.equal(normaliseAddress('::ffff:10.0.0.1'), '10.0.0.1');
  assert.equal(normaliseAddress('2001:DB8:0:0:0:0:0:1'), '2001:db8::1');
  assert.equal(normaliseAddress('2001:db8:0:0:1:0:0:1'), '2001:db8::1:0:0:1'); // the first of equal runs
  assert.equal(normaliseAddress('1:0:2:3:4:5:6:7'), '1:0:2:3:4:5:6:7'); // a single zero group stays
  assert.equal(normaliseAddress('::'), '::');
  assert.equal(formatAddress(parseAddress('::1.2.3.4')!), '::102:304');
  assert.ok(isLocalAddress('192.168.1.2') && isLocalAddress('10.1.2.3') && isLocalAddress('127.0.0.1'));
  assert.ok(isLocalAddress('172.16.0.1') && !isLocalAddress('172.32.0.1') && isLocalAddress('fd00::1'));
  assert.ok(!isLocalAddress('8.8.8.8') && !isLocalAddress('2001:db8::1') && !isLocalAddress('nonsense'));
});

async function listening(): Promise<UtpEndpoint> {
  const e = new UtpEndpoint();
  await new Promise<void>((r) => e.listen(0, '127.0.0.1', r));
  return e;
}

function readSome(s: NodeJS.ReadableStream, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let got = 0;
    const onData = (c: Buffer) => {
      parts.push(c);
      got += c.length;
      if (got >= n) {
        s.off('data', onData);
        resolve(Buffer.concat(parts));
      }
    };
    s.on('data', onData);
    s.once('error', reject);
  });
}

// Without the tie-break each side runs two connections and the bytes written on one land on the other: the reads
// below never complete, hence the timeouts.
test(
  'simultaneous open through dial sockets: both sides keep the same single connection',
  { timeout: 30_000 },
  async () => {
    for (let round = 0; round < 4; round++) {
      const [a, b] = [await listening(), await listening()];
      const incoming: UtpConnection[] = [];
      a.on('connection', (c) => incoming.push(c));
      b.on('connection', (c) => incoming.push(c));
      // Both dial in the same turn of the event loop, uTP only, as both ends of a BEP 55 `connect` do.
      const da = new DialSocket(a, b.address().port, '127.0.0.1', { tcp: false });
      const db = new DialSocket(b, a.address().port, '127.0.0.1', { tcp: false });
      await Promise.all([once(da, 'connect'), once(db, 'connect')]);
      const fromA = randomBytes(100_000);
      const fromB = randomBytes(70_000);
      da.write(fromA);
      db.write(fromB);
      const [gotAtB, gotAtA] = await Promise.all([readSome(db, fromA.length), readSome(da, fromB.length)]);
      assert.ok(gotAtB.equals(fromA) && gotAtA.equals(fromB), `round ${round}: bytes cross on the one connection`);
      assert.equal(incoming.length, 0, 'no second connection handed to a listener');
      assert.equal(a.connectionCount, 1, 'one connection at A');
      assert.equal(b.connectionCount, 1, 'one connection at B');
      assert.equal(a.counters.simultaneous + b.counters.simultaneous, 1, 'exactly one side gave up its own attempt');
      da.destroy();
      db.destroy();
      await Promise.all([new Promise<void>((r) => a.close(r)), new Promise<void>((r) => b.close(r))]);
    }
  },
);

test(
  'simultaneous open on bare endpoints: the kept connection is handed to the listener once',
  { timeout: 30_000 },
  async () => {
    const [a, b] = [await listening(), await listening()];
    const incoming: UtpConnection[] = [];
    a.on('connection', (c) => incoming.push(c));
    b.on('connection', (c) => incoming.push(c));
    const ca = a.connect(b.address().port, '127.0.0.1');
    const cb = b.connect(a.address().port, '127.0.0.1');
    const errors: Error[] = [];
    ca.on('error', (e) => errors.push(e));
    cb.on('error', (e) => errors.push(e));
    await new Promise<void>((resolve) => {
      const check = () => (incoming.length === 1 && (ca.connected || cb.connected) ? resolve() : setTimeout(check, 10));
      check();
    });
    // The side whose id lost gave its attempt up with an error; the other's attempt is the connection.
    assert.equal(errors.length, 1);
    const kept = ca.connected ? ca : cb;
    kept.write(Buffer.from('punched'));
    assert.equal((await readSome(incoming[0], 7)).toString(), 'punched');
    assert.equal(a.connectionCount + b.connectionCount, 2);
    ca.destroy();
    cb.destroy();
    await Promise.all([new Promise<void>((r) => a.close(r)), new Promise<void>((r) => b.close(r))]);
  },
);
