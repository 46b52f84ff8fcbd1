// A hostile BitTorrent peer for tests: a raw TCP client on loopback that speaks just enough of the wire protocol
// (BEP 3 handshake and messages, BEP 10 extended messages) to send whatever it likes, and can stop reading.
import bencode from 'bencode';
import crypto from 'node:crypto';
import net from 'node:net';

export interface RawMessage {
  id: number;
  payload: Buffer;
}

export class RawPeer {
  readonly sock: net.Socket;
  readonly closed: Promise<void>;
  /** Bytes received from the node. */
  received = 0;
  handshook = false;
  /** The node's extended handshake (BEP 10), once received. */
  theirExtended?: any;
  unchoked = false;
  private buf = Buffer.alloc(0);
  private readonly listeners: ((m: RawMessage) => void)[] = [];

  private constructor(sock: net.Socket) {
    this.sock = sock;
    this.closed = new Promise((resolve) => sock.once('close', () => resolve()));
    sock.on('error', () => {});
    sock.on('data', (d) => this.onData(d));
  }

  /** Connects and sends a handshake for `infoHash` (extended and fast bits as asked). */
  static async connect(
    port: number,
    infoHash: string,
    opts: { extended?: boolean; fast?: boolean } = {},
  ): Promise<RawPeer> {
    const sock = net.connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', reject);
    });
    const p = new RawPeer(sock);
    const reserved = Buffer.alloc(8);
    if (opts.extended !== false) reserved[5] |= 0x10;
    if (opts.fast) reserved[7] |= 0x04;
    sock.write(
      Buffer.concat([
        Buffer.from('\x13BitTorrent protocol', 'latin1'),
        reserved,
        Buffer.from(infoHash, 'hex'),
        Buffer.from('-XX0001-' + crypto.randomBytes(6).toString('hex')),
      ]),
    );
    return p;
  }

  private onData(d: Buffer): void {
    this.received += d.length;
    this.buf = Buffer.concat([this.buf, d]);
    if (!this.handshook) {
      if (this.buf.length < 68) return;
      this.buf = this.buf.subarray(68);
      this.handshook = true;
    }
    while (this.buf.length >= 4) {
      const len = this.buf.readUInt32BE(0);
      if (this.buf.length < 4 + len) return;
      const msg = this.buf.subarray(4, 4 + len);
      this.buf = this.buf.subarray(4 + len);
      if (len === 0) continue;
      const m = { id: msg[0], payload: Buffer.from(msg.subarray(1)) };
      if (m.id === 1) this.unchoked = true;
      if (m.id === 20 && m.payload[0] === 0) {
        try {
          this.theirExtended = bencode.decode(m.payload.subarray(1));
        } catch {
          // not ours to judge
        }
      }
      for (const l of [...this.listeners]) l(m);
    }
  }

  /** Calls `fn` with every message from now on (for a peer that answers as it goes). */
  onMessage(fn: (m: RawMessage) => void): void {
    this.listeners.push(fn);
  }

  /** Resolves with the first message (from now on) that `pred` accepts. */
  next(pred: (m: RawMessage) => boolean, timeoutMs = 20_000): Promise<RawMessage> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners.splice(this.listeners.indexOf(on), 1);
        reject(new Error('timed out waiting for a message from the node'));
      }, timeoutMs);
      timer.unref(); // a wait on a closed connection must not keep the test process alive
      const on = (m: RawMessage) => {
        if (!pred(m)) return;
        clearTimeout(timer);
        this.listeners.splice(this.listeners.indexOf(on), 1);
        resolve(m);
      };
      this.listeners.push(on);
    });
  }

  /** Writes raw bytes; false once the socket is gone. */
  raw(bytes: Uint8Array): boolean {
    if (this.sock.destroyed) return false;
    return this.sock.write(bytes);
  }

  message(id: number, payload: Uint8Array = Buffer.alloc(0)): boolean {
    const head = Buffer.alloc(5);
    head.writeUInt32BE(payload.length + 1, 0);
    head[4] = id;
    return this.raw(Buffer.concat([head, payload]));
  }

  /** A BEP 10 extended message: `ext` 0 is the extended handshake. */
  extended(ext: number, body: Uint8Array): boolean {
    return this.message(20, Buffer.concat([Buffer.from([ext]), body]));
  }

  request(index: number, offset: number, length: number): boolean {
    const p = Buffer.alloc(12);
    p.writeUInt32BE(index, 0);
    p.writeUInt32BE(offset, 4);
    p.writeUInt32BE(length, 8);
    return this.message(6, p);
  }

  /** The id the node gave an extension in its extended handshake. */
  theirId(name: string): number | undefined {
    const id = this.theirExtended?.m?.[name];
    return typeof id === 'number' ? id : undefined;
  }

  /** Stops reading from the socket (the kernel buffers fill, then the node's writes queue up). */
  stopReading(): void {
    this.sock.pause();
  }

  destroy(): void {
    this.sock.destroy();
  }
}

/** Polls `probe` until it returns a truthy value (or throws after `timeoutMs`: the condition never held). */
export async function eventually<T>(probe: () => T | undefined | false, what: string, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
