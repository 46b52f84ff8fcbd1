// Which address a request comes from. Proxy headers are believed only from configured trusted proxies:
// anyone else could write any X-Forwarded-For they like.
import { isIP } from 'node:net';

/** `::ffff:1.2.3.4` (an IPv4 client on a dual-stack socket) becomes `1.2.3.4`. */
export function normalizeIp(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

export function isLoopbackHost(host: string): boolean {
  const h = normalizeIp(host.replace(/^\[|\]$/g, ''));
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

export class ClientIpResolver {
  private readonly trusted: Set<string>;

  constructor(trustedProxies: readonly string[] = []) {
    this.trusted = new Set(trustedProxies.map(normalizeIp));
  }

  get hasTrustedProxies(): boolean {
    return this.trusted.size > 0;
  }

  /**
   * The client's IP: the socket peer, or, when that peer is a trusted proxy, the right-most address in
   * X-Forwarded-For that is not itself a trusted proxy.
   */
  resolve(socketIp: string, forwardedFor: string | string[] | undefined): string {
    const ip = normalizeIp(socketIp);
    if (this.trusted.size === 0 || !this.trusted.has(ip) || forwardedFor === undefined) return ip;
    const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = normalizeIp(hops[i]!.trim());
      if (!isIP(hop)) return ip;
      if (!this.trusted.has(hop)) return hop;
    }
    return ip;
  }
}

/** Compact bytes of an IP (4 for IPv4, 16 for IPv6); undefined when it is not an IP address. */
export function ipBytes(ip: string): Buffer | undefined {
  const kind = isIP(ip);
  if (kind === 4) {
    const parts = ip.split('.');
    const out = Buffer.allocUnsafe(4);
    for (let i = 0; i < 4; i++) out[i] = Number(parts[i]);
    return out;
  }
  if (kind !== 6) return undefined;
  let text = ip;
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  // An embedded IPv4 tail (64:ff9b::1.2.3.4) becomes two hex groups.
  const lastColon = text.lastIndexOf(':');
  if (text.indexOf('.', lastColon) >= 0) {
    const v4 = text
      .slice(lastColon + 1)
      .split('.')
      .map(Number);
    const hi = ((v4[0]! << 8) | v4[1]!).toString(16);
    const lo = ((v4[2]! << 8) | v4[3]!).toString(16);
    text = `${text.slice(0, lastColon + 1)}${hi}:${lo}`;
  }
  const parse = (s: string) => (s === '' ? [] : s.split(':').map((x) => parseInt(x, 16)));
  const gap = text.indexOf('::');
  const groups =
    gap < 0
      ? parse(text)
      : (() => {
          const h = parse(text.slice(0, gap));
          const r = parse(text.slice(gap + 2));
          return [...h, ...new Array<number>(Math.max(0, 8 - h.length - r.length)).fill(0), ...r];
        })();
  if (groups.length !== 8) return undefined;
  const out = Buffer.allocUnsafe(16);
  for (let i = 0; i < 8; i++) out.writeUInt16BE(groups[i]! & 0xffff, i * 2);
  return out;
}
