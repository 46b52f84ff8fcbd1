// The BEP 55 roles over real bittorrent-protocol wires (piped in memory, with ut_pex as WebTorrent uses it): the
// relay tells A about B through PEX (flags: holepunch), A asks the relay for a rendezvous once B has had its chance to
// connect directly, the relay sends `connect` to both with the other's endpoint, and both dial. The relay's errors
// (not connected, no self, no support), its rate limits, and what a hostile relay cannot make us do (dial local
// addresses, dial at a high rate) are checked on the same wires. The torrent is a stand-in recording the dials
// (the real engine runs these roles through two real NATs in test/integration/utp-nat.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import Wire from 'bittorrent-protocol';
import utPex from 'ut_pex';
import { DIRECT_GRACE_MS, Holepunch } from '../../../src/engine/holepunch.js';
import {
  HP_CONNECT,
  HP_ERROR,
  HP_ERR_NOT_CONNECTED,
  HP_ERR_NO_SELF,
  HP_ERR_NO_SUPPORT,
  HP_RENDEZVOUS,
  decodeHolepunch,
  encodeHolepunch,
  type HolepunchMessage,
} from '../../../src/engine/holepunch-msg.js';

const INFO_HASH = randomBytes(20).toString('hex');

interface Node {
  name: string;
  hp: Holepunch;
  dials: string[];
  clock: { offset: number };
}

function makeNode(name: string, opts: { utp?: boolean; listenPort?: number } = {}): Node {
  const dials: string[] = [];
  const clock = { offset: 0 };
  const torrent = {
    destroyed: false,
    private: false,
    removePeer: () => {},
    addPeer: (k: string) => dials.push(k),
  };
  const hp = new Holepunch(torrent, {
    utp: opts.utp !== false,
    pex: true,
    log: () => {},
    listenPort: () => opts.listenPort,
    now: () => Date.now() + clock.offset,
  });
  return { name, hp, dials, clock };
}

/** A connection between two nodes: `x` sees `y` at yAddr, `y` sees `x` at xAddr. Resolves after both extended
 *  handshakes. */
async function connect(x: Node, xAddr: string, y: Node, yAddr: string): Promise<{ xw: any; yw: any }> {
  const xw: any = new Wire('tcp');
  const yw: any = new Wire('tcp');
  xw.pipe(yw).pipe(xw);
  const setup = (w: any, node: Node, remote: string, outgoing: boolean) => {
    const [address, port] = remote.split(':');
    w.remoteAddress = address;
    w.remotePort = Number(port);
    w.use(utPex());
    node.hp.attach(w, { type: outgoing ? 'tcpOutgoing' : 'tcpIncoming' });
  };
  setup(xw, x, yAddr, true);
  setup(yw, y, xAddr, false);
  const shaken = Promise.all([new Promise((r) => xw.once('extended', r)), new Promise((r) => yw.once('extended', r))]);
  // The dialling side names its listen port, as silmaril and libtorrent do.
  xw.extendedHandshake.p = Number(xAddr.split(':')[1]);
  yw.on('handshake', () => yw.handshake(INFO_HASH, randomBytes(20).toString('hex'), { dht: false }));
  xw.handshake(INFO_HASH, randomBytes(20).toString('hex'), { dht: false });
  await shaken;
  return { xw, yw };
}

/** Holepunch messages arriving on `w`. */
function inbox(w: any): HolepunchMessage[] {
  const got: HolepunchMessage[] = [];
  w.on('extended', (ext: string, buf: Buffer) => {
    if (ext === 'ut_holepunch') got.push(decodeHolepunch(buf)!);
  });
  return got;
}

const tick = (ms = 1100) => new Promise((r) => setTimeout(r, ms));

async function until(pred: () => boolean, what: string, ms = 8000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) assert.fail(`timed out: ${what}`);
    await tick(50);
  }
}

test('relay PEX → rendezvous → connect to both; both dial the other', async () => {
  const [relay, a, b] = [makeNode('relay'), makeNode('a'), makeNode('b')];
  try {
    // B and A dialled the relay (public, 8.8.4.4:6890); they sit behind NATs at 5.5.5.5 and 6.6.6.6.
    const rb = await connect(b, '6.6.6.6:6882', relay, '8.8.4.4:6890');
    const ra = await connect(a, '5.5.5.5:6881', relay, '8.8.4.4:6890');
    const pexAtA: string[] = [];
    ra.xw.ut_pex.on('peer', (p: string, flags: any) => flags.supportsUtHolepunch && pexAtA.push(p));
    await until(() => pexAtA.includes('6.6.6.6:6882'), 'the relay tells A about B through PEX');
    assert.equal(relay.hp.counters.rendezvousRelayed, 0, 'no rendezvous before B had its chance directly');
    a.clock.offset = DIRECT_GRACE_MS;
    await until(() => a.dials.length > 0 && b.dials.length > 0, 'both dial');
    assert.deepEqual(a.dials, ['6.6.6.6:6882']);
    assert.deepEqual(b.dials, ['5.5.5.5:6881']);
    assert.equal(a.hp.counters.rendezvousSent, 1);
    assert.equal(relay.hp.counters.rendezvousRelayed, 1);
    void rb;
  } finally {
    for (const n of [relay, a, b]) n.hp.close();
  }
});

