// `silmaril get <magnet|torrent|infohash> [--out DIR] [--peer HOST:PORT]... [--port N] [--no-dht] [--json]`:
// downloads, resuming from the state directory, verifies v1 pieces and v2 merkle roots, and exits 0 only once the
// download is complete and verified.
import { intOption, parseCommand, jsonLine, UsageError } from './args.js';
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
import type { Transfer, TransferStats } from '../engine/transfer.js';
import { existsSync, statSync } from 'node:fs';
import { Catalog } from '../catalog/catalog.js';
import { downloadIntoHfCache, hubFor, prepareHfGet } from '../models/hf/download.js';
import { hfCacheDir } from '../models/hf-cache.js';

export const usage = `usage: silmaril get <magnet|torrent|infohash> [options]
Downloads a model into a folder; a restart continues where the last run stopped.
  --out DIR              destination folder (default: the current folder)
  --peer HOST:PORT       connect to this peer (repeatable)
  --hf-cache [DIR]       download into the Hugging Face cache (default HF_HUB_CACHE / HF_HOME / ~/.cache/huggingface/hub):
                         blobs/<etag>, snapshots/<commit>/<path> links, refs/<ref>; blobs already there are not fetched
  --hf-repo ORG/NAME@COMMIT  the Hub origin, when no catalog entry for this infohash gives it
  --hf-ref REF           point refs/REF at the commit (e.g. main)
  --no-web-seed          never fetch from the Hugging Face Hub (HF_ENDPOINT, HF_TOKEN), peers only
  --web-seed-below KIB   also use the Hub while peers deliver less than this many KiB/s (default: only when no
                         peer has data, 2 s after the start)
  --json                 one JSON object per line: stats at least once a second, then {"event":"done", path, verified}
${engineUsage}`;

const options = {
  ...engineOptionSpec,
  out: { type: 'string' },
  peer: { type: 'string', multiple: true },
  'hf-cache': { type: 'string' },
  'hf-repo': { type: 'string' },
  'hf-ref': { type: 'string' },
  'no-web-seed': { type: 'boolean', default: false },
  'web-seed-below': { type: 'string' },
} as const;

/** `--hf-cache` takes an optional DIR: bare, or followed by an option or by what can only be the source (a magnet, an
 *  infohash, an existing file), it means the default cache. */
function hfCacheArg(argv: string[]): string[] {
  const i = argv.indexOf('--hf-cache');
  if (i < 0) return argv;
  const next = argv[i + 1];
  const isSource = (v: string) =>
    v.startsWith('magnet:') || /^[0-9a-fA-F]{40}$/.test(v) || (existsSync(v) && statSync(v).isFile());
  const isDir = next !== undefined && !next.startsWith('-') && !isSource(next);
  return isDir ? argv : [...argv.slice(0, i), `--hf-cache=${hfCacheDir()}`, ...argv.slice(i + 1)];
}

/** CPU time of this process (all threads, hashing workers included), in seconds. */
function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

function human(s: TransferStats): string {
  const mib = (n: number) => (n / 1048576).toFixed(1);
  const eta = s.eta === null ? '?' : `${s.eta}s`;
  const web = s.webBytes ? `  from the Hub ${mib(s.webBytes)} MiB` : '';
  return `${(s.progress * 100).toFixed(1)}% ${mib(s.verifiedBytes)}/${mib(s.totalBytes)} MiB  down ${mib(s.downloadRate)} MiB/s  up ${mib(s.uploadRate)} MiB/s  peers ${s.peers} (${s.seeds} seeds)${web}  eta ${eta}\n`;
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(hfCacheArg(argv), options);
  if (positionals.length !== 1) throw new UsageError('get needs exactly one <magnet|torrent|infohash>');
  const json = values.json;
  const peers = (values.peer ?? []).map(peerOption);
  const node = new SilmarilNode(nodeOptions(values, stderrLogger(values.verbose)));
  const stopped = untilSignal();
  const fetch = async (): Promise<number> => {
    await node.start();
    let t: Transfer;
    let hfDone: Promise<{ snapshot: string; verified: boolean }> | undefined;
    const entries = async () => {
      const catalog = await Catalog.open({ home: node.home });
      try {
        return [...catalog.index.entries.values()];
      } finally {
        catalog.close();
      }
    };
    const minRate = (intOption(values['web-seed-below'], 'web-seed-below', 0, 1 << 30) ?? 0) * 1024;
    if (values['hf-cache'] !== undefined) {
      const hf = await prepareHfGet({
        source: positionals[0],
        repoSpec: values['hf-repo'],
        savedTorrent: (id) => node.engine.state.loadTorrent(id),
        entries,
      });
      const d = await downloadIntoHfCache({
        engine: node.engine,
        source: positionals[0],
        ...hf,
        cacheDir: values['hf-cache'],
        ref: values['hf-ref'],
        peers,
        webSeed: values['no-web-seed'] ? false : { minRate },
      });
      if (d.reused.length && !json)
        process.stderr.write(`${d.reused.length} files already in the cache: not fetched\n`);
      if (json) jsonLine({ event: 'hf-reused', files: d.reused.map((p) => p.join('/')) });
      t = d.transfer;
      hfDone = d.done;
    } else {
      // A catalog entry that records its Hugging Face origin: the Hub can help, as a verified web seed.
      const hub = values['no-web-seed'] ? undefined : await hubFor(positionals[0], entries, { minRate });
      t = await node.engine.download(positionals[0], { outDir: values.out ?? process.cwd(), peers, hub });
    }
    t.on('stats', (s: TransferStats) => (json ? jsonLine({ event: 'stats', ...s }) : process.stderr.write(human(s))));
    t.on('banned', (b) => (json ? jsonLine({ event: 'banned', ...b }) : undefined));
    if (json) jsonLine({ event: 'stats', ...t.stats() });
    // Every piece is in and passed its SHA-1; the v1+v2 check of the whole download follows.
    t.once('complete', () => json && jsonLine({ event: 'complete', ...t.stats(), cpu: cpuSeconds() }));
    const outcome = await t.whenDone();
    if (hfDone) {
      const hf = await hfDone;
      if (json) jsonLine({ event: 'done', path: hf.snapshot, verified: hf.verified, ...t.stats(), cpu: cpuSeconds() });
      else process.stdout.write(`${hf.verified ? 'verified' : 'NOT VERIFIED'}: ${hf.snapshot}\n`);
      return hf.verified ? 0 : 1;
    }
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
