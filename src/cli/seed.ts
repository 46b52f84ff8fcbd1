// `silmaril seed <path> [--torrent F] [--port N] [--tracker URL]... [--no-dht] [--json]`: serves a folder or file in
// place, read-only, until SIGINT/SIGTERM. Without --torrent it first makes the hybrid v1+v2 torrent itself. With a
// daemon running on this home, the daemon seeds it (and keeps seeding it) and this command returns at once.
import { expectArgs, parseCommand, jsonLine } from './args.js';
import { existingPath } from './paths.js';
import {
  engineOptionSpec,
  engineUsage,
  nodeOptions,
  stderrLogger,
  stopAndExit,
  untilSignal,
} from './engine-options.js';
import { parsePieceLength } from './create.js';
import { loadTorrent } from './info.js';
import { useNode, type Session } from '../app/session.js';

/** One line for `silmaril --help`. */
export const summary = 'Serves a folder or a file to peers, in place and read-only.';

export const usage = `usage: silmaril seed <path> [options]
Serves a folder or a file to peers, in place and read-only, until interrupted (or, with a daemon running on this
home, hands it to the daemon and returns).
  --torrent F            a .torrent made earlier for <path> (checked against the files); default: make one
  --piece-length N       piece length when making the torrent (default: automatic)
  --super-seed           BEP 16 super-seeding: reveal pieces one by one so peers trade (an initial seed)
  --json                 one JSON object per line: {"event":"ready", v1, v2, port, magnet}, then stats
${engineUsage}`;

const options = {
  ...engineOptionSpec,
  torrent: { type: 'string' },
  'piece-length': { type: 'string' },
  'super-seed': { type: 'boolean', default: false },
} as const;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(argv, options);
  expectArgs(positionals, ['<path>']);
  const target = positionals[0];
  const json = values.json;
  const log = stderrLogger(values.verbose);
  const pieceLength = parsePieceLength(values['piece-length']);
  // Checked before a node starts: a path or option that is wrong never leaves a half-started node behind.
  await existingPath(target, undefined, 'file or folder to seed');
  // Read and checked here, so a bad file is named in the error (and no node starts for it).
  const torrent = values.torrent !== undefined ? (await loadTorrent(values.torrent)).torrentBytes : undefined;
  const nodeOpts = nodeOptions(values, log, 'seed');
  const stopped = untilSignal();
  let isReady = false;
  let session: Session | undefined;
  const serve = async (): Promise<number> => {
    session = await useNode(nodeOpts);
    const view = await session.api.seed({
      path: target,
      torrent,
      pieceLength,
      trackers: values.tracker,
      superSeed: values['super-seed'],
    });
    const status = await session.api.status();
    const ready = { event: 'ready', v1: view.id, v2: view.v2, port: status.port, magnet: view.magnet, name: view.name };
    if (!session.local) {
      if (json) jsonLine({ ...ready, seededBy: `${status.kind} pid ${status.pid}` });
      else
        process.stdout.write(
          `the ${status.kind} (pid ${status.pid}) of this home seeds ${view.name}\n${view.magnet}\n`,
        );
      return 0;
    }
    const local = session.local;
    const events = local.transferEvents(view.id);
    await events.whenReady();
    isReady = true;
    if (json) jsonLine(ready);
    else
      process.stdout.write(
        `seeding ${view.name} on port ${ready.port}\nv1 ${ready.v1}\nv2 ${ready.v2}\n${ready.magnet}\n`,
      );
    let last = -1;
    events.on('stats', (s) => {
      if (json && s.uploaded !== last) jsonLine({ event: 'stats', ...s });
      last = s.uploaded;
    });
    events.on('banned', (b) => json && jsonLine({ event: 'banned', ...b }));
    const failed = new Promise<Error>((resolve) => events.once('error', resolve));
    const outcome = await Promise.race([stopped, failed]);
    if (outcome instanceof Error) throw outcome;
    if (json) jsonLine({ event: 'stopped', ...(await local.transferStats(view.id)) });
    return 0;
  };
  let code = 1;
  try {
    // SIGINT/SIGTERM is the normal way to stop seeding (exit 0), also while still hashing or starting.
    const serving = serve();
    code = await Promise.race([serving, stopped.then(() => (isReady ? serving : 0))]);
    return code;
  } finally {
    await stopAndExit({ stop: async () => session?.close() }, code);
  }
}
