// Local model inventory: headers of generated safetensors and GGUF files, model cards, folder scanning.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { readGgufHeader } from '../../../src/models/gguf.js';
import { scanModels } from '../../../src/models/inventory.js';
import { parseModelCard } from '../../../src/models/model-card.js';
import { readSafetensorsHeader } from '../../../src/models/safetensors.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'silmaril-models-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function safetensors(tensors: Record<string, { dtype: string; shape: number[] }>, metadata?: Record<string, string>) {
  const header: Record<string, unknown> = {};
  let off = 0;
  const size: Record<string, number> = { F32: 4, F16: 2, BF16: 2, I8: 1 };
  for (const [name, t] of Object.entries(tensors)) {
    const n = t.shape.reduce((a, b) => a * b, 1) * size[t.dtype];
    header[name] = { ...t, data_offsets: [off, off + n] };
    off += n;
  }
  if (metadata) header.__metadata__ = metadata;
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, Buffer.alloc(off)]);
}

// A GGUF v3 writer for the value types the tests use.
function ggufString(s: string) {
  const b = Buffer.from(s);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(b.length));
  return Buffer.concat([len, b]);
}
function u32(n: number) {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}
function u64(n: number) {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}
function gguf(
  kv: [string, 'str' | 'u32' | 'strarr' | 'f32arr', unknown][],
  tensors: [string, number[]][],
  version = 3,
) {
  const parts: Buffer[] = [Buffer.from('GGUF'), u32(version), u64(tensors.length), u64(kv.length)];
  for (const [k, type, v] of kv) {
    parts.push(ggufString(k));
    if (type === 'str') parts.push(u32(8), ggufString(v as string));
    if (type === 'u32') parts.push(u32(4), u32(v as number));
    if (type === 'strarr') parts.push(u32(9), u32(8), u64((v as string[]).length), ...(v as string[]).map(ggufString));
    if (type === 'f32arr') parts.push(u32(9), u32(6), u64(v as number), Buffer.alloc(4 * (v as number)));
  }
  for (const [name, dims] of tensors) {
    parts.push(ggufString(name), u32(dims.length), ...dims.map(u64), u32(12), u64(0));
  }
  return Buffer.concat(parts);
}

test('safetensors: tensor count, dtypes and parameter count from the header alone', async () => {
  const p = join(dir, 'a.safetensors');
  await writeFile(
    p,
    safetensors(
      { 'w.weight': { dtype: 'BF16', shape: [4, 8] }, 'w.bias': { dtype: 'F32', shape: [8] } },
      { format: 'pt' },
    ),
  );
  const h = await readSafetensorsHeader(p);
  assert.equal(h.tensorCount, 2);
  assert.deepEqual(h.dtypes, { BF16: 1, F32: 1 });
  assert.equal(h.parameters, 40);
  assert.deepEqual(h.metadata, { format: 'pt' });
});

test('safetensors: a header length past the end of the file is refused', async () => {
  const p = join(dir, 'bad.safetensors');
  const b = Buffer.alloc(16);
  b.writeBigUInt64LE(1n << 40n);
  await writeFile(p, b);
  await assert.rejects(readSafetensorsHeader(p), /out of bounds/);
});

test('GGUF v3: architecture, quantization, context length and parameters; arrays are skipped', async () => {
  const p = join(dir, 'm.gguf');
  await writeFile(
    p,
    gguf(
      [
        ['general.architecture', 'str', 'llama'],
        ['general.name', 'str', 'Tiny Llama'],
        ['general.file_type', 'u32', 15],
        ['llama.context_length', 'u32', 4096],
        ['tokenizer.ggml.tokens', 'strarr', ['<s>', '</s>', 'hello']],
        ['tokenizer.ggml.scores', 'f32arr', 3],
      ],
      [
        ['token_embd.weight', [64, 10]],
        ['output.weight', [64, 10]],
      ],
    ),
  );
  const g = await readGgufHeader(p);
  assert.equal(g.version, 3);
  assert.equal(g.architecture, 'llama');
  assert.equal(g.name, 'Tiny Llama');
  assert.equal(g.quantization, 'Q4_K_M');
  assert.equal(g.contextLength, 4096);
  assert.equal(g.tensorCount, 2);
  assert.equal(g.parameters, 1280);
  assert.equal('tokenizer.ggml.tokens' in g.metadata, false);
});

