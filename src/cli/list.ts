// `silmaril list [--json]`: this home's shares (its published entries) and the local models found in the models
// directory (and any --dir given), with what their headers say. Asks the running node of the home when there is
// one; reads the home's catalog otherwise.
import { jsonLine, parseCommand, resolveHome } from './args.js';
import { stderrLogger } from './engine-options.js';
import { homeLayout } from '../app/layout.js';
import { scanLocalModels } from '../app/node.js';
import { useNode } from '../app/session.js';
import { hfCacheDir, listHfCache } from '../app/tools.js';

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
  const session = await useNode({ home, kind: 'list', log: stderrLogger(false) }, { start: false });
  try {
    for (const e of await session.api.shares()) {
      if (values.json) jsonLine({ kind: 'share', ...e });
      else process.stdout.write(`share  ${e.name}  ${e.license}  ${(e.size / 1e9).toFixed(2)} GB  v1 ${e.v1 ?? '-'}\n`);
    }
  } finally {
    await session.close();
  }
  const roots = [values['models-dir'] ?? homeLayout(home).models, ...(values.dir ?? [])];
  for (const m of await scanLocalModels(roots)) {
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
