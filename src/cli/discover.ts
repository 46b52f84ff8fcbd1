// `silmaril discover [QUERY] [--json] [--license L] [--tag T]... [--publisher P] [--format F]`: searches the catalog
// this home holds (kept current by `silmaril daemon`), optionally reading tracker registries first.
import { intOption, jsonLine, parseCommand, resolveHome, UsageError } from './args.js';
import { Catalog } from '../catalog/catalog.js';
import { refreshRegistry } from '../catalog/sources/tracker.js';
import type { SortKey } from '../catalog/store.js';
import { normaliseTrustedKey, readTrustedKeys, TrustList, updateTrustedKeys } from '../catalog/trust.js';

export const usage = `usage: silmaril discover [QUERY] [options]
Searches the catalog (name, tags, description).
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
  --tracker URL          read this tracker's registry first (repeatable)
  --json                 one JSON object per entry: name, publisher, fingerprint, license, tags, size, v1, v2,
                         magnet, trusted (a key you trust), signed, conflicts (other keys claiming the name)...
A name is not an identity: anyone can sign an entry called acme/tiny. Entries are "signed" by the fingerprint shown,
"trusted" only for keys you chose, and a name claimed by several keys is flagged.
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
  signed: { type: 'boolean', default: false },
  trust: { type: 'string', multiple: true },
  'trust-add': { type: 'string', multiple: true },
  'trust-remove': { type: 'string', multiple: true },
  tracker: { type: 'string', multiple: true },
} as const;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(argv, options);
  const sort = values.sort as SortKey | undefined;
  if (sort && !['name', 'size', 'date', 'seeders'].includes(sort)) {
    throw new UsageError('--sort must be name, size, date or seeders');
  }
  const home = resolveHome(values.home);
  for (const k of values.trust ?? []) {
    if (!normaliseTrustedKey(k)) throw new UsageError(`--trust: not a publisher key or fingerprint: ${k}`);
  }
  const saved =
    values['trust-add']?.length || values['trust-remove']?.length
      ? await updateTrustedKeys(home, values['trust-add'] ?? [], values['trust-remove'] ?? [])
      : await readTrustedKeys(home);
  const trust = new TrustList([...saved, ...(values.trust ?? [])]);
  const catalog = await Catalog.open({ home });
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
      signedOnly: values.signed,
      trust,
    });
    if (values.json) {
      for (const e of entries) jsonLine(e);
    } else {
      for (const e of entries) {
        const size = `${(e.size / 1e9).toFixed(2)} GB`;
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
          `${e.name}  ${e.license || '-'}  ${size}  [${e.tags.join(', ')}]  ${who}${flag}${about}\n  ${e.magnet}\n`,
        );
      }
      process.stdout.write(`${entries.length} of ${total} shown\n`);
    }
    return 0;
  } finally {
    catalog.close();
  }
}
