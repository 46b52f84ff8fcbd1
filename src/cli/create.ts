// `silmaril create <path> [--piece-length N] [--name S] [--out F] [--tracker URL]... [--webseed URL]... [--private]
//  [--include-vcs] [--v1-only] [--json]`: makes a hybrid v1+v2 (or a v1-only) .torrent of a folder or a file.
//
// Output file: `--out F`, or `<name>.torrent` in the current directory. The default never overwrites an existing
// file (say --out to replace one on purpose: an explicit --out is written atomically, replacing what was there).
// The torrent is never written inside the folder being shared (it would change what is shared).
import { stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CliError, expectArgs, parseCommand, jsonLine, UsageError, urlOption } from './args.js';
import { TorrentError } from '../app/tools.js';
import { existingPath, outputFolder } from './paths.js';
import { explainCodes } from './errors.js';
import { formatBytes, plural } from '../shared/format.js';
import { createTorrent } from '../app/tools.js';
import { MAX_PIECE_LENGTH, MIN_PIECE_LENGTH, isValidPieceLength } from '../app/tools.js';
import { INTERRUPTED, withProgress } from './progress.js';
import { registerWithTrackers } from '../app/tools.js';
import { writeFileAtomic } from '../app/tools.js';

/** One line for `silmaril --help`. */
export const summary = 'Makes a hybrid BitTorrent v1+v2 .torrent of a folder or a file.';

export const usage = `usage: silmaril create <path> [options]
Makes a hybrid BitTorrent v1+v2 torrent of a folder or a file.
  --piece-length N   bytes, a power of two from 16K to 16M (suffixes K, M: 256K, 4M); default: automatic
  --name S           torrent name (default: the folder or file name)
  --out F            where to write the .torrent (default: ./<name>.torrent, never overwritten)
  --tracker URL      announce URL (repeatable)
  --webseed URL      web seed URL, BEP 19 (repeatable)
  --private          private torrent (no DHT, no peer exchange)
  --include-vcs      include .git, .hg, .svn and .silmaril folders (left out by default)
  --v1-only          a v1-only torrent, for peers on clients that cannot read hybrids (Transmission 3.x,
                     aria2 1.36 and older); it has no v2 infohash
  --no-register      do not register with the --tracker registries (by default the torrent is registered with
                     each HTTP tracker's registry, Weightless API; plain trackers are just announced to)
  --api-key K        registry key (X-Weightless-Key; or $SILMARIL_REGISTRY_KEY)
  --json             print {name, v1, v2, magnet, torrent, pieceLength, size, files} as one JSON line
`;

const options = {
  'piece-length': { type: 'string' },
  name: { type: 'string' },
  out: { type: 'string' },
  tracker: { type: 'string', multiple: true },
  webseed: { type: 'string', multiple: true },
  private: { type: 'boolean', default: false },
  'include-vcs': { type: 'boolean', default: false },
  'v1-only': { type: 'boolean', default: false },
  'no-register': { type: 'boolean', default: false },
  'api-key': { type: 'string' },
} as const;

/** "16384", "16K", "16KiB", "4M", "4MiB" -> bytes. */
export function parsePieceLength(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d+)\s*(k|kib|kb|m|mib|mb)?$/i.exec(value.trim());
  const n = m ? Number(m[1]) * (m[2] ? (m[2][0].toLowerCase() === 'k' ? 1024 : 1024 * 1024) : 1) : NaN;
  if (!isValidPieceLength(n)) {
    throw new UsageError(
      `--piece-length must be a power of two from ${MIN_PIECE_LENGTH / 1024}K to ${MAX_PIECE_LENGTH / 1024 / 1024}M, got "${value}"`,
      { hint: 'e.g. 256K or 4M; leave it out for automatic' },
    );
  }
  return n;
}

