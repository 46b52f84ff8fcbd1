// Small signed entries for catalog tests.
import { createHash } from 'node:crypto';
import { signEntry, type CatalogEntry, type EntryFields } from '../../../src/catalog/entry.js';
import { Identity } from '../../../src/catalog/identity.js';

export const hex = (s: string, n: number) => createHash('sha256').update(s).digest('hex').slice(0, n);

export function makeEntry(id: Identity, name: string, seq = 1, extra: Partial<EntryFields> = {}): CatalogEntry {
  return signEntry(
    {
      publisher: id.publisher,
      name,
      seq,
      v1: hex(`v1:${name}:${seq}`, 40),
      v2: hex(`v2:${name}:${seq}`, 64),
      size: 1000,
      files: 2,
      license: 'mit',
      tags: ['llm'],
      description: `model ${name}`,
      format: 'safetensors',
      architecture: 'LlamaForCausalLM',
      parameters: 1000,
      quantization: '',
      created: 1_700_000_000,
      trackers: [],
      webSeeds: [],
      ...extra,
    },
    (m) => id.sign(m),
  );
}
