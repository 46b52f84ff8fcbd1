// `silmaril get <magnet|torrent|infohash|org/model> [--out DIR] [--peer HOST:PORT]... [--json]`: downloads, resuming
// from the state directory, verifies v1 pieces and v2 merkle roots, and exits 0 only once the download is complete
// and verified. With a daemon running on this home, the daemon downloads (and goes on seeding afterwards); this
// command follows it until done.
// The source is a magnet link, a .torrent file, a 40-hex v1 infohash or a 64-hex v2 infohash (turned into a btmh
// magnet), or a catalog name (org/model); anything else is a one-line usage error (exit 2). While no peer has sent
// the metadata, the progress line says so, and --verbose explains what a 40-hex hash that finds nothing may be.
import { existsSync, statSync } from 'node:fs';
import { CliError, expectArgs, intOption, parseCommand, jsonLine, UsageError } from './args.js';
import { outputFolder } from './paths.js';
import { formatBytes, formatDuration, formatEta, formatPercent, formatRate, plural } from '../shared/format.js';
import { loadTorrent, printWarnings } from './info.js';
import { classifySource, type DownloadSource } from '../app/tools.js';
import { TorrentError } from '../app/tools.js';
import { checkFirstFiles, hfCacheDir } from '../app/tools.js';
import {
  engineOptionSpec,
  engineUsage,
  nodeOptions,
  peerOption,
  stderrLogger,
  runInterruptible,
  untilSignal,
} from './engine-options.js';
import { useNode, type Session } from '../app/session.js';
import type { TransferStats } from '../app/types.js';

/** One line for `silmaril --help`. */
export const summary = 'Downloads a model (magnet, .torrent, infohash or org/model) and verifies it.';

