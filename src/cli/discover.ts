// `silmaril discover [QUERY] [--json] [--license L] [--tag T]... [--publisher P] [--format F]`: searches the catalog.
// With a node running this home (a daemon or an editor), asks it: it follows the network already. Without one,
// reads the network first (DHT pointers, catalog files, the registries of --tracker), for at most --timeout
// seconds with a progress line on stderr; --offline searches only what the home holds. Says where the results
// came from and how fresh they are.
import { intOption, jsonLine, parseCommand, resolveHome, UsageError } from './args.js';
import { explainCodes } from './errors.js';
import { formatAgo, formatBytes, formatDuration, plural } from '../shared/format.js';
import { engineOptionSpec, nodeOptions, runInterruptible, stderrLogger, untilSignal } from './engine-options.js';
import { useNode, type Session } from '../app/session.js';
import { normaliseTrustedKey, readTrustedKeys, updateTrustedKeys } from '../app/tools.js';
import type { DiscoverResult, SortKey, SourceState } from '../app/types.js';
import { swarmText } from '../app/views.js';

/** One line for `silmaril --help`. */
export const summary = 'Searches the model catalog, reading the network first.';

export const usage = `usage: silmaril discover [QUERY] [options]
Searches the catalog (name, tags, description), reading the network first when no node runs this home.
  --license L            only this license
  --tag T                only entries with this tag (repeatable: all of them)
  --publisher P          publisher key, key prefix or fingerprint
  --format F             safetensors, gguf, pytorch, onnx...
  --min-size N / --max-size N   bytes
  --sort name|size|date|seeders  (--desc for descending)
  --limit N              default 100
  --trusted              only publishers you trust (--trust, or <home>/trusted-keys.json)
  --signed               leave out unsigned entries (trackers' registries, the Go Silmaril network)
  --trust KEY            trust this publisher for this run (full 64-hex key or xxxx:xxxx:xxxx:xxxx; repeatable)
  --trust-add KEY        trust this publisher from now on (saved in <home>/trusted-keys.json; repeatable)
  --trust-remove KEY     stop trusting it (repeatable)
  --tracker URL          read this tracker's registry too (repeatable)
  --offline              search only what this home holds (no network)
  --timeout N            seconds the network may take (default 30)
  --json                 one JSON object per entry: name, publisher, fingerprint, license, tags, size, v1, v2,
                         magnet, trusted (a key you trust), signed, conflicts (other keys claiming the name)...
A name is not an identity: anyone can sign an entry called acme/tiny. Entries are "signed" by the fingerprint shown,
"trusted" only for keys you chose, and a name claimed by several keys is flagged.
  --home DIR             state directory
  --dht-bootstrap LIST   DHT bootstrap nodes HOST:PORT,...; empty: none (private DHT)
`;

