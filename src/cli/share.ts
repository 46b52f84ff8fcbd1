// `silmaril share <path> --name ORG/MODEL --license L [--tags a,b] [--tracker URL] [--json]`: makes the hybrid
// torrent, records the folder as a seed of this home (the daemon keeps it seeded), registers it with the trackers
// given, and publishes a signed catalog entry. What the model's files say fills the rest; the user's words win.
import { jsonLine, parseCommand, resolveHome, UsageError } from './args.js';
import { stderrLogger } from './engine-options.js';
import { openCatalog } from '../catalog/service.js';
import { registerWithTracker } from '../catalog/sources/tracker.js';
import { describeModel } from '../models/inventory.js';
import { Engine } from '../engine/engine.js';
import { createTorrent } from '../torrent/create.js';
import { createHfTorrent, findHfSnapshot, publishWithHf } from '../models/hf/share.js';
import { buildMagnet } from '../torrent/magnet.js';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';

export const usage = `usage: silmaril share <path> --name ORG/MODEL --license L [options]
       silmaril share --hf ORG/NAME[@REV] --license L [options]
Publishes a model folder to the catalog (signed with this home's publisher key) and records it as a seed.
  --hf ORG/NAME[@REV]    share a model from the Hugging Face cache (HF_HUB_CACHE / HF_HOME), seeded in place;
                         a <path> inside the cache (a models--org--name folder or a snapshot) is shared the same way
  --name ORG/MODEL       catalog name (default with --hf: the repo id)
  --license L            license (SPDX id or the model card's name)
  --tags a,b             tags (default: the model card's)
  --description TEXT     one paragraph (default: the model card's)
  --tracker URL          announce URL; its registry gets the torrent too (repeatable)
  --api-key K            X-Weightless-Key for the registry (or $SILMARIL_REGISTRY_KEY; --registry-key is an alias)
  --v1-only              a v1-only torrent for peers on clients that cannot read hybrids (see create --help)
  --withdraw             publish a tombstone for --name instead (the entry disappears everywhere)
  --json                 one JSON line: {event:"shared", name, publisher, fingerprint, v1, v2, magnet, seq, ...}
  --home DIR             state directory
`;

const options = {
  name: { type: 'string' },
  hf: { type: 'string' },
  license: { type: 'string' },
  tags: { type: 'string' },
  description: { type: 'string' },
  tracker: { type: 'string', multiple: true },
  'api-key': { type: 'string' },
  'registry-key': { type: 'string' },
  withdraw: { type: 'boolean', default: false },
  'v1-only': { type: 'boolean', default: false },
  verbose: { type: 'boolean', default: false },
} as const;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(argv, options);
  const home = resolveHome(values.home);
  const log = stderrLogger(values.verbose);
  const { catalog, identity } = await openCatalog(home);
  try {
    if (values.withdraw) {
      if (!values.name) throw new UsageError('share --withdraw needs --name ORG/MODEL');
      const t = catalog.withdraw(values.name);
      await catalog.save();
      if (values.json) jsonLine({ event: 'withdrawn', name: t.name, publisher: t.publisher, seq: t.seq });
      else process.stdout.write(`withdrawn ${t.name} (seq ${t.seq})\n`);
      return 0;
    }
    if (positionals.length !== (values.hf ? 0 : 1)) {
      throw new UsageError(values.hf ? 'share --hf takes no <path>' : 'share needs exactly one <path>');
    }
    if (!values.license) throw new UsageError('share needs --license L');
    if (!values.hf) {
      await stat(resolve(positionals[0])).catch(() => {
        throw new UsageError(`${positionals[0]}: no such file or folder`);
      });
    }
    const trackers = values.tracker ?? [];
    // A Hugging Face cache snapshot (--hf, or a folder of the cache): read through its links, seeded in place.
    const snapshot = values.hf
      ? await findHfSnapshot({ spec: values.hf })
      : await findHfSnapshot({ folder: positionals[0] });
    const hfShare = snapshot ? await createHfTorrent(snapshot, { trackers }) : undefined;
    const path = snapshot ? snapshot.snapshotDir : resolve(positionals[0]);
    const name = values.name ?? hfShare?.defaultName;
    if (!name) {
      throw new UsageError(
        snapshot
          ? `${snapshot.repo} has no org: give the catalog name with --name ORG/MODEL`
          : 'share needs --name ORG/MODEL',
      );
    }
    const model = await describeModel(path).catch(() => undefined);
    const created = hfShare ? hfShare.torrent : await createTorrent(path, { trackers, v1Only: values['v1-only'] });
    const tags = values.tags !== undefined ? values.tags.split(',') : (model?.tags ?? []);
    const entry = publishWithHf(
      (hf) =>
        catalog.publish({
          ...hf,
          name,
          v1: created.infoHashV1,
          v2: created.infoHashV2,
          size: created.length,
          files: created.files.length,
          license: values.license,
          tags: tags.map((t) => t.trim()).filter(Boolean),
          description: values.description ?? model?.description ?? '',
          format: model?.format ?? '',
          architecture: model?.architecture ?? '',
          parameters: model?.parameters ?? 0,
          quantization: model?.quantization ?? '',
          trackers,
        }),
      hfShare?.hf,
    );
    await catalog.save();
    // Recorded in the engine's state directory: `silmaril daemon` restores and seeds it.
    const engine = new Engine({ home, dht: false, lsd: false, logger: log });
    await engine.start();
    try {
      await engine.seed(path, { torrent: created.torrentBytes, trusted: true });
    } finally {
      await engine.stop();
    }
    const registered: string[] = [];
    for (const t of trackers) {
      try {
        await registerWithTracker(
          t,
          {
            v1: created.infoHashV1,
            v2: created.infoHashV2,
            name,
            torrent: created.torrentBytes,
            size: created.length,
            license: values.license,
            tags: entry.tags,
            description: entry.description,
            publisher: identity.fingerprint,
          },
          { key: values['api-key'] || values['registry-key'] || process.env.SILMARIL_REGISTRY_KEY || undefined },
        );
        registered.push(t);
      } catch (err) {
        log.warn(`${t}: ${(err as Error).message}`);
      }
    }
    const magnet = buildMagnet({
      infoHashV1: created.infoHashV1,
      infoHashV2: created.infoHashV2,
      name,
      trackers,
    });
    const out = {
      event: 'shared',
      name: entry.name,
      publisher: identity.publisher,
      fingerprint: identity.fingerprint,
      license: entry.license,
      tags: entry.tags,
      size: entry.size,
      files: entry.files,
      format: entry.format,
      v1: created.infoHashV1,
      v2: created.infoHashV2,
      magnet,
      seq: entry.seq,
      path,
      registered,
      ...(snapshot ? { hfRepo: snapshot.repo, hfCommit: snapshot.commit } : {}),
    };
    if (values.json) jsonLine(out);
    else {
      process.stdout.write(`shared ${out.name} (seq ${out.seq}) as ${out.fingerprint}\n${magnet}\n`);
      process.stdout.write('run `silmaril daemon` to seed it and publish it on the DHT\n');
    }
    return 0;
  } finally {
    catalog.close();
  }
}
