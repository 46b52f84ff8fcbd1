// Option parsing shared by every command: node:util parseArgs plus the options all commands take.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { resolveHome } from '../home.js';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

/** Options every command accepts (docs/architecture.md; README, "Command line"). */
export const commonOptions = {
  home: { type: 'string' },
  json: { type: 'boolean', default: false },
  'dht-port': { type: 'string' },
  'dht-bootstrap': { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies OptionSpec;

/** A usage error: printed as `silmaril: <message>` with exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export function parseCommand<T extends OptionSpec>(argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options: { ...commonOptions, ...options }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** Parses an integer option, refusing anything that is not a whole number within [min, max]. */
export function intOption(value: string | undefined, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new UsageError(`--${name} must be a whole number, got "${value}"`);
  const n = Number(value);
  if (n < min || n > max) throw new UsageError(`--${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

/** `--dht-bootstrap a:1,b:2`; an empty value means no bootstrap nodes at all (private test DHTs). */
export function bootstrapOption(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

export { resolveHome };

/** Writes one JSON object as one line on stdout (the `--json` contract). */
export function jsonLine(obj: unknown): void {
  process.stdout.write(JSON.stringify(obj) + '\n');
}
