// Outgoing peer connections over uTP and TCP. libtorrent tries uTP, waits for it to time out (about 3 s) and only
// then TCP; WebTorrent retries uTP through its whole reconnect schedule (~21 s) before it does. Here both race, as
// browsers race IPv6 and IPv4 ("happy eyeballs"): uTP goes first, TCP follows if uTP has not connected within
// `tcpDelayMs` (or at once when uTP fails), and whichever connects first carries the connection; the other is closed.
// A peer that speaks only TCP is reached a fraction of a second late instead of seconds, and one that speaks uTP
// gets uTP (LEDBAT) whenever its answer comes back within the delay.
import net from 'node:net';
import { Duplex } from 'node:stream';
import type { UtpEndpoint } from './endpoint.js';

export type Transport = 'utp' | 'tcp';

export interface DialOptions {
  /** Try uTP (default true). */
  utp?: boolean;
  /** Try TCP (default true). */
  tcp?: boolean;
  /** How long uTP has before TCP starts too. */
  tcpDelayMs?: number;
}

export const DEFAULT_TCP_DELAY_MS = 400;
/** How long uTP may still answer once TCP has been refused. */
const UTP_GRACE_AFTER_TCP_MS = 1000;

export class DialSocket extends Duplex {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly remoteFamily = 'IPv4';
  /** Which transport won, once connected. */
  transport: Transport | undefined;
  private inner: Duplex | undefined;
  private readonly attempts = new Map<Transport, Duplex>();
  private readonly failures: string[] = [];
  private tcpTimer: NodeJS.Timeout | undefined;
  private utpGrace: NodeJS.Timeout | undefined;
  private tcpTried = false;
  /** The first error code seen (TCP's refusal is the telling one). */
  private code: string | undefined;
  private pendingWrite: { chunks: Buffer[]; cb: (err?: Error | null) => void } | undefined;

  constructor(
    private readonly endpoint: UtpEndpoint | undefined,
    port: number,
    host: string,
    private readonly opts: DialOptions = {},
  ) {
    // A reader-side mark well above one delivery (uTP hands over up to a window per turn of the event loop): with
    // the default 16 KiB every delivery would pause the connection underneath, shrinking the window it advertises.
    super({ allowHalfOpen: false, readableHighWaterMark: 1024 * 1024 });
    this.remoteAddress = host;
    this.remotePort = port;
    const useUtp = opts.utp !== false && !!endpoint;
    const useTcp = opts.tcp !== false;
    if (!useUtp && !useTcp) {
      queueMicrotask(() => this.destroy(new Error('no transport enabled for outgoing connections')));
      return;
    }
    if (useUtp) this.start('utp');
    if (useTcp) {
      if (!useUtp) this.start('tcp');
      else {
        this.tcpTimer = setTimeout(() => this.start('tcp'), opts.tcpDelayMs ?? DEFAULT_TCP_DELAY_MS);
        this.tcpTimer.unref?.();
      }
    }
  }

  get connected(): boolean {
    return !!this.inner;
  }

  private start(kind: Transport): void {
    if (this.inner || this.destroyed || this.attempts.has(kind)) return;
    if (kind === 'tcp') {
      clearTimeout(this.tcpTimer);
      this.tcpTried = true;
    }
    const sock: Duplex =
      kind === 'utp'
        ? this.endpoint!.connect(this.remotePort, this.remoteAddress)
        : net.connect({ port: this.remotePort, host: this.remoteAddress });
    this.attempts.set(kind, sock);
    const onError = (err: Error) => this.failed(kind, err);
    sock.once('error', onError);
    sock.once('close', () => {
      if (!this.inner && this.attempts.get(kind) === sock) this.failed(kind, new Error('closed'));
    });
    sock.once('connect', () => {
      sock.off('error', onError);
      this.won(kind, sock);
    });
    // The peer dialled us at the same moment and its connection is the one both sides keep (endpoint.ts).
    sock.once('replaced', (next: Duplex) => {
      sock.off('error', onError);
      if (this.inner || this.destroyed) return void next.destroy();
      this.attempts.set(kind, next);
      this.won(kind, next);
    });
  }

