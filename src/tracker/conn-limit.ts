// Connection caps for the tracker's HTTP server (issue 13, case 11: slowloris). Node accepts every connection
// and keeps it while its headers dribble in, so one client could hold every socket (and file descriptor) the
// process has. Here each client address gets at most `perIp` open connections, the server at most `total`;
// one over either is closed at once. Slow headers are dropped by Node's own headersTimeout, which the server
// is created with (see tracker.ts), checked every second instead of every 30.
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { normalizeIp } from './client-ip.js';

export interface ConnectionLimits {
  /** Open connections per client address. */
  perIp: number;
  /** Open connections in all. */
  total: number;
  /** Addresses without a per-address cap: trusted proxies carry many clients. */
  exempt?: ReadonlySet<string>;
}

/** Applies the caps to `server`; `counters.connectionsRefused` counts the connections closed on arrival. */
export function limitConnections(
  server: Server,
  limits: ConnectionLimits,
  counters: { connectionsRefused: number },
): void {
  const perIp = new Map<string, number>();
  let open = 0;
  server.on('connection', (socket: Socket) => {
    const ip = normalizeIp(socket.remoteAddress ?? '');
    const mine = perIp.get(ip) ?? 0;
    if (open >= limits.total || (mine >= limits.perIp && !limits.exempt?.has(ip))) {
      counters.connectionsRefused++;
      socket.destroy();
      return;
    }
    open++;
    perIp.set(ip, mine + 1);
    socket.once('close', () => {
      open--;
      const n = (perIp.get(ip) ?? 1) - 1;
      if (n <= 0) perIp.delete(ip);
      else perIp.set(ip, n);
    });
  });
}
