// `silmaril get <magnet|torrent|infohash> [--out DIR] [--peer HOST:PORT]... [--port N] [--no-dht] [--json]`:
// downloads, resuming from the state directory, verifies v1 pieces and v2 merkle roots, and exits 0 only once the
// download is complete and verified.
// The source is a magnet link, a .torrent file, a 40-hex v1 infohash or a 64-hex v2 infohash (turned into a btmh
// magnet); anything else is a one-line usage error (exit 2). While no peer has sent the metadata, the progress line
// says so, and --verbose explains what a 40-hex hash that finds nothing may be.
import { existsSync, statSync } from 'node:fs';
import { intOption, parseCommand, jsonLine, UsageError } from './args.js';
import { loadTorrent, printWarnings } from './info.js';
import { classifySource, type DownloadSource } from '../torrent/magnet.js';
import { TorrentError } from '../torrent/types.js';
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
import { Catalog } from '../catalog/catalog.js';
import { downloadIntoHfCache, hubFor, prepareHfGet } from '../models/hf/download.js';
import { hfCacheDir } from '../models/hf-cache.js';

export const usage = `usage: silmaril get <magnet|torrent|infohash> [options]
Downloads a model into a folder; a restart continues where the last run stopped.
<infohash>: 40 hex digits (v1) or 64 hex digits (v2).
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
  const isSource = (v: string) => v.startsWith('magnet:') || /^[0-9a-fA-F]{40}$|^[0-9a-fA-F]{64}$/.test(v) || isFile(v);
  const isDir = next !== undefined && !next.startsWith('-') && !isSource(next);
  return isDir ? argv : [...argv.slice(0, i), `--hf-cache=${hfCacheDir()}`, ...argv.slice(i + 1)];
}

/** CPU time of this process (all threads, hashing workers included), in seconds. */
function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** Seconds without metadata before --verbose explains what may be wrong, then between reminders
 *  (SILMARIL_METADATA_HINT_S overrides it, for tests). */
const METADATA_HINT_S =
  Number(process.env.SILMARIL_METADATA_HINT_S) > 0 ? Number(process.env.SILMARIL_METADATA_HINT_S) : 20;

function human(s: TransferStats, waitedS: number): string {
  if (s.status === 'metadata')
    return `waiting for metadata from ${s.peers} peer${s.peers === 1 ? '' : 's'}… (${Math.round(waitedS)}s)\n`;
  const mib = (n: number) => (n / 1048576).toFixed(1);
  const eta = s.eta === null ? '?' : `${s.eta}s`;
  const why = s.waiting ? `  (${s.waiting})` : '';
  const web = s.webBytes ? `  from the Hub ${mib(s.webBytes)} MiB` : '';
  return `${(s.progress * 100).toFixed(1)}% ${mib(s.verifiedBytes)}/${mib(s.totalBytes)} MiB  down ${mib(s.downloadRate)} MiB/s  up ${mib(s.uploadRate)} MiB/s  peers ${s.peers} (${s.seeds} seeds)${web}  eta ${eta}${why}\n`;
}

function isFile(p: string): boolean {
  try {
    return existsSync(p) && statSync(p).isFile();
  } catch {
    return false;
  }
}

/** The argument as the engine takes it: magnet text, an infohash, or the bytes of a .torrent (warnings printed). */
async function sourceFor(src: DownloadSource): Promise<string | Uint8Array> {
  switch (src.kind) {
    case 'magnet':
      return src.magnet;
    case 'v1':
      return src.infoHash;
    case 'v2':
      return src.magnet;
    case 'torrent': {
      const parsed = await loadTorrent(src.path);
      printWarnings(parsed, `${src.path}: `);
      return parsed.torrentBytes;
    }
  }
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(hfCacheArg(argv), options);
  if (positionals.length !== 1) throw new UsageError('get needs exactly one <magnet|torrent|infohash>');
  let src: DownloadSource;
  try {
    src = classifySource(positionals[0], isFile);
  } catch (err) {
    if (err instanceof TorrentError) throw new UsageError(err.message);
    throw err;
  }
  const source = await sourceFor(src);
  const json = values.json;
  const peers = (values.peer ?? []).map(peerOption);
  const node = new SilmarilNode(nodeOptions(values, stderrLogger(values.verbose)));
  const stopped = untilSignal();
  const fetch = async (): Promise<number> => {
    await node.start();
    const entries = async () => {
      const catalog = await Catalog.open({ home: node.home });
      try {
        return [...catalog.index.entries.values()];
      } finally {
        catalog.close();
      }
    };
    const minRate = (intOption(values['web-seed-below'], 'web-seed-below', 0, 1 << 30) ?? 0) * 1024;
    let t: Transfer;
    let hfDone: Promise<{ snapshot: string; verified: boolean }> | undefined;
    if (values['hf-cache'] !== undefined) {
      const hf = await prepareHfGet({
        source,
        repoSpec: values['hf-repo'],
        savedTorrent: (id) => node.engine.state.loadTorrent(id),
        entries,
      });
      const d = await downloadIntoHfCache({
        engine: node.engine,
        source,
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
      const hub = values['no-web-seed'] ? undefined : await hubFor(source, entries, { minRate });
      t = await node.engine.download(source, { outDir: values.out ?? process.cwd(), peers, hub });
    }
    const started = performance.now();
    let nextHint = METADATA_HINT_S;
    let hinted = false;
    t.on('stats', (s: TransferStats) => {
      const waited = (performance.now() - started) / 1000;
      if (json) jsonLine({ event: 'stats', ...s });
      else process.stderr.write(human(s, waited));
      if (s.status === 'metadata' && values.verbose && waited >= nextHint) {
        nextHint = waited + METADATA_HINT_S;
        process.stderr.write(
          `silmaril: no metadata for ${t.id} after ${Math.round(waited)} s from ${s.peers} peer(s)\n`,
        );
        if (src.kind === 'v1' && !hinted) {
          hinted = true;
          process.stderr.write(
            'silmaril: if this 40-hex hash came from qBittorrent for a hybrid torrent, it is the v2 hash cut short, which no peer knows: use the full 64-hex v2 hash, the magnet link or the .torrent\n',
          );
        }
      }
    });
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
