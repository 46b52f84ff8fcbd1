// The local model inventory: model folders found in the workspace folders and the models directory. A folder is a
// model when it holds config.json, *.safetensors or *.gguf directly; what a share publishes is read from there.
import { readdir, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, extname, join } from 'node:path';
import { readGgufHeader } from './gguf.js';
import { readHfConfig, readModelCard } from './model-card.js';
import { readSafetensorsHeader } from './safetensors.js';
import { silentLogger, type Logger } from '../log.js';

export interface LocalModel {
  path: string;
  /** The folder name; a share asks for the `org/model` name. */
  name: string;
  /** safetensors, gguf, pytorch, onnx, mixed or other. */
  format: string;
  files: number;
  size: number;
  license?: string;
  tags: string[];
  description?: string;
  architecture?: string;
  parameters?: number;
  quantization?: string;
  contextLength?: number;
  /** safetensors dtypes seen, e.g. `{ BF16: 290 }`. */
  dtypes?: Record<string, number>;
  /** Header problems (a truncated download...): the model is still listed. */
  warnings: string[];
}

export function defaultModelsDir(): string {
  return join(homedir(), '.silmaril', 'models');
}

const SKIP_DIRS = new Set(['node_modules', '.git', '.silmaril', '.hg', '.svn', '__pycache__', '.venv', '.cache']);
const WEIGHT_EXT: Record<string, string> = {
  '.safetensors': 'safetensors',
  '.gguf': 'gguf',
  '.bin': 'pytorch',
  '.pt': 'pytorch',
  '.pth': 'pytorch',
  '.onnx': 'onnx',
};
const MAX_DIRS = 5_000;

/** Finds models under each root (depth-limited, symlinks not followed). Missing roots are skipped. */
export async function scanModels(roots: string[], opts: { maxDepth?: number; log?: Logger } = {}) {
  const log = opts.log ?? silentLogger;
  const found: LocalModel[] = [];
  let visited = 0;
  const walk = async (dir: string, depth: number): Promise<void> => {
    if (++visited > MAX_DIRS) return;
    let names;
    try {
      names = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    const isModel = names.some(
      (d) => d.isFile() && (d.name === 'config.json' || /\.(safetensors|gguf)$/i.test(d.name)),
    );
    if (isModel) {
      try {
        found.push(await describeModel(dir));
      } catch (err) {
        log.warn(`models: ${dir}: ${(err as Error).message}`);
      }
      return;
    }
    if (depth >= (opts.maxDepth ?? 3)) return;
    for (const d of names) {
      if (d.isDirectory() && !SKIP_DIRS.has(d.name) && !d.name.startsWith('.'))
        await walk(join(dir, d.name), depth + 1);
    }
  };
  for (const root of roots) await walk(root, 0);
  return found;
}

async function listFiles(dir: string, prefix = '', depth = 0): Promise<{ rel: string; size: number }[]> {
  const out: { rel: string; size: number }[] = [];
  let names;
  try {
    names = await readdir(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const d of names) {
    if (d.name === '.silmaril' || d.name === '.git') continue;
    const full = join(dir, d.name);
    if (d.isFile()) out.push({ rel: prefix + d.name, size: (await stat(full)).size });
    else if (d.isDirectory() && depth < 8) out.push(...(await listFiles(full, `${prefix}${d.name}/`, depth + 1)));
  }
  return out;
}

/** Reads what a model folder says about itself: card, config and weight headers. */
export async function describeModel(dir: string): Promise<LocalModel> {
  const files = await listFiles(dir);
  const model: LocalModel = {
    path: dir,
    name: basename(dir),
    format: 'other',
    files: files.length,
    size: files.reduce((a, f) => a + f.size, 0),
    tags: [],
    warnings: [],
  };
  const formats = new Set<string>();
  for (const f of files) {
    const fmt = WEIGHT_EXT[extname(f.rel).toLowerCase()];
    if (fmt) formats.add(fmt);
  }
  // safetensors wins over pytorch .bin leftovers in the same folder.
  if (formats.size === 1) model.format = [...formats][0];
  else if (formats.has('safetensors')) model.format = 'safetensors';
  else if (formats.size > 1) model.format = 'mixed';

  const card = await readModelCard(join(dir, 'README.md'));
  if (card) {
    model.license = card.license;
    model.tags = card.tags;
    model.description = card.summary;
  }
  const config = await readHfConfig(join(dir, 'config.json'));
  if (config) {
    model.architecture = config.architecture ?? config.modelType;
    model.contextLength = config.contextLength;
  }
  let params = 0;
  for (const f of files) {
    const ext = extname(f.rel).toLowerCase();
    try {
      if (ext === '.safetensors') {
        const h = await readSafetensorsHeader(join(dir, f.rel));
        params += h.parameters;
        model.dtypes ??= {};
        for (const [k, v] of Object.entries(h.dtypes)) model.dtypes[k] = (model.dtypes[k] ?? 0) + v;
      } else if (ext === '.gguf') {
        const g = await readGgufHeader(join(dir, f.rel));
        params = Math.max(params, g.parameters); // several quantizations of one model: not a sum
        model.architecture ??= g.architecture;
        model.quantization ??= g.quantization;
        model.contextLength ??= g.contextLength;
      }
    } catch (err) {
      model.warnings.push(`${f.rel}: ${(err as Error).message}`);
    }
  }
  if (params) model.parameters = params;
  if (!model.quantization && model.dtypes) model.quantization = Object.keys(model.dtypes).sort().join('+');
  return model;
}
