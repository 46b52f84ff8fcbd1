// The catalog's running parts for a node: identity, store, its own BEP 44 DHT node (pointers), the DHT and Go
// sources, and periodic follow/republish with jitter. The CLI daemon and the editor both use this.
import DHT from 'bittorrent-dht';
import { Catalog } from './catalog.js';
import { forgetEmptyTables, setVerifyIfUnset } from '../engine/internals.js';
import { FileKeyStore, loadOrCreateIdentity, type Identity, type KeyStore } from './identity.js';
import { dhtVerify, PointerClient } from './pointers.js';
import { DhtSource } from './sources/dht.js';
import { SilmarilGoSource } from './sources/silmaril-go.js';
import { refreshRegistry } from './sources/tracker.js';
import { readTrustedKeys } from './trust.js';
import type { CatalogTransport } from './transport.js';
import { silentLogger, type Logger } from '../log.js';

export interface CatalogServiceOptions {
  home: string;
  keyStore?: KeyStore;
  /** `host:port` list; [] = a private DHT with no bootstrap nodes; undefined = the public ones. */
  dhtBootstrap?: string[];
  dhtPort?: number;
  transport?: CatalogTransport;
  /** Registries (tracker announce URLs) read as sources. */
  trackers?: string[];
  /** Also read the Go Silmaril network (untrusted). */
  silmarilGo?: boolean;
  /** An already running bittorrent-dht node (the engine's) to use instead of starting one. */
  dht?: any;
  /** Follow period; jittered by +-25%. */
  refreshMs?: number;
  /**
   * Publisher keys or fingerprints the user trusts; default <home>/trusted-keys.json. Full keys' feeds are read first;
   * pass trustedKeys() as SearchQuery.trust to have their entries listed `trusted`.
   */
  trustedKeys?: string[] | (() => string[]);
  log?: Logger;
}

export async function openCatalog(
  home: string,
  keyStore?: KeyStore,
): Promise<{ catalog: Catalog; identity: Identity }> {
  const identity = await loadOrCreateIdentity(keyStore ?? FileKeyStore.inHome(home));
  return { catalog: await Catalog.open({ home, identity }), identity };
}

export class CatalogService {
  dht?: any;
  pointers?: PointerClient;
  dhtSource?: DhtSource;
  goSource?: SilmarilGoSource;
  private timer?: NodeJS.Timeout;
  private ownDht = false;
  private stopped = false;
  private trusted: string[] = [];
  private offNode?: () => void;
  private readonly log: Logger;

  private constructor(
    readonly catalog: Catalog,
    readonly identity: Identity,
    private readonly opts: CatalogServiceOptions,
  ) {
    this.log = opts.log ?? silentLogger;
  }

  static async open(opts: CatalogServiceOptions): Promise<CatalogService> {
    const { catalog, identity } = await openCatalog(opts.home, opts.keyStore);
    return new CatalogService(catalog, identity, opts);
  }

  /**
   * Starts the DHT node and the sources that need a transport. `parts` supplies what exists only once the engine
   * runs (its transport and DHT node) when the service was opened earlier, e.g. to fill the sidebar at once.
   */
  async start(parts: { transport?: CatalogTransport; dht?: any } = {}): Promise<void> {
    if (this.opts.trustedKeys === undefined) {
      this.trusted = await readTrustedKeys(this.opts.home).catch((err) => {
        this.log.warn(`catalog: ${(err as Error).message}`);
        return [];
      });
    }
    if (parts.transport) this.opts.transport = parts.transport;
    if (parts.dht) this.opts.dht = parts.dht;
    if (this.opts.dht) {
      // One DHT node per process: the engine's, taught to check BEP 44 signatures (it stores and answers pointers).
      setVerifyIfUnset(this.opts.dht, dhtVerify);
      this.attach(this.opts.dht);
      await this.bootstrapped(this.opts.dht);
      return;
    }
    const boot = this.opts.dhtBootstrap;
    const dht = new (DHT as any)({
      bootstrap: boot === undefined ? undefined : boot.length ? boot : false,
      verify: dhtVerify,
    });
    dht.on('error', (err: Error) => this.log.warn(`catalog dht: ${err.message}`));
    await new Promise<void>((r) => dht.listen(this.opts.dhtPort ?? 0, () => r()));
    for (const b of boot ?? []) {
      const m = /^(.*):(\d+)$/.exec(b);
      if (m) dht.addNode({ host: m[1].replace(/^\[|\]$/g, ''), port: Number(m[2]) });
    }
    this.ownDht = true;
    this.attach(dht);
    await this.bootstrapped(dht);
  }

