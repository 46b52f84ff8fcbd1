// Reaches into WebTorrent (3.0.21, pinned exactly in package.json) for transports, through the fence
// src/engine/internals.ts:
// - the client's uTP server (utpServerOf, a getter over its connection pool's): the PeerTransport WebTorrent built
//   through the utp-native slot, configured here with the engine's settings (it is created after the TCP server
//   listens, with no arguments, so settings cannot travel through the constructor);
// - the connection pool's TCP server (tcpServerOf): with TCP turned off, its connections are refused (the port
//   stays bound, since WebTorrent reports the TCP server's port as the engine's and the uTP socket shares it).
// test/unit/utp/dial.test.ts and test/unit/engine/internals/webtorrent.test.ts fail when either member goes away.
import { tcpServerOf, utpServerOf } from '../internals.js';
import slot from './slot.cjs';
import { PeerTransport, utpNative } from './transport.js';

/** Puts our uTP into the utp-native slot (idempotent); must run before WebTorrent is constructed. */
export function installUtp(): void {
  slot.install(utpNative);
}

export interface TransportSettings {
  utp: boolean;
  tcp: boolean;
}

/** Applies the transport settings once the client listens. Returns the uTP transport, if any. */
export function configureTransports(client: any, settings: TransportSettings): PeerTransport | undefined {
  const utp = utpServerOf(client);
  const transport = utp instanceof PeerTransport ? utp : undefined;
  transport?.configure({ utp: settings.utp, tcp: settings.tcp });
  if (!settings.tcp) {
    const tcpServer = tcpServerOf(client);
    if (!tcpServer) throw new Error('WebTorrent internals changed: _connPool.tcpServer is missing');
    tcpServer.removeAllListeners('connection');
    tcpServer.on('connection', (sock: { destroy(): void }) => sock.destroy());
  }
  return transport;
}
