// `silmaril info <torrent> [--json]`: what a .torrent holds, after the same safety checks as every other reader.
// --json prints one object: {name, version, v1, v2, magnet, pieceLength, pieceCount, size, fileCount,
// files: [{path, length}], trackers: [[tier urls]], webSeeds, private, comment?, createdBy?, creationDate?, source?,
// missingPieceLayers?, warnings: [one line each]}. Warnings (malformed optional keys that were ignored, a hybrid
// without piece layers) also go to stderr in the text form.
// Pad files are not listed.
import { once } from 'node:events';
import { readFile, stat } from 'node:fs/promises';
import { expectArgs, parseCommand, UsageError } from './args.js';
import { formatBytes, plural } from '../shared/format.js';
import { parseTorrent, MAX_TORRENT_BYTES } from '../app/tools.js';
import { buildMagnet } from '../app/tools.js';
import { TorrentError, type ParsedTorrent } from '../app/tools.js';

/** One line for `silmaril --help`. */
export const summary = 'Shows what a .torrent holds: name, infohashes, size, files, trackers.';

export const usage = `usage: silmaril info <torrent> [--json]
Shows a torrent's name, version, infohashes, pieces, size, files, trackers and web seeds.
  --json   print one JSON object
`;

/** Reads and parses a .torrent file; errors name the file. Shared with `silmaril verify`. */
export async function loadTorrent(file: string): Promise<ParsedTorrent> {
  const st = await stat(file).catch(() => undefined);
  if (!st) throw new UsageError(`no such torrent file: ${file}`, { hint: 'check the path' });
  if (!st.isFile())
    throw new UsageError(
      st.isDirectory() ? `${file} is a folder, not a torrent file` : `${file} is not a regular file`,
      {
        hint: 'give the .torrent file',
      },
    );
  if (st.size > MAX_TORRENT_BYTES) throw new TorrentError(`${file}: torrent file larger than 64 MiB`);
  const bytes = await readFile(file);
  try {
    return parseTorrent(bytes);
  } catch (err) {
    if (err instanceof TorrentError) throw new TorrentError(`${file}: ${err.message}`);
    throw err;
  }
}

/** The torrent's warnings on stderr, one line each (shared with `get` and `verify`). */
export function printWarnings(t: ParsedTorrent, where = ''): void {
  for (const w of t.warnings) process.stderr.write(`silmaril: warning: ${where}${w}\n`);
}

export function magnetOf(t: ParsedTorrent): string {
  return buildMagnet({
    infoHashV1: t.infoHashV1,
    infoHashV2: t.infoHashV2,
    name: t.name || undefined,
    trackers: t.announce.flat(),
    webSeeds: t.urlList,
  });
}

/** Everything `info --json` prints but the file list (which may hold a million entries: streamed, see run). */
function summarise(t: ParsedTorrent) {
  let fileCount = 0;
  for (const f of t.files) if (!f.pad) fileCount++;
  return {
    head: {
      name: t.name,
      version: t.version,
      v1: t.infoHashV1 ?? null,
      v2: t.infoHashV2 ?? null,
      magnet: magnetOf(t),
      pieceLength: t.pieceLength,
      pieceCount: t.pieceCount,
      size: t.length,
      fileCount,
    },
    tail: {
      trackers: t.announce,
      webSeeds: t.urlList,
      private: t.private,
      ...(t.comment !== undefined ? { comment: t.comment } : {}),
      ...(t.createdBy !== undefined ? { createdBy: t.createdBy } : {}),
      ...(t.creationDate !== undefined ? { creationDate: t.creationDate } : {}),
      ...(t.source !== undefined ? { source: t.source } : {}),
      ...(t.missingPieceLayers ? { missingPieceLayers: t.missingPieceLayers } : {}),
      warnings: t.warnings,
    },
  };
}

/** The object `info --json` prints, whole (small torrents, tests). */
export function describe(t: ParsedTorrent) {
  const { head, tail } = summarise(t);
  const files = t.files.filter((f) => !f.pad).map((f) => ({ path: f.path.join('/'), length: f.length }));
  return { ...head, files, ...tail };
}

