// UDP tracker load generator (BEP 15) for bench/tracker.mjs: `node bench/udp-load.mjs PORT SECONDS PEERS`,
// infohashes (hex, comma-separated) on stdin. Connects, then keeps a window of announces in flight over the
// given hashes and a pool of peers, and prints {"rps": announce replies per second} as one JSON line.
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';

const [port, seconds, peers] = process.argv.slice(2).map(Number);
const hashes = readFileSync(0, 'utf8')
  .trim()
  .split(',')
  .map((h) => Buffer.from(h, 'hex'));
const WINDOW = 128;
const socket = createSocket({ type: 'udp4', recvBufferSize: 8 << 20, sendBufferSize: 8 << 20 });

function connectPacket(tid) {
  const p = Buffer.alloc(16);
  p.writeUInt32BE(0x417, 0);
  p.writeUInt32BE(0x27101980, 4);
  p.writeUInt32BE(0, 8);
  p.writeUInt32BE(tid, 12);
  return p;
}

// Pre-built announces (the connection id is patched in once known); cycling through them costs nothing.
const templates = Array.from({ length: 32768 }, (_, i) => {
  const p = Buffer.alloc(98);
  p.writeUInt32BE(1, 8);
  p.writeUInt32BE(i, 12);
  const peer = (i * 7919) % peers;
  hashes[peer % hashes.length].copy(p, 16); // each peer always announces the same torrent
  p.write(`-BM0001-${String(peer).padStart(12, '0')}`, 36, 'latin1');
  p.writeBigUInt64BE(peer % 4 === 0 ? 0n : 1000n, 64);
  p.writeInt32BE(50, 92);
  p.writeUInt16BE(1024 + (peer % 60000), 96);
  return p;
});

let replies = 0;
let errors = 0;
let inflight = 0;
let next = 0;
let counting = false;
let lastProgress = Date.now();

function pump() {
  while (inflight < WINDOW) {
    const p = templates[next++ & 32767];
    inflight++;
    socket.send(p, port, '127.0.0.1');
  }
}

socket.on('message', (m) => {
  if (m.length < 8) return;
  const action = m.readUInt32BE(0);
  if (action === 0 && !counting) {
    for (const t of templates) m.copy(t, 0, 8, 16);
    counting = true;
    start();
    return;
  }
  inflight--;
  lastProgress = Date.now();
  if (action === 1) replies++;
  else errors++;
  pump();
});

function start() {
  const t0 = Date.now();
  const before = replies;
  pump();
  // Lost packets would shrink the window for good: refill it when nothing came back for a while.
  const refill = setInterval(() => {
    if (Date.now() - lastProgress > 50) {
      inflight = 0;
      pump();
    }
  }, 50);
  setTimeout(() => {
    clearInterval(refill);
    const secs = (Date.now() - t0) / 1000;
    process.stdout.write(JSON.stringify({ rps: (replies - before) / secs, seconds: secs, errors }) + '\n');
    socket.close();
    process.exit(0);
  }, seconds * 1000);
}

socket.bind(0, '127.0.0.1', () => {
  const ask = () => !counting && socket.send(connectPacket(0xc0ffee), port, '127.0.0.1');
  ask();
  const retry = setInterval(() => (counting ? clearInterval(retry) : ask()), 200);
});
