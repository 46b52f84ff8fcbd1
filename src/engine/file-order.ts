// The order a download fetches its files in, as the user asked: some files first (a model's config.json and tokenizer
// are small and let the user look at the model long before the weights arrive), or the whole torrent in index order
// (sequential). The picker (picker.ts) does the ordering; this module turns file patterns into its piece ranges.
import type { TorrentFile } from '../torrent/types.js';

export interface FileOrder {
  /** Every piece in index order instead of rarest first (worse for a swarm: peers then hold the same pieces). */
  sequential?: boolean;
  /** Files fetched before all others: patterns matched against each file's path in the torrent (see matchesFile). */
  first?: string[];
}

/** What a download fetches first when the user says nothing: a model's small descriptive files. */
export const DEFAULT_FIRST_FILES: readonly string[] = ['*.json', '*.md', '*.txt', 'tokenizer.*'];

/** Patterns longer than this, or more of them, are refused: they come from the command line and the control API. */
const MAX_PATTERNS = 64;
const MAX_PATTERN_LENGTH = 256;

/** A clear message when `patterns` cannot be used as first files, else undefined. */
export function checkFirstFiles(patterns: unknown): string | undefined {
  if (!Array.isArray(patterns)) return 'first files must be a list of patterns';
  if (patterns.length > MAX_PATTERNS) return `at most ${MAX_PATTERNS} first-file patterns`;
  for (const p of patterns) {
    if (typeof p !== 'string' || p.trim() === '') return 'a first-file pattern is empty';
    if (p.length > MAX_PATTERN_LENGTH) return `a first-file pattern is longer than ${MAX_PATTERN_LENGTH} characters`;
  }
  return undefined;
}

/** A glob as a regular expression: `*` any run of characters but `/`, `**` any run at all, `?` one character. */
function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*' && glob[i + 1] === '*') {
      re += '.*';
      i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 'i');
}

/**
 * True when `pattern` names the file at `path` (its components inside the torrent's root folder). A pattern with a
 * `/` is matched against the whole path (`text_encoder/*.json`), one without against the file name alone
 * (`config.json`, `*.json`, `tokenizer.*`), as .gitignore does. Case is ignored (`README.md` = `readme.md`).
 */
export function matchesFile(pattern: string, path: readonly string[]): boolean {
  const p = pattern.trim().replace(/^\.?\//, '');
  if (p.includes('/')) return globToRegExp(p).test(path.join('/'));
  return globToRegExp(p).test(path[path.length - 1] ?? '');
}

/**
 * The pieces holding the files `patterns` name, as inclusive [first, last] ranges in file order. Pad files and empty
 * files hold no piece of their own. A piece shared with a neighbouring file is included: it is needed either way.
 */
export function firstPieceRanges(
  files: readonly TorrentFile[],
  pieceLength: number,
  patterns: readonly string[],
): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  if (!patterns.length || pieceLength <= 0) return ranges;
  for (const f of files) {
    if (f.pad || f.length === 0) continue;
    if (!patterns.some((p) => matchesFile(p, f.path))) continue;
    ranges.push([Math.floor(f.offset / pieceLength), Math.floor((f.offset + f.length - 1) / pieceLength)]);
  }
  return ranges;
}
