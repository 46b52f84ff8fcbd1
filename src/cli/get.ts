// `silmaril get <magnet|torrent|infohash|org/model> [--out DIR] [--peer HOST:PORT]... [--json]`: downloads, resuming
// from the state directory, verifies v1 pieces and v2 merkle roots, and exits 0 only once the download is complete
// and verified. With a daemon running on this home, the daemon downloads (and goes on seeding afterwards); this
// command follows it until done.
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
import { useNode, type Session } from '../app/session.js';
import type { TransferStats } from '../app/types.js';

export const usage = `usage: silmaril get <magnet|torrent|infohash|org/model> [options]
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
  return `${(s.progress * 100).toFixed(1)}% ${mib(s.verifiedBytes)}/${mib(s.totalBytes)} MiB  down ${mib(s.downloadRate)} MiB/s  up ${mib(s.uploadRate)} MiB/s  peers ${s.peers} (${s.seeds} seeds)  eta ${eta}\n`;
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(argv, options);
  if (positionals.length !== 1) throw new UsageError('get needs exactly one <magnet|torrent|infohash|org/model>');
  const json = values.json;
  const peers = (values.peer ?? []).map(peerOption);
  const log = stderrLogger(values.verbose);
  const stopped = untilSignal();
  let session: Session | undefined;
  const printStats = (s: TransferStats) => (json ? jsonLine({ event: 'stats', ...s }) : process.stderr.write(human(s)));
  const fetch = async (): Promise<number> => {
    session = await useNode(nodeOptions(values, log, 'get'));
    const api = session.api;
    const t = await api.download({ source: positionals[0], outDir: values.out ?? process.cwd(), peers });
    let outcome: { path: string; verified: boolean };
    if (session.local) {
      const events = session.local.transferEvents(t.id);
      events.on('stats', printStats);
      events.on('banned', (b) => (json ? jsonLine({ event: 'banned', ...b }) : undefined));
      if (json) jsonLine({ event: 'stats', ...(await api.transferStats(t.id)) });
      // Every piece is in and passed its SHA-1; the v1+v2 check of the whole download follows.
      events.once(
        'complete',
        async () => json && jsonLine({ event: 'complete', ...(await api.transferStats(t.id)), cpu: cpuSeconds() }),
      );
      outcome = await session.local.whenDone(t.id);
    } else {
      log.info(`the running node of this home downloads ${t.name}; following it`);
      outcome = await followRemote(session, t.id, printStats);
    }
    const stats = await api.transferStats(t.id);
    if (json) jsonLine({ event: 'done', path: outcome.path, verified: outcome.verified, ...stats, cpu: cpuSeconds() });
    else process.stdout.write(`${outcome.verified ? 'verified' : 'NOT VERIFIED'}: ${outcome.path}\n`);
    return outcome.verified ? 0 : 1;
  };
  let code = 1;
  try {
    // Interrupted: the state is saved on the way out and a rerun resumes (a remote node keeps downloading).
    code = await Promise.race([fetch(), stopped.then(() => 130)]);
    return code;
  } finally {
    // Done: the process ends now, whatever the DHT or a tracker still has in flight (stopAndExit).
    await stopAndExit({ stop: async () => session?.close() }, code);
  }
}

/** Polls the node that runs the download once a second until it is done (or failed). */
async function followRemote(
  session: Session,
  id: string,
  onStats: (s: TransferStats) => void,
): Promise<{ path: string; verified: boolean }> {
  for (;;) {
    const v = await session.api.transfer(id);
    onStats(await session.api.transferStats(id));
    if (v.state === 'done' && v.verified !== undefined) return { path: v.donePath ?? v.path, verified: v.verified };
    if (v.state === 'error') throw new Error(`${v.name}: ${v.error ?? 'failed'}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}
