// Hugging Face model cards: README.md with YAML front matter (license, tags, base_model...), and config.json.
import { readFile } from 'node:fs/promises';
import yaml from 'js-yaml';

export interface ModelCard {
  license?: string;
  tags: string[];
  /** The first paragraph of prose after the front matter (headings skipped), trimmed to 500 characters. */
  summary?: string;
  pipelineTag?: string;
  baseModel?: string;
}

const MAX_CARD_BYTES = 1024 * 1024;

function strings(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  return [];
}

export function parseModelCard(text: string): ModelCard {
  const card: ModelCard = { tags: [] };
  let body = text;
  const m = /^---\r?\n([\s\S]*?)\r?\n---\r?\n?/.exec(text);
  if (m) {
    body = text.slice(m[0].length);
    let meta: unknown;
    try {
      // JSON_SCHEMA: no custom types, no dates as objects; a broken front matter is just ignored.
      meta = yaml.load(m[1], { schema: yaml.JSON_SCHEMA });
    } catch {}
    if (meta && typeof meta === 'object') {
      const d = meta as Record<string, unknown>;
      const license = strings(d.license)[0] ?? (typeof d.license_name === 'string' ? d.license_name : undefined);
      if (license) card.license = license;
      card.tags = strings(d.tags);
      if (typeof d.pipeline_tag === 'string') card.pipelineTag = d.pipeline_tag;
      const base = strings(d.base_model)[0];
      if (base) card.baseModel = base;
    }
  }
  const para = body
    .split(/\r?\n\s*\r?\n/)
    .map((p) => p.trim())
    .find((p) => p && !p.startsWith('#') && !p.startsWith('<') && !p.startsWith('!['));
  if (para) card.summary = para.replace(/\s+/g, ' ').slice(0, 500);
  return card;
}

export async function readModelCard(path: string): Promise<ModelCard | undefined> {
  try {
    const buf = await readFile(path);
    return parseModelCard(buf.subarray(0, MAX_CARD_BYTES).toString('utf8'));
  } catch {
    return undefined;
  }
}

export interface HfConfig {
  architecture?: string;
  modelType?: string;
  dtype?: string;
  contextLength?: number;
}

export async function readHfConfig(path: string): Promise<HfConfig | undefined> {
  try {
    const buf = await readFile(path);
    if (buf.length > MAX_CARD_BYTES) return undefined;
    const c = JSON.parse(buf.toString('utf8'));
    if (!c || typeof c !== 'object') return undefined;
    return {
      architecture:
        Array.isArray(c.architectures) && typeof c.architectures[0] === 'string' ? c.architectures[0] : undefined,
      modelType: typeof c.model_type === 'string' ? c.model_type : undefined,
      dtype: typeof c.torch_dtype === 'string' ? c.torch_dtype : typeof c.dtype === 'string' ? c.dtype : undefined,
      contextLength: typeof c.max_position_embeddings === 'number' ? c.max_position_embeddings : undefined,
    };
  } catch {
    return undefined;
  }
}
