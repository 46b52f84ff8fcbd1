// `silmaril verify <torrent> <path> [--json]`: checks every byte of the content against the torrent.
// <path> is the content: for a multi-file torrent the torrent's folder itself or the folder holding it (if <path>'s
// own name is the torrent's name it is the folder itself; else <path>/<name> when that folder exists; else <path>
// itself, e.g. a renamed download); for a single-file torrent the file itself or the folder holding it.
// Exit 0 only if every byte verifies; 1 when anything is missing, unreadable or damaged (each file listed: missing,
// unreadable with why, wrong size, or damaged with its pieces; the summary counts missing, unreadable and damaged
// files apart); 2 on usage errors (a torrent or
// <path> that does not exist included); 130 when interrupted. --json prints one object:
// {ok, root, v1, v2, bytesChecked, bytesTotal, pieceCount, badPieces, damagedFiles: [{path, reason, why?,
// badPieces?, badBlocks?, expectedLength, actualLength?}]} (reason: missing, unreadable, size or content).
import { basename, dirname } from 'node:path';
import { CliError, expectArgs, parseCommand, jsonLine, UsageError } from './args.js';
import { existingPath } from './paths.js';
import { INTERRUPTED, withProgress } from './progress.js';
import { formatBytes, plural } from '../shared/format.js';
import { loadTorrent, printWarnings } from './info.js';
import { verifyTorrent, type DamagedFile } from '../app/tools.js';

/** One line for `silmaril --help`. */
export const summary = 'Checks files on disk against a .torrent, every byte.';

export const usage = `usage: silmaril verify <torrent> <path> [--json]
Checks the content at <path> against the torrent (v1 pieces and v2 merkle roots).
<path>: the torrent's folder or the folder holding it; for a single-file torrent, the file or its folder.
Exits 0 only if every byte verifies, 1 if a file is missing or damaged, 2 if <torrent> or <path> does not exist.
  --json   print one JSON object with the result
`;

/** "3, 7-9, 12" */
export function ranges(ns: number[], max = 20): string {
  const parts: string[] = [];
  for (let i = 0; i < ns.length;) {
    let j = i;
    while (j + 1 < ns.length && ns[j + 1] === ns[j] + 1) j++;
    parts.push(i === j ? `${ns[i]}` : `${ns[i]}-${ns[j]}`);
    i = j + 1;
  }
  return parts.length > max
    ? `${parts.slice(0, max).join(', ')}, … (${parts.length - max} more runs)`
    : parts.join(', ');
}

function describeDamage(d: DamagedFile): string {
  if (d.reason === 'missing') return `${d.path}: missing`;
  if (d.reason === 'unreadable') return `${d.path}: unreadable (${d.why ?? 'cannot be read'})`;
  if (d.reason === 'size') return `${d.path}: wrong size (${d.actualLength} bytes, expected ${d.expectedLength})`;
  const pieces = d.badPieces ?? [];
  let s = `${d.path}: damaged, piece${pieces.length === 1 ? '' : 's'} ${ranges(pieces)}`;
  if (d.badBlocks?.length) s += ` (16 KiB block${d.badBlocks.length === 1 ? '' : 's'} ${ranges(d.badBlocks)})`;
  return s;
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(argv, {});
  expectArgs(positionals, ['<torrent>', '<path>']);
  const torrent = await loadTorrent(positionals[0]);
  printWarnings(torrent, `${positionals[0]}: `);
  const target = await existingPath(positionals[1], undefined, 'file or folder to verify');
  if (!torrent.singleFile && !target.stat.isDirectory()) {
    throw new UsageError(`${positionals[1]} is a file, but ${positionals[0]} holds several files`, {
      hint: 'give the folder that holds them',
    });
  }

  const result = await withProgress('verifying', values.json, (signal, onProgress) =>
    verifyTorrent(torrent, positionals[1], { signal, onProgress }),
  );
  if (result === INTERRUPTED) {
    process.stderr.write('silmaril: verification cancelled\n');
    return 130;
  }

  if (values.json) {
    jsonLine({ ...result, v1: torrent.infoHashV1 ?? null, v2: torrent.infoHashV2 ?? null });
  } else if (result.ok) {
    const files = torrent.files.filter((f) => !f.pad).length;
    process.stdout.write(
      `ok: ${result.root}: all ${formatBytes(result.bytesTotal)} in ${plural(files, 'file')} verify\n`,
    );
  } else {
    for (const d of result.damagedFiles) process.stdout.write(`${describeDamage(d)}\n`);
  }
  if (!result.ok) {
    // A missing file is not a damaged one, nor one that is there but cannot be read: the fix differs (fetch it,
    // repair it, fix its permissions), so they are counted apart.
    const missing = result.damagedFiles.filter((d) => d.reason === 'missing').length;
    const unreadable = result.damagedFiles.filter((d) => d.reason === 'unreadable').length;
    const damaged = result.damagedFiles.length - missing - unreadable;
    const counts = [
      missing ? `${plural(missing, 'file')} missing` : '',
      unreadable ? `${plural(unreadable, 'file')} unreadable` : '',
      damaged ? `${plural(damaged, 'damaged file')}` : '',
    ]
      .filter(Boolean)
      .join(' and ');
    // `get` re-checks what is on disk and fetches only the bad pieces, when the content sits where it would put it.
    const inPlace = basename(result.root) === torrent.name;
    const fetchable = missing + damaged > 0;
    throw new CliError(
      `verification failed: ${counts} in ${result.root}`,
      inPlace && fetchable
        ? `silmaril get ${positionals[0]} --out ${dirname(result.root)} fetches what is missing or damaged`
        : unreadable
          ? 'check the permissions of the files named above'
          : undefined,
    );
  }
  return 0;
}
