// A small workspace holding one model folder in the Hugging Face layout (config.json, a model card with YAML front
// matter, a real safetensors file), for `npm start` and the extension tests. Deterministic bytes, a few hundred KiB.
import { mkdirSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Where `npm start` keeps its sample workspace: outside any clone, so the editor finds no parent git repository
 * (`$SILMARIL_START_DIR`, else `$XDG_CACHE_HOME/silmaril-start` or `~/.cache/silmaril-start`, else the temp dir).
 */
export function sampleWorkspaceDir() {
  if (process.env.SILMARIL_START_DIR) return join(process.env.SILMARIL_START_DIR, 'sample-workspace');
  const home = homedir();
  const cache = process.env.XDG_CACHE_HOME || (home ? join(home, '.cache') : join(tmpdir()));
  return join(cache, 'silmaril-start', 'sample-workspace');
}

/** A valid safetensors file: u64 little-endian header length, JSON header, then the tensor bytes. */
export function safetensors(tensors) {
  const header = { __metadata__: { format: 'pt' } };
  let offset = 0;
  const blobs = [];
  for (const [name, values] of Object.entries(tensors)) {
    const bytes = Buffer.from(new Float32Array(values).buffer);
    header[name] = { dtype: 'F32', shape: [values.length], data_offsets: [offset, offset + bytes.length] };
    offset += bytes.length;
    blobs.push(bytes);
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8); // the format pads the header to 8 bytes
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, Buffer.from(json), ...blobs]);
}

/** Writes a model folder named `name` under `dir`; returns its path. `seed` varies the weights (distinct infohashes). */
export function writeModelFolder(dir, name = 'tiny-model', { seed = 1, floats = 64 * 1024 } = {}) {
  const folder = join(dir, name);
  mkdirSync(folder, { recursive: true });
  writeFileSync(
    join(folder, 'config.json'),
    JSON.stringify(
      {
        architectures: ['TinyForCausalLM'],
        model_type: 'tiny',
        hidden_size: 64,
        num_hidden_layers: 2,
        vocab_size: 256,
      },
      null,
      2,
    ) + '\n',
  );
  writeFileSync(
    join(folder, 'README.md'),
    [
      '---',
      'license: apache-2.0',
      'tags:',
      '  - text-generation',
      '  - tiny',
      'pipeline_tag: text-generation',
      '---',
      '',
      `# ${name}`,
      '',
      'A tiny test model: two layers of deterministic weights, for trying Silmaril out.',
      '',
    ].join('\n'),
  );
  const values = Array.from({ length: floats }, (_, i) => Math.sin(i * seed) * 0.02);
  writeFileSync(join(folder, 'model.safetensors'), safetensors({ 'model.embed.weight': values }));
  return folder;
}

/** A workspace folder with one model in it. */
export function writeSampleWorkspace(dir) {
  mkdirSync(dir, { recursive: true });
  writeModelFolder(dir, 'tiny-model');
  writeFileSync(
    join(dir, 'README.md'),
    '# Silmaril sample workspace\n\nRight-click `tiny-model` in the Explorer and choose "Silmaril: Share Folder".\n',
  );
  return dir;
}
