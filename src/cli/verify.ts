// `silmaril verify <torrent> <path> [--json]`: checks every byte of the content against the torrent.
// <path> is the content: for a multi-file torrent the torrent's folder itself or the folder holding it (if <path>'s
// own name is the torrent's name it is the folder itself; else <path>/<name> when that folder exists; else <path>
// itself, e.g. a renamed download); for a single-file torrent the file itself or the folder holding it.
// Exit 0 only if every byte verifies; 1 when anything is damaged (each damaged file listed with its pieces);
// 2 on usage errors; 130 when interrupted. --json prints one object:
// {ok, root, v1, v2, bytesChecked, bytesTotal, pieceCount, badPieces, damagedFiles: [{path, reason, badPieces?,
// badBlocks?, expectedLength, actualLength?}]}.
import { parseCommand, jsonLine, UsageError } from './args.js';
import { human, INTERRUPTED, withProgress } from './progress.js';
import { loadTorrent, printWarnings } from './info.js';
import { verifyTorrent, type DamagedFile } from '../app/tools.js';

export const usage = `usage: silmaril verify <torrent> <path> [--json]
Checks the content at <path> against the torrent (v1 pieces and v2 merkle roots).
<path>: the torrent's folder or the folder holding it; for a single-file torrent, the file or its folder.
Exits 0 only if every byte verifies.
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
  if (d.reason === 'size') return `${d.path}: wrong size (${d.actualLength} bytes, expected ${d.expectedLength})`;
  const pieces = d.badPieces ?? [];
  let s = `${d.path}: damaged, piece${pieces.length === 1 ? '' : 's'} ${ranges(pieces)}`;
  if (d.badBlocks?.length) s += ` (16 KiB block${d.badBlocks.length === 1 ? '' : 's'} ${ranges(d.badBlocks)})`;
  return s;
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(argv, {});
  if (positionals.length !== 2)
    throw new UsageError(`verify takes a torrent file and a path, got ${positionals.length} arguments\n${usage}`);
  const torrent = await loadTorrent(positionals[0]);
  printWarnings(torrent, `${positionals[0]}: `);

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
      `ok: ${result.root}: all ${human(result.bytesTotal)} in ${files} file${files === 1 ? '' : 's'} verify\n`,
    );
  } else {
    for (const d of result.damagedFiles) process.stdout.write(`${describeDamage(d)}\n`);
  }
  if (!result.ok) {
    const n = result.damagedFiles.length;
    process.stderr.write(`silmaril: verification failed: ${n} damaged file${n === 1 ? '' : 's'} in ${result.root}\n`);
    return 1;
  }
  return 0;
}
