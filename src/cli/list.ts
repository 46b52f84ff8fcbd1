// `silmaril list [--json]`: this home's shares (its published entries) and the local models found in the models
// directory (and any --dir given), with what their headers say. Asks the running node of the home when there is
// one; reads the home's catalog otherwise.
import { expectArgs, jsonLine, parseCommand, resolveHome } from './args.js';
import { formatAgo, formatBytes, formatCount, plural } from '../shared/format.js';
import { stderrLogger } from './engine-options.js';
import { homeLayout } from '../app/layout.js';
import { scanLocalModels } from '../app/node.js';
import { useNode } from '../app/session.js';
import { hfCacheDir, listHfCache } from '../app/tools.js';
import { existingPath } from './paths.js';

/** One line for `silmaril --help`. */
export const summary = "Lists this home's shares, local models and the Hugging Face cache.";

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
  const { values, positionals } = parseCommand(argv, options);
  expectArgs(positionals, []);
  const home = resolveHome(values.home);
  for (const d of values.dir ?? []) await existingPath(d, 'folder', 'folder to scan');
  if (values['models-dir'] !== undefined) await existingPath(values['models-dir'], 'folder', 'models folder');
  if (values['hf-cache'] !== undefined) await existingPath(values['hf-cache'], 'folder', 'Hugging Face cache folder');
  let shown = 0;
  const session = await useNode({ home, kind: 'list', log: stderrLogger(false) }, { start: false });
  try {
    for (const e of await session.api.shares()) {
      shown++;
      if (values.json) jsonLine({ kind: 'share', ...e });
      else process.stdout.write(`share  ${e.name}  ${e.license || '-'}  ${formatBytes(e.size)}  v1 ${e.v1 ?? '-'}\n`);
    }
  } finally {
    await session.close();
  }
  const roots = [values['models-dir'] ?? homeLayout(home).models, ...(values.dir ?? [])];
  for (const m of await scanLocalModels(roots)) {
    shown++;
    if (values.json) jsonLine({ kind: 'model', ...m });
    else {
      const extra = [m.architecture, m.quantization, m.parameters ? `${formatCount(m.parameters)} parameters` : '']
        .filter(Boolean)
        .join(', ');
      process.stdout.write(
        `model  ${m.name}  ${m.format}  ${formatBytes(m.size)}${extra ? `  ${extra}` : ''}  ${m.path}\n`,
      );
    }
  }
  // The Hugging Face cache: repositories with their revisions (files in snapshot sub-folders counted).
  const hf = await listHfCache(values['hf-cache'] ?? hfCacheDir());
  for (const r of hf.repos) {
    shown++;
    if (values.json) jsonLine({ kind: 'hf', ...r });
    else {
      const revs = r.revisions
        .map(
          (v) => `${v.commit.slice(0, 12)}${v.refs.length ? ` (${v.refs.join(',')})` : ''} ${plural(v.files, 'file')}`,
        )
        .join('; ');
      const used = formatAgo(r.lastAccessed);
      process.stdout.write(`hf     ${r.repo}  ${formatBytes(r.size)}  used ${used}  ${revs}  ${r.path}\n`);
    }
  }
  // Nothing at all: say so, and how to get started (--json prints nothing: an empty list).
  if (shown === 0 && !values.json) {
    const looked = [...roots, values['hf-cache'] ?? hfCacheDir()].join(', ');
    process.stdout.write(
      `No models yet. Share one with: silmaril share <folder> --name ORG/MODEL --license L (looked in ${looked})\n`,
    );
  }
  return 0;
}