export const usage = `usage: silmaril get <magnet|torrent|infohash|org/model> [options]
Downloads a model into a folder; a restart continues where the last run stopped.
<infohash>: 40 hex digits (v1) or 64 hex digits (v2). <org/model>: a name from the catalog.
  --out DIR              destination folder (default: the current folder)
  --peer HOST:PORT       connect to this peer (repeatable)
  --hf-cache [DIR]       download into the Hugging Face cache (default HF_HUB_CACHE / HF_HOME / ~/.cache/huggingface/hub):
                         blobs/<etag>, snapshots/<commit>/<path> links, refs/<ref>; blobs already there are not fetched
  --hf-repo ORG/NAME@COMMIT  the Hub origin, when no catalog entry for this infohash gives it
  --hf-ref REF           point refs/REF at the commit (e.g. main)
  --first PATTERNS       fetch these files before all others, comma-separated (repeatable): a name or glob matched
                         against file names (config.json, *.json), or paths when it has a / (default: *.json, *.md,
                         *.txt, tokenizer.*; "none" for no file first)
  --sequential           fetch every piece in order, first to last, instead of rarest first (to read a file while it
                         arrives; slower in a swarm, where peers then hold the same pieces); kept across restarts
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
  first: { type: 'string', multiple: true },
  sequential: { type: 'boolean', default: false },
} as const;

/** `--first` as given: undefined for the default, [] for "none", else the patterns (a usage error when unusable). */
function firstFiles(given: string[] | undefined): string[] | undefined {
  if (given === undefined) return undefined;
  const patterns = given.flatMap((g) => g.split(',')).map((p) => p.trim());
  if (patterns.length === 1 && patterns[0].toLowerCase() === 'none') return [];
  const bad = checkFirstFiles(patterns);
  if (bad) throw new UsageError(`--first: ${bad}`, { hint: 'e.g. --first config.json,tokenizer.*' });
  return patterns;
}

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
    return `waiting for metadata from ${plural(s.peers, 'peer')}… (${formatDuration(Math.round(waitedS))})\n`;
  const why = s.waiting ? `  (${s.waiting})` : '';
  const web = s.webBytes ? `  ${formatBytes(s.webBytes)} from the Hub` : '';
  return `${formatPercent(s.progress)} ${formatBytes(s.verifiedBytes)} of ${formatBytes(s.totalBytes)}  ↓ ${formatRate(s.downloadRate)} ↑ ${formatRate(s.uploadRate)}  ${plural(s.peers, 'peer')} (${plural(s.seeds, 'seed')})${web}${s.eta !== null ? `  ${formatEta(s.eta)} left` : ''}${why}\n`;
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function isFile(p: string): boolean {
  try {
    return existsSync(p) && statSync(p).isFile();
  } catch {
    return false;
  }
}

/** A catalog name: `org/model` (not a file, not a `.torrent` path). */
const CATALOG_NAME = /^[^/\s:]+\/[^/\s]+$/;
const isCatalogName = (arg: string) => CATALOG_NAME.test(arg) && !/\.torrent$/i.test(arg) && !isFile(arg);

/** What the argument names: a catalog name, or a magnet, infohash or .torrent file (usage errors otherwise). */
function classify(arg: string): DownloadSource | { kind: 'name'; name: string } {
  if (isCatalogName(arg)) return { kind: 'name', name: arg };
  if (!arg.startsWith('magnet:') && isDir(arg))
    throw new UsageError(`${arg} is a folder, not a torrent file`, { hint: 'give the .torrent file' });
  const looksLikePath = /\.torrent$/i.test(arg) || /^[.~]|[/\\]/.test(arg);
  if (!arg.startsWith('magnet:') && looksLikePath && !isFile(arg)) {
    if (existsSync(arg))
      throw new UsageError(`${arg} is a folder, not a torrent file`, { hint: 'give the .torrent file' });
    throw new UsageError(`no such torrent file: ${arg}`, { hint: 'check the path' });
  }
  try {
    return classifySource(arg, isFile);
  } catch (err) {
    if (!(err instanceof TorrentError)) throw err;
    if (/^[0-9a-f]{16,}$/i.test(arg)) throw new UsageError(err.message, { hint: 'check the hash was copied whole' });
    if (arg.startsWith('magnet:'))
      throw new UsageError(err.message, {
        hint: 'copy the whole magnet link, in quotes: silmaril get "magnet:?xt=..."',
      });
    throw new UsageError(`${arg} is not a magnet link, a .torrent file, an infohash or an org/model name`, {
      hint: 'try: silmaril get magnet:?xt=urn:btih:..., or find a model with silmaril discover',
    });
  }
}

/** The argument as the node takes it: magnet text, an infohash, the bytes of a .torrent (warnings printed), or a
 *  catalog name the node looks up. */
async function sourceFor(src: DownloadSource | { kind: 'name'; name: string }): Promise<string | Uint8Array> {
  switch (src.kind) {
    case 'name':
      return src.name;
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
  expectArgs(positionals, ['<magnet|torrent|infohash|org/model>']);
  const arg = positionals[0];
  const src = classify(arg);
  // Every option is checked before a node starts: a usage error never leaves a half-started node behind.
  const minRate = (intOption(values['web-seed-below'], 'web-seed-below', 0, 1 << 30) ?? 0) * 1024;
  const peers = (values.peer ?? []).map(peerOption);
  const order = { first: firstFiles(values.first), sequential: values.sequential };
  const log = stderrLogger(values.verbose);
  // The catalog is opened only for a look-up (an org/model name, a Hugging Face origin the home's catalog records):
  // a magnet or a .torrent needs none, and a one-off download joins no catalog network.
  const nodeOpts = { ...nodeOptions(values, log, 'get'), catalog: { lazy: true } };
  const outDir = values['hf-cache'] === undefined ? await outputFolder(values.out ?? process.cwd()) : undefined;
  const source = await sourceFor(src);
  const json = values.json;
  const stopped = untilSignal();
  let session: Session | undefined;
  const started = performance.now();
  let nextHint = METADATA_HINT_S;
  let hinted = false;
  const onStats = (id: string) => (s: TransferStats) => {
    const waited = (performance.now() - started) / 1000;
    if (json) jsonLine({ event: 'stats', ...s });
    else process.stderr.write(human(s, waited));
    if (s.status === 'metadata' && values.verbose && waited >= nextHint) {
      nextHint = waited + METADATA_HINT_S;
      process.stderr.write(
        `silmaril: no metadata for ${id} after ${formatDuration(Math.round(waited))} from ${plural(s.peers, 'peer')}\n`,
      );
      if (src.kind === 'v1' && !hinted) {
        hinted = true;
        process.stderr.write(
          'silmaril: if this 40-hex hash came from qBittorrent for a hybrid torrent, it is the v2 hash cut short: v2 peers answer to it, but the full 64-hex v2 hash, the magnet link or the .torrent find more peers\n',
        );
      }
    }
  };
  const fetch = async (): Promise<number> => {
    session = await useNode(nodeOpts);
    const api = session.api;
    const webSeed = values['no-web-seed'] ? (false as const) : { minRate };
    let hfDone: Promise<{ snapshot: string; verified: boolean }> | undefined;
    let t: Awaited<ReturnType<typeof api.download>>;
    if (values['hf-cache'] !== undefined) {
      // Through a running node too: it downloads into this command's cache folder (resolved here).
      const d = await api.downloadIntoHfCache({
        source,
        repoSpec: values['hf-repo'],
        cacheDir: values['hf-cache'],
        ref: values['hf-ref'],
        peers,
        webSeed,
      });
      if (d.reused.length && !json)
        process.stderr.write(`${d.reused.length} files already in the cache: not fetched\n`);
      if (json) jsonLine({ event: 'hf-reused', files: d.reused.map((p) => p.join('/')) });
      t = { ...d.transfer, status: 'started' };
      hfDone = d.done;
    } else {
      t = await api.download({ source, outDir: outDir ?? process.cwd(), peers, webSeed, order });
      if (t.status === 'present') {
        // This node already holds every byte (seeded or downloaded from another folder): nothing to fetch.
        if (json) jsonLine({ event: 'present', path: t.path, id: t.id });
        else process.stdout.write(`already here (this node seeds it): ${t.path}\n`);
        return 0;
      }
    }
    // finalCheckBytes: what the check after the last piece hashed again (in this process only).
    let outcome: { path: string; verified: boolean; finalCheckBytes?: number };
    // In this process the transfer itself answers to the end (an installed HF download leaves the engine).
    let local: ReturnType<NonNullable<Session['local']>['transferEvents']> | undefined;
    if (session.local) {
      const events = session.local.transferEvents(t.id);
      local = events;
      events.on('stats', onStats(t.id));
      events.on('banned', (b) => (json ? jsonLine({ event: 'banned', ...b }) : undefined));
      if (json) jsonLine({ event: 'stats', ...(await api.transferStats(t.id)) });
      // Every piece is in and passed its SHA-1; the v1+v2 check of the whole download follows.
      events.once('complete', () => json && jsonLine({ event: 'complete', ...events.stats(), cpu: cpuSeconds() }));
      outcome = await events.whenDone();
    } else {
      log.info(`the running node of this home downloads ${t.name}; following it`);
      outcome = await followRemote(session, t.id, onStats(t.id), hfDone);
    }
    if (hfDone) {
      const hf = await hfDone;
      outcome = { path: hf.snapshot, verified: hf.verified };
    }
    // A remote download into the HF cache has left the node once installed: its last stats were seen while following.
    const stats = local ? local.stats() : await api.transferStats(t.id).catch(() => lastRemoteStats);
    if (json)
      jsonLine({
        event: 'done',
        path: outcome.path,
        verified: outcome.verified,
        ...stats,
        cpu: cpuSeconds(),
        ...(outcome.finalCheckBytes !== undefined ? { finalCheckBytes: outcome.finalCheckBytes } : {}),
      });
    else process.stdout.write(`${outcome.verified ? 'verified' : 'NOT VERIFIED'}: ${outcome.path}\n`);
    if (!outcome.verified)
      throw new CliError(
        `${outcome.path} was downloaded but does not verify`,
        'run the same get again: it re-checks what is on disk and fetches the bad pieces',
      );
    return 0;
  };
  // Interrupted, a remote node keeps downloading.
  return runInterruptible(fetch, async () => session?.close(), stopped);
}

/** Polls the node that runs the download once a second until it is done (or failed). */
async function followRemote(
  session: Session,
  id: string,
  onStats: (s: TransferStats) => void,
  hfDone?: Promise<unknown>,
): Promise<{ path: string; verified: boolean }> {
  // A download into the HF cache ends when the node has installed the snapshot (hfDone), after the transfer is gone.
  let installed = false;
  void hfDone?.then(
    () => (installed = true),
    () => (installed = true),
  );
  for (;;) {
    if (installed) return { path: '', verified: false };
    const v = await session.api.transfer(id).catch((err: unknown) => {
      if (hfDone) return undefined;
      throw err;
    });
    if (v) {
      const s = await session.api.transferStats(id);
      lastRemoteStats = s;
      onStats(s);
      if (!hfDone && (v.state === 'done' || v.complete) && v.verified !== undefined) {
        return { path: v.donePath ?? v.path, verified: v.verified };
      }
      if (v.state === 'error') throw new Error(`${v.name}: ${v.error ?? 'failed'}`);
    }
    await Promise.race([new Promise((r) => setTimeout(r, 1000)), hfDone?.catch(() => {})]);
  }
}

/** The last stats of a transfer followed on another node. */
let lastRemoteStats: TransferStats | undefined;
