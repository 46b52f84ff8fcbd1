// Outgoing connections race uTP and TCP (dial.ts): a uTP peer is reached over uTP, a TCP-only peer over TCP
// without waiting out uTP's timeouts, a uTP-only dial never touches TCP, and a peer reachable neither way is an
// error naming both attempts. Also the fenced WebTorrent members the engine configures (webtorrent-utp.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Engine } from '../../../src/engine/engine.js';
import { DialSocket } from '../../../src/engine/utp/dial.js';
import { UtpEndpoint } from '../../../src/engine/utp/endpoint.js';
import { PeerTransport } from '../../../src/engine/utp/transport.js';

async function endpoint(listen: boolean): Promise<UtpEndpoint> {
  const e = new UtpEndpoint();
  await new Promise<void>((r) => e.listen(0, '127.0.0.1', r));
  if (!listen) (e as any).listening = false;
  return e;
}

async function tcpServer(port = 0): Promise<net.Server> {
  const s = net.createServer((c) => c.end('tcp hello'));
  await new Promise<void>((r) => s.listen(port, '127.0.0.1', r));
  return s;
}

test('a peer that speaks uTP is reached over uTP', async () => {
  const peer = await endpoint(true);
  peer.on('connection', (c) => c.end('utp hello'));
  const local = await endpoint(false);
  try {
    const d = new DialSocket(local, peer.address().port, '127.0.0.1', { tcpDelayMs: 5000 });
    await once(d, 'connect');
    assert.equal(d.transport, 'utp');
    const [data] = await once(d, 'data');
    assert.equal(String(data), 'utp hello');
    d.destroy();
  } finally {
    local.close();
    peer.close();
  }
});

test('a TCP-only peer is reached over TCP as soon as uTP is refused', async () => {
  const tcp = await tcpServer();
  const port = (tcp.address() as net.AddressInfo).port;
  // A uTP endpoint on the same port that refuses connections: its reset ends the uTP attempt at once, and TCP
  // starts then rather than after the delay (an hour here, so the test fails if it waited for it).
  const refusing = new UtpEndpoint();
  await new Promise<void>((r) => refusing.listen(port, '127.0.0.1', r));
  (refusing as any).listening = false;
  const local = await endpoint(false);
  try {
    const d = new DialSocket(local, port, '127.0.0.1', { tcpDelayMs: 3_600_000 });
    await once(d, 'connect');
    assert.equal(d.transport, 'tcp');
    const [data] = await once(d, 'data');
    assert.equal(String(data), 'tcp hello');
    d.destroy();
  } finally {
    local.close();
    refusing.close();
    tcp.close();
  }
});

test('with TCP off the dial never uses it; with neither transport answering it fails naming both', async () => {
  const tcp = await tcpServer();
  const port = (tcp.address() as net.AddressInfo).port;
  let tcpConnections = 0;
  tcp.on('connection', () => tcpConnections++);
  const refusing = new UtpEndpoint();
  await new Promise<void>((r) => refusing.listen(port, '127.0.0.1', r));
  (refusing as any).listening = false;
  const local = await endpoint(false);
  try {
    const utpOnly = new DialSocket(local, port, '127.0.0.1', { tcp: false });
    const [err] = (await once(utpOnly, 'error')) as [Error];
    assert.match(err.message, /utp: uTP connection reset/);
    assert.equal(tcpConnections, 0);
    tcp.close();
    await once(tcp, 'close');
    const neither = new DialSocket(local, port, '127.0.0.1', { tcpDelayMs: 10 });
    const [err2] = (await once(neither, 'error')) as [Error];
    assert.match(err2.message, /utp: .*; tcp: /);
  } finally {
    local.close();
    refusing.close();
  }
});

test('the engine gets our uTP through the utp-native slot and can refuse TCP (fenced WebTorrent members)', async () => {
  const home = await mkdtemp(path.join(os.tmpdir(), 'silmaril-utp-fence-'));
  const engine = new Engine({ home, dht: false, lsd: false, tcp: false });
  try {
    await engine.start();
    // The fence's utpServerOf is where the engine finds WebTorrent's uTP server: it must be ours, on the engine's port.
    assert.ok(engine.utp instanceof PeerTransport, 'WebTorrent did not build its uTP server through our slot');
    assert.equal(engine.utp.address().port, engine.port);
    // The fence's tcpServerOf is where TCP is refused: a TCP connection is accepted by the kernel, then closed.
    const sock = net.connect(engine.port, '127.0.0.1');
    sock.on('error', () => {});
    sock.write(Buffer.from([19, ...Buffer.from('BitTorrent protocol')]));
    await once(sock, 'close');
    // And uTP answers.
    const local = await endpoint(false);
    const d = new DialSocket(local, engine.port, '127.0.0.1', { tcp: false });
    await once(d, 'connect');
    assert.equal(d.transport, 'utp');
    d.destroy();
    local.close();
  } finally {
    await engine.stop();
    await rm(home, { recursive: true, force: true });
  }
});