  /** Waits (bounded) for the DHT to find its first nodes, so a publish right after start reaches someone. */
  private async bootstrapped(dht: any): Promise<void> {
    if (dht.ready) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 15_000);
      timer.unref?.();
      dht.once('ready', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** The keys the user trusts, as full keys (fingerprints are matched when listing, see trust.ts). */
  trustedKeys(): string[] {
    const t = this.opts.trustedKeys;
    return typeof t === 'function' ? t() : (t ?? this.trusted);
  }

  private attach(dht: any): void {
    this.dht = dht;
    if (!forgetEmptyTables(dht)) this.log.warn('catalog: bittorrent-dht changed (no _tables): publishes may lag');
    this.pointers = new PointerClient(dht, this.log);
    if (this.opts.transport) {
      this.dhtSource = new DhtSource(this.catalog, this.pointers, this.opts.transport, this.log);
      this.dhtSource.trustedKeys = () => this.trustedKeys().filter((k) => /^[0-9a-f]{64}$/i.test(k));
      // A share made before the DHT had any node reached nobody: redo it as soon as the DHT finds one, rather than
      // waiting for the back-off timer (issue 13 case 9). Also announce ourselves at the rendezvous then.
      let debounce: NodeJS.Timeout | undefined;
      const onNode = () => {
        if (!this.dhtSource?.unheard || debounce || this.stopped) return;
        debounce = setTimeout(() => {
          debounce = undefined;
          void this.dhtSource?.republish();
        }, 500);
        debounce.unref?.();
      };
      dht.on('node', onNode);
      this.offNode = () => {
        dht.removeListener?.('node', onNode);
        if (debounce) clearTimeout(debounce);
      };
      if (this.opts.silmarilGo) {
        this.goSource = new SilmarilGoSource(this.catalog, this.pointers, this.opts.transport, this.log);
      }
    }
  }

  get dhtPort(): number | undefined {
    return this.dht?.address()?.port;
  }

  /** One follow pass over every source; never throws (errors land on each source's state). */
  async refresh(fresh = false): Promise<void> {
    for (const t of this.opts.trackers ?? []) await refreshRegistry(this.catalog, t);
    const report = await this.dhtSource
      ?.refresh({ fresh })
      .catch((err) => this.log.warn(`catalog: ${(err as Error).message}`));
    // A catalog nobody seeded yet (its publisher's DHT was still empty) is retried soon, with back-off.
    this.retryDelay = report && report.failed > 0 ? Math.min((this.retryDelay || 2500) * 2, 5 * 60_000) : 0;
    await this.goSource?.refresh(fresh);
    await this.catalog.save();
  }

  /** Publishes our entries to our feed and serves our directory at the rendezvous. */
  async publish() {
    if (!this.dhtSource) throw new Error('catalog publishing needs the engine transport');
    const r = await this.dhtSource.publish();
    await this.catalog.save();
    return r;
  }

  /** Back-off before the next pass while some feed's catalog could not be fetched (0: none failed). */
  private retryDelay = 0;

  /** Follows the sources every refreshMs (+-25% jitter), sooner while a catalog could not be fetched, until stop(). */
  follow(onPass?: () => void): void {
    const every = this.opts.refreshMs ?? 10 * 60_000;
    const period = () => (this.retryDelay ? Math.min(this.retryDelay, every) : every);
    const next = () => {
      this.timer = setTimeout(
        async () => {
          await this.refresh(true);
          if (this.stopped) return;
          onPass?.();
          next();
        },
        period() * (0.75 + Math.random() * 0.5),
      );
    };
    next();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.offNode?.();
    this.pointers?.close();
    this.dhtSource?.close();
    await this.catalog.save().catch(() => {});
    if (this.dht && this.ownDht) await new Promise<void>((r) => this.dht.destroy(() => r()));
    this.catalog.close();
  }
}
