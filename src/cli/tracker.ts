// `silmaril tracker [--host H] [--port N] [--db F] [--open] [--registry-key K]`: runs the tracker and registry
// (HTTP and UDP on one port) until SIGINT/SIGTERM.
import { stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { expectArgs, intOption, jsonLine, parseCommand, resolveHome, UsageError } from './args.js';
import { outputFolder } from './paths.js';
import { stderrLogger, untilSignal } from './engine-options.js';
import { Tracker } from '../app/tools.js';

/** One line for `silmaril --help`. */
export const summary = 'Runs a BitTorrent tracker with a model registry.';

export const usage = `usage: silmaril tracker [options]
Runs a BitTorrent tracker with a Weightless-compatible model registry until interrupted.
  --host H               address to listen on (default 127.0.0.1; 0.0.0.0 or :: for everyone)
  --port N               HTTP and UDP port (default 6969; 0 picks a free one)
  --db F                 registry database file (default <home>/tracker.db)
  --open                 track any infohash, not only registered ones
  --registry-key K       key registry writes must send in X-Weightless-Key (or $SILMARIL_REGISTRY_KEY);
                         without one, writes are refused unless the tracker listens on loopback only
  --passkey-secret S     require Weightless passkeys (/announce/<user>.<hmac>) (or $SILMARIL_TRACKER_SECRET)
  --trusted-proxy IP     believe X-Forwarded-For from this proxy (repeatable)
  --max-conns-per-ip N   open HTTP connections per client address (default 128)
  --max-conns N          open HTTP connections in all (default 1024)
  --public-host NAME     a name clients reach the tracker by (repeatable); requests naming any other Host
                         are refused (always on for loopback, which accepts loopback names only)
  --rate-limit N         requests per second per client (burst 5x; 0 turns the limit off; default 20)
  --interval N           announce interval in seconds (default 1800)
  --no-udp               serve HTTP only
  --verbose              log more to stderr
  --json                 print {"event":"ready", ...} once listening
  --home DIR             state folder (default $SILMARIL_HOME or ~/.silmaril)
`;

const options = {
  host: { type: 'string' },
  port: { type: 'string' },
  db: { type: 'string' },
  open: { type: 'boolean', default: false },
  'registry-key': { type: 'string' },
  'passkey-secret': { type: 'string' },
  'trusted-proxy': { type: 'string', multiple: true },
  'public-host': { type: 'string', multiple: true },
  'max-conns-per-ip': { type: 'string' },
  'max-conns': { type: 'string' },
  'rate-limit': { type: 'string' },
  interval: { type: 'string' },
  'no-udp': { type: 'boolean', default: false },
  verbose: { type: 'boolean', default: false },
} as const;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(argv, options);
  expectArgs(positionals, []);
  const port = intOption(values.port, 'port', 0, 65535) ?? 6969;
  const rate = intOption(values['rate-limit'], 'rate-limit', 0, 1_000_000) ?? 20;
  const interval = intOption(values.interval, 'interval', 10, 86400);
  const dbPath = values.db ? resolve(values.db) : join(resolveHome(values.home), 'tracker.db');
  if ((await stat(dbPath).catch(() => undefined))?.isDirectory())
    throw new UsageError(`--db ${values.db ?? dbPath} is a folder`, { hint: 'give a file name, e.g. tracker.db' });
  await outputFolder(values.db ? dirname(values.db) : dirname(dbPath), values.db ? '--db' : '--home');
  const tracker = new Tracker({
    host: values.host,
    port,
    dbPath,
    open: values.open,
    registryKey: values['registry-key'] || process.env.SILMARIL_REGISTRY_KEY || undefined,
    passkeySecret: values['passkey-secret'] || process.env.SILMARIL_TRACKER_SECRET || undefined,
    trustedProxies: values['trusted-proxy'],
    publicHosts: values['public-host'],
    maxConnectionsPerIp: intOption(values['max-conns-per-ip'], 'max-conns-per-ip', 1, 1_000_000),
    maxConnections: intOption(values['max-conns'], 'max-conns', 1, 1_000_000),
    rateLimit: rate === 0 ? false : { perSecond: rate, burst: rate * 5 },
    interval,
    udp: !values['no-udp'],
    logger: stderrLogger(values.verbose),
  });
  const stopped = untilSignal();
  const addr = await tracker.start();
  if (values.json) {
    jsonLine({ event: 'ready', ...addr, db: dbPath, open: values.open });
  } else {
    process.stdout.write(
      `tracker listening on ${addr.url}${addr.udp ? ` and ${addr.udp}` : ''}\n` +
        `announce URL: ${addr.announce}\nregistry: ${addr.url}/api/registry (database ${dbPath})\n`,
    );
  }
  await stopped;
  await tracker.stop();
  if (values.json) jsonLine({ event: 'stopped' });
  return 0;
}
