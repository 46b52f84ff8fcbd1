// `silmaril get <magnet|torrent|infohash> [--out DIR] [--peer HOST:PORT]... [--port N] [--no-dht] [--json]`:
// downloads, resuming from the state directory, verifies v1 pieces and v2 merkle roots, and exits 0 only once the
// download is complete and verified.
import { parseCommand, jsonLine, UsageError } from './args.js';
import {
  engineOptionSpec,
  engineUsage,
  nodeOptions,
  peerOption,
  stderrLogger,
  stopAndExit,
  untilSignal,
} from './engine-options.js';
import { SilmarilNode } from '../node.js';
import type { TransferStats } from '../engine/transfer.js';

export const usage = `usage: silmaril get <magnet|torrent|infohash> [options]
Downloads a model into a folder; a restart continues where the last run stopped.
  --out DIR              destination folder (default: the current folder)
  --peer HOST:PORT       connect to this peer (repeatable)
  --json                 one JSON object per line: stats at least once a second, then {"event":"done", path, verified}
${engineUsage}`;

const options = {
  ...engineOptionSpec,
  out: { type: 'string' },
  peer: { type: 'string', multiple: true },
} as const;

/** CPU time of this process (all threads, hashing workers included), in seconds. */
function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

function human(s: TransferStats): string {
  const mib = (n: number) => (n / 1048576).toFixed(1);
  const eta = s.eta === null ? '?' : `${s.eta}s`;
  const why = s.waiting ? `  (${s.waiting})` : '';
  return `${(s.progress * 100).toFixed(1)}% ${mib(s.verifiedBytes)}/${mib(s.totalBytes)} MiB  down ${mib(s.downloadRate)} MiB/s  up ${mib(s.uploadRate)} MiB/s  peers ${s.peers} (${s.seeds} seeds)  eta ${eta}${why}\n`;
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(argv, options);
  if (positionals.length !== 1) throw new UsageError('get needs exactly one <magnet|torrent|infohash>');
  const json = values.json;
  const peers = (values.peer ?? []).map(peerOption);
  const node = new SilmarilNode(nodeOptions(values, stderrLogger(values.verbose)));
  const stopped = untilSignal();
  const fetch = async (): Promise<number> => {
    await node.start();
    const t = await node.engine.download(positionals[0], { outDir: values.out ?? process.cwd(), peers });
    t.on('stats', (s: TransferStats) => (json ? jsonLine({ event: 'stats', ...s }) : process.stderr.write(human(s))));
    t.on('banned', (b) => (json ? jsonLine({ event: 'banned', ...b }) : undefined));
    if (json) jsonLine({ event: 'stats', ...t.stats() });
    // Every piece is in and passed its SHA-1; the v1+v2 check of the whole download follows.
    t.once('complete', () => json && jsonLine({ event: 'complete', ...t.stats(), cpu: cpuSeconds() }));
    const outcome = await t.whenDone();
    if (json)
      jsonLine({ event: 'done', path: outcome.path, verified: outcome.verified, ...t.stats(), cpu: cpuSeconds() });
    else process.stdout.write(`${outcome.verified ? 'verified' : 'NOT VERIFIED'}: ${outcome.path}\n`);
    return outcome.verified ? 0 : 1;
  };
  let code = 1;
  try {
    // Interrupted: the state is saved on the way out and a rerun resumes.
    code = await Promise.race([fetch(), stopped.then(() => 130)]);
    return code;
  } finally {
    await stopAndExit(node, code);
  }
}