/** Writes text pieces to stdout in ~1 MiB chunks, waiting when the pipe is full: never the whole output at once.
 *  A reader that goes away (`| head`) ends the output quietly. */
async function writeStream(pieces: Iterable<string>): Promise<void> {
  let buf = '';
  let closed = false;
  const onError = (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    closed = true;
  };
  process.stdout.on('error', onError);
  const flush = async () => {
    if (!process.stdout.write(buf)) {
      await once(process.stdout, 'drain').catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EPIPE') throw err;
        closed = true;
      });
    }
    buf = '';
  };
  // Left installed: the last write's EPIPE may come after this returns.
  for (const p of pieces) {
    if (closed) return;
    buf += p;
    if (buf.length >= 1 << 20) await flush();
  }
  if (buf && !closed) await flush();
}

function* jsonFiles(t: ParsedTorrent): Generator<string> {
  let first = true;
  for (const f of t.files) {
    if (f.pad) continue;
    yield `${first ? '' : ','}{"path":${JSON.stringify(f.path.join('/'))},"length":${f.length}}`;
    first = false;
  }
}

const versionLabel = { v1: 'v1', v2: 'v2', hybrid: 'hybrid (v1+v2)' } as const;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(argv, {});
  expectArgs(positionals, ['<torrent>']);
  const t = await loadTorrent(positionals[0]);
  const { head, tail } = summarise(t);
  const d = { ...head, ...tail };
  if (values.json) {
    // The same object as describe(t), written piece by piece: `files` between fileCount and trackers.
    const open = JSON.stringify(head).slice(0, -1) + ',"files":[';
    const close = '],' + JSON.stringify(tail).slice(1) + '\n';
    await writeStream(chain([open], jsonFiles(t), [close]));
    printWarnings(t);
    return 0;
  }
  const lines = [
    `name          ${d.name}`,
    `version       ${versionLabel[t.version]}`,
    ...(d.v1 ? [`v1 infohash   ${d.v1}`] : []),
    ...(d.v2 ? [`v2 infohash   ${d.v2}`] : []),
    `size          ${formatBytes(d.size)} (${d.size} bytes) in ${plural(d.fileCount, 'file')}`,
    `pieces        ${d.pieceCount} of ${formatBytes(d.pieceLength)}`,
    `private       ${d.private ? 'yes' : 'no'}`,
  ];
  if (t.missingPieceLayers)
    lines.push(`piece layers  missing for ${t.missingPieceLayers} file(s): v1 hashes check the pieces`);
  if (d.trackers.length === 0) lines.push('trackers      none');
  d.trackers.forEach((tier, i) => lines.push(`${i === 0 ? 'trackers      ' : '              '}${tier.join(' ')}`));
  if (d.webSeeds.length === 0) lines.push('web seeds     none');
  d.webSeeds.forEach((u, i) => lines.push(`${i === 0 ? 'web seeds     ' : '              '}${u}`));
  if (d.comment) lines.push(`comment       ${d.comment}`);
  if (d.createdBy) lines.push(`created by    ${d.createdBy}`);
  if (d.creationDate !== undefined) lines.push(`created       ${new Date(d.creationDate * 1000).toISOString()}`);
  if (d.source) lines.push(`source        ${d.source}`);
  lines.push(`magnet        ${d.magnet}`, 'files:');
  const prefix = t.singleFile || t.name === '' ? '' : `${t.name}/`;
  await writeStream(chain([lines.join('\n') + '\n'], textFiles(t, prefix)));
  printWarnings(t);
  return 0;
}

function* textFiles(t: ParsedTorrent, prefix: string): Generator<string> {
  for (const f of t.files) if (!f.pad) yield `  ${formatBytes(f.length).padStart(10)}  ${prefix}${f.path.join('/')}\n`;
}

function* chain(...parts: Iterable<string>[]): Generator<string> {
  for (const p of parts) yield* p;
}
