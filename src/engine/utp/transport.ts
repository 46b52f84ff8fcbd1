// The peer transport WebTorrent gets in place of utp-native: one uTP endpoint on the engine's port, incoming uTP
// connections handed over as they arrive, and outgoing connections dialled over uTP and TCP at once (dial.ts).
import { EventEmitter } from 'node:events';
import { DialSocket, type DialOptions } from './dial.js';
import { UtpEndpoint, type EndpointOptions } from './endpoint.js';

export interface PeerTransportOptions extends EndpointOptions, DialOptions {}

export class PeerTransport extends EventEmitter {
  readonly endpoint: UtpEndpoint;
  private dial: DialOptions;

  constructor(opts: PeerTransportOptions = {}) {
    super();
    this.endpoint = new UtpEndpoint(opts);
    this.dial = { utp: opts.utp, tcp: opts.tcp, tcpDelayMs: opts.tcpDelayMs };
    this.endpoint.on('connection', (c) => this.emit('connection', c));
    this.endpoint.on('listening', () => this.emit('listening'));
    this.endpoint.on('error', (e) => this.emit('error', e));
    this.endpoint.on('close', () => this.emit('close'));
  }

  /** Changes how outgoing connections are made (the engine's settings arrive after WebTorrent built this). */
  configure(dial: DialOptions): void {
    this.dial = { ...this.dial, ...dial };
  }

  listen(port?: number, host?: string | (() => void), cb?: () => void): this {
    this.endpoint.listen(port, host, cb);
    return this;
  }

  address(): { address: string; port: number; family: string } {
    return this.endpoint.address();
  }

  connect(port: number, host: string): DialSocket {
    return new DialSocket(this.endpoint, port, host, this.dial);
  }

  close(cb?: () => void): void {
    this.endpoint.close(cb);
  }

  setSendBufferSize(n: number): void {
    this.endpoint.setSendBufferSize(n);
  }

  setRecvBufferSize(n: number): void {
    this.endpoint.setRecvBufferSize(n);
  }
}

/** What the utp-native slot (slot.cjs) serves to WebTorrent. */
export const utpNative = {
  createServer: (): PeerTransport => new PeerTransport(),
  /** A client-only connection (WebTorrent uses this when it has no server; ours always has one). */
  connect: (port: number, host: string): DialSocket => new DialSocket(new UtpEndpoint(), port, host),
};
