// `silmaril seed <path> [--torrent F] [--port N] [--tracker URL]... [--no-dht] [--json]`: serves a folder or file in
// place, read-only, until SIGINT/SIGTERM. Without --torrent it first makes the hybrid v1+v2 torrent itself.
import { readFile } from 'node:fs/promises';
import { parseCommand, jsonLine, UsageError } from './args.js';
import {
  engineOptionSpec,
  engineUsage,
  nodeOptions,
  stderrLogger,
  stopAndExit,
  untilSignal,
} from './engine-options.js';
import { parsePieceLength } from './create.js';
import { createTorrent } from '../torrent/create.js';
import { SilmarilNode } from '../node.js';

export const usage = `usage: silmaril seed <path> [options]
Serves a folder or a file to peers, in place and read-only, until interrupted.
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
  if (positionals.length !== 1) throw new UsageError('seed needs exactly one <path>');
  const target = positionals[0];
  const json = values.json;
  const node = new SilmarilNode(nodeOptions(values, stderrLogger(values.verbose)));
  const pieceLength = parsePieceLength(values['piece-length']);
  const stopped = untilSignal();
  let isReady = false;
  const serve = async (): Promise<number> => {
    let torrent: Uint8Array;
    let trusted = false;
    if (values.torrent) {
      torrent = await readFile(values.torrent);
    } else {
      const created = await createTorrent(target, { pieceLength, trackers: values.tracker });
      torrent = created.torrentBytes;
      trusted = true;
    }
    await node.start();
    const t = await node.engine.seed(target, { torrent, trusted, superSeed: values['super-seed'] });
    await t.whenReady();
    const ready = {
      event: 'ready',
      v1: t.id,
      v2: t.infoHashV2,
      port: node.engine.port,
      magnet: t.magnetURI,
      name: t.name,
    };
    isReady = true;
    if (json) jsonLine(ready);
    else
      process.stdout.write(
        `seeding ${t.name} on port ${ready.port}\nv1 ${ready.v1}\nv2 ${ready.v2}\n${ready.magnet}\n`,
      );
    let last = -1;
    t.on('stats', (s) => {
      if (json && s.uploaded !== last) jsonLine({ event: 'stats', ...s });
      last = s.uploaded;
    });
    t.on('banned', (b) => json && jsonLine({ event: 'banned', ...b }));
    const failed = new Promise<Error>((resolve) => t.once('error', resolve));
    const outcome = await Promise.race([stopped, failed]);
    if (outcome instanceof Error) throw outcome;
    if (json) jsonLine({ event: 'stopped', ...t.stats() });
    return 0;
  };
  let code = 1;
  try {
    // SIGINT/SIGTERM is the normal way to stop seeding (exit 0), also while still hashing or starting.
    const serving = serve();
    code = await Promise.race([serving, stopped.then(() => (isReady ? serving : 0))]);
    return code;
  } finally {
    await stopAndExit(node, code);
  }
}
