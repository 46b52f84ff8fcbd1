// Option parsing shared by every command: node:util parseArgs plus the options all commands take, and the usage
// errors (exit 2) that bad flags and arguments turn into: one line naming the problem and the fix.
import { statSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { resolveHome as resolveHomePath } from '../home.js';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

/** Options every command accepts (docs/architecture.md; README, "The command line"). */
export const commonOptions = {
  home: { type: 'string' },
  json: { type: 'boolean', default: false },
  'dht-port': { type: 'string' },
  'dht-bootstrap': { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies OptionSpec;

export interface UsageHint {
  /** The fix, printed in parentheses after the problem; default: "see silmaril <command> --help". */
  hint?: string;
  /** Print the command's usage line as the fix (a missing or extra argument). */
  showUsage?: boolean;
  /** Also point at the command's --help after `hint` (without a hint it is always pointed at). */
  help?: boolean;
}

/** A usage error (bad command, option, argument, or a path that does not exist): one line on stderr, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
  readonly hint?: string;
  readonly showUsage: boolean;
  readonly help: boolean;
  constructor(message: string, opts: UsageHint = {}) {
    super(message);
    this.hint = opts.hint;
    this.showUsage = opts.showUsage ?? false;
    this.help = opts.help ?? (!opts.hint && !this.showUsage);
  }
}

/** A failure the user can act on (exit 1, or `exitCode`): printed as one line with its fix, never with a stack. */
export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly hint?: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** Edit distance, for "did you mean --out?" (short strings only). */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}

/** The closest of `names` to `wrong` when it is plausibly a typo of it. */
export function closest(wrong: string, names: string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const n of names) {
    const d = distance(wrong, n);
    if (d < bestD) [best, bestD] = [n, d];
  }
  // One edit for short words, two from four letters on ("gte" -> "get" is two).
  return best !== undefined && bestD <= (wrong.length >= 3 ? 2 : 1) && bestD < wrong.length ? best : undefined;
}

/**
 * `--port -1`: parseArgs refuses a value starting with "-" as ambiguous. A negative number cannot be an option, so
 * it is passed on as the value, and the option's own check then says what range it takes.
 */
function joinNegativeValues(argv: string[], options: OptionSpec): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') return out.concat(argv.slice(i));
    const name = a.startsWith('--') ? a.slice(2) : undefined;
    const next = argv[i + 1];
    if (name && options[name]?.type === 'string' && next !== undefined && /^-\d/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

/** parseArgs' own error (multi-line, with an unbalanced quote) as one clear usage error. */
function usageErrorFrom(err: Error & { code?: string }, options: OptionSpec): UsageError {
  const msg = err.message;
  const names = Object.keys(options).map((n) => `--${n}`);
  if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const wrong = /option '([^']+)'/i.exec(msg)?.[1] ?? '?';
    const near = wrong.startsWith('--') ? closest(wrong.split('=')[0], names) : undefined;
    return new UsageError(`unknown option ${wrong}`, near ? { hint: `did you mean ${near}?`, help: true } : {});
  }
  if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const opt = /Option '(?:-\w, )?(--[^ ']+)/.exec(msg)?.[1] ?? 'an option';
    if (/does not take an argument/.test(msg)) return new UsageError(`${opt} takes no value`);
    if (/ambiguous/.test(msg))
      return new UsageError(`${opt} needs a value`, { hint: `write ${opt}=VALUE for a value that starts with "-"` });
    return new UsageError(`${opt} needs a value`);
  }
  return new UsageError(msg.split('\n')[0]);
}

export function parseCommand<T extends OptionSpec>(argv: string[], options: T) {
  const all = { ...commonOptions, ...options };
  try {
    return parseArgs({ args: joinNegativeValues(argv, all), options: all, allowPositionals: true, strict: true });
  } catch (err) {
    throw usageErrorFrom(err as Error & { code?: string }, all);
  }
}

/**
 * Checks the number of positional arguments against the command's `<names>` (the last `optional` of them may be
 * left out): "missing <path>", "unexpected argument "x"", with the usage line as the fix.
 */
export function expectArgs(positionals: string[], names: string[], optional = 0): void {
  const min = names.length - optional;
  if (positionals.length < min) {
    throw new UsageError(`missing ${names.slice(positionals.length, min).join(' and ')}`, { showUsage: true });
  }
  if (positionals.length > names.length) {
    const extra = positionals[names.length];
    throw new UsageError(names.length === 0 ? `takes no arguments, got "${extra}"` : `unexpected argument "${extra}"`, {
      showUsage: true,
    });
  }
}

/** Parses an integer option, refusing anything that is not a whole number within [min, max]. */
export function intOption(value: string | undefined, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max)) {
    const range = max >= Number.MAX_SAFE_INTEGER ? `${min} or more` : `from ${min} to ${max}`;
    throw new UsageError(`--${name} must be a whole number ${range}, got "${value}"`);
  }
  return n;
}

/** `--dht-bootstrap a:1,b:2`; an empty value means no bootstrap nodes at all (private test DHTs). */
/** A tracker or web seed URL given as `--<flag>`: http, https, udp, ws or wss (usage errors otherwise). */
export function urlOption(value: string, flag: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`--${flag} must be a URL, got "${value}"`, {
      hint: 'e.g. http://tracker.example:6969/announce',
    });
  }
  if (!/^(https?|udp|wss?):$/.test(url.protocol))
    throw new UsageError(`--${flag} must be an http, https, udp, ws or wss URL, got "${value}"`);
  return value;
}

export function bootstrapOption(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const nodes = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const n of nodes) {
    const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s[\]]+):(\d{1,5})$/.exec(n);
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535)
      throw new UsageError(`--dht-bootstrap takes HOST:PORT,HOST:PORT..., got "${n}"`);
  }
  return nodes;
}

/**
 * `--home DIR`, else `$SILMARIL_HOME`, else `~/.silmaril`; a home that exists but is not a folder is a usage error
 * here, before anything tries to write into it.
 */
export function resolveHome(option?: string): string {
  const home = resolveHomePath(option);
  let isDir = true;
  try {
    isDir = statSync(home).isDirectory();
  } catch {
    // Missing: created on first use.
  }
  if (!isDir) {
    const from = option ? '--home' : process.env.SILMARIL_HOME ? 'SILMARIL_HOME' : 'the default home';
    throw new UsageError(`the home ${home} (${from}) is a file, not a folder`, {
      hint: 'pass --home DIR or set SILMARIL_HOME to a folder',
    });
  }
  return home;
}

/** Writes one JSON object as one line on stdout (the `--json` contract). */
export function jsonLine(obj: unknown): void {
  process.stdout.write(JSON.stringify(obj) + '\n');
}