const options = {
  ...engineOptionSpec,
  license: { type: 'string' },
  tag: { type: 'string', multiple: true },
  publisher: { type: 'string' },
  format: { type: 'string' },
  'min-size': { type: 'string' },
  'max-size': { type: 'string' },
  sort: { type: 'string' },
  desc: { type: 'boolean', default: false },
  limit: { type: 'string' },
  trusted: { type: 'boolean', default: false },
  signed: { type: 'boolean', default: false },
  trust: { type: 'string', multiple: true },
  'trust-add': { type: 'string', multiple: true },
  'trust-remove': { type: 'string', multiple: true },
  offline: { type: 'boolean', default: false },
  timeout: { type: 'string' },
} as const;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(argv, options);
  const sort = values.sort as SortKey | undefined;
  if (sort && !['name', 'size', 'date', 'seeders'].includes(sort)) {
    throw new UsageError(`--sort must be name, size, date or seeders, got "${sort}"`);
  }
  const timeoutMs = (intOption(values.timeout, 'timeout', 1, 3600) ?? 30) * 1000;
  const home = resolveHome(values.home);
  for (const flag of ['trust', 'trust-add', 'trust-remove'] as const) {
    for (const k of values[flag] ?? []) {
      if (!normaliseTrustedKey(k))
        throw new UsageError(`--${flag}: not a publisher key or fingerprint: "${k}"`, {
          hint: 'give the full 64-hex key or the fingerprint xxxx:xxxx:xxxx:xxxx that discover shows',
        });
    }
  }
  if (values.publisher !== undefined && !/^[0-9a-f:]+$/i.test(values.publisher.trim())) {
    throw new UsageError(
      `--publisher takes a publisher key, a key prefix or a fingerprint, got "${values.publisher}"`,
      {
        hint: 'hex digits, or xxxx:xxxx:xxxx:xxxx as discover shows',
      },
    );
  }
  const saved =
    values['trust-add']?.length || values['trust-remove']?.length
      ? await updateTrustedKeys(home, values['trust-add'] ?? [], values['trust-remove'] ?? [])
      : await readTrustedKeys(home);
  const query = {
    text: positionals.join(' '),
    license: values.license,
    tags: values.tag,
    publisher: values.publisher,
    format: values.format,
    minSize: intOption(values['min-size'], 'min-size', 0, Number.MAX_SAFE_INTEGER),
    maxSize: intOption(values['max-size'], 'max-size', 0, Number.MAX_SAFE_INTEGER),
    sort,
    descending: values.desc,
    limit: intOption(values.limit, 'limit', 1, 10_000) ?? 100,
    trustedOnly: values.trusted,
    signedOnly: values.signed,
    trust: [...saved, ...(values.trust ?? [])],
  };
  if (query.minSize !== undefined && query.maxSize !== undefined && query.minSize > query.maxSize) {
    throw new UsageError(`--min-size ${query.minSize} is larger than --max-size ${query.maxSize}`);
  }
  const log = stderrLogger(values.verbose);
  const base = nodeOptions({ ...values, tracker: [] }, log, 'discover');
  const registries = values.tracker ?? [];
  const stopped = untilSignal();
  let session: Session | undefined;
  const search = async (): Promise<number> => {
    session = await useNode(
      { ...base, engine: { ...base.engine, lsd: false }, catalog: { registries, network: !values.offline } },
      { start: !values.offline },
    );
    const remote = !session.local;
    const refresh = !values.offline && !remote;

    let ticker: NodeJS.Timeout | undefined;
    if (refresh && !remote && !values.json) {
      const t0 = Date.now();
      const what = [
        'DHT',
        'catalog files',
        ...(registries.length ? [`${registries.length} registr${registries.length > 1 ? 'ies' : 'y'}`] : []),
      ];
      const line = () =>
        process.stderr.write(
          `searching the network (${what.join(', ')})... ${formatDuration(Math.round((Date.now() - t0) / 1000))} of at most ${formatDuration(timeoutMs / 1000)}${process.stderr.isTTY ? '\r' : '\n'}`,
        );
      line();
      ticker = setInterval(line, process.stderr.isTTY ? 1000 : 5000);
    }
    let result: DiscoverResult;
    try {
      // Through a running node, --tracker registries are read by that node for this search (not --offline).
      const extra = remote && !values.offline ? registries : [];
      result = await session.api.discover({ ...query, refresh, timeoutMs, registries: extra });
    } finally {
      clearInterval(ticker);
      if (ticker && process.stderr.isTTY) process.stderr.write('\x1b[K');
    }
    if (values.json) {
      for (const e of result.entries) jsonLine(e);
    } else {
      for (const e of result.entries) {
        const size = formatBytes(e.size);
        const who = e.trusted
          ? `${e.fingerprint} (trusted)`
          : e.signed
            ? `signed by ${e.fingerprint}`
            : `${e.publisher} (unsigned)`;
        const flag = e.conflicts.length
          ? `\n  ! the name is also claimed by ${e.conflicts.join(', ')}: check the publisher`
          : '';
        const about = e.description ? `\n  ${e.description.slice(0, 200)}` : '';
        process.stdout.write(
          `${e.name}  ${e.license || '-'}  ${size}  [${e.tags.join(', ')}]  ${who}  ${swarmText(e)}${flag}${about}\n  ${e.magnet}\n`,
        );
      }
      if (result.entries.length === 0) process.stdout.write(emptyResult(values, query.text, result, remote));
      else process.stdout.write(`${result.entries.length} of ${result.total} shown\n`);
    }
    process.stderr.write(provenance(result, remote ? 'the running node of this home' : undefined));
    return 0;
  };
  return runInterruptible(search, async () => session?.close(), stopped);
}

/** Filters that narrow a search, as the user typed them. */
const FILTERS = ['license', 'tag', 'publisher', 'format', 'min-size', 'max-size', 'trusted', 'signed'] as const;

/** No entry matched: say so, and what would widen the search. */
function emptyResult(
  values: Partial<Record<(typeof FILTERS)[number] | 'offline' | 'tracker', unknown>>,
  text: string,
  r: DiscoverResult,
  remote: boolean,
): string {
  const set = FILTERS.filter((f) => values[f] !== undefined && values[f] !== false).map((f) => `--${f}`);
  const tips: string[] = [];
  if (text) tips.push('fewer or shorter words');
  if (set.length) tips.push(`without ${set.join(', ')}`);
  if (values.offline) tips.push('without --offline, to read the network');
  else if (r.refreshed === 'timed-out') tips.push('a longer --timeout');
  if (!remote && !(values.tracker as string[] | undefined)?.length) tips.push('--tracker URL to read a registry too');

  const what = text ? ` for "${text}"` : '';
  const where = r.total === 0 && !text && !set.length ? ' (the catalog this home knows is empty)' : '';
  const failed = r.sources.filter((s) => s.lastError).length;
  const broken = failed ? ` ${failed === 1 ? 'A source' : `${failed} sources`} could not be read (listed below).` : '';
  return `No models found${what}${where}.${tips.length ? ` Widen the search: ${tips.join('; ')}.` : ''}${broken}\n`;
}

/** A source's last error in words ("fetch failed" says nothing of why). */
function sourceError(e: string): string {
  return e === 'fetch failed' ? 'could not connect' : explainCodes(e);
}

/** Where the results came from and how fresh each source is, on stderr. */
function provenance(r: DiscoverResult, via?: string): string {
  // Sources keep unix seconds.
  const age = (t?: number) => (t ? `read ${formatAgo(t * 1000)}` : 'never read');
  const src = (s: SourceState) =>
    `${s.id} (${plural(s.entries, 'entry', 'entries')}, ${age(s.lastUpdate)}${s.lastError ? `, last error: ${sourceError(s.lastError)}` : ''})`;
  const head =
    r.refreshed === 'complete'
      ? 'the network was read just now'
      : r.refreshed === 'timed-out'
        ? 'the network was read until the time limit (partial: try --timeout)'
        : via
          ? `asked ${via}, which follows the network`
          : 'from this home only (no network read)';
  const list = r.sources.length ? r.sources.map(src).join('; ') : 'no sources read yet';
  return `${head}; sources: ${list}\n`;
}