function isInside(dir: string, file: string): boolean {
  const rel = path.relative(dir, file);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(argv, options);
  expectArgs(positionals, ['<path>']);
  const source = path.resolve(positionals[0]);
  const pieceLength = parsePieceLength(values['piece-length']);
  const trackers = (values.tracker ?? []).map((t) => urlOption(t, 'tracker'));
  const webSeeds = (values.webseed ?? []).map((w) => urlOption(w, 'webseed'));
  if (values['api-key'] !== undefined && trackers.length === 0) {
    throw new UsageError('--api-key needs at least one --tracker');
  }
  if (values.name !== undefined && (!values.name || /[/\\\0]/.test(values.name) || /^\.\.?$/.test(values.name))) {
    throw new UsageError(`--name must be a plain name (no slashes), got "${values.name}"`);
  }
  const sourceStat = (await existingPath(positionals[0])).stat;

  // Decide the output before hashing anything, so a refusal costs nothing.
  const defaultName = values.name ?? path.basename(source);
  const explicitOut = values.out !== undefined;
  const out = path.resolve(values.out ?? `${defaultName}.torrent`);
  if (sourceStat.isDirectory() && isInside(source, out)) {
    throw new UsageError(`refusing to write ${out} inside the folder being shared`, {
      hint: 'choose an --out outside it',
    });
  }
  const outStat = await stat(out).catch(() => undefined);
  if (outStat?.isDirectory()) {
    throw new UsageError(`--out ${values.out ?? out} is a folder`, {
      hint: `give a file name: --out ${path.join(values.out ?? '.', `${defaultName}.torrent`)}`,
    });
  }
  if (!explicitOut && outStat) {
    throw new UsageError(`${out} already exists`, {
      hint: `pass --out ${path.basename(out)} to replace it, or another path`,
    });
  }
  // The folder it goes into: made now (not after an hour of hashing), and refused now if a file is in the way.
  await outputFolder(path.dirname(values.out ?? out), '--out');

  const created = await withProgress('hashing', values.json, (signal, onProgress) =>
    createTorrent(source, {
      pieceLength,
      name: values.name,
      trackers,
      webSeeds,
      private: values.private,
      includeVcs: values['include-vcs'],
      v1Only: values['v1-only'],
      signal,
      onProgress,
    }).catch((err: Error) => {
      if (err instanceof TorrentError && /nothing to share/.test(err.message))
        throw new CliError(err.message, 'put the files in it, or give a file itself');
      throw err;
    }),
  );
  if (created === INTERRUPTED) {
    process.stderr.write('silmaril: cancelled, nothing written\n');
    return 130;
  }
  for (const s of created.skipped) process.stderr.write(`silmaril: skipped ${s.path.join('/')}: ${s.reason}\n`);

  if (explicitOut) {
    // A .torrent is meant to be handed around: readable by others, unlike Silmaril's state files.
    await writeFileAtomic(out, created.torrentBytes, { mode: 0o644 });
  } else {
    try {
      await writeFile(out, created.torrentBytes, { flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST')
        throw new UsageError(`${out} already exists`, { hint: `pass --out ${path.basename(out)} to replace it` });
      throw err;
    }
  }

  const summary = {
    name: created.name,
    v1: created.infoHashV1,
    v2: created.infoHashV2 ?? null,
    magnet: created.magnet,
    torrent: out,
    pieceLength: created.pieceLength,
    size: created.length,
    files: created.files.length,
  };
  if (values.json) {
    jsonLine(summary);
  } else {
    process.stdout.write(
      `${out}\n` +
        `  name        ${summary.name}\n` +
        `  size        ${formatBytes(summary.size)} in ${plural(summary.files, 'file')}\n` +
        `  pieces      ${created.pieceCount} of ${formatBytes(summary.pieceLength)}\n` +
        `  v1          ${summary.v1}\n` +
        (summary.v2 ? `  v2          ${summary.v2}\n` : `  v2          none (v1-only)\n`) +
        `  magnet      ${summary.magnet}\n`,
    );
  }
  return (await registerCreated(!values['no-register'], trackers, created, values['api-key'])) ? 0 : 1;
}

/** Registration with each --tracker's registry: one stderr line per tracker; false when a registry refused or could not be reached. */
async function registerCreated(
  wanted: boolean,
  trackers: string[],
  created: Parameters<typeof registerWithTrackers>[1],
  apiKey: string | undefined,
): Promise<boolean> {
  if (!wanted) return true;
  let ok = true;
  for (const r of await registerWithTrackers(trackers, created, {}, { apiKey })) {
    if (r.error) {
      ok = false;
      process.stderr.write(
        `silmaril create: could not register with ${r.tracker}: ${explainCodes(r.error)} (the torrent was written; check the tracker URL, or pass --no-register)\n`,
      );
    } else if (r.outcome?.status === 'registered') {
      process.stderr.write(`silmaril: registered with ${r.outcome.registry}\n`);
    } else if (r.outcome) {
      process.stderr.write(`silmaril: ${r.outcome.reason}: announce only\n`);
    }
  }
  return ok;
}