test('relay errors: not connected, no self, no support; and a rate limit', async () => {
  const [relay, a, c] = [makeNode('relay'), makeNode('a'), makeNode('c', { utp: false })];
  try {
    const ra = await connect(a, '5.5.5.5:6881', relay, '8.8.4.4:6890');
    await connect(c, '7.7.7.7:7000', relay, '8.8.4.4:6890'); // C does not speak ut_holepunch
    const got = inbox(ra.xw);
    const ask = (address: string, port: number) =>
      ra.xw.extended('ut_holepunch', encodeHolepunch({ type: HP_RENDEZVOUS, address, port, error: 0 }));
    ask('9.9.9.9', 1234);
    ask('5.5.5.5', 6881);
    ask('7.7.7.7', 7000);
    await until(() => got.length === 3, 'three answers');
    assert.deepEqual(
      got.map((m) => [m.type, m.error, `${m.address}:${m.port}`]),
      [
        [HP_ERROR, HP_ERR_NOT_CONNECTED, '9.9.9.9:1234'],
        [HP_ERROR, HP_ERR_NO_SELF, '5.5.5.5:6881'],
        [HP_ERROR, HP_ERR_NO_SUPPORT, '7.7.7.7:7000'],
      ],
    );
    // A peer asking over and over is answered a few times a minute, then ignored.
    for (let i = 0; i < 30; i++) ask('9.9.9.9', 1000 + i);
    await tick(300);
    assert.ok(got.length <= 6, `${got.length} answers to 33 requests`);
    assert.ok(relay.hp.counters.dropped >= 27);
  } finally {
    for (const n of [relay, a, c]) n.hp.close();
  }
});

test('a hostile relay cannot make us dial local addresses, IPv6, or at a high rate', async () => {
  const [evil, a] = [makeNode('evil'), makeNode('a')];
  try {
    const ea = await connect(a, '5.5.5.5:6881', evil, '8.8.4.4:6890');
    const push = (address: string, port: number) =>
      ea.yw.extended('ut_holepunch', encodeHolepunch({ type: HP_CONNECT, address, port, error: 0 }));
    push('192.168.1.1', 80); // a non-local peer pointing us into our LAN
    push('127.0.0.1', 22);
    push('2001:db8::1', 6881);
    ea.yw.extended('ut_holepunch', Buffer.from('ff00deadbeef', 'hex'));
    ea.yw.extended('ut_holepunch', Buffer.alloc(0));
    for (let i = 0; i < 40; i++) push(`1.2.3.${i + 1}`, 6881);
    await tick(300);
    assert.ok(a.dials.length <= 6, `${a.dials.length} dials`);
    assert.ok(
      a.dials.every((d) => d.startsWith('1.2.3.')),
      a.dials.join(' '),
    );
    assert.equal(a.hp.counters.dropped, 45 - a.dials.length);
  } finally {
    for (const n of [evil, a]) n.hp.close();
  }
});

test('our extended handshake names our listen port; PEX naming ourselves starts no hole punch', async () => {
  const [relay, a] = [makeNode('relay'), makeNode('a', { listenPort: 6881 })];
  try {
    const x: any = new Wire('tcp');
    const y: any = new Wire('tcp');
    x.pipe(y).pipe(x);
    for (const [w, node, addr] of [
      [x, a, '8.8.4.4:6890'],
      [y, relay, '5.5.5.5:40000'],
    ] as const) {
      w.remoteAddress = addr.split(':')[0];
      w.remotePort = Number(addr.split(':')[1]);
      w.use(utPex());
      node.hp.attach(w, { type: w === x ? 'tcpOutgoing' : 'tcpIncoming' });
    }
    // The relay tells A what address it sees A at (BEP 10 yourip), as libtorrent does.
    y.extendedHandshake.yourip = Buffer.from([5, 5, 5, 5]);
    const shaken = Promise.all([new Promise((r) => x.once('extended', r)), new Promise((r) => y.once('extended', r))]);
    y.on('handshake', () => y.handshake(INFO_HASH, randomBytes(20).toString('hex'), { dht: false }));
    x.handshake(INFO_HASH, randomBytes(20).toString('hex'), { dht: false });
    await shaken;
    assert.equal(y.peerExtendedHandshake.p, 6881, 'A told the relay its listen port');
    // libtorrent's PEX lists the receiver too: A at its own public endpoint, flagged holepunch.
    const pexed: string[] = [];
    x.ut_pex.on('peer', (p: string) => pexed.push(p));
    y.extended('ut_pex', { added: Buffer.from([5, 5, 5, 5, 0x1a, 0xe1]), 'added.f': Buffer.from([0x0c]) });
    await until(() => pexed.length === 1, 'A reads the PEX');
    a.clock.offset = 10 * DIRECT_GRACE_MS;
    await tick();
    assert.equal(a.hp.counters.rendezvousSent, 0, 'no rendezvous for ourselves');
  } finally {
    for (const n of [relay, a]) n.hp.close();
  }
});
