// Options shared by the commands that run the P2P engine (seed, get): ports, DHT, peers, rate limits, logging.
import { bootstrapOption, intOption, resolveHome, UsageError, urlOption, type OptionSpec } from './args.js';
import type { Logger } from '../log.js';
import type { AppNodeOptions } from '../app/node.js';

export const engineOptionSpec = {
  port: { type: 'string' },
  'no-dht': { type: 'boolean', default: false },
  'no-lsd': { type: 'boolean', default: false },
  'no-utp': { type: 'boolean', default: false },
  'no-tcp': { type: 'boolean', default: false },
  tracker: { type: 'string', multiple: true },
  'download-limit': { type: 'string' },
  'upload-limit': { type: 'string' },
  'max-conns': { type: 'string' },
  verbose: { type: 'boolean', default: false },
} as const satisfies OptionSpec;

export const engineUsage = `  --port N               TCP port for peers (default: any free port)
  --tracker URL          announce URL (repeatable)
  --no-dht               do not use the mainline DHT
  --no-lsd               no local service discovery (BEP 14)
  --no-utp               peers over TCP only (uTP, BEP 29, is on by default)
  --no-tcp               peers over uTP only
  --download-limit N     KiB/s for all transfers of this process
  --upload-limit N       KiB/s for all transfers of this process
  --max-conns N          peer connections per torrent (default 55)
  --home DIR             state directory (default $SILMARIL_HOME or ~/.silmaril)
  --dht-port N           UDP port of the DHT
  --dht-bootstrap LIST   DHT bootstrap nodes HOST:PORT,...; empty: none (private DHT)
  --verbose              log progress details on stderr
`;

interface EngineValues {
  home?: string;
  port?: string;
  'no-dht'?: boolean;
  'no-lsd'?: boolean;
  'no-utp'?: boolean;
  'no-tcp'?: boolean;
  tracker?: string[];
  'download-limit'?: string;
  'upload-limit'?: string;
  'max-conns'?: string;
  'dht-port'?: string;
  'dht-bootstrap'?: string;
  verbose?: boolean;
}

const KIB = 1024;

/** The home and engine settings of a node run by this command (`kind` names it in the home's lock). */
export function nodeOptions(values: EngineValues, logger: Logger, kind: string): AppNodeOptions {
  const down = intOption(values['download-limit'], 'download-limit', 1, 10_000_000);
  const up = intOption(values['upload-limit'], 'upload-limit', 1, 10_000_000);
  if (values['no-utp'] && values['no-tcp'])
    throw new UsageError('--no-utp and --no-tcp together leave no way to reach peers');
  return {
    home: resolveHome(values.home),
    kind,
    log: logger,
    engine: {
      port: intOption(values.port, 'port', 0, 65535),
      dht: !values['no-dht'],
      dhtPort: intOption(values['dht-port'], 'dht-port', 0, 65535),
      dhtBootstrap: bootstrapOption(values['dht-bootstrap']),
      lsd: !values['no-lsd'],
      utp: !values['no-utp'],
      tcp: !values['no-tcp'],
      trackers: (values.tracker ?? []).map((t) => urlOption(t, 'tracker')),
      downloadLimit: down === undefined ? undefined : down * KIB,
      uploadLimit: up === undefined ? undefined : up * KIB,
      maxConns: intOption(values['max-conns'], 'max-conns', 1, 10_000),
    },
  };
}

/** `HOST:PORT` (IPv6 as `[addr]:port`). */
export function peerOption(value: string): string {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s]+):(\d{1,5})$/.exec(value);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) throw new UsageError(`--peer must be HOST:PORT, got "${value}"`);
  return value;
}

/** A Logger on stderr: warnings and errors always, info and debug with --verbose. */
export function stderrLogger(verbose: boolean): Logger {
  const line = (level: string, message: string | Error) =>
    process.stderr.write(`silmaril: ${level}${message instanceof Error ? message.message : message}\n`);
  return {
    trace() {},
    debug: (m) => (verbose ? line('', m) : undefined),
    info: (m) => (verbose ? line('', m) : undefined),
    warn: (m) => line('warning: ', m),
    error: (m) => line('error: ', m),
  };
}

/** Resolves on the first SIGINT or SIGTERM. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (sig: NodeJS.Signals) => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(sig);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

/**
 * A one-off command's work, until it ends or the user interrupts it (Ctrl-C, SIGTERM: exit 130; the node saves its
 * state on the way out, and a rerun resumes); either way the node is then stopped and the process ends now, whatever
 * the DHT or a tracker still has in flight (stopAndExit). `stopped`: the signal watch, when set up earlier.
 */
export async function runInterruptible(
  work: () => Promise<number>,
  close: () => Promise<void>,
  stopped: Promise<unknown> = untilSignal(),
): Promise<number> {
  let code = 1;
  try {
    code = await Promise.race([work(), stopped.then(() => 130)]);
    return code;
  } finally {
    await stopAndExit({ stop: close }, code);
  }
}

/**
 * Stops the node, giving it `ms` to save state and close; then makes sure the process ends with `code` even if some
 * library left a handle open (an unref'd timer: it fires only if something else still keeps the process alive).
 */
export async function stopAndExit(node: { stop(): Promise<void> }, code: number, ms = 5000): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([node.stop(), new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
  setTimeout(() => process.exit(code), 1000).unref();
  return code;
}
