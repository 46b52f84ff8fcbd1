// `silmaril discover [QUERY] [--json] [--license L] [--tag T]... [--publisher P] [--format F]`: searches the catalog
// this home holds (kept current by `silmaril daemon`), optionally reading tracker registries first.
import { intOption, jsonLine, parseCommand, resolveHome, UsageError } from './args.js';
import { Catalog } from '../catalog/catalog.js';
import { refreshRegistry } from '../catalog/sources/tracker.js';
import type { SortKey } from '../catalog/store.js';

export const usage = `usage: silmaril discover [QUERY] [options]
Searches the catalog (name, tags, description).
  --license L            only this license
  --tag T                only entries with this tag (repeatable: all of them)
  --publisher P          publisher key, key prefix or fingerprint
  --format F             safetensors, gguf, pytorch, onnx...
  --min-size N / --max-size N   bytes
  --sort name|size|date|seeders  (--desc for descending)
  --limit N              default 100
  --trusted              leave out unsigned entries (trackers' registries, the Go Silmaril network)
  --tracker URL          read this tracker's registry first (repeatable)
  --json                 one JSON object per entry: name, publisher, license, tags, size, v1, v2, magnet, trusted...
  --home DIR             state directory
`;

const options = {
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
  tracker: { type: 'string', multiple: true },
} as const;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(argv, options);
  const sort = values.sort as SortKey | undefined;
  if (sort && !['name', 'size', 'date', 'seeders'].includes(sort)) {
    throw new UsageError('--sort must be name, size, date or seeders');
  }
  const catalog = await Catalog.open({ home: resolveHome(values.home) });
  try {
    for (const t of values.tracker ?? []) await refreshRegistry(catalog, t, positionals.join(' '));
    await catalog.save();
    const { entries, total } = catalog.search({
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
    });
    if (values.json) {
      for (const e of entries) jsonLine(e);
    } else {
      for (const e of entries) {
        const size = `${(e.size / 1e9).toFixed(2)} GB`;
        const who = e.trusted ? e.fingerprint : `${e.publisher} (unsigned)`;
        process.stdout.write(
          `${e.name}  ${e.license || '-'}  ${size}  [${e.tags.join(', ')}]  ${who}\n  ${e.magnet}\n`,
        );
      }
      process.stdout.write(`${entries.length} of ${total} shown\n`);
    }
    return 0;
  } finally {
    catalog.close();
  }
}
