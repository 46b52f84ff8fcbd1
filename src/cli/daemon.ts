// `silmaril daemon`: the headless node. Seeds every share recorded in its home, keeps a DHT node, publishes this
// home's catalog entries (feed + shared index) and republishes them with jitter, follows the catalog, and can run
// the embedded tracker (--tracker-port). Runs until SIGINT/SIGTERM.
import { intOption, jsonLine, parseCommand, bootstrapOption } from './args.js';
import { engineOptionSpec, engineUsage, nodeOptions, stderrLogger, untilSignal } from './engine-options.js';
import { EngineTransport } from '../catalog/engine-transport.js';
import { CatalogService } from '../catalog/service.js';
import { SilmarilNode } from '../node.js';
import { Tracker } from '../tracker/tracker.js';
import { join } from 'node:path';
import { resumeHfInstalls } from '../models/hf/download.js';

export const usage = `usage: silmaril daemon [options]
Keeps this home's shares seeded and the catalog published and followed.
  --tracker-port N       also run the embedded tracker on this port (127.0.0.1 unless --tracker-host)
  --tracker-host H       address for the embedded tracker
  --catalog-dht-port N   UDP port of the catalog's DHT node (pointers)
  --refresh N            seconds between catalog follow passes (default 600, +-25% jitter)
  --silmaril-go          also read the Go Silmaril network (untrusted entries)
  --json                 one JSON line per event: ready, published, refreshed, stopped
${engineUsage}`;

const options = {
  ...engineOptionSpec,
  'tracker-port': { type: 'string' },
  'tracker-host': { type: 'string' },
  'catalog-dht-port': { type: 'string' },
  refresh: { type: 'string' },
  'silmaril-go': { type: 'boolean', default: false },
} as const;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommand(argv, options);
  const log = stderrLogger(values.verbose);
  const out = (o: Record<string, unknown>) => (values.json ? jsonLine(o) : process.stdout.write(`${o.event}\n`));
  const opts = nodeOptions(values, log);
  const stopped = untilSignal();
  let tracker: Tracker | undefined;
  const trackerPort = intOption(values['tracker-port'], 'tracker-port', 0, 65535);
  if (trackerPort !== undefined) {
    tracker = new Tracker({
      host: values['tracker-host'],
      port: trackerPort,
      dbPath: join(opts.home, 'tracker.db'),
      logger: log,
    });
  }
  const node = new SilmarilNode(opts);
  let service: CatalogService | undefined;
  try {
    const trackerAddr = tracker ? await tracker.start() : undefined;
    await node.start();
    const restored = await node.engine.restore();
    resumeHfInstalls(node.engine, log); // downloads into the Hugging Face cache from an earlier run
    service = await CatalogService.open({
      home: opts.home,
      dhtBootstrap: bootstrapOption(values['dht-bootstrap']),
      dhtPort: intOption(values['catalog-dht-port'], 'catalog-dht-port', 0, 65535),
      transport: new EngineTransport(node.engine, opts.home),
      // The engine's DHT node serves the pointers too, unless a separate port was asked for.
      dht: values['catalog-dht-port'] === undefined ? node.engine.dht : undefined,
      trackers: values.tracker,
      silmarilGo: values['silmaril-go'],
      refreshMs: (intOption(values.refresh, 'refresh', 1, 86_400) ?? 600) * 1000,
      log,
    });
    await service.start();
    out({
      event: 'ready',
      publisher: service.identity.publisher,
      fingerprint: service.identity.fingerprint,
      port: node.engine.port,
      dhtPort: node.engine.dhtPort,
      catalogDhtPort: service.dhtPort,
      seeding: restored.map((t) => t.id),
      tracker: trackerAddr?.announce,
    });
    const svc = service;
    // Our feed is republished whenever our own entries change, whichever path merged the change in (the watcher
    // below, or a save that first merged what `silmaril share` wrote from another process).
    let publishedVersion = -1;
    const publish = async () => {
      const version = svc.catalog.ownVersion;
      if (version === publishedVersion) return;
      if (!svc.catalog.ownEntries().length) {
        publishedVersion = version;
        return;
      }
      try {
        const r = await svc.publish();
        publishedVersion = version;
        out({ event: 'published', feedSeq: r.feedSeq, index: r.index.infohash, indexSeq: r.index.seq, acks: r.acks });
      } catch (err) {
        log.warn(`catalog publish: ${(err as Error).message}`);
      }
    };
    await publish();
    let busy = false;
    const watcher = setInterval(async () => {
      if (busy) return;
      busy = true;
      try {
        if (await svc.catalog.syncFromDisk()) await svc.catalog.save();
        if (svc.catalog.ownVersion !== publishedVersion) {
          await node.engine.restore(); // shares recorded by `silmaril share` start seeding
          resumeHfInstalls(node.engine, log);
          await publish();
        }
      } catch (err) {
        log.warn(`daemon: ${(err as Error).message}`);
      } finally {
        busy = false;
      }
    }, 1000);
    // A signal during the first follow pass (a catalog download can wait a minute for a seeder) stops at once.
    const first = svc.refresh(true).then(() => 'refreshed' as const);
    if ((await Promise.race([first, stopped])) === 'refreshed') {
      out({ event: 'refreshed', entries: svc.catalog.store.count() });
      svc.follow(() => out({ event: 'refreshed', entries: svc.catalog.store.count() }));
      await stopped;
    }
    clearInterval(watcher);
    out({ event: 'stopped' });
    return 0;
  } finally {
    await service?.stop().catch(() => {});
    await node.stop().catch(() => {});
    await tracker?.stop().catch(() => {});
  }
}
