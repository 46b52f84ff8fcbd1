// `silmaril list [--json]`: this home's shares (its published entries) and the local models found in the models
// directory (and any --dir given), with what their headers say.
import { jsonLine, parseCommand, resolveHome } from './args.js';
import { join } from 'node:path';
import { Catalog } from '../catalog/catalog.js';
import { FileKeyStore } from '../catalog/identity.js';
import { Identity } from '../catalog/identity.js';
import { scanModels } from '../models/inventory.js';
import { hfCacheDir, listHfCache } from '../models/hf-cache.js';

export const usage = `usage: silmaril list [options]
Lists this home's shares and the local models.
  --models-dir DIR       where models live (default <home>/models); repeatable --dir adds folders to scan
  --dir DIR              another folder to scan for models (repeatable)
  --hf-cache DIR         the Hugging Face cache to list (default HF_HUB_CACHE / HF_HOME / ~/.cache/huggingface/hub)
  --json                 one JSON object per line: {kind:"share"|"model"|"hf", ...}
  --home DIR             state directory
`;

const options = {
  'models-dir': { type: 'string' },
  dir: { type: 'string', multiple: true },
  'hf-cache': { type: 'string' },
} as const;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommand(argv, options);
  const home = resolveHome(values.home);
  const seed = await FileKeyStore.inHome(home).load();
  const identity = seed ? new Identity(seed) : undefined;
  const catalog = await Catalog.open({ home, identity });
  try {
    for (const e of catalog.ownEntries()) {
      if (e.deleted) continue;
      const line = {
        kind: 'share',
        name: e.name,
        publisher: e.publisher,
        license: e.license,
        tags: e.tags,
        size: e.size,
        files: e.files,
        format: e.format,
        v1: e.v1,
        v2: e.v2,
        seq: e.seq,
      };
      if (values.json) jsonLine(line);
      else process.stdout.write(`share  ${e.name}  ${e.license}  ${(e.size / 1e9).toFixed(2)} GB  v1 ${e.v1 ?? '-'}\n`);
    }
  } finally {
    catalog.close();
  }
  const roots = [values['models-dir'] ?? join(home, 'models'), ...(values.dir ?? [])];
  for (const m of await scanModels(roots)) {
    if (values.json) jsonLine({ kind: 'model', ...m });
    else {
      const extra = [m.architecture, m.quantization, m.parameters ? `${(m.parameters / 1e9).toFixed(2)}B params` : '']
        .filter(Boolean)
        .join(', ');
      process.stdout.write(`model  ${m.name}  ${m.format}  ${(m.size / 1e9).toFixed(2)} GB  ${extra}  ${m.path}\n`);
    }
  }
  // The Hugging Face cache: repositories with their revisions (files in snapshot sub-folders counted).
  const hf = await listHfCache(values['hf-cache'] ?? hfCacheDir());
  for (const r of hf.repos) {
    if (values.json) jsonLine({ kind: 'hf', ...r });
    else {
      const revs = r.revisions
        .map((v) => `${v.commit.slice(0, 12)}${v.refs.length ? ` (${v.refs.join(',')})` : ''} ${v.files} files`)
        .join('; ');
      const used = r.lastAccessed.toISOString().slice(0, 10);
      process.stdout.write(`hf     ${r.repo}  ${(r.size / 1e9).toFixed(2)} GB  used ${used}  ${revs}  ${r.path}\n`);
    }
  }
  return 0;
}