test('GGUF: wrong magic, unsupported version, truncation and absurd lengths are refused', async () => {
  const write = async (name: string, b: Buffer) => {
    const p = join(dir, name);
    await writeFile(p, b);
    return p;
  };
  await assert.rejects(readGgufHeader(await write('x1.gguf', Buffer.from('GGML0000'))), /not a GGUF/);
  await assert.rejects(readGgufHeader(await write('x2.gguf', gguf([], [], 1))), /version 1/);
  const full = gguf([['general.architecture', 'str', 'llama']], []);
  await assert.rejects(readGgufHeader(await write('x3.gguf', full.subarray(0, full.length - 3))), /ends inside/);
  const huge = Buffer.concat([Buffer.from('GGUF'), u32(3), u64(0), u64(1), u64(2 ** 40)]);
  await assert.rejects(readGgufHeader(await write('x4.gguf', huge)), /string of/);
});

test('model card front matter: license, tags and a summary', () => {
  const card = parseModelCard(
    '---\nlicense: apache-2.0\ntags:\n  - text-generation\n  - llama\nbase_model: meta/llama\n---\n# Title\n\nA small\nmodel for tests.\n',
  );
  assert.equal(card.license, 'apache-2.0');
  assert.deepEqual(card.tags, ['text-generation', 'llama']);
  assert.equal(card.baseModel, 'meta/llama');
  assert.equal(card.summary, 'A small model for tests.');
  assert.deepEqual(parseModelCard('---\n: [broken\n---\nhi').tags, []);
});

test('scan finds Hugging Face folders and GGUF folders, reading card, config and headers', async () => {
  const root = join(dir, 'ws');
  const hf = join(root, 'models', 'tiny-bert');
  await mkdir(hf, { recursive: true });
  await writeFile(
    join(hf, 'config.json'),
    JSON.stringify({ architectures: ['BertModel'], max_position_embeddings: 512 }),
  );
  await writeFile(join(hf, 'README.md'), '---\nlicense: mit\ntags: [bert, tiny]\n---\nTiny BERT.\n');
  await writeFile(join(hf, 'model.safetensors'), safetensors({ w: { dtype: 'F16', shape: [10, 10] } }));
  const q = join(root, 'quant');
  await mkdir(q, { recursive: true });
  await writeFile(
    join(q, 'm.gguf'),
    gguf(
      [
        ['general.architecture', 'str', 'qwen2'],
        ['general.file_type', 'u32', 7],
        ['qwen2.context_length', 'u32', 32768],
      ],
      [['t', [5, 5]]],
    ),
  );
  await mkdir(join(root, 'node_modules', 'x'), { recursive: true });
  await writeFile(join(root, 'node_modules', 'x', 'config.json'), '{}');
  const models = (await scanModels([root, join(dir, 'missing')])).sort((a, b) => a.name.localeCompare(b.name));
  assert.deepEqual(
    models.map((m) => m.name),
    ['quant', 'tiny-bert'],
  );
  const [g, b] = models;
  assert.equal(b.format, 'safetensors');
  assert.equal(b.license, 'mit');
  assert.deepEqual(b.tags, ['bert', 'tiny']);
  assert.equal(b.architecture, 'BertModel');
  assert.equal(b.parameters, 100);
  assert.equal(b.contextLength, 512);
  assert.equal(b.files, 3);
  assert.equal(g.format, 'gguf');
  assert.equal(g.architecture, 'qwen2');
  assert.equal(g.quantization, 'Q8_0');
  assert.equal(g.contextLength, 32768);
  assert.equal(g.parameters, 25);
});
