// `silmaril share <path> --name ORG/MODEL --license L [--tags a,b] [--tracker URL] [--json]`: the share workflow of
// src/app/node.ts. When a daemon (or an editor) runs this home, it does the work and seeds at once; otherwise
// this process makes the torrent, records the seed in the home (the next daemon seeds it) and publishes the entry.
import { CliError, expectArgs, jsonLine, parseCommand, resolveHome, UsageError } from './args.js';
import { existingPath } from './paths.js';
import { stderrLogger } from './engine-options.js';
import { withProgress, INTERRUPTED } from './progress.js';
import { useNode } from '../app/session.js';

/** One line for `silmaril --help`. */
export const summary = 'Publishes a model folder to the catalog, signed, and seeds it.';

export const usage = `usage: silmaril share <path> --name ORG/MODEL --license L [options]
       silmaril share --hf ORG/NAME[@REV] --license L [options]
Publishes a model folder to the catalog (signed with this home's publisher key) and seeds it. With a daemon
running on this home, the daemon seeds it and publishes it on the DHT at once.
  --hf ORG/NAME[@REV]    share a model from the Hugging Face cache (HF_HUB_CACHE / HF_HOME), seeded in place;
                         a <path> inside the cache (a models--org--name folder or a snapshot) is shared the same way
  --name ORG/MODEL       catalog name (default with --hf: the repo id)
  --license L            license (SPDX id or the model card's name)
  --tags a,b             tags (default: the model card's)
  --description TEXT     one paragraph (default: the model card's)
  --tracker URL          announce URL; its registry gets the torrent too (repeatable)
  --api-key K            X-Weightless-Key for the registry (or $SILMARIL_REGISTRY_KEY; --registry-key is an alias)
  --super-seed           seed it as a BEP 16 super-seed: pieces revealed one by one so downloaders trade (an
                         initial seed; kept across restarts)
  --v1-only              a v1-only torrent for peers on clients that cannot read hybrids (see create --help)
  --allow-duplicate      publish even when these bytes are already shared under another name (default: refuse)
  --withdraw             publish a tombstone for --name instead (the entry disappears everywhere)
  --json                 one JSON line: {event:"shared", name, publisher, fingerprint, v1, v2, magnet, seq, ...}
  --home DIR             state directory
`;

const options = {
  name: { type: 'string' },
  license: { type: 'string' },
  tags: { type: 'string' },
  description: { type: 'string' },
  tracker: { type: 'string', multiple: true },
  'api-key': { type: 'string' },
  'registry-key': { type: 'string' },
  withdraw: { type: 'boolean', default: false },
  'v1-only': { type: 'boolean', default: false },
  'allow-duplicate': { type: 'boolean', default: false },
  'super-seed': { type: 'boolean', default: false },
  hf: { type: 'string' },
  verbose: { type: 'boolean', default: false },
} as const;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(argv, options);
  const home = resolveHome(values.home);
  const log = stderrLogger(values.verbose);
  if (values.withdraw) {
    expectArgs(positionals, []);
    if (!values.name) throw new UsageError('--withdraw needs --name ORG/MODEL', { hint: 'the name to withdraw' });
  } else {
    if (values.hf) {
      if (positionals.length) throw new UsageError(`--hf takes no <path>, got "${positionals[0]}"`);
    } else expectArgs(positionals, ['<path>']);
    if (!values.license)
      throw new UsageError('--license is missing', {
        hint: 'e.g. --license apache-2.0; the license the model is under',
      });
    if (!values.hf && !values.name)
      throw new UsageError('--name is missing', { hint: 'e.g. --name acme/tiny-llm: the catalog name, ORG/MODEL' });
    if (!values.hf) await existingPath(positionals[0], undefined, 'file or folder to share');
  }
  // In this process: the engine only records the seed (no DHT, no LSD); the daemon serves it later.
  const session = await useNode(
    { home, kind: 'share', log, engine: { dht: false, lsd: false }, catalog: { network: false } },
    { start: !values.withdraw },
  );
  try {
    if (values.withdraw) {
      const t = await session.api.withdraw(values.name!);
      if (values.json)
        jsonLine({
          event: 'withdrawn',
          name: t.name,
          publisher: t.publisher,
          seq: t.seq,
          unregistered: t.unregistered ?? [],
          warnings: t.warnings ?? [],
        });
      else {
        const from = t.unregistered?.length ? `; removed from the registry of ${t.unregistered.join(', ')}` : '';
        process.stdout.write(`withdrawn ${t.name} (seq ${t.seq})${from}\n`);
        for (const w of t.warnings ?? []) process.stderr.write(`silmaril share: warning: ${w}\n`);
      }
      return 0;
    }
    const result = await withProgress(
      'hashing',
      values.json,
      (signal, update) =>
        session.api.share(
          {
            path: positionals[0] ?? '',
            name: values.name ?? '',
            hf: values.hf,
            v1Only: values['v1-only'],
            superSeed: values['super-seed'],
            license: values.license,
            tags: values.tags !== undefined ? values.tags.split(',') : undefined,
            description: values.description,
            trackers: values.tracker ?? [],
            registryKey: values['api-key'] || values['registry-key'] || process.env.SILMARIL_REGISTRY_KEY || undefined,
            allowDuplicate: values['allow-duplicate'],
          },
          { signal, onProgress: (p) => update?.(Math.round(p.fraction * 1000), 1000) },
        ),
      false, // only a fraction is known here: a percentage, not bytes
    );
    if (result === INTERRUPTED) return 130;
    // The same bytes already shared under another name: nothing was published, and the user is told how to go on.
    const dup = result.duplicateOf;
    if (dup && !result.published) {
      if (values.json) jsonLine({ event: 'duplicate', ...result });
      throw new CliError(
        `these bytes are already shared${dup.name ? ` as ${dup.name}` : ` from ${dup.path}`}: nothing published`,
        dup.name
          ? `--name ${dup.name} updates that entry; --allow-duplicate publishes a second one`
          : '--allow-duplicate publishes an entry anyway',
      );
    }
    for (const w of session.local ? [] : result.warnings) log.warn(w);
    if (values.json) jsonLine({ event: 'shared', ...result, seededBy: session.local ? 'recorded' : 'node' });
    else {
      process.stdout.write(`shared ${result.name} (seq ${result.seq}) as ${result.fingerprint}\n${result.magnet}\n`);
      if (session.local) process.stdout.write('run `silmaril daemon` to seed it and publish it on the DHT\n');
      else process.stdout.write('seeded by the running node of this home\n');
    }
    return 0;
  } finally {
    await session.close();
  }
}
