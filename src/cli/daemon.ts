// `silmaril daemon`: the headless node of a home (src/app/node.ts). Seeds every share recorded in its home, keeps a
// DHT node, publishes this home's catalog entries (feed + shared index) and republishes them when they change,
// follows the catalog, can run the embedded tracker (--tracker-port), and serves the control API that the other
// commands (and the editor) use while it runs. Runs until SIGINT/SIGTERM or `silmaril stop`.
import { expectArgs, intOption, jsonLine, parseCommand } from './args.js';
import { engineOptionSpec, engineUsage, nodeOptions, stderrLogger, untilSignal } from './engine-options.js';
import { AppNode } from '../app/node.js';
import { plural } from '../shared/format.js';

/** One line for `silmaril --help`. */
export const summary = "Runs this home's node: seeds its shares, publishes and follows the catalog.";

export const usage = `usage: silmaril daemon [options]
Keeps this home's shares seeded and the catalog published and followed; serves the control API (docs/protocols.md).
  --tracker-port N       also run the embedded tracker on this port (127.0.0.1 unless --tracker-host)
  --tracker-host H       address for the embedded tracker
  --catalog-dht-port N   UDP port of the catalog's DHT node (pointers)
  --refresh N            seconds between catalog follow passes (default 600, +-25% jitter)
  --silmaril-go          also read the Go Silmaril network (untrusted entries)
  --json                 one JSON line per event: ready, published, publish-pending, refreshed, stopped
${engineUsage}`;

const options = {
  ...engineOptionSpec,
  'tracker-port': { type: 'string' },
  'tracker-host': { type: 'string' },
  'catalog-dht-port': { type: 'string' },
  refresh: { type: 'string' },
  'silmaril-go': { type: 'boolean', default: false },
} as const;

/** One line in words per event (the --json form has every field). */
function describe(o: Record<string, unknown>): string {
  switch (o.event) {
    case 'ready': {
      const seeding = (o.seeding as string[] | undefined)?.length ?? 0;
      return [
        `ready: seeding ${plural(seeding, 'share')}`,
        `peers on TCP port ${o.port ?? '-'}`,
        o.dhtPort ? `DHT on UDP port ${o.dhtPort}` : 'DHT off',
        `control API on 127.0.0.1:${o.controlPort}`,
        ...(o.tracker ? [`tracker ${o.tracker}`] : []),
      ].join(', ');
    }
    case 'published': {
      // Honest about the DHT: a put no node stored is not "published".
      const acks = typeof o.acks === 'number' ? o.acks : undefined;
      if (acks === 0) return `catalog not yet on the DHT: no node stored it (feed seq ${o.feedSeq}); retrying`;
      return `catalog published on the DHT (feed seq ${o.feedSeq}${acks ? `, stored by ${plural(acks, 'node')}` : ''})`;
    }
    case 'refreshed':
      return `catalog followed: ${plural(Number(o.entries ?? 0), 'entry', 'entries')} known`;
    default:
      return String(o.event);
  }
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(argv, options);
  expectArgs(positionals, []);
  const log = stderrLogger(values.verbose);
  const out = (o: Record<string, unknown>) => (values.json ? jsonLine(o) : process.stdout.write(`${describe(o)}\n`));
  const base = nodeOptions(values, log, 'daemon');
  const trackerPort = intOption(values['tracker-port'], 'tracker-port', 0, 65535);
  const node = new AppNode({
    ...base,
    restore: true,
    control: true,
    tracker: trackerPort === undefined ? undefined : { host: values['tracker-host'], port: trackerPort },
    catalog: {
      dhtPort: intOption(values['catalog-dht-port'], 'catalog-dht-port', 0, 65535),
      registries: values.tracker,
      silmarilGo: values['silmaril-go'],
      refreshMs: (intOption(values.refresh, 'refresh', 1, 86_400) ?? 600) * 1000,
    },
  });
  const stopped = untilSignal();
  try {
    await Promise.race([node.start(), stopped]);
    if (!node.started) return 0;
    node.on('published', (r) => out({ event: 'published', ...r }));
    // No DHT node stored it yet (retried): never reported as published.
    node.on('publish-pending', (r) => out({ event: 'publish-pending', ...r }));
    node.on('refreshed', (r) => out({ event: 'refreshed', ...r }));
    const id = node.identity()!;
    const status = await node.status();
    out({
      event: 'ready',
      publisher: id.publisher,
      fingerprint: id.fingerprint,
      port: node.port,
      dhtPort: node.dhtPort,
      catalogDhtPort: node.catalogDhtPort,
      controlPort: node.controlPort,
      seeding: status.transfers.map((t) => t.id),
      tracker: status.tracker.announceUrl,
    });
    // A signal during the first follow pass (a catalog download can wait a minute for a seeder) stops at once.
    void node.follow();
    await Promise.race([stopped, node.stopRequest]);
    out({ event: 'stopped' });
    return 0;
  } finally {
    await node.stop().catch((err: Error) => log.warn(`stopping: ${err.message}`));
  }
}