  private failed(kind: Transport, err: Error): void {
    if (this.inner || this.destroyed) return;
    const sock = this.attempts.get(kind);
    if (!sock) return;
    this.attempts.delete(kind);
    sock.destroy(); // already closed when it failed by itself; not when uTP's grace ran out
    this.failures.push(`${kind}: ${err.message}`);
    const code = (err as NodeJS.ErrnoException).code;
    if (code) this.code ??= code;
    // uTP failed early: do not wait for the TCP timer.
    if (kind === 'utp' && this.opts.tcp !== false && !this.tcpTried) {
      this.start('tcp');
      return;
    }
    // TCP got a definite answer (refused, unreachable) while uTP has heard nothing: a peer that speaks uTP answers
    // within a round trip, so give it a moment more, not its whole SYN schedule, and report both.
    if (kind === 'tcp' && this.attempts.has('utp')) {
      this.utpGrace = setTimeout(() => this.failed('utp', new Error('no answer')), UTP_GRACE_AFTER_TCP_MS);
      this.utpGrace.unref?.();
      return;
    }
    if (this.attempts.size === 0) {
      const message = `could not connect to ${this.remoteAddress}:${this.remotePort} (${this.failures.join('; ')})`;
      this.destroy(Object.assign(new Error(message), { code: this.code ?? 'ECONNREFUSED' }));
    }
  }

  private won(kind: Transport, sock: Duplex): void {
    if (this.inner || this.destroyed) {
      sock.destroy();
      return;
    }
    clearTimeout(this.tcpTimer);
    clearTimeout(this.utpGrace);
    for (const [k, other] of this.attempts) if (k !== kind) other.destroy();
    this.attempts.clear();
    this.inner = sock;
    this.transport = kind;
    if (kind === 'tcp') (sock as net.Socket).setNoDelay(true);
    sock.on('data', (d: Buffer) => {
      if (!this.push(d)) sock.pause();
    });
    sock.on('end', () => this.push(null));
    sock.on('error', (err: Error) => this.destroy(err));
    sock.on('close', () => this.destroy());
    const pending = this.pendingWrite;
    this.pendingWrite = undefined;
    if (pending) this.writeInner(pending.chunks, pending.cb);
    this.emit('connect');
  }

  private writeInner(chunks: Buffer[], cb: (err?: Error | null) => void): void {
    const inner = this.inner!;
    inner.cork();
    for (let i = 0; i < chunks.length - 1; i++) inner.write(chunks[i]);
    const ok = inner.write(chunks[chunks.length - 1]);
    process.nextTick(() => inner.uncork());
    // Hold the writer back while the transport is full (our own writable buffer stays small).
    if (ok) cb();
    else inner.once('drain', () => cb());
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.inner) this.writeInner([chunk], cb);
    else this.pendingWrite = { chunks: [chunk], cb };
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
    const list = chunks.map((c) => c.chunk);
    if (this.inner) this.writeInner(list, cb);
    else this.pendingWrite = { chunks: list, cb };
  }

  override _read(): void {
    this.inner?.resume();
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.inner) this.inner.end(cb);
    else cb();
  }

  override _destroy(err: Error | null, cb: (err: Error | null) => void): void {
    clearTimeout(this.tcpTimer);
    clearTimeout(this.utpGrace);
    for (const s of this.attempts.values()) s.destroy();
    this.attempts.clear();
    this.inner?.destroy();
    const pending = this.pendingWrite;
    this.pendingWrite = undefined;
    pending?.cb(err ?? new Error('connection closed'));
    cb(err);
  }

  setNoDelay(): this {
    return this;
  }

  setKeepAlive(): this {
    return this;
  }

  setTimeout(): this {
    return this;
  }
}
