// What a local HTTP service must check before it answers a browser (issue 13, case 10). A tracker on loopback
// needs no registry key, so any web page the user opens could otherwise write to it: a form POST with
// `text/plain` needs no CORS preflight, and DNS rebinding (attacker.example resolving to 127.0.0.1) makes a
// page same-origin with us. So:
// - `Host` must name this machine (a loopback name or address, `*.localhost`) or a host the operator
//   configured; a rebinding page sends its own domain and is refused before anything is read or written.
// - Writes refuse any `Origin` (or `Sec-Fetch-Site`) other than our own, and POST bodies must be declared JSON,
//   which a cross-site page cannot send without a preflight we never grant.
// BitTorrent clients and our own CLI send neither Origin nor Sec-Fetch-*; they are unaffected.
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { isLoopbackHost } from './client-ip.js';

export interface HttpGuardOptions {
  /** The address the server listens on. */
  listenHost: string;
  /** Host names (or addresses) the server is reached by besides loopback ones, e.g. `tracker.example.org`.
   *  When the server listens beyond loopback and none is given, `Host` is not checked (writes there need a
   *  registry key anyway). */
  publicHosts?: readonly string[];
}

/** The host name of a `Host` header or an origin's authority, lower-cased, without port or brackets. */
export function hostName(authority: string): string {
  const a = authority.trim().toLowerCase();
  if (a.startsWith('[')) {
    const end = a.indexOf(']');
    return end < 0 ? a : a.slice(1, end);
  }
  const colon = a.lastIndexOf(':');
  // A bare IPv6 address has several colons and no port.
  return colon >= 0 && a.indexOf(':') === colon ? a.slice(0, colon) : a;
}

export class HttpGuard {
  private readonly allowed: Set<string>;
  private readonly checkHost: boolean;
  private port = 0;

  constructor(opts: HttpGuardOptions) {
    const listen = opts.listenHost.toLowerCase();
    this.allowed = new Set((opts.publicHosts ?? []).map((h) => hostName(h)).filter(Boolean));
    // Beyond loopback, without configured names we cannot know every name the server is reached by.
    this.checkHost = isLoopbackHost(listen) || this.allowed.size > 0;
    if (isIP(listen) && listen !== '0.0.0.0' && listen !== '::') this.allowed.add(listen);
  }

  /** The port the server got (origins must carry it to be ours). */
  setPort(port: number): void {
    this.port = port;
  }

  private nameAllowed(name: string): boolean {
    if (isLoopbackHost(name) || name.endsWith('.localhost')) return true;
    return this.allowed.has(name);
  }

  /** Host values already judged (bounded): the announce path pays one map lookup, not a parse. */
  private readonly judged = new Map<string, boolean>();

  /** Why the `Host` of `req` is refused, or undefined when it is fine (or absent: HTTP/1.0 tools). */
  hostRefusal(req: IncomingMessage): string | undefined {
    if (!this.checkHost) return undefined;
    // rawHeaders, not `req.headers`: that object is built on first use, and the announce path never needs it.
    const raw = req.rawHeaders;
    let host: string | undefined;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!;
      if (name.length === 4 && name.toLowerCase() === 'host') {
        host = raw[i + 1];
        break;
      }
    }
    if (host === undefined) return undefined;
    let ok = this.judged.get(host);
    if (ok === undefined) {
      ok = this.nameAllowed(hostName(host));
      if (this.judged.size >= 1024) this.judged.clear();
      this.judged.set(host, ok);
    }
    return ok ? undefined : `Host "${host.slice(0, 100)}" is not served here`;
  }

  /** Why a write (any method but GET/HEAD/OPTIONS) is refused, or undefined when it may go on. `requireJson`:
   *  POST/PUT/PATCH bodies must be declared `application/json`. */
  writeRefusal(req: IncomingMessage, requireJson = true): string | undefined {
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none') return 'Cross-site writes are refused';
    const origin = req.headers.origin;
    if (origin !== undefined) {
      let url: URL;
      try {
        url = new URL(origin);
      } catch {
        return 'Cross-site writes are refused';
      }
      const dflt = url.protocol === 'https:' ? 443 : 80;
      if (
        (url.protocol !== 'http:' && url.protocol !== 'https:') ||
        !this.nameAllowed(hostName(url.hostname)) ||
        (url.port ? Number(url.port) : dflt) !== this.port
      ) {
        return 'Cross-site writes are refused';
      }
    }
    if (requireJson && (req.method === 'POST' || req.method === 'PUT' || req.method === 'PATCH')) {
      const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (type !== 'application/json') return 'Writes must be sent as application/json';
    }
    return undefined;
  }
}
